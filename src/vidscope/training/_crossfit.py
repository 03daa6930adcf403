"""Cross-fitted decision thresholds (``--threshold-from cv``).

On small data the validation part that picks a binary threshold holds a few dozen videos from
a handful of sources, and the threshold follows their quirks. Cross-fitting scores every video
of train + validation once, each by a model that did not see it: those videos are cut into K
folds (grouped by source when the labels have groups, and stratified, as ``make_splits`` cuts
k-fold), a fresh model is fit on K - 1 of them and scores the one left out, and the threshold
is chosen on all those out-of-fold scores (about 4-5x the videos of the validation part).
Nothing is ever selected on a left-out fold:

- ``tree`` heads: the same estimator, fit on the K - 1 folds;
- ``neural`` heads: a fresh head trained for the epochs the main fit chose (its best epoch + 1,
  as ``--refit`` does), scored at its last epoch: K more trainings of that length;
- ``ensemble`` runs: every member as above on the same folds; the score is the members' mean.

A held-out ``test`` part is never among the cross-fitted videos, so it cannot move the
threshold.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import LabelSet, SequenceSet, Split, make_splits
from ..errors import ConfigError
from ._config import TrainConfig
from ._trainer import FitResult, Trainer

#: Written next to ``predictions.csv`` by a ``--threshold-from cv`` fit.
CROSSFIT_FILE = "crossfit_predictions.csv"


@dataclass
class CrossFit:
    """Out-of-fold scores of the videos a cross-fitted threshold is chosen on.

    Attributes:
        idx: Positions (into the data) of the scored videos: the split's train, then its val.
        scores: ``[N]`` probability of the positive class, each from a model fit without it.
        fold: ``[N]`` the inner fold that held each video out.
        folds: Number of inner folds used (fewer than asked when there are fewer groups).
        seconds: Wall time of the extra fits.
        notes: What the inner split had to give up (e.g. too few groups to group).
    """

    idx: np.ndarray
    scores: np.ndarray
    fold: np.ndarray
    folds: int
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def frame(self, labels: LabelSet) -> pd.DataFrame:
        """One row per scored video: id, true class, inner fold, score."""
        return pd.DataFrame(
            {
                "id": [labels.ids[i] for i in self.idx],
                "true": [labels.classes[i] for i in labels.y[self.idx]],
                "fold": self.fold,
                "score": self.scores,
            }
        )


def crossfit_splits(
    labels: LabelSet, idx: np.ndarray, folds: int, seed: int
) -> tuple[list[Split], list[str]]:
    """``folds`` grouped, stratified folds over the videos at positions ``idx``.

    Each returned :class:`Split` has positions into ``labels``: ``train`` (K - 1 folds) and
    ``val`` (the fold left out); ``test`` is empty. With fewer source groups than ``folds``
    there are as many folds as groups (at least 2), still grouped.

    Returns:
        The splits and the notes of the inner split (e.g. why it could not be grouped).
    """
    sub = labels.subset(idx)
    sub.notes = []
    k = folds
    if sub.groups is not None:
        k = max(2, min(k, len(np.unique(sub.groups))))
    inner = make_splits(sub, mode="kfold", folds=k, seed=seed, inner_val=False)
    empty = np.zeros(0, np.int64)
    out = [Split(f"cv{i}", idx[s.train], idx[s.val], empty) for i, s in enumerate(inner)]
    return out, list(sub.notes)


def check_crossfit(trainer: Trainer, cfg: TrainConfig, num_classes: int) -> None:
    """Fail before any fitting when ``--threshold-from cv`` cannot apply.

    Raises:
        ConfigError: more than two classes (no decision threshold), or a trainer that cannot
            be cross-fitted (e.g. a video model fine-tuned on raw clips).
    """
    if num_classes != 2:
        raise ConfigError(
            f"--threshold-from cv: the decision threshold is for two classes; these labels have "
            f"{num_classes} (the arg-max decides): drop --threshold-from"
        )
    name = getattr(trainer, "name", "")
    if name not in _OUT_OF_FOLD:
        raise ConfigError(
            f"--threshold-from cv: head {cfg.head!r} (trainer {name!r}) cannot be cross-fitted; "
            f"it works for {', '.join(sorted(_OUT_OF_FOLD))} heads: use --threshold-from val"
        )


def crossfit_scores(
    trainer: Trainer,
    model: Any,
    data: SequenceSet,
    split: Split,
    cfg: TrainConfig,
    fit: FitResult,
) -> CrossFit:
    """Out-of-fold scores of ``split.train`` + ``split.val`` over ``cfg.threshold_folds``
    inner folds (seeded by ``cfg.seed``); ``split.test`` is never fit nor scored.

    Args:
        trainer: The run's trainer (``tree``, ``neural`` or ``ensemble``).
        model: The main fit's model (an ensemble's members and their fits are read from it).
        data: The training data (binary labels).
        split: The split whose train + val are cross-fitted.
        cfg: The resolved training settings of the main fit.
        fit: The main fit's result (neural heads train ``fit.best_epoch + 1`` epochs).
    """
    check_crossfit(trainer, cfg, data.labels.num_classes)
    start = time.monotonic()
    idx = np.concatenate([split.train, split.val])
    parts, notes = crossfit_splits(data.labels, idx, cfg.threshold_folds, cfg.seed)
    order = np.argsort(idx, kind="stable")
    scores, fold = np.full(len(idx), np.nan), np.full(len(idx), -1)
    with tempfile.TemporaryDirectory(prefix="vidscope-crossfit-") as tmp:
        for k, part in enumerate(parts):
            where = order[np.searchsorted(idx[order], part.val)]
            folder = Path(tmp) / part.name
            scores[where] = _out_of_fold(trainer, model, data, part, cfg, fit, folder)
            fold[where] = k
    return CrossFit(idx, scores, fold, len(parts), time.monotonic() - start, notes)


def _out_of_fold(
    trainer: Trainer,
    model: Any,
    data: SequenceSet,
    part: Split,
    cfg: TrainConfig,
    fit: FitResult | None,
    folder: Path,
) -> np.ndarray:
    """``[len(part.val)]`` scores of a model fit on ``part.train`` only."""
    folder.mkdir(parents=True, exist_ok=True)
    return _OUT_OF_FOLD[getattr(trainer, "name", "")](trainer, model, data, part, cfg, fit, folder)


def _tree(
    trainer: Trainer, model: Any, data: SequenceSet, part: Split, cfg: TrainConfig,
    fit: FitResult | None, folder: Path,
) -> np.ndarray:  # fmt: skip
    """The same estimator (same settings and seed) fit on the K - 1 folds."""
    fresh = trainer.build(cfg, data)
    train_only = Split(part.name, part.train, np.zeros(0, np.int64), part.test)
    trainer.fit(fresh, data, train_only, cfg, folder, resume=False, callbacks=[])
    return trainer.scores(fresh, data, part.val)


def _neural(
    trainer: Trainer, model: Any, data: SequenceSet, part: Split, cfg: TrainConfig,
    fit: FitResult | None, folder: Path,
) -> np.ndarray:  # fmt: skip
    """A fresh head trained for the main fit's chosen epochs; its last epoch scores. The
    left-out fold is passed as the loop's validation part for its logged metrics only:
    early stopping never triggers and no checkpoint is kept or reloaded."""
    from ._callbacks import EarlyStopping
    from ._loop import fit_neural

    epochs = max(1, (fit.best_epoch if fit is not None else cfg.epochs - 1) + 1)
    again = replace(cfg, epochs=epochs, patience=epochs + 1)
    head = trainer.build(again, data)
    fit_neural(head, data, part, again, folder, callbacks=[EarlyStopping(epochs + 1)])
    return trainer.scores(head, data, part.val)


def _ensemble(
    trainer: Trainer, model: Any, data: SequenceSet, part: Split, cfg: TrainConfig,
    fit: FitResult | None, folder: Path,
) -> np.ndarray:  # fmt: skip
    """Every member cross-fitted by its own trainer on the same folds; their mean."""
    out = []
    for m in model.members:
        sub = m.view(data)
        m_cfg = m.cfg or replace(cfg, head=m.head, head_options=dict(m.options))
        out.append(_out_of_fold(m.trainer, m.model, sub, part, m_cfg, m.fit, folder / m.folder))
    return np.mean(out, axis=0)


_OUT_OF_FOLD: dict[str, Callable[..., np.ndarray]] = {
    "tree": _tree,
    "linear": _tree,
    "neural": _neural,
    "ensemble": _ensemble,
}


def decision_threshold(
    trainer: Trainer,
    model: Any,
    data: SequenceSet,
    split: Split,
    cfg: TrainConfig,
    fit: FitResult,
    val_scores: np.ndarray,
) -> tuple[float, dict[str, Any], CrossFit | None]:
    """The binary threshold ``cfg`` asks for, how it was chosen, and the cross-fit if any.

    ``--threshold fixed``: 0.5. ``--threshold-from val``: the ``--threshold`` metric's best on
    the validation scores. ``--threshold-from cv``: its best on the cross-fitted scores of
    train + val (:func:`crossfit_scores`); the record then also holds the threshold the
    validation scores alone would have given, for comparison.
    """
    from ..metrics import choose_threshold

    if cfg.threshold == "fixed":
        return 0.5, {"rule": "fixed", "value": 0.5}, None
    y_val = data.labels.y[split.val]
    info: dict[str, Any] = {"rule": cfg.threshold, "from": cfg.threshold_from}
    if cfg.threshold_from == "val":
        value = choose_threshold(y_val, val_scores, metric=cfg.threshold)
        return value, {**info, "value": value, "num_videos": len(split.val)}, None
    cv = crossfit_scores(trainer, model, data, split, cfg, fit)
    value = choose_threshold(data.labels.y[cv.idx], cv.scores, metric=cfg.threshold)
    info.update(value=value, num_videos=len(cv.idx), folds=cv.folds,
                seconds=round(cv.seconds, 3), notes=cv.notes)  # fmt: skip
    if len(np.unique(y_val)) == 2:
        info["val_value"] = choose_threshold(y_val, val_scores, metric=cfg.threshold)
    return value, info, cv
