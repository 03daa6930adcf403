"""Face detection with the BlazeFace model bundled in the ``mediapipe`` 0.10.x wheel.

Why mediapipe and not OpenCV's Haar cascades: the installed ``opencv-python-headless`` 5.0 no
longer ships ``cv2.data`` cascades (only the 4.x wheels did), and a frontal Haar cascade misses
the turned heads that fight footage is full of. mediapipe 0.10.14 ships
``face_detection_short_range.tflite`` and ``face_detection_full_range_sparse.tflite`` inside the
wheel (``mediapipe/modules/face_detection/``) and runs them offline; 0.10.30+ dropped them
(its Tasks API wants a downloaded ``.tflite``), hence the pin ``mediapipe>=0.10.9,<0.10.30``.

BlazeFace sees a 128 px (short range) or 192 px (full range) picture, so small faces in a
wide shot vanish when the whole frame is shrunk. :class:`FaceDetector` therefore also runs the
full-range model on overlapping square tiles (half the short side, half-tile stride) and merges
the boxes with non-maximum suppression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Overlap (intersection over union) above which two boxes are the same face.
NMS_IOU = 0.3


@dataclass(frozen=True)
class Face:
    """One detected face, in pixels of the frame it was found in.

    Attributes:
        box: ``(x0, y0, x1, y1)``.
        score: Detector confidence in ``[0, 1]``.
        right_eye: ``(x, y)`` of the subject's right eye (image left), or ``None``.
        left_eye: ``(x, y)`` of the subject's left eye, or ``None``.
    """

    box: tuple[float, float, float, float]
    score: float
    right_eye: tuple[float, float] | None = None
    left_eye: tuple[float, float] | None = None

    @property
    def area(self) -> float:
        """Box area in square pixels."""
        x0, y0, x1, y1 = self.box
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


class FaceDetector:
    """BlazeFace (full range) on the whole frame and on overlapping tiles, merged by NMS.

    Args:
        min_score: Smallest detector confidence kept.
        tiles: Whether to also search tiles (finds small faces; about 10x slower).
    """

    def __init__(self, *, min_score: float = 0.5, tiles: bool = True) -> None:
        self.min_score = float(min_score)
        self.tiles = tiles
        self._model = _load_mediapipe(self.min_score)

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in one ``uint8 [H, W, 3]`` RGB frame, best first."""
        frame = np.ascontiguousarray(frame)
        faces = self._detect_in(frame, 0, 0)
        if self.tiles:
            for x, y, side in tile_grid(frame.shape[1], frame.shape[0]):
                tile = np.ascontiguousarray(frame[y : y + side, x : x + side])
                faces += self._detect_in(tile, x, y)
        return non_max_suppression(faces, NMS_IOU)

    def _detect_in(self, image: np.ndarray, dx: int, dy: int) -> list[Face]:
        """Faces in ``image``, shifted by ``(dx, dy)`` into frame pixels."""
        result = self._model.process(image)
        h, w = image.shape[:2]
        out = []
        for det in result.detections or []:
            rel = det.location_data.relative_bounding_box
            x0, y0 = dx + rel.xmin * w, dy + rel.ymin * h
            box = (x0, y0, x0 + rel.width * w, y0 + rel.height * h)
            kp = det.location_data.relative_keypoints  # 0: right eye, 1: left eye
            eyes = [(dx + p.x * w, dy + p.y * h) for p in kp[:2]]
            right, left = (eyes[0], eyes[1]) if len(eyes) == 2 else (None, None)
            out.append(Face(box, float(det.score[0]), right, left))
        return out

    def close(self) -> None:
        """Release the mediapipe graph."""
        self._model.close()


def tile_grid(width: int, height: int) -> list[tuple[int, int, int]]:
    """``(x, y, side)`` of square tiles (half the short side) covering the frame, half overlap."""
    side = min(width, height) // 2
    if side < 64:
        return []
    stride = side // 2

    def starts(size: int) -> list[int]:
        pos = list(range(0, size - side + 1, stride))
        return pos if pos[-1] == size - side else [*pos, size - side]

    return [(x, y, side) for y in starts(height) for x in starts(width)]


def non_max_suppression(faces: list[Face], iou: float) -> list[Face]:
    """Faces sorted by score, dropping any that overlap a better one by more than ``iou``."""
    kept: list[Face] = []
    for face in sorted(faces, key=lambda f: f.score, reverse=True):
        if all(box_iou(face.box, k.box) <= iou for k in kept):
            kept.append(face)
    return kept


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _load_mediapipe(min_score: float):
    """mediapipe's bundled full-range BlazeFace, or a clear error if it is unavailable."""
    try:
        from mediapipe.python.solutions.face_detection import FaceDetection
    except ImportError:
        raise ImportError(
            "the emotion backbone detects faces with the model bundled in mediapipe 0.10.x: "
            'pip install "mediapipe>=0.10.9,<0.10.30" (0.10.30 and later no longer ship it)'
        ) from None
    return FaceDetection(model_selection=1, min_detection_confidence=min_score)
