"""The ``linear`` trainer: ``linear_probe`` (pooled features into a logistic regression).

It fits like the ``tree`` trainer (one ``fit``, no epochs, ``--refit`` on train + val) and
passes the training videos' source groups to the head, whose inner cross-validation of the
regularisation strength then never splits a group. The model is one JSON file, loaded with
numpy only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data import SequenceSet, Split
from ..errors import InputError, RunError
from ._config import TrainConfig
from ._trainer import FitResult, register_trainer
from ._tree import TreeTrainer

LINEAR_FILE = "linear.json"


@register_trainer("linear")
class LinearTrainer(TreeTrainer):
    """Fits a :class:`~vidscope.models.LinearProbe` on the training videos."""

    def fit(
        self,
        model: Any,
        data: SequenceSet,
        split: Split,
        cfg: TrainConfig,
        out: Path,
        *,
        resume: bool,
        callbacks: list[Any],
    ) -> FitResult:
        start = time.monotonic()
        self._fit(model, data, split.train)
        self.save(model, out)
        return FitResult(
            best_epoch=0, best_value=float("nan"), epochs_run=1, seconds=time.monotonic() - start
        )

    def refit(
        self,
        model: Any,
        data: SequenceSet,
        split: Split,
        cfg: TrainConfig,
        out: Path,
        fit: FitResult,
    ) -> Any:
        """The same estimator fitted on train + validation (saved over the first fit)."""
        self._fit(model, data, np.concatenate([split.train, split.val]))
        self.save(model, out)
        return model

    def save(self, model: Any, folder: Path) -> None:
        model.save(folder / LINEAR_FILE)

    def load(self, folder: Path, spec: Any) -> Any:
        from ..models import LinearProbe

        path = folder / LINEAR_FILE
        if not path.is_file():
            raise RunError(f"{path}: run model missing (was training interrupted?)")
        try:
            return LinearProbe.load(path)
        except (OSError, ValueError, InputError) as exc:
            raise RunError(f"{path}: unreadable linear_probe model ({exc})") from None

    def num_params(self, model: Any) -> int:
        return int(model.num_params())

    @staticmethod
    def _fit(model: Any, data: SequenceSet, idx: np.ndarray) -> None:
        x, mask = data.padded(idx)
        groups = data.labels.groups
        model.fit(x, data.labels.y[idx], mask=mask, groups=None if groups is None else groups[idx])
