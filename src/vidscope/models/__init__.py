"""Temporal heads on frozen per-frame features, created by name (``create_head("lstm", ...)``).

Neural heads map ``x [B, T, D]`` and a padding ``mask [B, T]`` to logits ``[B, C]``; the tree
head :class:`StatsXGBoost` is a scikit-learn classifier on pooled statistics. Names load on
first use: the registry and ``StatsXGBoost`` need no torch, the neural heads do.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Head": "._base",
    "create_head": "._registry",
    "describe_head": "._registry",
    "head_parameters": "._registry",
    "head_trainer": "._registry",
    "list_heads": "._registry",
    "register_head": "._registry",
    "takes_any_option": "._registry",
    "pool_stats": "._stats",
    "StatsXGBoost": "._trees",
    "LinearProbe": "._linear",
    "TreeScorer": "._forest",
    "Forest": "._forest",
    "load_scorer": "._forest",
    "VideoMAEClassifier": "._videomae",
    "load_videomae": "._videomae",
    "videomae_from_config": "._videomae",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
