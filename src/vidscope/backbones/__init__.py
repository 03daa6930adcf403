"""Frame encoders, registered by name (``create_backbone("efficientnet_lite0")``).

Importing this package is light; torch and timm load when a backbone is created.
"""

from ._base import Backbone, Preprocess, Runtime, clip_times
from ._convert import convert_weights
from ._open_clip import (
    ClipTextEncoder,
    TextTowerParts,
    clip_embed_dim,
    clip_text_encoder,
    clip_text_width,
    clip_tokenizer,
)
from ._open_clip import remember_weights as remember_clip_weights
from ._registry import create_backbone, describe_backbone, list_backbones, register_backbone

__all__ = [
    "Backbone",
    "ClipTextEncoder",
    "Preprocess",
    "Runtime",
    "TextTowerParts",
    "clip_embed_dim",
    "clip_text_encoder",
    "clip_text_width",
    "clip_times",
    "clip_tokenizer",
    "convert_weights",
    "create_backbone",
    "describe_backbone",
    "list_backbones",
    "register_backbone",
    "remember_clip_weights",
]
