"""Temporal heads on frozen per-frame features, created by name (``create_head("lstm", ...)``).

Neural heads map ``x [B, T, D]`` and a padding ``mask [B, T]`` to logits ``[B, C]``; the tree
head :class:`StatsXGBoost` is a scikit-learn classifier on pooled statistics. Importing this
package imports torch (it is only imported for training and prediction).
"""

from ._base import Head
from ._registry import (
    create_head,
    describe_head,
    head_parameters,
    head_trainer,
    list_heads,
    register_head,
    takes_any_option,
)
from ._stats import pool_stats
from ._trees import StatsXGBoost
from ._videomae import VideoMAEClassifier, load_videomae, videomae_from_config

__all__ = [
    "Head",
    "StatsXGBoost",
    "VideoMAEClassifier",
    "create_head",
    "describe_head",
    "head_parameters",
    "head_trainer",
    "list_heads",
    "load_videomae",
    "pool_stats",
    "register_head",
    "takes_any_option",
    "videomae_from_config",
]
