"""Two-stream head: a temporal transformer over all features plus a spatial appearance MLP.

The shape follows a published dashcam-collision pipeline (a transformer over per-frame
features, concatenated with a spatial stream over the appearance features), generalised to
any D and to feature vectors without a separate appearance part.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import InputError
from ._base import Head, masked_mean
from ._layers import Layout, appearance_width, input_norm, layout_config, mlp, zero_padding
from ._registry import register_head


def sinusoidal_positions(length: int, width: int, device: torch.device) -> torch.Tensor:
    """Fixed sine/cosine position codes ``[length, width]`` (any length, nothing to learn)."""
    pos = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)  # [T, 1]
    freq = torch.exp(
        torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(1e4) / width)
    )  # [ceil(width / 2)]
    codes = torch.zeros(length, width, device=device)
    codes[:, 0::2] = torch.sin(pos * freq)
    codes[:, 1::2] = torch.cos(pos * freq[: width // 2])
    return codes  # [T, width]


def spatial_stream(width: int, out: int, dropout: float, norm: bool) -> nn.Sequential:
    """Appearance MLP ``[B, width] -> [B, out]``: LayerNorm, Linear, GELU, Dropout."""
    return nn.Sequential(
        input_norm(width, norm), nn.Linear(width, out), nn.GELU(), nn.Dropout(dropout)
    )


class TransformerHead(Head):
    """Temporal transformer stream + spatial appearance stream, concatenated, then an MLP.

    Temporal: ``Linear(D -> d_model)`` + sinusoidal positions, a pre-norm
    ``TransformerEncoder`` that masks padded keys, masked mean over valid steps.
    Spatial: LayerNorm + Linear + GELU on the masked mean of the appearance part of each
    frame (the first layout part when the layout has several parts, else the whole vector).

    Args:
        num_features: D of ``x [B, T, D]``.
        num_outputs: 1 (binary logit) or C (class logits).
        layout: Feature layout ``[(part, width), ...]``; picks the appearance part.
        d_model: Transformer width.
        heads: Attention heads (must divide ``d_model``).
        layers: Encoder layers.
        ff: Feed-forward width inside each encoder layer.
        spatial: Width of the spatial stream; 0 turns the stream off.
        hidden: Hidden width of the classifier MLP.
        dropout: Dropout inside the encoder, the streams and the classifier.
        norm: Per-frame LayerNorm on the input features.
    """

    def __init__(
        self,
        *,
        num_features: int,
        num_outputs: int,
        layout: Layout | None = None,
        d_model: int = 128,
        heads: int = 4,
        layers: int = 2,
        ff: int = 256,
        spatial: int = 128,
        hidden: int = 128,
        dropout: float = 0.1,
        norm: bool = True,
    ) -> None:
        if d_model % heads:
            raise InputError(f"d_model ({d_model}) must be divisible by heads ({heads})")
        super().__init__(
            num_features=num_features,
            num_outputs=num_outputs,
            layout=layout_config(num_features, layout),
            d_model=d_model,
            heads=heads,
            layers=layers,
            ff=ff,
            spatial=spatial,
            hidden=hidden,
            dropout=dropout,
            norm=norm,
        )
        self.appearance = appearance_width(num_features, layout)
        self.norm = input_norm(num_features, norm)
        self.embed = nn.Linear(num_features, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, ff, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(
            layer, layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        )
        self.spatial = spatial_stream(self.appearance, spatial, dropout, norm) if spatial else None
        self.dropout = nn.Dropout(dropout)
        self.classifier = mlp([d_model + spatial, hidden, num_outputs], dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_outputs]`` from ``x [B, T, D]`` and ``mask [B, T]``."""
        x = zero_padding(x, mask)  # [B, T, D]
        streams = [self._temporal(self.norm(x), mask)]  # [B, d_model]
        if self.spatial is not None:
            pooled = masked_mean(x[..., : self.appearance], mask)  # [B, A]
            streams.append(self.spatial(pooled))  # [B, spatial]
        return self.classifier(torch.cat(streams, dim=-1))  # [B, C]

    def _temporal(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Encode ``x [B, T, D]`` and pool the valid steps to ``[B, d_model]``."""
        h = self.embed(x)  # [B, T, d_model]
        h = self.dropout(h + sinusoidal_positions(h.shape[1], h.shape[2], h.device))
        # An empty sequence attends to its first (zeroed) step instead of to nothing (NaN).
        first = torch.zeros_like(mask)
        first[:, 0] = True  # an out-of-place OR (no in-place |=) so the head exports to ONNX
        attend = mask | (first & ~mask.any(1, keepdim=True))  # [B, T]
        h = self.encoder(h, src_key_padding_mask=~attend)  # [B, T, d_model]
        return masked_mean(h, mask)


@register_head("transformer")
def transformer(**kwargs: Any) -> TransformerHead:
    """Temporal transformer (d_model 128, 2 layers, 4 heads) plus a spatial appearance MLP."""
    return TransformerHead(**kwargs)
