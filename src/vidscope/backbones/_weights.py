"""Reading local weight files and fitting them to a model, with errors that list mismatches."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from ..errors import WeightsError

_NESTED_KEYS = ("state_dict", "model", "model_state_dict", "module", "net")


def read_state_dict(
    path: str | os.PathLike[str], *, trust_checkpoint: bool = False
) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors``, ``.pth``/``.pt``/``.bin`` state dict.

    Checkpoints that wrap the state dict (``{"state_dict": ...}``, ``{"model": ...}``) are
    unwrapped. Without ``trust_checkpoint`` nothing but tensors is unpickled
    (``weights_only``); with it, a whole pickled model (or one under ``"model"``) is loaded
    with ``torch.load(weights_only=False)``, which runs the file's code, and its
    ``state_dict()`` is taken.

    Raises:
        WeightsError: missing file, unreadable file, or a pickled whole model without trust.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"--weights {p}: file not found")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(p)))
    obj = _trusted_load(p) if trust_checkpoint else _safe_load(p)
    for key in _NESTED_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), (dict, torch.nn.Module)):
            obj = obj[key]
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"--weights {p}: expected a dict of tensors, got {type(obj).__name__}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def _safe_load(p: Path) -> object:
    try:
        return torch.load(str(p), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError) as exc:
        raise WeightsError(
            f"--weights {p}: not a plain state dict (it may be a whole pickled model, which "
            "runs code when loaded). If you trust the file, pass --trust-checkpoint, or convert "
            f"it once: vidscope convert-weights {p} OUT.safetensors --trust-checkpoint ({exc})"
        ) from None


def _trusted_load(p: Path) -> object:
    try:
        return torch.load(str(p), map_location="cpu", weights_only=False)
    except Exception as exc:  # any unpickling failure: the file or its classes
        raise WeightsError(
            f"--weights {p}: could not load the trusted checkpoint ({type(exc).__name__}: "
            f"{exc}); the classes it pickles must be importable"
        ) from None


def load_in_order(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Load tensors positionally: the i-th tensor of the file into the i-th model entry.

    For checkpoints of the same network saved under another naming scheme.

    Raises:
        WeightsError: if the counts or any shapes differ (the first mismatches are listed).
    """
    target = model.state_dict()
    if len(target) != len(tensors):
        raise WeightsError(
            f"{source}: {len(tensors)} tensors, but the model has {len(target)} entries"
        )
    bad = [
        f"#{i} {a} {tuple(va.shape)} -> {b} {tuple(target[b].shape)}"
        for i, ((a, va), b) in enumerate(zip(tensors.items(), target, strict=True))
        if va.shape != target[b].shape
    ]
    if bad:
        raise WeightsError(f"{source}: shapes do not fit in order: " + "; ".join(bad[:5]))
    model.load_state_dict(dict(zip(target, tensors.values(), strict=True)))


def load_by_name(
    model: torch.nn.Module,
    tensors: dict[str, torch.Tensor],
    source: str,
    *,
    ignore: tuple[str, ...] = (),
) -> None:
    """Load tensors by key; keys starting with one of ``ignore`` may be missing or extra.

    Raises:
        WeightsError: naming the first missing, unexpected and wrongly shaped keys.
    """
    target = model.state_dict()
    missing = [
        f"{k} {tuple(v.shape)}"
        for k, v in target.items()
        if k not in tensors and not k.startswith(ignore)
    ]
    extra = [
        f"{k} {tuple(v.shape)}"
        for k, v in tensors.items()
        if k not in target and not k.startswith(ignore)
    ]
    shape = [
        f"{k} {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
        for k, v in target.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or extra or shape:
        parts = [
            f"{label} ({len(items)}): {', '.join(items[:5])}"
            for label, items in (("missing", missing), ("unexpected", extra), ("shape", shape))
            if items
        ]
        raise WeightsError(f"{source} does not fit the model: " + "; ".join(parts))
    model.load_state_dict({k: v for k, v in tensors.items() if k in target}, strict=False)
