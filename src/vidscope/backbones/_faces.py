"""Face detection for the ``emotion`` backbone: MTCNN in torch, weights from the ``mtcnn`` wheel.

Why MTCNN: it is a small three-stage cascade (P-Net over an image pyramid, R-Net, O-Net) whose
pyramid finds faces down to ``min_face_size`` pixels anywhere in a wide shot, and its O-Net
gives five landmarks, so the eyes are there to level the crop. The pretrained weights ship in
the ``mtcnn`` wheel (MIT licence, needs only ``joblib`` and ``lz4``); TensorFlow, which that
package's own code imports, is not needed: :mod:`._mtcnn` re-implements the networks and
pipeline in torch and only reads the weight files. Its output matches ``mtcnn`` 1.0.0's
``detect_faces`` to well under a pixel.

Why not OpenCV's Haar cascades: the installed ``opencv-python-headless`` 5.0 no longer ships
``cv2.data`` cascades (only the 4.x wheels did), and a frontal Haar cascade misses the turned
heads that fight footage is full of. Why not mediapipe's BlazeFace: only mediapipe releases
before 0.10.30 bundle the face model, and those pin ``protobuf<5`` and ``numpy<2``, which
conflict with ``onnx``, so it cannot be a declared dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Names the detector for store identities (with :attr:`FaceDetector.identity` for settings).
DETECTOR_NAME = "MTCNN (torch port of mtcnn 1.0.0: P/R/O-Net, its weights)"
#: Smallest face side (px) the image pyramid looks for.
MIN_FACE_SIZE = 20


@dataclass(frozen=True)
class Face:
    """One detected face, in pixels of the frame it was found in (``x`` right, ``y`` down).

    Attributes:
        box: ``(x0, y0, x1, y1)``, clipped to the frame.
        score: O-Net face probability in ``[0, 1]``.
        right_eye: ``(x, y)`` of the subject's right eye (on the image left), or ``None``.
        left_eye: ``(x, y)`` of the subject's left eye (on the image right), or ``None``.
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
    """MTCNN face detector (see the module docstring).

    Args:
        min_score: O-Net probability a face needs (``mtcnn``'s ``threshold_onet``, default 0.8).
        min_face_size: Smallest face side (px) searched for; smaller is slower.

    Raises:
        ImportError: when the ``mtcnn`` package (which holds the weights) is not installed.
    """

    def __init__(self, *, min_score: float = 0.8, min_face_size: float = MIN_FACE_SIZE) -> None:
        from ._mtcnn import MTCNN, weights_digest

        self.min_score = float(min_score)
        self.min_face_size = min_face_size
        self._model = MTCNN(min_face_size=min_face_size, thresholds=(0.6, 0.7, self.min_score))
        m = self._model
        self.identity = (
            f"{DETECTOR_NAME}, weights sha256 {weights_digest()[:16]}, "
            f"min_face_size={m.min_face_size}, scale_factor={m.scale_factor}, "
            f"thresholds={m.thresholds}, nms={m.nms_limits}"
        )

    def detect(self, frame: np.ndarray) -> list[Face]:
        """Faces in one ``uint8 [H, W, 3]`` RGB frame, best score first."""
        boxes, marks = self._model.detect(np.asarray(frame))
        return [
            Face(
                box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                score=float(b[4]),
                right_eye=(float(m[0, 0]), float(m[0, 1])),  # image-left eye
                left_eye=(float(m[1, 0]), float(m[1, 1])),
            )
            for b, m in zip(boxes, marks, strict=True)
        ]

    def close(self) -> None:
        """Nothing to release (the networks are plain torch modules); kept for the API."""
