"""Adding wrapper options (``tiles``, ``tta``, ``focus``, ...) to a backbone factory.

A *view option* wraps what a factory builds (tiles, a test-time flip, a motion crop). The
options are added to the factory's signature as keyword-only parameters, so
``create_backbone`` and fused backbones route ``--backbone-option NAME=VALUE`` to the factory
that declares ``NAME``, by name.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ._base import Backbone

F = TypeVar("F", bound=Callable[..., Backbone])


def add_options(
    factory: F,
    defaults: dict[str, Any],
    wrap: Callable[[Backbone, dict[str, Any]], Backbone],
    *,
    check: Callable[[dict[str, Any]], None] | None = None,
) -> F:
    """``factory`` taking the extra keyword options ``defaults`` (name -> default).

    Args:
        factory: Builds the inner backbone.
        defaults: The options and their defaults, in signature order.
        wrap: ``wrap(inner, options)`` -> the backbone to return (``inner`` itself when the
            options leave it as it is).
        check: Called with the options before the inner backbone is built (to refuse a bad
            combination without building anything).
    """
    sig = inspect.signature(factory)
    params = list(sig.parameters.values())
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d)
             for n, d in defaults.items()]  # fmt: skip
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))

    @functools.wraps(factory)
    def make(*args: Any, **kw: Any) -> Backbone:
        options = {n: kw.pop(n, d) for n, d in defaults.items()}
        if check is not None:
            check(options)
        return wrap(factory(*args, **kw), options)

    make.__signature__ = sig.replace(parameters=[*params[:at], *extra, *params[at:]])  # type: ignore[attr-defined]
    return make  # type: ignore[return-value]
