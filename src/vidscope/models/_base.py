"""The one head interface: ``forward(x [B, T, D], mask [B, T]) -> logits [B, C]``."""

from __future__ import annotations

from typing import Any

import torch


class Head(torch.nn.Module):
    """Base class of the neural temporal heads.

    Subclasses take ``num_features``, ``num_outputs`` and ``layout`` plus their own sizes as
    keyword arguments, store every constructor argument in ``self.config`` (JSON-ready, so a
    saved run rebuilds the same head), and implement :meth:`forward`.
    """

    kind = "torch"

    def __init__(self, **config: Any) -> None:
        super().__init__()
        self.config: dict[str, Any] = dict(config)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_outputs]`` from ``x [B, T, D]`` and ``mask [B, T]`` (True = real
        frame, False = padding). Padding must not change the output."""
        raise NotImplementedError


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over valid time steps: ``[B, T, D], [B, T] -> [B, D]``."""
    m = mask.unsqueeze(-1).to(x.dtype)  # [B, T, 1]
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over valid time steps: ``[B, T, D], [B, T] -> [B, D]``."""
    neg = torch.finfo(x.dtype).min
    return x.masked_fill(~mask.unsqueeze(-1), neg).amax(1)
