"""Choosing the runtime for a torch-defined backbone and loading it from the ONNX cache."""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Callable
from typing import Any

from ..errors import InputError, WeightsError
from ._base import Backbone, Runtime
from ._onnx import OnnxBackbone, export_checked, recipe_path


def file_digest(path: str | os.PathLike[str]) -> str:
    """First 16 hex digits of the file's SHA-256 (identifies weights in store keys and caches)."""
    if not os.path.isfile(path):
        raise WeightsError(f"--weights {path}: file not found")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def resolve_runtime(runtime: Runtime) -> str:
    """``"onnx"`` or ``"torch"``: ``auto`` is torch only where a CUDA GPU is usable.

    The GPU check imports torch only when an NVIDIA device node exists.
    """
    if runtime not in ("auto", "onnx", "torch"):
        raise InputError(f"--runtime must be auto, onnx or torch, got {runtime!r}")
    if runtime != "auto":
        return runtime
    if not glob.glob("/dev/nvidia[0-9]*"):
        return "onnx"
    import torch

    return "torch" if torch.cuda.is_available() else "onnx"


def build_backbone(
    recipe: dict[str, Any],
    make_torch: Callable[[], Any],
    *,
    runtime: Runtime = "auto",
    threads: int | None = None,
) -> Backbone:
    """The backbone ``recipe`` describes, in the chosen runtime.

    Args:
        recipe: What determines the features (name, weights digest, model options); JSON-ready.
        make_torch: Builds the :class:`~vidscope.backbones._torch.TorchBackbone` (imports torch).
        runtime: ``auto``, ``onnx`` or ``torch``.
        threads: Intra-op threads.
    """
    if resolve_runtime(runtime) == "torch":
        return make_torch()
    path = recipe_path(recipe)
    built: list[Any] = []

    def rebuild() -> Any:
        if not built:
            built.append(make_torch())
        return built[0]

    if not (path.exists() and path.with_suffix(".json").exists()):
        reference = rebuild()
        export_checked(reference, reference.module, path)
    return OnnxBackbone(path, threads=threads, rebuild=rebuild)
