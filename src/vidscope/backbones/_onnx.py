"""ONNX Runtime execution of a torch backbone: exported once, cached, checked at export.

The cache is keyed by a *recipe* (backbone name, weights file digest, model options, torch
version) that is known before torch is imported, so a cached backbone loads in ONNX Runtime
alone: no torch import, a fraction of the start-up time and memory. Beside each
``<key>.onnx`` a ``<key>.json`` records the backbone's identity, layout and the export check.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, WeightsError
from ._base import Backbone, Preprocess, check_clips, check_frames

#: Largest allowed |onnx - torch| relative to the largest |torch| feature.
TOLERANCE = 1e-3
#: Frames per ONNX Runtime call. Activation memory grows with the frames of one call (Lite0 at
#: 224: peak RSS of ORT and the model 208 MiB at 4 frames, 286 at 8, 799 at 32) while CPU time
#: per frame does not fall with more (14.8, 18.1, 15.5 ms; benchmarks/memory.py), so larger
#: batches are split; ``--batch-size`` still sets how many frames are gathered per encode.
MAX_FRAMES_PER_RUN = 4
_FORMAT = 2


def cache_dir() -> Path:
    """Where exported models live: ``$VIDSCOPE_CACHE/onnx`` or ``~/.cache/vidscope/onnx``."""
    root = os.environ.get("VIDSCOPE_CACHE") or Path.home() / ".cache" / "vidscope"
    return Path(root) / "onnx"


def recipe_path(recipe: dict[str, Any]) -> Path:
    """``<cache>/<key>.onnx`` for a backbone recipe (its sidecar is the ``.json`` beside it)."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:  # pragma: no cover - torch is a dependency
        torch_version = "none"
    key = json.dumps({**recipe, "torch": torch_version, "format": _FORMAT}, sort_keys=True)
    return cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.onnx"


class OnnxBackbone(Backbone):
    """A backbone running an exported ONNX model in ONNX Runtime (CPU).

    Args:
        path: The ``.onnx`` file; its ``.json`` sidecar gives name, width, preprocessing.
        threads: Intra-op threads (default: all cores).
        rebuild: Returns the PyTorch backbone the model was exported from (for reference
            checks and the classifier); called only when :meth:`torch` is used.
        max_frames_per_run: Frames per ONNX Runtime call (:data:`MAX_FRAMES_PER_RUN`);
            :meth:`encode` splits larger batches, which bounds activation memory.
    """

    def __init__(
        self,
        path: Path,
        *,
        threads: int | None = None,
        rebuild: Callable[[], Backbone],
        max_frames_per_run: int = MAX_FRAMES_PER_RUN,
    ) -> None:
        import onnxruntime as ort

        meta = json.loads(path.with_suffix(".json").read_text())
        self.path = path
        self.name = meta["identity"]["name"]
        self.num_features = int(meta["identity"]["num_features"])
        pre = meta["identity"]["preprocess"]
        self.preprocess = Preprocess(**{**pre, "input_size": tuple(pre["input_size"])})
        self.export_error = float(meta["relative_error"])
        self._identity = meta["identity"]
        clip = meta["identity"].get("clip")  # a clip backbone: windows of frames per sample
        if clip:
            self.clip_frames = int(clip["frames"])
            self.clip_fps = float(clip["fps"])
            self.clip_stride = int(clip["stride"])
        self._rebuild = rebuild
        self._torch: Backbone | None = None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # The CPU arena stays on: turning it off saved 9 MiB at 4 frames per call (44 at 8) but
        # cost 45% more CPU time per frame (21.5 vs 14.8 ms; benchmarks/memory.py); small calls
        # bound the arena instead.
        opts.enable_cpu_mem_arena = True
        self.max_frames_per_run = max(1, int(max_frames_per_run))
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    @property
    def runtime(self) -> str:
        return "onnx"

    def identity(self) -> dict[str, object]:
        return dict(self._identity)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        if self.clip_frames:
            raise InputError(
                f"the {self.name} backbone encodes windows of frames: call encode_clips"
            )
        check_frames(frames)
        if len(frames) == 0:
            return np.zeros((0, self.num_features), np.float32)
        step = self.max_frames_per_run
        parts = [
            self.session.run(None, {"frames": np.ascontiguousarray(frames[i : i + step])})[0]
            for i in range(0, len(frames), step)
        ]
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return out.astype(np.float32, copy=False)

    def encode_clips(self, clips: np.ndarray) -> np.ndarray:
        """Features of ``uint8 [N, K, h, w, 3]`` windows (clip backbones), one window per call
        (a window holds K frames' activations)."""
        if not self.clip_frames:
            return super().encode_clips(clips)  # the error of a frame backbone
        check_clips(clips, self.clip_frames)
        out = np.zeros((len(clips), self.num_features), np.float32)
        for i in range(len(clips)):
            window = np.ascontiguousarray(clips[i : i + 1])
            out[i] = self.session.run(None, {"clips": window})[0][0]
        return out

    def torch(self) -> Backbone:
        """The PyTorch backbone this model was exported from (built on first call)."""
        if self._torch is None:
            self._torch = self._rebuild()
        return self._torch


def export_checked(reference: Backbone, module: Any, path: Path) -> None:
    """Export ``module`` (uint8 frames -> features) to ``path`` and check it against torch.

    Raises:
        WeightsError: if ONNX Runtime's output differs beyond :data:`TOLERANCE`.
    """
    import onnxruntime as ort

    h, w = reference.preprocess.input_size
    k = reference.clip_frames
    shape = (2, k, h, w, 3) if k else (2, h, w, 3)  # clip backbones take windows of k frames
    name = "clips" if k else "frames"
    tmp = _export(module, path.parent, shape, name)
    try:
        x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
        ref = reference.encode_clips(x) if k else reference.encode(x)
        session = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"])
        got = session.run(None, {name: x})[0]
        err = float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-6))
        if not err <= TOLERANCE:
            raise WeightsError(
                f"ONNX export of {reference.name} differs from the torch model (relative error "
                f"{err:.2e} > {TOLERANCE:g}); use --runtime torch"
            )
        meta = {"identity": reference.identity(), "relative_error": err}
        path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        os.replace(tmp, path)  # the model appears last: a present .onnx has its sidecar
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _export(module: Any, folder: Path, shape: tuple[int, ...], name: str = "frames") -> str:
    """Export ``module`` (uint8 input of ``shape``, any first dimension) to a temporary file
    in ``folder``; its input is called ``name``."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=folder)
    os.close(fd)
    example = torch.zeros(*shape, dtype=torch.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.cpu().eval(),
            (example,),
            tmp,
            input_names=[name],
            output_names=["features"],
            dynamic_axes={name: {0: "n"}, "features": {0: "n"}},
            opset_version=17,
            dynamo=False,
        )
    return tmp
