"""Motion focus: the whole frame plus a zoomed crop where the picture moves, both encoded.

Frames are squashed whole to the network's input, so two people fighting in a corner of a
wide surveillance shot become a few pixels. Fixed tiles (``tiles=2x2``) show every quarter
at twice the resolution, but three of the four are usually empty background. With
``--backbone-option focus=motion`` an appearance backbone instead sees, per sampled frame:

1. the *global* view: the whole frame squashed to the input size (the same pixels as without
   the option), and
2. the *focus* view: a crop of ``1 / focus_zoom`` of the frame's height and width (default
   ``focus_zoom=2``: a quarter of the picture at twice the resolution), placed where the
   frame differs most from the frame shown right after it (the partner frame the extractor
   already decodes for motion backbones such as ``flow``; see
   :attr:`~vidscope.backbones.Backbone.needs_next_frame`).

Features are ``[global | focus]`` (``2 D`` wide), one layout part named after the backbone, so
a tree head projects both views together and a fused ``flow`` part stays out of that
projection, as with tiles. The option is part of the backbone's identity (so of the store key),
and ``predict``/``timeline`` rebuild the same backbone from it.

Where the crop goes (:func:`focus_boxes`): both frames are converted to grey at a working size
of :data:`WORK_SIZE` px on the long side, blurred (Gaussian, 5x5), and their absolute
difference less :data:`NOISE_LEVEL` grey levels (compression noise) is the motion energy; the
crop is the window of the crop's size with the largest energy (a summed-area table over every
position; the first in row-major order on ties). With less than :data:`MIN_ENERGY` energy in
the whole frame (a still picture, or a video's last frame, paired with itself) the crop is the
centre of the frame, so still frames get a fixed, deterministic view.

Cost: 2 encoder passes per frame, decoding at ``focus_zoom`` times the input size (448 px for
EfficientNet-Lite0) and one partner frame per sample (free when fused with ``flow``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ..errors import InputError
from ._base import Backbone, check_pairs, resize_frames
from ._options import add_options

#: The focus rules ``focus`` accepts: name -> what decides the crop (for messages and docs).
FOCUSES: dict[str, str] = {"motion": "where the frame differs most from the next one"}
DEFAULT_ZOOM = 2.0
#: Largest zoom accepted (the decode size grows with it).
MAX_ZOOM = 4.0
#: Long side, in pixels, of the grey frames the motion energy is measured on.
WORK_SIZE = 128
#: Grey-level differences up to this are compression noise, not motion.
NOISE_LEVEL = 8.0
#: Smallest total motion energy (grey levels summed over working pixels) that places the crop.
MIN_ENERGY = 50.0
#: Bumped whenever the crop placement changes (part of the store key).
FOCUS_VERSION = 1

F = TypeVar("F", bound=Callable[..., Backbone])


def parse_zoom(zoom: Any) -> float:
    """``focus_zoom`` as a float in ``(1, MAX_ZOOM]``, else an :class:`InputError`."""
    try:
        value = float(zoom)
    except (TypeError, ValueError):
        raise InputError(
            f"--backbone-option focus_zoom={zoom!r}: give a number, e.g. focus_zoom=2"
        ) from None
    if not 1.0 < value <= MAX_ZOOM:
        raise InputError(
            f"--backbone-option focus_zoom={zoom!r}: must be above 1 and at most {MAX_ZOOM:g}"
        )
    return value


def motion_energy(frames: np.ndarray, next_frames: np.ndarray) -> np.ndarray:
    """``float32 [N, h, w]``: per working pixel, how much each frame differs from its partner.

    Args:
        frames: ``uint8 [N, H, W, 3]`` RGB frames.
        next_frames: ``uint8 [N, H, W, 3]`` the partner of each frame.

    Returns:
        Blurred absolute grey difference less :data:`NOISE_LEVEL` (clipped at 0), at
        :data:`WORK_SIZE` px on the long side (aspect kept).
    """
    import cv2

    height, width = frames.shape[1:3]
    scale = min(1.0, WORK_SIZE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))

    def grey(batch: np.ndarray) -> np.ndarray:
        small = resize_frames(batch, size)
        out = np.empty(small.shape[:3], np.float32)
        for i, frame in enumerate(small):
            g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            out[i] = cv2.GaussianBlur(g, (5, 5), 0)
        return out

    return np.maximum(np.abs(grey(frames) - grey(next_frames)) - NOISE_LEVEL, 0.0)


def focus_boxes(frames: np.ndarray, next_frames: np.ndarray, crop: tuple[int, int]) -> np.ndarray:
    """``int [N, 2]`` top-left ``(y, x)`` of the ``crop = (h, w)`` window with the most motion.

    Args:
        frames: ``uint8 [N, H, W, 3]`` RGB frames (``H >= h``, ``W >= w``).
        next_frames: ``uint8 [N, H, W, 3]`` the partner of each frame.
        crop: ``(h, w)`` of the crop in the frames' pixels.

    Returns:
        Per frame the window's corner in the frames' pixels, inside the frame; the centre
        window for frames with less than :data:`MIN_ENERGY` motion energy in total.
    """
    height, width = frames.shape[1:3]
    ch, cw = crop
    energy = motion_energy(frames, next_frames)  # [N, h', w']
    eh, ew = energy.shape[1:]
    # the crop's size in working pixels (at least 1), and the summed-area table
    kh = min(eh, max(1, round(ch * eh / height)))
    kw = min(ew, max(1, round(cw * ew / width)))
    table = np.zeros((len(energy), eh + 1, ew + 1), np.float64)
    table[:, 1:, 1:] = energy.cumsum(axis=1).cumsum(axis=2)
    sums = table[:, kh:, kw:] - table[:, :-kh, kw:] - table[:, kh:, :-kw] + table[:, :-kh, :-kw]
    out = np.empty((len(energy), 2), np.int64)
    centre = ((height - ch) // 2, (width - cw) // 2)
    for i, window in enumerate(sums):
        if table[i, -1, -1] < MIN_ENERGY:
            out[i] = centre
            continue
        y, x = np.unravel_index(int(np.argmax(window)), window.shape)
        out[i] = (
            min(height - ch, round(y * height / eh)),
            min(width - cw, round(x * width / ew)),
        )
    return out


class FocusBackbone(Backbone):
    """A frame backbone run on the whole frame and on a zoomed crop where it moves.

    Args:
        inner: The appearance backbone (fixed input size; not a motion backbone, not tiled).
        focus: The rule placing the crop, a key of :data:`FOCUSES` (only ``"motion"`` today).
        zoom: The crop is ``1 / zoom`` of the frame's height and width.

    Raises:
        InputError: naming the ``--backbone-option`` to fix, for an unknown rule, a bad zoom,
            a motion, tiled or any-size backbone.
    """

    needs_next_frame = True

    def __init__(self, inner: Backbone, *, focus: str = "motion", zoom: Any = DEFAULT_ZOOM):
        if focus not in FOCUSES:
            raise InputError(
                f"--backbone-option focus={focus!r}: known rules are {', '.join(FOCUSES)}, "
                "e.g. focus=motion"
            )
        if inner.needs_next_frame or inner.preprocess.resize in ("keep_aspect", "short_side"):
            raise InputError(
                f"--backbone-option focus: {inner.name} cannot take a focus view (only "
                "appearance backbones with a fixed input size can)"
            )
        if "tiles" in inner.identity():
            raise InputError("--backbone-option focus and tiles cannot be combined: choose one")
        self.zoom = parse_zoom(zoom)
        self.focus = focus
        self.inner = inner
        self.name = inner.name
        self.num_features = 2 * inner.num_features
        pre = inner.preprocess
        h, w = pre.input_size
        big = (round(self.zoom * h), round(self.zoom * w))
        self.preprocess = dataclasses.replace(pre, input_size=big)

    @property
    def runtime(self) -> str:
        return self.inner.runtime

    def identity(self) -> dict[str, object]:
        return {
            **self.inner.identity(),
            "num_features": self.num_features,
            "focus": self.focus,
            "focus_zoom": self.zoom,
            "focus_version": FOCUS_VERSION,
            "view_preprocess": self.preprocess.to_dict(),
        }

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Not available: the crop needs each frame's partner (use :meth:`encode_pairs`)."""
        raise InputError(
            f"--backbone-option focus: the focus view of {self.name} needs frame pairs: call "
            "encode_pairs(frames, next_frames, dt_s) (vidscope extract does this itself)"
        )

    def views(self, frames: np.ndarray, next_frames: np.ndarray) -> np.ndarray:
        """``uint8 [2, N, h, w, 3]``: the global views, then the focus crops.

        Args:
            frames: ``uint8 [N, H, W, 3]`` frames at :attr:`preprocess`'s input size.
            next_frames: The partner of each frame, the same shape.
        """
        h, w = self.inner.preprocess.input_size
        if frames.shape[1:3] != self.preprocess.input_size:
            big_h, big_w = self.preprocess.input_size
            raise InputError(
                f"focus frames must be {big_h}x{big_w} (HxW), got "
                f"{frames.shape[1]}x{frames.shape[2]}"
            )
        out = np.empty((2, len(frames), h, w, 3), np.uint8)
        out[0] = resize_frames(frames, (w, h))
        for i, (y, x) in enumerate(focus_boxes(frames, next_frames, (h, w))):
            out[1, i] = frames[i, y : y + h, x : x + w]
        return out

    def encode_pairs(
        self, frames: np.ndarray, next_frames: np.ndarray, dt_s: np.ndarray
    ) -> np.ndarray:
        """``float32 [N, 2 D]``: ``[global | focus]`` features of each frame (module docstring).

        Args:
            frames: ``uint8 [N, H, W, 3]`` frames at :attr:`preprocess`'s input size.
            next_frames: The frame shown right after each one (a frame paired with itself
                has no motion: its crop is the centre).
            dt_s: Seconds between the frames of each pair (checked, not used).
        """
        check_pairs(frames, next_frames, dt_s)
        views = self.views(frames, next_frames)
        n = len(frames)
        feats = self.inner.encode(views.reshape(2 * n, *views.shape[2:]))
        feats = np.asarray(feats, np.float32).reshape(2, n, -1)
        return np.ascontiguousarray(np.concatenate([feats[0], feats[1]], axis=1))


def focusable(factory: F) -> F:
    """Give a backbone factory the options ``focus`` (``"motion"``; ``None`` = off) and
    ``focus_zoom`` (default 2), which wrap what it builds in a :class:`FocusBackbone`.

    The options are added to the factory's signature, so ``create_backbone`` and fused
    backbones route ``--backbone-option focus=motion`` to it by name. Apply it outside
    :func:`~vidscope.backbones._flip.flippable`, so each view is flipped (``tta=hflip``).
    """

    def check(o: dict[str, Any]) -> None:
        if o["focus"] is None and o["focus_zoom"] is not None:
            raise InputError("--backbone-option focus_zoom needs focus too, e.g. focus=motion")

    def wrap(inner: Backbone, o: dict[str, Any]) -> Backbone:
        if o["focus"] is None:
            return inner
        zoom = DEFAULT_ZOOM if o["focus_zoom"] is None else o["focus_zoom"]
        return FocusBackbone(inner, focus=str(o["focus"]), zoom=zoom)

    return add_options(factory, {"focus": None, "focus_zoom": None}, wrap, check=check)
