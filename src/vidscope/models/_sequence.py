"""Order-aware heads: a masked LSTM and masked temporal convolutions."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..errors import InputError
from ._base import Head, masked_mean
from ._layers import (
    POOL_WIDTH,
    Layout,
    Pool,
    check_pool,
    input_norm,
    layout_config,
    pool_time,
    zero_padding,
)
from ._registry import register_head


def valid_first(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each sequence's valid steps to the front, keeping their order.

    Collated batches already pad at the end (then this is the identity); a mask with holes
    becomes one, so a recurrent pass never runs over padding.

    Returns:
        ``x [B, T, D]`` and ``mask [B, T]``, both reordered along T.
    """
    t = mask.shape[1]  # distinct keys (valid steps first, each in time order), so a plain
    # sort equals a stable one and exports to ONNX (TopK)
    key = (~mask).to(torch.int64) * t + torch.arange(t, device=mask.device)  # [B, T]
    order = torch.argsort(key, dim=1)  # [B, T]
    x = x.gather(1, order.unsqueeze(-1).expand_as(x))  # [B, T, D]
    return x, mask.gather(1, order)


class LSTMHead(Head):
    """LSTM over the valid frames (packed, so padding is never seen), masked mean, linear.

    Args:
        num_features: D of ``x [B, T, D]``.
        num_outputs: 1 (binary logit) or C (class logits).
        layout: Feature layout ``[(part, width), ...]``; only checked against D.
        hidden: LSTM hidden size (per direction).
        layers: Stacked LSTM layers.
        bidirectional: Also run the sequence backwards (doubles the pooled width).
        dropout: Dropout on the input, between LSTM layers and before the classifier.
        norm: Per-frame LayerNorm on the input features.
    """

    def __init__(
        self,
        *,
        num_features: int,
        num_outputs: int,
        layout: Layout | None = None,
        hidden: int = 128,
        layers: int = 2,
        bidirectional: bool = False,
        dropout: float = 0.2,
        norm: bool = True,
    ) -> None:
        super().__init__(
            num_features=num_features,
            num_outputs=num_outputs,
            layout=layout_config(num_features, layout),
            hidden=hidden,
            layers=layers,
            bidirectional=bidirectional,
            dropout=dropout,
            norm=norm,
        )
        self.norm = input_norm(num_features, norm)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(
            num_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
            bidirectional=bidirectional,
        )
        self.classifier = nn.Linear(hidden * (2 if bidirectional else 1), num_outputs)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_outputs]`` from ``x [B, T, D]`` and ``mask [B, T]``."""
        x, mask = valid_first(zero_padding(x, mask), mask)
        x = self.dropout(self.norm(x))  # [B, T, D]
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # oneDNN has no bf16 LSTM on CPUs without bf16 instructions (it raises "could not
            # create a primitive descriptor"): the recurrence runs in float32 there
            with torch.autocast("cpu", enabled=False):
                h = self._recur(x.float(), mask)
        else:
            h = self._recur(x, mask)
        return self.classifier(self.dropout(masked_mean(h, mask)))  # [B, C]

    def _recur(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """LSTM outputs ``[B, T, H]`` of the valid-first ``x [B, T, D]``."""
        if self.lstm.bidirectional:  # the backward pass must start at each sequence's end
            lengths = mask.sum(1).clamp_min(1).cpu()  # [B]; an empty sequence: one zero step
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.lstm(packed)
            h, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            return h
        # valid steps come first, so trailing padding cannot reach their outputs; unpacked is
        # 2x faster on CPU
        h, _ = self.lstm(x)
        return h


class Conv1dHead(Head):
    """Temporal convolutions that never see padding, then masked pooling and a linear layer.

    Padded steps are zeroed before every convolution, so a valid step next to padding sees
    exactly what it would see at the end of an unpadded sequence (zero "same" padding).

    Args:
        num_features: D of ``x [B, T, D]``.
        num_outputs: 1 (binary logit) or C (class logits).
        layout: Feature layout ``[(part, width), ...]``; only checked against D.
        channels: Output channels of every convolution.
        layers: Number of convolutions (each ``Conv1d -> GELU -> Dropout``).
        kernel_size: Odd temporal kernel size.
        pool: ``"mean"`` or ``"mean_max"`` over the valid steps.
        dropout: Dropout after each convolution and before the classifier.
        norm: Per-frame LayerNorm on the input features.
    """

    def __init__(
        self,
        *,
        num_features: int,
        num_outputs: int,
        layout: Layout | None = None,
        channels: int = 256,
        layers: int = 2,
        kernel_size: int = 3,
        pool: Pool = "mean_max",
        dropout: float = 0.2,
        norm: bool = True,
    ) -> None:
        check_pool(pool)
        if kernel_size % 2 == 0:
            raise InputError(f"kernel_size must be odd (same-length output), got {kernel_size}")
        super().__init__(
            num_features=num_features,
            num_outputs=num_outputs,
            layout=layout_config(num_features, layout),
            channels=channels,
            layers=layers,
            kernel_size=kernel_size,
            pool=pool,
            dropout=dropout,
            norm=norm,
        )
        self.pool = pool
        self.norm = input_norm(num_features, norm)
        widths = [num_features] + [channels] * layers
        self.convs = nn.ModuleList(
            nn.Conv1d(w_in, w_out, kernel_size, padding=kernel_size // 2)
            for w_in, w_out in pairwise(widths)
        )
        self.act = nn.GELU()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(POOL_WIDTH[pool] * widths[-1], num_outputs)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, num_outputs]`` from ``x [B, T, D]`` and ``mask [B, T]``."""
        h = self.norm(zero_padding(x, mask)).transpose(1, 2)  # [B, D, T]
        keep = mask.unsqueeze(1)  # [B, 1, T]
        for conv in self.convs:
            h = self.dropout(self.act(conv(h.masked_fill(~keep, 0.0))))  # [B, channels, T]
        pooled = pool_time(h.transpose(1, 2), mask, self.pool)  # [B, 2 * channels]
        return self.classifier(self.dropout(pooled))  # [B, C]


@register_head("lstm")
def lstm(**kwargs: Any) -> LSTMHead:
    """Two-layer LSTM (hidden 128), masked mean over time, linear classifier."""
    return LSTMHead(**kwargs)


@register_head("conv1d")
def conv1d(**kwargs: Any) -> Conv1dHead:
    """Two temporal convolutions (kernel 3, 256 channels), masked mean+max, linear."""
    return Conv1dHead(**kwargs)
