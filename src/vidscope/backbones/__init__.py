"""Frame encoders, registered by name (``create_backbone("efficientnet_lite0")``)."""

from . import _timm  # noqa: F401  (registers the timm backbones)
from ._base import Backbone, Preprocess
from ._registry import create_backbone, list_backbones, register_backbone
from ._torch import Runtime, TorchBackbone

__all__ = [
    "Backbone",
    "Preprocess",
    "Runtime",
    "TorchBackbone",
    "create_backbone",
    "list_backbones",
    "register_backbone",
]
