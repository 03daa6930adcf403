"""Building blocks shared by the neural heads: layout handling, padding-safe pooling, MLPs."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

import torch
from torch import nn

from ._base import masked_max, masked_mean

Pool = Literal["mean", "mean_max"]
#: How many feature vectors of width D each pooling mode yields.
POOL_WIDTH: dict[str, int] = {"mean": 1, "mean_max": 2}

Layout = Sequence[tuple[str, int]] | Sequence[Sequence[object]]


def layout_config(num_features: int, layout: Layout | None) -> list[list[object]] | None:
    """Check ``layout`` against ``num_features`` and return it JSON-ready (``[[name, width]]``).

    Raises:
        ValueError: if the part widths do not add up to ``num_features``.
    """
    if num_features < 1:
        raise ValueError(f"num_features must be >= 1, got {num_features}")
    if layout is None:
        return None
    parts = [[str(name), int(width)] for name, width in layout]  # type: ignore[misc]
    total = sum(width for _, width in parts)  # type: ignore[misc]
    if total != num_features:
        raise ValueError(
            f"feature layout {parts} adds up to {total} dims but the features have "
            f"{num_features}; the store's layout and its arrays disagree (re-extract the store)"
        )
    return parts


def appearance_width(num_features: int, layout: Layout | None) -> int:
    """Width of the appearance part: the first layout part when there are several, else all."""
    parts = layout_config(num_features, layout)
    if parts is None or len(parts) < 2:
        return num_features
    return int(parts[0][1])  # type: ignore[call-overload]


def check_pool(pool: str) -> None:
    """Raise a ValueError naming the known modes if ``pool`` is not one of them."""
    if pool not in POOL_WIDTH:
        raise ValueError(f"unknown pool {pool!r}; known: {', '.join(POOL_WIDTH)}")


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
