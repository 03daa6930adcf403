"""Saving and restoring training state without pickles: safetensors + JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..features import atomic_write, atomic_write_json


def save_weights(module: torch.nn.Module, path: Path) -> None:
    """Module weights as safetensors, written atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    atomic_write(path, lambda f: f.write(_safetensors_bytes(tensors)))


def load_weights(module: torch.nn.Module, path: Path) -> None:
    """Load safetensors weights into ``module`` (strict)."""
    module.load_state_dict(load_file(str(path)))


def save_checkpoint(
    path: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
) -> None:
    """Model + optimizer tensors to ``path.safetensors``, the rest to ``path.json``."""
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    opt = optimizer.state_dict()
    for pid, pstate in opt["state"].items():
        for key, value in pstate.items():
            tensors[f"opt.{pid}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    meta = {**state, "param_groups": opt["param_groups"]}
    atomic_write(path.with_suffix(".safetensors"), lambda f: f.write(_safetensors_bytes(tensors)))
    atomic_write_json(path.with_suffix(".json"), meta)


def load_checkpoint(
    path: Path, module: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote; returns the JSON state."""
    tensors = load_file(str(path.with_suffix(".safetensors")))
    meta = json.loads(path.with_suffix(".json").read_text())
    module.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    optimizer.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    return meta


def _safetensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    return save(tensors)


__all__ = ["load_checkpoint", "load_weights", "save_checkpoint", "save_file", "save_weights"]
