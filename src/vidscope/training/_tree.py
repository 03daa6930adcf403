"""The ``tree`` trainer: ``stats_xgboost`` (pooled statistics into XGBoost), one ``fit``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data import SequenceSet, Split
from ..errors import RunError
from ..models import create_head
from ._config import TrainConfig
from ._trainer import FitResult, register_trainer

TREE_FILE = "model.xgb"  # a folder: booster.json + estimator.json


@register_trainer("tree")
class TreeTrainer:
    """Fits a scikit-learn style tree head on the training videos (no epochs)."""

    def build(self, cfg: TrainConfig, data: SequenceSet) -> Any:
        options = {"random_state": cfg.seed, **cfg.head_options}  # follows the run's seed
        return create_head(
            cfg.head,
            num_features=data.num_features,
            num_outputs=1 if data.labels.num_classes == 2 else data.labels.num_classes,
            layout=data.layout,
            **options,
        )

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
        self.fit_rows(model, data, split.train)
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
        self.fit_rows(model, data, np.concatenate([split.train, split.val]))
        self.save(model, out)
        return model

    def fit_rows(self, model: Any, data: SequenceSet, idx: np.ndarray) -> None:
        """Fit ``model`` on the videos ``idx`` (what :meth:`fit` and :meth:`refit` share)."""
        x, mask = data.padded(idx)
        model.fit(x, data.labels.y[idx], mask=mask)

    def scores(self, model: Any, data: SequenceSet, idx: np.ndarray) -> np.ndarray:
        x, mask = data.padded(idx)
        proba = model.predict_proba(x, mask)
        return proba[:, 1] if data.labels.num_classes == 2 else proba

    def score_padded(self, model: Any, x: np.ndarray, mask: np.ndarray, binary: bool) -> np.ndarray:
        """Probabilities of padded features ``x [B, T, D]`` with ``mask [B, T]``."""
        proba = model.predict_proba(x, mask)
        return proba[:, 1] if binary else proba

    def save(self, model: Any, folder: Path) -> None:
        model.save(folder / TREE_FILE)

    def load(self, folder: Path, spec: Any) -> Any:
        """The saved model: as numpy (:class:`~vidscope.models.TreeScorer`, no XGBoost
        import) when its fit-time check passed, unless ``VIDSCOPE_HEAD_RUNTIME`` is set to
        anything but ``auto``; else the XGBoost estimator."""
        from ..models import load_scorer

        path = folder / TREE_FILE
        if not path.is_dir():
            raise RunError(f"{path}: run model missing (was training interrupted?)")
        try:
            if os.environ.get("VIDSCOPE_HEAD_RUNTIME", "auto") == "auto":
                scorer = load_scorer(path)
                if scorer is not None:
                    return scorer
            from ..models import StatsXGBoost  # scikit-learn and XGBoost

            return StatsXGBoost.load(path)
        except (OSError, ValueError, KeyError) as exc:
            raise RunError(f"{path}: unreadable XGBoost model ({exc})") from None

    def head_config(self, model: Any, data: SequenceSet) -> dict[str, Any]:
        return {
            **model.get_params(),
            "num_features": data.num_features,
            "num_outputs": 1 if data.labels.num_classes == 2 else data.labels.num_classes,
            "layout": data.layout,
        }

    def num_params(self, model: Any) -> int:
        if hasattr(model, "num_trees"):
            return int(model.num_trees())
        booster = getattr(model, "booster_", None)
        return len(booster.get_dump()) if booster is not None else 0
