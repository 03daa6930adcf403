"""Reading local weight files and fitting them to a model, with errors that list mismatches."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from ..errors import WeightsError

_NESTED_KEYS = ("state_dict", "model", "model_state_dict", "module", "net")


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors``, ``.pth``/``.pt``/``.bin`` state dict (never unpickles code).

    Checkpoints that wrap the state dict (``{"state_dict": ...}``, ``{"model": ...}``) are
    unwrapped.

    Raises:
        WeightsError: missing file, unreadable file, or a pickled whole model.
    """
    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"--weights {p}: file not found")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(p)))
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError) as exc:
        raise WeightsError(
            f"--weights {p}: not a plain state dict (it may be a whole pickled model, which "
            f"vidscope does not unpickle); save model.state_dict() instead ({exc})"
        ) from None
    for key in _NESTED_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(f"--weights {p}: expected a dict of tensors, got {type(obj).__name__}")
    return {k.removeprefix("module."): v for k, v in obj.items()}


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
    missing = [k for k in target if k not in tensors and not k.startswith(ignore)]
    extra = [k for k in tensors if k not in target and not k.startswith(ignore)]
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
