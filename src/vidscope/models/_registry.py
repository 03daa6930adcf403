"""Temporal-head registry: small classes plus named variants, created by name."""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import ConfigError, InputError

#: Modules whose import registers the built-in heads (imported on first use; they need torch).
BUILTIN_MODULES = (
    "vidscope.models._coop",
    "vidscope.models._ensemble",
    "vidscope.models._linear",
    "vidscope.models._pooling",
    "vidscope.models._sequence",
    "vidscope.models._transformer",
    "vidscope.models._trees",
    "vidscope.models._videomae",
)

_REGISTRY: dict[str, Callable[..., Any]] = {}
_TRAINERS: dict[str, str] = {}
#: Context a head may ask for by naming it in its constructor: class names in label order,
#: and the backbone identity of the features (``StoreKey.backbone``).
CONTEXT_ARGS = ("classes", "backbone")
F = TypeVar("F", bound=Callable[..., Any])


def register_head(name: str, *, trainer: str = "neural") -> Callable[[F], F]:
    """Register a head factory under ``name`` (``create_head(name, ...)`` calls it).

    Args:
        name: The ``--head`` name.
        trainer: The registered trainer that fits it (``neural``: gradient descent on
            ``[B, T, D]`` batches; ``tree``: a scikit-learn style ``fit``).
    """

    def wrap(fn: F) -> F:
        if name in _REGISTRY:
            raise InputError(f"head {name!r} is already registered")
        _REGISTRY[name] = fn
        _TRAINERS[name] = trainer
        return fn

    return wrap


def head_trainer(name: str) -> str:
    """The trainer name registered with head ``name``."""
    _load_builtins()
    _check_name(name)
    return _TRAINERS[name]


def _check_name(name: str) -> None:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown --head {name!r}; known: {', '.join(list_heads())}")


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
    _check_name(name)
    fn = _REGISTRY[name]
    kw = {k: v for k, v in kwargs.items() if v is not None}
    for key in CONTEXT_ARGS:  # passed only to heads that ask for them
        if key in kw and not _accepts(fn, key):
            kw.pop(key)
    return fn(num_features=num_features, num_outputs=num_outputs, layout=layout, **kw)


def head_parameters(name: str) -> dict[str, Any]:
    """The options head ``name`` takes (``--head-option`` keys) with their defaults: its
    factory's keyword parameters, or, for a factory that forwards ``**kwargs``, those of the
    class it returns."""
    _load_builtins()
    _check_name(name)
    fn = _REGISTRY[name]
    skip = {"self", "num_features", "num_outputs", "layout", *CONTEXT_ARGS}
    params = _keyword_params(fn, skip)
    if not params and not takes_any_option(name):
        return {}
    if takes_any_option(name):
        target = typing.get_type_hints(fn).get("return")
        if isinstance(target, type):
            params = {**_keyword_params(target.__init__, skip), **params}
    return params


def _keyword_params(fn: Callable[..., Any], skip: set[str]) -> dict[str, Any]:
    return {
        p.name: (None if p.default is inspect.Parameter.empty else p.default)
        for p in inspect.signature(fn).parameters.values()
        if p.name not in skip and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def describe_head(name: str) -> str:
    """The first line of head ``name``'s docstring (its factory's, else its class's)."""
    _load_builtins()
    _check_name(name)
    fn = _REGISTRY[name]
    doc = (inspect.getdoc(fn) or "").replace("``", "").strip()
    return doc.splitlines()[0] if doc else ""


def takes_any_option(name: str) -> bool:
    """Whether head ``name`` forwards unknown options (``**kwargs``) to an estimator."""
    _load_builtins()
    _check_name(name)
    params = inspect.signature(_REGISTRY[name]).parameters.values()
    return any(p.kind is p.VAR_KEYWORD for p in params)


def _accepts(fn: Callable[..., Any], key: str) -> bool:
    """Whether ``fn`` names ``key`` as a parameter (``**kwargs`` does not count: those go on
    to estimators that would reject context they never asked for)."""
    return key in inspect.signature(fn).parameters


def list_heads() -> list[str]:
    """Registered head names."""
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
