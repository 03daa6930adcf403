"""Backbone registry: small classes plus named variants, created by name."""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import InputError
from ._base import Backbone

#: Modules whose import registers the built-in backbones (imported on first use: they pull
#: in torch, which decode workers and ``vidscope info`` never need).
BUILTIN_MODULES = (
    "vidscope.backbones._timm",
    "vidscope.backbones._torchvision",
    "vidscope.backbones._flow",
    "vidscope.backbones._clip",
    "vidscope.backbones._emotion",
    "vidscope.backbones._pose",
    "vidscope.backbones._i3d",
)
#: Joins part names into a fused backbone, e.g. ``efficientnet_lite0+flow`` (see ``_fusion``).
FUSE = "+"

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
            raise InputError(f"backbone {name!r} is already registered")
        table[name] = fn
        return fn

    return wrap


def create_backbone(name: str, **kwargs: Any) -> Backbone:
    """Build a registered backbone. ``None`` keyword arguments are dropped.

    A ``+``-joined name (``efficientnet_lite0+flow``) builds a fused backbone whose features
    are the parts' features side by side (see :func:`vidscope.backbones._fusion.fuse`).

    Raises:
        ValueError: for an unknown name, listing the known ones, or an option the backbone
            does not take (naming its flag).
    """
    _load_builtins()
    kw = {k: v for k, v in kwargs.items() if v is not None}
    if FUSE in name:
        from ._fusion import fuse

        return fuse(name, **kw)
    factory = resolve_factory(name)
    unknown = [k for k in kw if not accepts(factory, k)]
    if unknown:
        flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
        raise InputError(f"--backbone {name!r} does not take {flags}; leave it out")
    return factory(**kw)


def resolve_factory(name: str) -> Callable[..., Backbone]:
    """The factory that builds ``name`` (a prefix family's with its argument bound).

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    head, sep, arg = name.partition(":")
    if sep and head in _PREFIXES:
        if not arg:
            raise InputError(f"--backbone {name!r}: give a model name after '{head}:'")
        return functools.partial(_PREFIXES[head], arg)
    known = ", ".join(list_backbones())
    raise InputError(
        f"unknown --backbone {name!r}; known: {known} (join several with '{FUSE}' to fuse them)"
    )


def accepts(factory: Callable[..., Backbone], keyword: str, *, by_name: bool = False) -> bool:
    """Whether ``factory`` takes the keyword argument ``keyword``: by name, or (unless
    ``by_name``) through ``**kwargs``."""
    params = inspect.signature(factory).parameters.values()
    return any(
        (p.kind is p.VAR_KEYWORD and not by_name)
        or (p.name == keyword and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        for p in params
    )


def list_backbones() -> list[str]:
    """Registered names; prefix families are shown as ``family:<name>``."""
    _load_builtins()
    return sorted(_REGISTRY) + sorted(f"{p}:<name>" for p in _PREFIXES)


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def describe_backbone(name: str) -> tuple[str, dict[str, Any]]:
    """The first line of ``name``'s docstring and its options (``--backbone-option`` keys)
    with their defaults, for ``vidscope backbones``. Prefix families are named as listed
    (``timm:<name>``)."""
    _load_builtins()
    family = name.split(":", 1)[0] if ":" in name else None
    factory = _PREFIXES[family] if family in _PREFIXES else resolve_factory(name)
    doc = (inspect.getdoc(factory) or "").replace("``", "").strip().splitlines()
    skip = {"weights", "trust_checkpoint", "runtime", "device", "self"}
    options = {
        p.name: None if p.default is p.empty else p.default
        for i, p in enumerate(inspect.signature(factory).parameters.values())
        if p.name not in skip
        and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        and not (family and i == 0)
    }
    return (doc[0] if doc else ""), options
