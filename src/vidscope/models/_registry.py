"""Temporal-head registry: small classes plus named variants, created by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

#: Modules whose import registers the built-in heads (imported on first use; they need torch).
BUILTIN_MODULES = (
    "vidscope.models._pooling",
    "vidscope.models._sequence",
    "vidscope.models._transformer",
    "vidscope.models._trees",
)

_REGISTRY: dict[str, Callable[..., Any]] = {}
F = TypeVar("F", bound=Callable[..., Any])


def register_head(name: str) -> Callable[[F], F]:
    """Register a head factory under ``name`` (``create_head(name, ...)`` calls it)."""

    def wrap(fn: F) -> F:
        if name in _REGISTRY:
            raise ValueError(f"head {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return wrap


def create_head(
    name: str,
    *,
    num_features: int,
    num_outputs: int,
    layout: list[tuple[str, int]] | None = None,
    **kwargs: Any,
) -> Any:
    """Build a registered head; ``None`` keyword arguments are dropped (model defaults win).

    Args:
        name: Registered head name (see :func:`list_heads`).
        num_features: D of the input ``x [B, T, D]``.
        num_outputs: 1 for binary (one logit), C for C-class problems.
        layout: ``[(part, width), ...]`` of the feature vector, from the store.
        **kwargs: Head-specific sizes (``hidden``, ``layers``, ...).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(f"unknown --head {name!r}; known: {', '.join(list_heads())}")
    kw = {k: v for k, v in kwargs.items() if v is not None}
    return _REGISTRY[name](num_features=num_features, num_outputs=num_outputs, layout=layout, **kw)


def list_heads() -> list[str]:
    """Registered head names."""
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
