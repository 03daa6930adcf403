"""Backbone registry: small classes plus named variants, created by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from ._base import Backbone

#: Modules whose import registers the built-in backbones (imported on first use: they pull
#: in torch, which decode workers and ``vidscope info`` never need).
BUILTIN_MODULES = ("vidscope.backbones._timm",)

_REGISTRY: dict[str, Callable[..., Backbone]] = {}
_PREFIXES: dict[str, Callable[..., Backbone]] = {}

F = TypeVar("F", bound=Callable[..., Backbone])


def register_backbone(name: str, *, prefix: bool = False) -> Callable[[F], F]:
    """Register a factory under ``name``; with ``prefix=True`` it answers ``name:<arg>``.

    A prefix factory receives the text after the colon as its first argument, e.g.
    ``timm:resnet18`` calls the ``timm`` factory with ``"resnet18"``.
    """

    def wrap(fn: F) -> F:
        table = _PREFIXES if prefix else _REGISTRY
        if name in table:
            raise ValueError(f"backbone {name!r} is already registered")
        table[name] = fn
        return fn

    return wrap


def create_backbone(name: str, **kwargs: Any) -> Backbone:
    """Build a registered backbone. ``None`` keyword arguments are dropped.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    _load_builtins()
    kw = {k: v for k, v in kwargs.items() if v is not None}
    if name in _REGISTRY:
        return _REGISTRY[name](**kw)
    head, sep, arg = name.partition(":")
    if sep and head in _PREFIXES:
        if not arg:
            raise ValueError(f"--backbone {name!r}: give a model name after '{head}:'")
        return _PREFIXES[head](arg, **kw)
    known = ", ".join(list_backbones())
    raise ValueError(f"unknown --backbone {name!r}; known: {known}")


def list_backbones() -> list[str]:
    """Registered names; prefix families are shown as ``family:<name>``."""
    _load_builtins()
    return sorted(_REGISTRY) + sorted(f"{p}:<name>" for p in _PREFIXES)


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
