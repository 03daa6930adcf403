"""A backbone defined by a PyTorch module, run in ONNX Runtime on CPU or in torch."""

from __future__ import annotations

import os

import numpy as np
import torch

from ._base import Backbone, Preprocess, Runtime


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


class TorchBackbone(Backbone):
    """Runs ``features`` (normalised NCHW in, ``[N, D]`` out) with a chosen runtime.

    Args:
        name: Registry id.
        features: Module mapping normalised ``[N, 3, H, W]`` to ``[N, D]``; put in eval mode.
        num_features: D.
        preprocess: Preprocessing record of the weights.
        weights_id: Digest of the weights (part of the store key and the ONNX cache key).
        runtime: ``"onnx"`` (ONNX Runtime; CPU default), ``"torch"`` (default with CUDA), or
            ``"auto"``.
        threads: Intra-op threads (default: all cores).
    """

    def __init__(
        self,
        name: str,
        features: torch.nn.Module,
        num_features: int,
        preprocess: Preprocess,
        weights_id: str,
        *,
        runtime: Runtime = "auto",
        threads: int | None = None,
    ) -> None:
        if runtime not in ("auto", "onnx", "torch"):
            raise ValueError(f"--runtime must be auto, onnx or torch, got {runtime!r}")
        self.name = name
        self.num_features = num_features
        self.preprocess = preprocess
        self.weights_id = weights_id
        self.threads = threads or os.cpu_count() or 1
        self.module = FramesToFeatures(features.eval(), preprocess).eval()
        cuda = torch.cuda.is_available()
        self._runtime = ("torch" if cuda else "onnx") if runtime == "auto" else runtime
        self._device = torch.device("cuda" if cuda and self._runtime == "torch" else "cpu")
        self._onnx = None
        if self._runtime == "onnx":
            from ._onnx import OnnxRunner

            self._onnx = OnnxRunner(self.module, self.identity(), preprocess, self.threads)
        else:
            torch.set_num_threads(self.threads)
            self.module.to(self._device)

    @property
    def runtime(self) -> str:
        return self._runtime

    def identity(self) -> dict[str, object]:
        return {
            "name": self.name,
            "weights": self.weights_id,
            "num_features": self.num_features,
            "preprocess": self.preprocess.to_dict(),
        }

    def encode(self, frames: np.ndarray) -> np.ndarray:
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f"frames must be uint8 [N, H, W, 3], got {frames.dtype} {frames.shape}"
            )
        if len(frames) == 0:
            return np.zeros((0, self.num_features), np.float32)
        if self._onnx is not None:
            return self._onnx(frames)
        return self.encode_torch(frames)

    def encode_torch(self, frames: np.ndarray) -> np.ndarray:
        """Features from the PyTorch module itself (reference for the ONNX check)."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self._device)
        with torch.inference_mode():
            self.module.to(self._device)
            return self.module(x).float().cpu().numpy()
