"""Fitting one split with a registered trainer: pick the threshold, report, write files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import SequenceSet, Split
from ..errors import ConfigError, RunError
from ..features import atomic_write_json
from ..models import head_trainer
from ._callbacks import default_callbacks
from ._config import TrainConfig
from ._crossfit import CROSSFIT_FILE, check_crossfit, decision_threshold
from ._trainer import FitResult, Trainer, get_trainer


@dataclass
class SplitResult:
    """What one split produced: the fitted model, validation report and timing."""

    name: str
    model: Any
    report: dict[str, Any]
    test_report: dict[str, Any] | None
    fit: FitResult
    num_params: int
    trainer: Trainer | None = None


def trainer_for(cfg: TrainConfig) -> Trainer:
    """The trainer registered with ``cfg.head``."""
    return get_trainer(head_trainer(cfg.head))


def fit_split(
    data: Any,
    split: Split,
    cfg: TrainConfig,
    out: Path,
    *,
    resume: bool = False,
    callbacks: list[Any] | None = None,
    trainer: Trainer | None = None,
) -> SplitResult:
    """Fit on ``split.train``, keep the best on ``split.val``, write ``out``'s files.

    A binary run's threshold comes from ``split.val`` or, with ``threshold_from="cv"``, from
    cross-fitted scores of train + val (:mod:`._crossfit`, before any ``--refit``; the
    out-of-fold scores go to ``crossfit_predictions.csv``).

    Args:
        data: What the trainer reads (a :class:`SequenceSet` for feature heads); it has
            ``.labels``.
        callbacks: Training callbacks (see :func:`default_callbacks`); ``None`` = the defaults.
        trainer: Default: the one registered with ``cfg.head``.
    """
    from ..metrics import classification_report, plot_confusion_matrix

    trainer = trainer or trainer_for(cfg)
    if cfg.threshold_from == "cv":  # fail before any fitting
        check_crossfit(trainer, cfg, data.labels.num_classes)
    out.mkdir(parents=True, exist_ok=True)
    _pin_split(data, split, out, resume=resume)
    model = trainer.build(cfg, data)
    cfg = cfg.resolved(getattr(model, "train_defaults", None))
    cbs = default_callbacks(cfg) if callbacks is None else callbacks
    fit = trainer.fit(model, data, split, cfg, out, resume=resume, callbacks=cbs)
    val_scores = trainer.scores(model, data, split.val)
    classes = data.labels.classes
    y_val = data.labels.y[split.val]
    threshold = choice = None
    if len(classes) == 2:
        threshold, choice, cv = decision_threshold(
            trainer, model, data, split, cfg, fit, val_scores
        )
        if cv is not None:
            cv.frame(data.labels).to_csv(out / CROSSFIT_FILE, index=False)
    report = classification_report(y_val, val_scores, labels=classes, threshold=threshold)
    if cfg.refit and len(split.val):
        model = trainer.refit(model, data, split, cfg, out, fit)
    test_report = test_scores = None
    if len(split.test):
        test_scores = trainer.scores(model, data, split.test)
        test_report = classification_report(
            data.labels.y[split.test], test_scores, labels=classes, threshold=threshold
        )
    _write_outputs(
        out, data, split, val_scores, report, test_report, threshold, fit, test_scores,
        threshold_choice=choice,
    )  # fmt: skip
    shown = test_report or report  # the unseen videos when there are any
    cm = np.array(shown["confusion_matrix"])
    plot_confusion_matrix(cm, classes, out / "confusion_matrix.png")
    params = trainer.num_params(model)
    return SplitResult(split.name, model, report, test_report, fit, params, trainer)


def _pin_split(data: SequenceSet, split: Split, out: Path, *, resume: bool) -> None:
    """Write ``out/split.json`` (the ids of each part); a resumed fit must see the same split.

    Raises:
        ConfigError: when resuming on other splits (other labels, seed, folds, or splits made
            by another vidscope version), or on a run that recorded none, since its
            checkpoints were selected on videos that may now be scored.
    """
    parts = {k: [data.labels.ids[i] for i in getattr(split, k)] for k in ("train", "val", "test")}
    path = out / "split.json"
    if resume and (out / "checkpoints").exists():
        try:
            saved = json.loads(path.read_text()) if path.exists() else None
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"{path}: unreadable ({exc}); train into a new --out") from None
        if saved != parts:
            raise ConfigError(
                f"--resume: {out} was trained on other train/val/test videos than this run "
                "would use (labels, --seed, --folds or vidscope's split rules changed); "
                "train into a new --out instead"
            )
    atomic_write_json(path, parts)


def _write_outputs(
    out: Path,
    data: SequenceSet,
    split: Split,
    scores: np.ndarray,
    report: dict[str, Any],
    test_report: dict[str, Any] | None,
    threshold: float | None,
    fit: FitResult,
    test_scores: np.ndarray | None,
    *,
    threshold_choice: dict[str, Any] | None = None,
) -> None:
    """Write ``predictions.csv`` (validation), ``test_predictions.csv`` (when there is a test
    part), ``metrics.json`` and ``member.json``. ``threshold_choice``: how the binary threshold
    was chosen (rule, scores it came from, how many videos), kept in ``member.json`` and the
    split's ``metrics.json`` (a one-split run's ``metrics.json`` is the run's summary)."""
    _predictions(data, split.val, scores, threshold).to_csv(out / "predictions.csv", index=False)
    if test_scores is not None:
        frame = _predictions(data, split.test, test_scores, threshold)
        frame.to_csv(out / "test_predictions.csv", index=False)
    metrics = {
        "split": split.name,
        "val": report,
        "test": test_report,
        "threshold": threshold_choice,
        "best_epoch": fit.best_epoch,
        "epochs_run": fit.epochs_run,
        "train_seconds": round(fit.seconds, 3),
        "history": fit.history,
    }
    atomic_write_json(out / "metrics.json", metrics)
    member = {"threshold": threshold, "split": split.name}
    if threshold_choice is not None:
        member["threshold_choice"] = threshold_choice
    atomic_write_json(out / "member.json", member)


def _predictions(
    data: SequenceSet, idx: np.ndarray, scores: np.ndarray, threshold: float | None
) -> pd.DataFrame:
    """One row per video: id, true class, predicted class and score(s)."""
    classes = data.labels.classes
    ids = [data.labels.ids[i] for i in idx]
    df = pd.DataFrame({"id": ids, "true": [classes[i] for i in data.labels.y[idx]]})
    if scores.ndim == 1:
        df["score"] = scores
        df["pred"] = np.where(scores >= threshold, classes[1], classes[0])
    else:
        df["pred"] = [classes[i] for i in scores.argmax(1)]
        for j, c in enumerate(classes):
            df[f"score_{c}"] = scores[:, j]
    return df
