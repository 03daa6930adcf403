"""Fitting one split: build the head, train it (neural or tree), pick the threshold, report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import SequenceSet, Split
from ..features._io import atomic_write_json
from ._config import TrainConfig
from ._loop import EpochHook, FitResult, fit_neural, predict_logits
from ._run import TREE_FILE
from ._scores import scores_from_logits


@dataclass
class SplitResult:
    """What one split produced: the fitted model, validation report and timing."""

    name: str
    model: Any
    report: dict[str, Any]
    test_report: dict[str, Any] | None
    fit: FitResult
    num_params: int


def build_head(cfg: TrainConfig, data: SequenceSet) -> Any:
    """The configured head for this data (seeded initialisation)."""
    import torch

    from ..models import create_head

    torch.manual_seed(cfg.seed)
    outputs = 1 if data.labels.num_classes == 2 else data.labels.num_classes
    options = dict(cfg.head_options)
    if cfg.head == "stats_xgboost":  # trees follow the run's seed like the neural heads
        options.setdefault("random_state", cfg.seed)
    return create_head(
        cfg.head,
        num_features=data.num_features,
        num_outputs=outputs,
        layout=data.layout,
        **options,
    )


def fit_split(
    data: SequenceSet,
    split: Split,
    cfg: TrainConfig,
    out: Path,
    *,
    resume: bool = False,
    progress: Any = None,
    on_epoch_end: EpochHook | None = None,
) -> SplitResult:
    """Fit on ``split.train``, keep the best on ``split.val``, write ``out``'s files."""
    from ..metrics import choose_threshold, classification_report, plot_confusion_matrix

    out.mkdir(parents=True, exist_ok=True)
    _pin_split(data, split, out, resume=resume)
    model = build_head(cfg, data)
    if getattr(model, "kind", "torch") == "tree":
        fit, val_scores = _fit_tree(model, data, split, out)
    else:
        fit = fit_neural(
            model,
            data,
            split,
            cfg,
            out,
            resume=resume,
            progress=progress,
            on_epoch_end=on_epoch_end,
        )
        from ._checkpoint import load_weights

        load_weights(model, out / "model.safetensors")
        val_scores = _scores(model, data, split.val, cfg)
    classes = data.labels.classes
    y_val = data.labels.y[split.val]
    threshold = None
    if len(classes) == 2:
        threshold = (
            0.5
            if cfg.threshold == "fixed"
            else choose_threshold(y_val, val_scores, metric=cfg.threshold)
        )
    report = classification_report(y_val, val_scores, labels=classes, threshold=threshold)
    test_report = test_scores = None
    if len(split.test):
        test_scores = _member_scores(model, data, split.test, cfg)
        test_report = classification_report(
            data.labels.y[split.test], test_scores, labels=classes, threshold=threshold
        )
    _write_outputs(out, data, split, val_scores, report, test_report, threshold, fit, test_scores)
    shown = test_report or report  # the unseen videos when there are any
    cm = np.array(shown["confusion_matrix"])
    plot_confusion_matrix(cm, classes, out / "confusion_matrix.png")
    return SplitResult(split.name, model, report, test_report, fit, _count_params(model))


def _pin_split(data: SequenceSet, split: Split, out: Path, *, resume: bool) -> None:
    """Write ``out/split.json`` (the ids of each part); a resumed fit must see the same split.

    Raises:
        ValueError: when resuming on other splits (other labels, seed, folds, or splits made
            by another vidscope version), or on a run that recorded none, since its
            checkpoints were selected on videos that may now be scored.
    """
    parts = {k: [data.labels.ids[i] for i in getattr(split, k)] for k in ("train", "val", "test")}
    path = out / "split.json"
    if resume and (out / "checkpoints").exists():
        saved = json.loads(path.read_text()) if path.exists() else None
        if saved != parts:
            raise ValueError(
                f"--resume: {out} was trained on other train/val/test videos than this run "
                "would use (labels, --seed, --folds or vidscope's split rules changed); "
                "train into a new --out instead"
            )
    atomic_write_json(path, parts)


def _fit_tree(
    model: Any, data: SequenceSet, split: Split, out: Path
) -> tuple[FitResult, np.ndarray]:
    import time

    start = time.monotonic()
    x, mask = data.padded(split.train)
    model.fit(x, data.labels.y[split.train], mask=mask)
    model.save(out / TREE_FILE)
    scores = _tree_scores(model, data, split.val)
    fit = FitResult(
        best_epoch=0, best_value=float("nan"), epochs_run=1, seconds=time.monotonic() - start
    )
    return fit, scores


def _tree_scores(model: Any, data: SequenceSet, idx: np.ndarray) -> np.ndarray:
    x, mask = data.padded(idx)
    proba = model.predict_proba(x, mask)
    return proba[:, 1] if data.labels.num_classes == 2 else proba


def _scores(model: Any, data: SequenceSet, idx: np.ndarray, cfg: TrainConfig) -> np.ndarray:
    logits = predict_logits(model, data, idx, cfg.batch_size)
    return scores_from_logits(logits, data.labels.num_classes == 2)


def _member_scores(model: Any, data: SequenceSet, idx: np.ndarray, cfg: TrainConfig) -> np.ndarray:
    if getattr(model, "kind", "torch") == "tree":
        return _tree_scores(model, data, idx)
    return _scores(model, data, idx, cfg)


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
) -> None:
    """Write ``predictions.csv`` (validation), ``test_predictions.csv`` (when there is a test
    part), ``metrics.json`` and ``member.json``."""
    _predictions(data, split.val, scores, threshold).to_csv(out / "predictions.csv", index=False)
    if test_scores is not None:
        frame = _predictions(data, split.test, test_scores, threshold)
        frame.to_csv(out / "test_predictions.csv", index=False)
    metrics = {
        "split": split.name,
        "val": report,
        "test": test_report,
        "best_epoch": fit.best_epoch,
        "epochs_run": fit.epochs_run,
        "train_seconds": round(fit.seconds, 3),
        "history": fit.history,
    }
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_json(out / "member.json", {"threshold": threshold, "split": split.name})


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


def _count_params(model: Any) -> int:
    params = getattr(model, "parameters", None)
    if callable(params):
        return int(sum(p.numel() for p in params()))
    booster = getattr(model, "booster_", None)
    return len(booster.get_dump()) if booster is not None else 0
