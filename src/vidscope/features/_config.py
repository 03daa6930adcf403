"""Extraction settings, validated with messages that name the CLI flag."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ConfigError
from ..video import SamplingSpec, SeekMode
from ._engine import engine_names

Dtype = Literal["float32", "float16"]
#: Backbone arguments that have their own ExtractConfig fields (and flags).
RESERVED_OPTIONS = {"weights", "trust_checkpoint", "runtime"}


def default_workers() -> int:
    """Decode processes: one on small machines (its decoder uses every core), more on big ones."""
    return max(1, min(8, (os.cpu_count() or 1) // 4))


@dataclass
class ExtractConfig:
    """How ``extract`` samples, encodes and stores videos."""

    backbone: str = "efficientnet_lite0"
    """Registered backbone name, or ``timm:<model>`` (``--backbone``)."""
    weights: str | None = None
    """Local weights file for the backbone (``--weights``); ``None`` = its bundled weights."""
    trust_checkpoint: bool = False
    """Allow ``weights`` to be a pickled whole model, which runs its code when loaded
    (``--trust-checkpoint``); passed to ``create_backbone`` as ``trust_checkpoint=True``."""
    backbone_options: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments of the backbone, e.g. ``{"gap": 0.12}`` for ``flow``
    (``--backbone-option KEY=VALUE``); recorded in the store and the run, so ``predict`` and
    ``timeline`` rebuild the same backbone."""
    runtime: Literal["auto", "onnx", "torch"] = "auto"
    """Inference engine: ONNX Runtime on CPU, torch on GPU (``--runtime``)."""
    sampling: SamplingSpec = field(default_factory=SamplingSpec)
    """Which times to sample (``--frames``/``--fps``/``--every``)."""
    seek: SeekMode = "exact"
    """``exact``: the frame shown at each time; ``keyframe``: the frame within tolerance that is
    cheapest to decode (a keyframe in reach, else one that decoding passes anyway)."""
    keyframe_tolerance_s: float | None = None
    """How far ``--seek keyframe`` may move a sample, in seconds (``--keyframe-tolerance``);
    ``None`` follows the sampling (``keyframe_reach``)."""
    keyframe_reach: float = 1.0
    """With no tolerance in seconds, how far ``--seek keyframe`` may move a sample as a
    fraction of the gap to the neighbouring sample times (``--keyframe-tolerance 0.5x``):
    1 (default) as far as the neighbour's time, so neighbours may share a frame; 0.5 halfway."""
    batch_size: int = 32
    """Frames per inference batch (``--batch-size``)."""
    workers: int = field(default_factory=default_workers)
    """Decode processes (``--workers``); each runs one video at a time."""
    decode_threads: int = 0
    """Decoder threads per worker (``--decode-threads``); 0 = cores / workers."""
    dtype: Dtype = "float32"
    """Stored feature precision (``--dtype``)."""
    timeout_s: float = 120.0
    """A video whose decoder makes no progress for this long is abandoned (``--timeout``)."""
    image_fps: float = 25.0
    """Frame rate of image-frame folders (``--image-fps``)."""
    strict: bool = False
    """Fail (non-zero exit) if any video failed or was only partly readable (``--strict``)."""
    engine: str = "local"
    """Who runs decode + encode (``--engine``): ``local`` worker processes, or ``ray`` actors
    on a Ray cluster (``pip install 'vidscope[ray]'``)."""
    address: str | None = None
    """Ray cluster to join (``--address``): ``auto``, ``ray://HOST:PORT``; ``None`` joins the
    cluster this process is already connected to, or starts a local one."""
    num_gpus_per_worker: float = 0.0
    """GPUs each Ray worker reserves (``--num-gpus-per-worker``); 0 = CPU workers."""

    def __post_init__(self) -> None:
        checks = [
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.workers >= 1, f"--workers must be >= 1, got {self.workers}"),
            (self.decode_threads >= 0, f"--decode-threads must be >= 0, got {self.decode_threads}"),
            (
                self.dtype in ("float32", "float16"),
                f"--dtype must be float32 or float16, got {self.dtype}",
            ),
            (
                self.seek in ("exact", "keyframe"),
                f"--seek must be exact or keyframe, got {self.seek}",
            ),
            (self.timeout_s > 0, f"--timeout must be > 0 seconds, got {self.timeout_s}"),
            (
                self.keyframe_tolerance_s is None or self.keyframe_tolerance_s >= 0,
                "--keyframe-tolerance must be >= 0",
            ),
            (
                self.keyframe_reach > 0,
                f"--keyframe-tolerance as a multiple of the spacing must be > 0, "
                f"got {self.keyframe_reach}x",
            ),
            (self.image_fps > 0, f"--image-fps must be > 0, got {self.image_fps}"),
            (
                self.engine in engine_names(),
                f"--engine must be one of {', '.join(engine_names())}, got {self.engine!r}",
            ),
            (
                self.num_gpus_per_worker >= 0,
                f"--num-gpus-per-worker must be >= 0, got {self.num_gpus_per_worker}",
            ),
        ]
        for key in sorted(set(self.backbone_options) & RESERVED_OPTIONS):
            flag = "--" + key.replace("_", "-")
            checks.append((False, f"--backbone-option {key}: use {flag} instead"))
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def threads_per_worker(self) -> int:
        """Decoder threads each worker uses."""
        return self.decode_threads or max(1, (os.cpu_count() or 1) // self.workers)
