"""Frame encoders, registered by name (``create_backbone("efficientnet_lite0")``).

Importing this package is light; torch and timm load when a backbone is created.
"""

from ._base import Backbone, Preprocess, Runtime
from ._registry import create_backbone, list_backbones, register_backbone

__all__ = [
    "Backbone",
    "Preprocess",
    "Runtime",
    "create_backbone",
    "list_backbones",
    "register_backbone",
]
