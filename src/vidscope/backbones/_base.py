"""The one backbone interface: preprocessing record, output width, ``encode(frames)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

ResizeMode = Literal["squash", "center_crop"]
Runtime = Literal["auto", "onnx", "torch"]


@dataclass(frozen=True)
class Preprocess:
    """How frames must be prepared for a backbone.

    Attributes:
        input_size: ``(height, width)`` the network takes.
        mean: Per-channel RGB mean on the 0–1 scale.
        std: Per-channel RGB standard deviation on the 0–1 scale.
        resize: ``"squash"`` scales the whole frame to ``input_size`` (nothing cropped away,
            aspect not kept); ``"center_crop"`` scales the short side to
            ``input_size / crop_pct`` and crops the centre.
        crop_pct: Fraction kept by ``"center_crop"``.
    """

    input_size: tuple[int, int] = (224, 224)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    resize: ResizeMode = "squash"
    crop_pct: float = 0.875

    def decode_size(self, width: int, height: int) -> tuple[int, int]:
        """``(width, height)`` to scale a displayed ``width x height`` frame to when decoding."""
        h, w = self.input_size
        if self.resize == "squash":
            return w, h
        short = round(min(h, w) / self.crop_pct)
        scale = short / min(width, height)
        return max(w, round(width * scale)), max(h, round(height * scale))

    def crop(self, frames: np.ndarray) -> np.ndarray:
        """Centre-crop ``uint8 [N, H', W', 3]`` decoded frames to ``[N, h, w, 3]``."""
        h, w = self.input_size
        top = (frames.shape[1] - h) // 2
        left = (frames.shape[2] - w) // 2
        return frames[:, top : top + h, left : left + w]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (sequences as lists, as they read back from JSON)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class Backbone(ABC):
    """A per-frame encoder: ``uint8`` RGB frames in, ``float32 [N, D]`` features out.

    Attributes:
        name: Registry id it was created with, e.g. ``"efficientnet_lite0"``.
        num_features: Output width D.
        preprocess: How frames must be sized and normalised.
        layout: ``[(part name, width), ...]`` summing to ``num_features``; fused backbones
            list their parts so heads can find e.g. the appearance part.
    """

    name: str
    num_features: int
    preprocess: Preprocess

    @property
    def layout(self) -> list[tuple[str, int]]:
        return [(self.name, self.num_features)]

    @abstractmethod
    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Features of ``uint8 [N, h, w, 3]`` frames already at ``preprocess.input_size``."""

    @abstractmethod
    def identity(self) -> dict[str, object]:
        """What makes two backbones give the same features: name, weights hash, preprocessing."""

    @property
    def runtime(self) -> str:
        """Which engine runs ``encode`` (``"onnx"``, ``"torch"``, ...)."""
        return "numpy"


def check_frames(frames: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``frames`` is ``uint8 [N, H, W, 3]``."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype} {frames.shape}")
