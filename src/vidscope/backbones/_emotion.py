"""``emotion``: per-frame facial affect of the largest face, HSEmotion style.

Each frame is searched for faces with MTCNN, whose weights ship in the ``mtcnn`` wheel (see
``_faces``; it runs in torch, TensorFlow is not needed); the largest face is rotated so its
eyes are level, cropped square with a margin and resized to
224 x 224, normalised with ImageNet mean/std, and run through timm's ``efficientnet_b0`` with a
10-output head (the HSEmotion ``enet_b0_8_va_mtl`` layout). Feature layout, ``float32 [11]``::

    0-7  probabilities (softmax of the 8 logits): Anger, Contempt, Disgust, Fear, Happiness,
         Neutral, Sadness, Surprise
    8    valence  (raw head output)
    9    arousal  (raw head output)
    10   face_present: 1 if a face was found, else 0 (and columns 0-9 are 0, not made up)

The store records the layout ``[("emotion", 10), ("face_present", 1)]``, so the face mask
travels with the features; :func:`face_mask` reads it back.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import WeightsError
from ._base import Backbone, Preprocess, Runtime, check_frames
from ._build import file_digest, resolve_runtime
from ._registry import register_backbone

EMOTIONS = ("Anger", "Contempt", "Disgust", "Fear", "Happiness", "Neutral", "Sadness", "Surprise")
#: Width of the affect part (8 probabilities + valence + arousal).
NUM_AFFECT = len(EMOTIONS) + 2
CROP_SIZE = 224
#: Extra border around the detected box, as a fraction of its longer side.
CROP_MARGIN = 0.2
#: Frames are decoded with this long side (px): enough for faces of ~40 px in wide shots.
WORK_SIZE = 1280
#: Bumped whenever the features change meaning (part of the store key); 2: MTCNN detector.
FEATURE_VERSION = 2
RANDOM = "random"


class EmotionBackbone(Backbone):
    """Face detection + EfficientNet-B0 affect head; see the module docstring for the layout.

    Args:
        classifier: ``torch.nn.Module`` mapping normalised ``[N, 3, 224, 224]`` to ``[N, 10]``.
        weights_id: Digest of the classifier weights.
        work_size: Long side (px) frames are decoded at for detection.
        min_score: Smallest face confidence (MTCNN's last stage; 0.8 as upstream: at 0.7-0.8
            window panes and blurry background shapes start to pass).
        threads: torch intra-op threads.
    """

    def __init__(
        self,
        classifier: Any,
        weights_id: str,
        *,
        work_size: int = WORK_SIZE,
        min_score: float = 0.8,
        threads: int | None = None,
    ) -> None:
        from ._faces import FaceDetector

        self.name = "emotion"
        self.num_features = NUM_AFFECT + 1
        self.weights_id = weights_id
        self.classifier = classifier.eval()
        self.threads = threads or os.cpu_count() or 1
        self.preprocess = Preprocess(input_size=(work_size, work_size), resize="keep_aspect")
        self.crop_preprocess = Preprocess(input_size=(CROP_SIZE, CROP_SIZE))
        self.detector = FaceDetector(min_score=min_score)

    @property
    def layout(self) -> list[tuple[str, int]]:
        return [("emotion", NUM_AFFECT), ("face_present", 1)]

    @property
    def runtime(self) -> str:
        return "torch"

    def identity(self) -> dict[str, object]:
        return {
            "name": self.name,
            "weights": self.weights_id,
            "num_features": self.num_features,
            "detector": self.detector.identity,
            "crop": {"size": CROP_SIZE, "margin": CROP_MARGIN, "align": "eye line"},
            "features": [*EMOTIONS, "valence", "arousal", "face_present"],
            "version": FEATURE_VERSION,
            "preprocess": self.preprocess.to_dict(),
            "crop_preprocess": self.crop_preprocess.to_dict(),
        }

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """``float32 [N, 11]`` affect of the largest face per frame (zeros + 0 flag if none)."""
        check_frames(frames)
        out = np.zeros((len(frames), self.num_features), np.float32)
        crops, rows = [], []
        for i, frame in enumerate(frames):
            faces = self.detector.detect(frame)
            if faces:
                crops.append(align_crop(frame, max(faces, key=lambda f: f.area)))
                rows.append(i)
        if crops:
            out[rows, :NUM_AFFECT] = self.classify(np.stack(crops))
            out[rows, NUM_AFFECT] = 1.0
        return out

    def classify(self, crops: np.ndarray) -> np.ndarray:
        """``float32 [M, 10]`` (8 probabilities, valence, arousal) of ``uint8 [M, 224, 224, 3]``."""
        import torch

        torch.set_num_threads(self.threads)
        pre = self.crop_preprocess
        mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
        std = torch.tensor(pre.std).view(1, 3, 1, 1)
        x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0  # [M, 3, 224, 224]
        with torch.inference_mode():
            logits = self.classifier((x - mean) / std).float()  # [M, 10]
        probs = torch.softmax(logits[:, : len(EMOTIONS)], dim=1)
        return torch.cat([probs, logits[:, len(EMOTIONS) :]], dim=1).numpy()


def align_crop(frame: np.ndarray, face: Any, size: int = CROP_SIZE) -> np.ndarray:
    """``uint8 [size, size, 3]``: the face rotated eyes-level, cropped square with a margin."""
    import cv2

    x0, y0, x1, y1 = face.box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    side = max(x1 - x0, y1 - y0) * (1 + 2 * CROP_MARGIN)
    angle = 0.0
    if face.right_eye is not None and face.left_eye is not None:
        (rx, ry), (lx, ly) = face.right_eye, face.left_eye  # right eye is on the image left
        angle = float(np.degrees(np.arctan2(ly - ry, lx - rx)))
    m = cv2.getRotationMatrix2D((cx, cy), angle, size / max(side, 1.0))
    m[:, 2] += (size / 2 - cx, size / 2 - cy)
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)  # fmt: skip


def face_mask(features: np.ndarray) -> np.ndarray:
    """``bool [T]``: which rows of ``emotion`` features ``[T, 11]`` had a face."""
    return np.asarray(features)[:, NUM_AFFECT] > 0.5


def load_classifier(weights: str | os.PathLike[str], *, trust_checkpoint: bool = False) -> Any:
    """timm ``efficientnet_b0`` (10 outputs) with ``weights`` (``"random"``: seeded).

    State dicts (``.pth``/``.pt``/``.safetensors``) are read without unpickling code. A pickled
    whole model (HSEmotion's ``.pt`` files) is only opened with ``trust_checkpoint=True``.

    Raises:
        WeightsError: for weights that do not fit, or a pickled model without the flag.
    """
    import timm
    import torch

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = timm.create_model("efficientnet_b0", pretrained=False, num_classes=NUM_AFFECT)
    if str(weights) == RANDOM:
        return model.eval()
    from ._weights import load_by_name, read_state_dict

    try:
        tensors = read_state_dict(weights)
    except WeightsError:
        if not trust_checkpoint:
            raise WeightsError(
                f"--weights {weights} is not a plain state dict; if it is a pickled whole model "
                "you trust (e.g. HSEmotion's enet_b0_8_va_mtl.pt), pass --trust-checkpoint"
            ) from None
        obj = torch.load(str(weights), map_location="cpu", weights_only=False)
        tensors = obj.state_dict() if isinstance(obj, torch.nn.Module) else obj
    load_by_name(model, tensors, f"--weights {weights}")
    return model.eval()


@register_backbone("emotion")
def emotion(
    *,
    weights: str | os.PathLike[str] | None = None,
    trust_checkpoint: bool = False,
    runtime: Runtime = "auto",
    threads: int | None = None,
    work_size: int = WORK_SIZE,
) -> Backbone:
    """Facial affect of the largest face per frame (11-d: 10 affect values + face flag).

    Args:
        weights: Local HSEmotion-style EfficientNet-B0 weights (10 outputs), or ``"random"``.
        trust_checkpoint: Allow unpickling a whole-model checkpoint (runs code from the file).
        runtime: Accepted for ``--runtime``; the small classifier always runs in torch.
        threads: torch threads.
        work_size: Long side (px) frames are decoded at for face detection.
    """
    resolve_runtime(runtime)  # validates the value
    if weights is None:
        raise WeightsError(
            "--backbone emotion needs local weights: pass --weights PATH (an EfficientNet-B0 "
            "with a 10-output head, e.g. HSEmotion's enet_b0_8_va_mtl); vidscope never "
            "downloads weights"
        )
    digest = "random(seed=0)" if str(weights) == RANDOM else file_digest(weights)
    model = load_classifier(weights, trust_checkpoint=trust_checkpoint)
    return EmotionBackbone(model, digest, work_size=work_size, threads=threads)
