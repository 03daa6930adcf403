"""A backbone defined by a PyTorch module and run in torch (the reference for ONNX)."""

from __future__ import annotations

import os

import numpy as np
import torch

from ._base import Backbone, Preprocess, check_frames


class FramesToFeatures(torch.nn.Module):
    """``uint8 [N, H, W, 3]`` -> normalised ``[N, 3, H, W]`` -> ``features`` -> ``[N, D]``."""

    def __init__(self, features: torch.nn.Module, preprocess: Preprocess) -> None:
        super().__init__()
        self.features = features
        mean = torch.tensor(preprocess.mean, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(preprocess.std, dtype=torch.float32).view(1, 3, 1, 1) * 255.0
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("inv_std", 1.0 / std, persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.permute(0, 3, 1, 2).float()  # [N, 3, H, W]
        return self.features((x - self.mean) * self.inv_std)  # [N, D]


class TimmFeatures(torch.nn.Module):
    """A timm classifier's pooled pre-logits features; the classifier stays reachable."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


class TorchBackbone(Backbone):
    """Runs ``features`` (normalised NCHW in, ``[N, D]`` out) in PyTorch, on CUDA if present.

    Args:
        name: Registry id.
        features: Module mapping normalised ``[N, 3, H, W]`` to ``[N, D]``.
        num_features: D.
        preprocess: Preprocessing record of the weights.
        weights_id: Digest of the weights (part of the store key).
        threads: Intra-op CPU threads (default: all cores).
    """

    def __init__(
        self,
        name: str,
        features: torch.nn.Module,
        num_features: int,
        preprocess: Preprocess,
        weights_id: str,
        *,
        threads: int | None = None,
    ) -> None:
        self.name = name
        self.num_features = num_features
        self.preprocess = preprocess
        self.weights_id = weights_id
        self.threads = threads or os.cpu_count() or 1
        self.module = FramesToFeatures(features.eval(), preprocess).eval()
        self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    @property
    def runtime(self) -> str:
        return "torch"

    def identity(self) -> dict[str, object]:
        return {
            "name": self.name,
            "weights": self.weights_id,
            "num_features": self.num_features,
            "preprocess": self.preprocess.to_dict(),
        }

    def encode(self, frames: np.ndarray) -> np.ndarray:
        check_frames(frames)
        if len(frames) == 0:
            return np.zeros((0, self.num_features), np.float32)
        if self._device.type == "cpu":
            torch.set_num_threads(self.threads)
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self._device)
        with torch.inference_mode():
            self.module.to(self._device)
            return self.module(x).float().cpu().numpy()
