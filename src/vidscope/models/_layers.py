"""Building blocks shared by the neural heads: layout handling, padding-safe pooling, MLPs."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

import torch
from torch import nn

from ..errors import InputError
from ._base import masked_max, masked_mean
from ._layout import Layout, appearance_width, layout_config

__all__ = ["Layout", "appearance_width", "layout_config"]  # re-exported for the heads

Pool = Literal["mean", "mean_max"]
#: How many feature vectors of width D each pooling mode yields.
POOL_WIDTH: dict[str, int] = {"mean": 1, "mean_max": 2}


def check_pool(pool: str) -> None:
    """Raise a ValueError naming the known modes if ``pool`` is not one of them."""
    if pool not in POOL_WIDTH:
        raise InputError(f"unknown pool {pool!r}; known: {', '.join(POOL_WIDTH)}")


def zero_padding(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zero the padded steps (NaN/inf garbage included): ``[B, T, D], [B, T] -> [B, T, D]``."""
    return x.masked_fill(~mask.unsqueeze(-1), 0.0)


def pool_time(x: torch.Tensor, mask: torch.Tensor, pool: str) -> torch.Tensor:
    """Pool over valid steps: ``[B, T, D], [B, T] -> [B, D]`` (mean) or ``[B, 2D]`` (mean_max).

    A sequence without any valid step pools to zeros instead of ``-inf``.
    """
    mean = masked_mean(zero_padding(x, mask), mask)  # [B, D]
    if pool == "mean":
        return mean
    has_frame = mask.any(1, keepdim=True)  # [B, 1]
    peak = masked_max(x, mask).masked_fill(~has_frame, 0.0)  # [B, D]
    return torch.cat([mean, peak], dim=-1)  # [B, 2D]


def mlp(widths: Sequence[int], dropout: float) -> nn.Sequential:
    """``Linear -> GELU -> Dropout`` per hidden width, then a final ``Linear`` (no activation).

    ``mlp([256, 128, 1], 0.2)`` maps 256 -> 128 -> 1; ``mlp([256, 1], p)`` is one linear layer.
    """
    layers: list[nn.Module] = []
    for i, (w_in, w_out) in enumerate(pairwise(widths)):
        layers.append(nn.Linear(w_in, w_out))
        if i < len(widths) - 2:
            layers += [nn.GELU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


def input_norm(width: int, norm: bool) -> nn.Module:
    """Per-frame LayerNorm over features (padding-safe, unlike BatchNorm), or identity."""
    return nn.LayerNorm(width) if norm else nn.Identity()
