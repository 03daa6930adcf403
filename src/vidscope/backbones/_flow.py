"""``flow``: motion features from OpenCV dense optical flow, no weights needed.

For every sampled frame the extractor also decodes the frame shown right after it (at that
frame's own timestamp, so sparse sampling still measures real frame-to-frame motion), or with
``gap`` > 0 the frame shown ``gap`` seconds later (at least the next one). Both
are converted to grey at a working size of 160 px on the long side (aspect kept) and compared
with OpenCV's DIS optical flow (``DISOPTICAL_FLOW_PRESET_FAST``). DIS was chosen over
Farneback after measuring both on translating synthetic H.264 clips and a real clip: at 160 px
DIS-fast takes about 1–1.5 ms per pair (about 2 ms with the statistics below) against
15–20 ms for Farneback, and is within 5 % of the true displacement for shifts of 1–12 px per
frame (Farneback: within 1 %, but 10x slower).

Feature layout, ``float32 [10]`` per frame (:data:`FLOW_LAYOUT`)::

    0  mean_speed    mean over pixels of the flow magnitude
    1  p90_speed     90th percentile over pixels of the flow magnitude (the value at
                     rank floor(0.9 (n - 1)) of the n sorted pixel speeds)
    2  dir_right     \\
    3  dir_down_right |
    4  dir_down       |  direction histogram: 8 bins centred on 0°, 45°, ..., 315° measured
    5  dir_down_left  |  in image coordinates from +x (right) towards +y (down), so bin 2 is
    6  dir_left       |  "moving down the screen". Each moving pixel adds its magnitude to the
    7  dir_up_left    |  two nearest bin centres, split linearly by angle. Normalised to sum
    8  dir_up         |  1; all 0 when still (see below; also the last frame of a video,
    9  dir_up_right  /   which is paired with itself).

Unit of the speeds: **frame widths per second**: flow in working-size pixels, divided by the
working width and by the seconds between the two frames (from their timestamps). The unit is
thus independent of the video's resolution and frame rate: content crossing the whole picture
in one second has speed 1. A pixel counts as moving when it shifts at least
:data:`MIN_SHIFT_PX` (0.1) working pixels between the two frames (below that is decoder noise);
the direction histogram is left all 0 ("still") unless at least :data:`MIN_MOVING_SHARE` (0.5 %)
of the pixels move, so near-still frames do not get a histogram of noise directions.

**Where the motion is** (``--backbone-option grid=G``, default 0 = off): the flow field is also
cut into a ``G x G`` grid of cells (the working frame cropped to a multiple of ``G`` px), and
``3 G²`` features are appended after the 10 above, three per cell (:func:`grid_features`)::

    cell<k>_mean_speed   mean speed over the cell's pixels (frame widths per second)
    cell<k>_p90_speed    90th percentile of the cell's speeds (same rank rule as above)
    cell<k>_dir_entropy  entropy of the cell's magnitude-weighted 8-bin direction histogram
                         (each moving pixel to its nearest bin), divided by log(8): 0 = one
                         direction, or a still cell (fewer than MIN_MOVING_SHARE of its pixels
                         move); 1 = all directions alike

Cells are listed **by rank, not by position**: ``cell1`` is the cell with the highest mean
speed in this frame, ``cell<G²>`` the lowest. The features therefore say "how fast and how
chaotic is the busiest part of the picture" wherever it is (two people fighting in a corner
of a wide shot move a few cells a lot, in many directions), and a model trained on a few
cameras does not learn where in their frames things happened.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ._base import Backbone, Preprocess, Runtime, check_pairs, pairs_only
from ._registry import register_backbone

#: Names of the 10 flow features, in order.
FLOW_LAYOUT = (
    "mean_speed", "p90_speed", "dir_right", "dir_down_right", "dir_down", "dir_down_left",
    "dir_left", "dir_up_left", "dir_up", "dir_up_right",
)  # fmt: skip
NUM_BINS = 8
#: Smallest shift (working-size pixels between the two frames) that counts as motion.
MIN_SHIFT_PX = 0.1
#: Smallest share of moving pixels for the direction histogram to be filled (else all 0).
MIN_MOVING_SHARE = 0.005
#: Bumped whenever the features change meaning (part of the store key).
FEATURE_VERSION = 1
#: Bumped whenever the grid features change meaning (in the store key when ``grid`` > 0).
GRID_VERSION = 1
#: Largest grid side (cells must keep enough pixels at the 160 px working size).
MAX_GRID = 8
#: Per-cell statistics of the grid, in order.
CELL_STATS = ("mean_speed", "p90_speed", "dir_entropy")


def grid_layout(grid: int) -> tuple[str, ...]:
    """Names of the ``3 grid²`` cell features (empty for ``grid=0``), by cell rank."""
    return tuple(f"cell{k}_{stat}" for k in range(1, grid * grid + 1) for stat in CELL_STATS)


class FlowBackbone(Backbone):
    """Dense optical flow statistics between each frame and the frame right after it.

    Frames of any size are accepted: they are resized (``INTER_AREA``) to ``size`` px on the
    long side, keeping the aspect ratio, unless already there. See the module docstring for
    the exact feature layout and unit.

    Args:
        size: Working size: long side in pixels.
        threads: OpenCV threads (default: all cores).
    """

    needs_next_frame = True

    def __init__(
        self, *, size: int = 160, gap: float = 0.0, grid: int = 0, threads: int | None = None
    ) -> None:
        import cv2

        if size < 16:
            raise InputError(f"flow working size must be >= 16 px, got {size}")
        try:
            gap = float(gap)
        except (TypeError, ValueError):
            raise InputError(f"flow gap must be a number of seconds, got {gap!r}") from None
        if not 0 <= gap <= 2:
            raise InputError(f"flow gap must be between 0 and 2 seconds, got {gap}")
        try:
            grid = int(grid)
        except (TypeError, ValueError):
            raise InputError(f"flow grid must be a whole number of cells, got {grid!r}") from None
        if not 0 <= grid <= MAX_GRID:
            raise InputError(f"flow grid must be between 0 (off) and {MAX_GRID}, got {grid}")
        self.pair_gap_s = float(gap)
        self.grid = grid
        self.name = "flow"
        self.feature_names = FLOW_LAYOUT + grid_layout(grid)
        self.num_features = len(self.feature_names)
        self.size = int(size)
        self.threads = threads or os.cpu_count() or 1
        # mean/std are unused: flow works on grey levels
        self.preprocess = Preprocess(input_size=(self.size, self.size), resize="keep_aspect")
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    @property
    def runtime(self) -> str:
        return "opencv"

    def identity(self) -> dict[str, object]:
        return {
            "name": self.name,
            "weights": None,
            "num_features": self.num_features,
            "method": "opencv DIS optical flow, preset fast, grey",
            "features": list(self.feature_names),
            "unit": "frame widths per second",
            "min_shift_px": MIN_SHIFT_PX,
            "min_moving_share": MIN_MOVING_SHARE,
            "version": FEATURE_VERSION,
            **({"pair_gap_s": self.pair_gap_s} if self.pair_gap_s else {}),  # old keys stay valid
            **({"grid": self.grid, "grid_version": GRID_VERSION} if self.grid else {}),
            "preprocess": self.preprocess.to_dict(),
        }

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Not available: motion needs frame pairs.

        Raises:
            ValueError: always; call :meth:`encode_pairs` (``vidscope extract`` does).
        """
        raise pairs_only("flow")

    def encode_pairs(
        self, frames: np.ndarray, next_frames: np.ndarray, dt_s: np.ndarray
    ) -> np.ndarray:
        """``float32 [N, 10 + 3 grid²]`` motion features (layout in the module docstring).

        Args:
            frames: ``uint8 [N, h, w, 3]`` RGB sampled frames, any size.
            next_frames: ``uint8 [N, h, w, 3]``: the frame shown right after each one.
            dt_s: ``[N]`` seconds between each frame and its next frame; pairs with
                ``dt_s <= 0`` (a frame paired with itself) get all-zero features.
        """
        import cv2

        dt = check_pairs(frames, next_frames, dt_s)
        cv2.setNumThreads(self.threads)
        out = np.zeros((len(frames), self.num_features), np.float32)
        first, second = self._grey(frames), self._grey(next_frames)  # [N, h, w] uint8
        for i in np.flatnonzero(dt > 0):
            flow = self._dis.calc(first[i], second[i], None)  # [h, w, 2] working px
            out[i, : len(FLOW_LAYOUT)] = flow_features(flow, float(dt[i]))
            if self.grid:
                out[i, len(FLOW_LAYOUT) :] = grid_features(flow, float(dt[i]), self.grid)
        return out

    def _grey(self, frames: np.ndarray) -> np.ndarray:
        """``uint8 [N, h, w]`` grey frames at the working size."""
        import cv2

        frames = self.preprocess.fit(frames)  # [N, h, w, 3]
        out = np.empty(frames.shape[:3], np.uint8)
        for i, frame in enumerate(frames):
            out[i] = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        return out


def flow_features(flow: np.ndarray, dt_s: float) -> np.ndarray:
    """The 10 features of one flow field (layout and unit in the module docstring).

    Args:
        flow: ``float32 [h, w, 2]`` displacement (dx, dy) in pixels from the first frame to
            the second, at the working size.
        dt_s: Seconds between the two frames (> 0).
    """
    import cv2

    shift, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1])  # [h, w] px, radians [0, 2pi)
    shift, angle = shift.ravel(), angle.ravel()
    speed = shift * np.float32(1.0 / (flow.shape[1] * dt_s))  # frame widths per second
    out = np.zeros(len(FLOW_LAYOUT), np.float32)
    out[0] = speed.mean(dtype=np.float64)
    rank = int(0.9 * (len(speed) - 1))  # 90th percentile: value at this rank (sorted)
    out[1] = np.partition(speed, rank)[rank]
    moving = shift >= MIN_SHIFT_PX
    if moving.mean() >= MIN_MOVING_SHARE:
        bins = angle[moving] * np.float32(NUM_BINS / (2 * np.pi))  # [M] in bin units
        low = np.floor(bins)
        frac = bins - low  # share of the next bin centre
        low = low.astype(np.int64) % NUM_BINS
        weight = speed[moving]
        hist = np.bincount(low, weight * (1 - frac), NUM_BINS)
        hist += np.bincount((low + 1) % NUM_BINS, weight * frac, NUM_BINS)
        total = hist.sum()
        if total > 0:
            out[2:] = hist / total
    return out


def grid_features(flow: np.ndarray, dt_s: float, grid: int) -> np.ndarray:
    """``float32 [3 grid²]``: per-cell mean speed, p90 speed and direction entropy, cells
    sorted by mean speed, highest first (see the module docstring).

    Args:
        flow: ``float32 [h, w, 2]`` displacement in working-size pixels (h, w >= ``grid``).
        dt_s: Seconds between the two frames (> 0).
        grid: Cells per side.
    """
    import cv2

    h, w = (flow.shape[0] // grid) * grid, (flow.shape[1] // grid) * grid
    shift, angle = cv2.cartToPolar(flow[:h, :w, 0].copy(), flow[:h, :w, 1].copy())  # [h, w]
    speed = shift * np.float32(1.0 / (flow.shape[1] * dt_s))  # frame widths per second

    def cells(a: np.ndarray) -> np.ndarray:  # [h, w] -> [G*G, pixels per cell], row-major
        a = a.reshape(grid, h // grid, grid, w // grid).transpose(0, 2, 1, 3)
        return a.reshape(grid * grid, -1)

    cs, ca, cm = cells(speed), cells(angle), cells(shift >= MIN_SHIFT_PX)
    rank = int(0.9 * (cs.shape[1] - 1))
    stats = np.zeros((grid * grid, len(CELL_STATS)), np.float32)
    stats[:, 0] = cs.mean(axis=1, dtype=np.float64)
    stats[:, 1] = np.partition(cs, rank, axis=1)[:, rank]
    bins = np.rint(ca * np.float32(NUM_BINS / (2 * np.pi))).astype(np.int64) % NUM_BINS
    index = np.arange(grid * grid)[:, None] * NUM_BINS + bins  # [G*G, P] (cell, bin)
    weight = np.where(cm, cs, 0).ravel()
    hist = np.bincount(index.ravel(), weight, grid * grid * NUM_BINS).reshape(-1, NUM_BINS)
    total = hist.sum(axis=1, keepdims=True)  # [G*G, 1]
    p = np.divide(hist, total, out=np.zeros_like(hist), where=total > 0)
    entropy = -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1) / np.log(NUM_BINS)
    moving = (cm.mean(axis=1) >= MIN_MOVING_SHARE) & (total[:, 0] > 0)
    stats[:, 2] = np.where(moving, entropy, 0.0)
    order = np.argsort(-stats[:, 0], kind="stable")  # busiest cell first
    return stats[order].ravel()


@register_backbone("flow")
def flow(
    *,
    size: int = 160,
    gap: float = 0.0,
    grid: int = 0,
    runtime: Runtime = "auto",
    threads: int | None = None,
) -> Backbone:
    """Motion features from DIS optical flow (10-d, plus ``3 grid²`` with ``grid``; no weights).

    Args:
        size: Working size (long side, px).
        gap: Seconds from each sampled frame to the frame it is compared with: 0 = the very
            next frame; e.g. 0.12 compares with the frame shown 0.12 s later, where slow motion
            has moved several pixels (``--backbone-option gap=0.12``; on fight-surv-dev flow
            alone went from ROC-AUC 0.68 to 0.77, see ``benchmarks/README.md``).
        grid: Cells per side of the "where is the motion" grid (``--backbone-option
            grid=3``: 27 more features, cells ranked by speed; 0 = off, the default).
        runtime: Accepted so that ``--runtime`` works with fused backbones; flow always runs
            in OpenCV on the CPU.
        threads: OpenCV threads.
    """
    if runtime not in ("auto", "onnx", "torch"):
        raise InputError(f"--runtime must be auto, onnx or torch, got {runtime!r}")
    return FlowBackbone(size=size, gap=gap, grid=grid, threads=threads)
