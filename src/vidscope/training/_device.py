"""Where and in what precision training runs: device choice, autocast and gradient scaling.

Every trainer resolves ``--device`` and ``--precision`` here, once, into a :class:`DevicePlan`
and then uses its three pieces: :meth:`DevicePlan.autocast` around forward passes,
:meth:`DevicePlan.scaler` for the backward pass and optimiser step (a pass-through unless the
precision is fp16, where gradients are scaled to stay representable), and
:meth:`DevicePlan.to` for inputs. Nothing requires a GPU: ``auto`` picks one only when it is
usable, and bf16 autocast works on the CPU too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ..errors import ConfigError

Precision = Literal["fp32", "bf16", "fp16"]
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


@dataclass(frozen=True)
class DevicePlan:
    """A resolved device and precision.

    Attributes:
        device: The torch device every tensor of the run lives on.
        precision: ``fp32`` (no autocast), ``bf16`` or ``fp16`` autocast.
    """

    device: torch.device
    precision: Precision = "fp32"

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, ``None`` for fp32."""
        return PRECISIONS[self.precision]

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Context for forward passes: autocast to :attr:`dtype`, a no-op for fp32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler:
        """A gradient scaler, enabled only for fp16 (bf16 and fp32 keep fp32's exponent range).

        A disabled scaler passes ``scale(loss)``, ``unscale_``, ``step`` and ``update`` through,
        so one training step works for every precision.
        """
        return torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")

    def to(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` on the device (asynchronous from pinned memory on CUDA)."""
        return tensor.to(self.device, non_blocking=self.is_cuda)

    def describe(self) -> str:
        """E.g. ``"cuda:0 (NVIDIA H200), bf16"`` or ``"cpu, fp32"``."""
        name = str(self.device)
        if self.is_cuda:
            name += f" ({torch.cuda.get_device_name(self.device)})"
        return f"{name}, {self.precision}"


def resolve_device(spec: str = "auto") -> torch.device:
    """The device ``--device`` names.

    Args:
        spec: ``auto`` (the current CUDA device when one is usable, else the CPU), ``cpu``,
            ``cuda`` or ``cuda:N``.

    Raises:
        ConfigError: an unknown spec, or CUDA asked for where none is usable.
    """
    text = str(spec).strip().lower()
    if text == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"--device {spec}: no usable CUDA GPU here (torch {torch.__version__}, "
                f"CUDA build {torch.version.cuda or 'none'}); use --device cpu or auto"
            )
        index = int(text[5:]) if ":" in text else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) "
                f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1})"
            )
        return torch.device("cuda", index)
    raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {spec!r}")


def resolve_precision(precision: str, device: torch.device) -> Precision:
    """Check that ``--precision`` can run on ``device``.

    Raises:
        ConfigError: an unknown precision, fp16 on the CPU (no fast fp16 kernels there; bf16
            is the CPU's mixed precision), or bf16 on a GPU without bf16 support.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be fp32, bf16 or fp16, got {precision!r}")
    if precision == "fp16" and device.type == "cpu":
        raise ConfigError("--precision fp16 needs a CUDA GPU; on the CPU use bf16 or fp32")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError(
            f"--precision bf16: {torch.cuda.get_device_name(device)} has no bf16 support; "
            "use fp16 or fp32"
        )
    return precision  # type: ignore[return-value]


def device_plan(device: str = "auto", precision: str = "fp32") -> DevicePlan:
    """Resolve ``--device`` and ``--precision`` together (see :func:`resolve_device`)."""
    dev = resolve_device(device)
    return DevicePlan(dev, resolve_precision(precision, dev))


def optimiser_step(
    plan: DevicePlan,
    scaler: torch.amp.GradScaler,
    optimizer: torch.optim.Optimizer,
    params: Iterable[torch.nn.Parameter],
    *,
    max_norm: float | None = 5.0,
) -> bool:
    """Unscale, clip the gradient norm to ``max_norm``, step and update the scaler.

    Returns:
        Whether the optimiser stepped: an fp16 step whose gradients overflowed is skipped
        (the scaler lowers its scale instead), and then the schedule should not advance.
    """
    del plan  # one signature for every device; the scaler already knows its device
    scaler.unscale_(optimizer)
    if max_norm is not None:
        torch.nn.utils.clip_grad_norm_(list(params), max_norm)
    before = scaler.get_scale() if scaler.is_enabled() else None
    scaler.step(optimizer)
    scaler.update()
    return before is None or scaler.get_scale() >= before
