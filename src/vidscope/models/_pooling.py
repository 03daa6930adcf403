"""Pooled baselines: masked mean (or mean+max) over time into a linear layer or an MLP."""

from __future__ import annotations

from typing import Any

import torch

from ._base import Head
from ._layers import POOL_WIDTH, Layout, Pool, check_pool, input_norm, layout_config, mlp, pool_time
from ._registry import register_head


class PoolingHead(Head):
    """Order-free baseline: pool the valid frames, then classify the pooled vector.

    Args:
        num_features: D of ``x [B, T, D]``.
        num_outputs: 1 (binary logit) or C (class logits).
        layout: Feature layout ``[(part, width), ...]``; only checked against D.
        pool: ``"mean"`` or ``"mean_max"`` (mean and max concatenated, 2D wide).
        hidden: Hidden width of the MLP; 0 means a single linear layer.
        dropout: Dropout on the pooled vector (and after the hidden layer).
        norm: Per-frame LayerNorm before pooling (evens out parts of different scale).
    """

    def __init__(
        self,
        *,
        num_features: int,
        num_outputs: int,
        layout: Layout | None = None,
        pool: Pool = "mean",
        hidden: int = 0,
        dropout: float = 0.1,
        norm: bool = True,
    ) -> None:
        check_pool(pool)
        super().__init__(
            num_features=num_features,
            num_outputs=num_outputs,
            layout=layout_config(num_features, layout),
            pool=pool,
            hidden=hidden,
            dropout=dropout,
            norm=norm,
        )
        self.pool = pool
        self.norm = input_norm(num_features, norm)
        pooled = POOL_WIDTH[pool] * num_features
        widths = [pooled, hidden, num_outputs] if hidden > 0 else [pooled, num_outputs]
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = mlp(widths, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_outputs]`` from ``x [B, T, D]`` and ``mask [B, T]``."""
        pooled = pool_time(self.norm(x), mask, self.pool)  # [B, D] or [B, 2D]
        return self.classifier(self.dropout(pooled))  # [B, C]


@register_head("mean_linear")
def mean_linear(
    *, pool: str = "mean", hidden: int = 0, dropout: float = 0.1, **kwargs: Any
) -> PoolingHead:
    """Masked mean over time into one linear layer: the honest baseline."""
    return PoolingHead(pool=pool, hidden=hidden, dropout=dropout, **kwargs)


@register_head("mlp")
def mlp_head(
    *, pool: str = "mean_max", hidden: int = 256, dropout: float = 0.2, **kwargs: Any
) -> PoolingHead:
    """Masked mean and max over time into an MLP (hidden 256)."""
    return PoolingHead(pool=pool, hidden=hidden, dropout=dropout, **kwargs)
