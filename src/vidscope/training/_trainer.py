"""The Trainer seam: trainers registered by name, one interface for fitting and scoring.

A trainer fits one split and scores videos; everything around it (splits, threshold choice,
reports, predictions, ``config.json``, k-fold, ``compare``) is shared. Built in: ``neural``
(temporal heads on ``[B, T, D]`` features, :mod:`._neural`), ``tree`` (``stats_xgboost``,
:mod:`._tree`), ``linear`` (``linear_probe``, :mod:`._linear`) and ``ensemble`` (member heads
fitted by their own trainers, each on some layout parts, scored as their mean probability,
:mod:`._ensemble`). Adding a trainer is adding a file that calls :func:`register_trainer`.

::

    @register_trainer("mine")
    class MyTrainer:
        def build(self, cfg, data): ...                      # -> model (seeded)
        def fit(self, model, data, split, cfg, out, *, resume, callbacks): ...  # -> FitResult
        def scores(self, model, data, idx): ...               # -> [N] or [N, C] probabilities
        def score_padded(self, model, x, mask, binary): ...   # feature trainers: run scoring
        def refit(self, model, data, split, cfg, out, fit): ...  # --refit: train + val
        def save(self, model, folder): ...
        def load(self, folder, spec): ...                     # -> model
        def head_config(self, model, data): ...               # -> dict (RunSpec.head_config)
        def num_params(self, model): ...
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from ..errors import ConfigError, InputError

#: Built-in trainers and the module whose import registers each (imported on first use, so
#: loading a tree run or an ONNX-exported head never imports torch).
BUILTIN_TRAINERS = {
    "neural": "vidscope.training._neural",
    "tree": "vidscope.training._tree",
    "linear": "vidscope.training._linear",
    "videomae": "vidscope.training._finetune",
    "ensemble": "vidscope.training._ensemble",
}
_REGISTRY: dict[str, Callable[[], Any]] = {}
T = TypeVar("T")


@dataclass
class FitResult:
    """Outcome of fitting one split: the best epoch, its monitored value and the history."""

    best_epoch: int
    best_value: float
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


class Trainer(Protocol):
    """What every registered trainer provides (see the module docstring)."""

    def build(self, cfg: Any, data: Any) -> Any: ...

    def fit(
        self,
        model: Any,
        data: Any,
        split: Any,
        cfg: Any,
        out: Path,
        *,
        resume: bool,
        callbacks: list[Any],
    ) -> FitResult: ...

    def scores(self, model: Any, data: Any, idx: np.ndarray) -> np.ndarray: ...

    def score_padded(self, model: Any, x: np.ndarray, mask: np.ndarray, binary: bool) -> np.ndarray:
        """Feature trainers: probabilities of padded ``x [B, T, D]`` (``mask [B, T]``)."""
        ...

    def save(self, model: Any, folder: Path) -> None: ...

    def load(self, folder: Path, spec: Any) -> Any: ...

    def head_config(self, model: Any, data: Any) -> dict[str, Any]: ...

    def num_params(self, model: Any) -> int: ...


def register_trainer(name: str) -> Callable[[type[T]], type[T]]:
    """Register a trainer class under ``name`` (instantiated without arguments)."""

    def wrap(cls: type[T]) -> type[T]:
        if name in _REGISTRY:
            raise InputError(f"trainer {name!r} is already registered")
        _REGISTRY[name] = cls
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return wrap


def get_trainer(name: str) -> Trainer:
    """A new instance of the trainer registered as ``name``.

    Raises:
        ConfigError: unknown name, listing the known ones.
    """
    if name in BUILTIN_TRAINERS and name not in _REGISTRY:
        importlib.import_module(BUILTIN_TRAINERS[name])
    if name not in _REGISTRY:
        _load_builtins()
    if name not in _REGISTRY:
        raise ConfigError(f"unknown trainer {name!r}; known: {', '.join(list_trainers())}")
    return _REGISTRY[name]()


def list_trainers() -> list[str]:
    """Registered trainer names."""
    _load_builtins()
    return sorted(_REGISTRY)


def _load_builtins() -> None:
    for module in BUILTIN_TRAINERS.values():
        importlib.import_module(module)
