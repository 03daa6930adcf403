"""An ``ensemble`` run assembled from heads already fitted on the same splits.

``compare --ensemble K`` (and ``train --head auto`` when k-fold folds chose different heads)
fit every head on every split first; this module then writes a normal ``--head ensemble``
run folder (see :mod:`._ensemble`) whose members are those fitted models, copied, not
refitted. The members may differ from split to split: ``config.json``'s
``head_config["members"]`` lists every member used by any split and
``head_config["fold_members"]`` names the member folders of each split folder, so each fold
keeps the heads chosen on its own validation data.

Per split, the scores are the mean of the members' probabilities as they were written at
fitting time: validation scores from the first fit (``predictions.csv``, before any refit),
held-out scores from the final model (``test_predictions.csv``); the threshold is chosen on
the averaged validation scores (``--threshold-from cv``: on the members' averaged
cross-fitted scores), exactly as ``--head ensemble`` does.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import SequenceSet, Split
from ..errors import RunError
from ..features import FeatureStore, atomic_write_json
from ._api import TrainResult, finish_run
from ._config import TrainConfig
from ._ensemble import ENSEMBLE_FILE, MEMBERS_DIR, EnsembleMember, EnsembleModel
from ._fit import SplitResult, _pin_split, _write_outputs
from ._spec import RunSpec
from ._trainer import FitResult, get_trainer

#: Files and folders of a fitted head's split folder that are not its model.
#: Cross-fitted scores a fit writes with ``--threshold-from cv`` (``training/_crossfit.py``).
CROSSFIT_FILE = "crossfit_predictions.csv"
_NOT_MODEL = {
    "checkpoints", "tensorboard", "refit", MEMBERS_DIR, "predictions.csv", "metrics.json",
    "test_predictions.csv", "member.json", "split.json", "confusion_matrix.png", ENSEMBLE_FILE,
    CROSSFIT_FILE,
}  # fmt: skip


def choose_threshold_for(
    cfg: TrainConfig, data: SequenceSet, split: Split, val: np.ndarray, sources: list[Path]
) -> float:
    """The binary threshold of the averaged scores, by ``cfg``'s rule: 0.5 (``fixed``), else
    the best on the averaged validation scores or, with ``threshold_from="cv"``, on the
    members' averaged cross-fitted scores (``crossfit_predictions.csv`` of each member's fit:
    the same videos and inner folds for every head).

    Raises:
        RunError: a member's cross-fitted scores are missing or cover other videos.
    """
    from ..metrics import choose_threshold

    if cfg.threshold == "fixed":
        return 0.5
    if cfg.threshold_from != "cv":
        return choose_threshold(data.labels.y[split.val], val, metric=cfg.threshold)
    parts = [saved_crossfit_scores(src, data) for src in sources]
    if any(not np.array_equal(y, parts[0][0]) for y, _ in parts):
        raise RunError(f"{sources[0]}: members were cross-fitted on other videos; fit again")
    scores = np.mean([p for _, p in parts], axis=0)
    return choose_threshold(parts[0][0], scores, metric=cfg.threshold)


def saved_crossfit_scores(src: Path, data: SequenceSet) -> tuple[np.ndarray, np.ndarray]:
    """``(y [N], scores [N])`` of a binary fit's cross-fitted train + val videos (in its
    ``crossfit_predictions.csv``, written with ``--threshold-from cv``).

    Raises:
        RunError: the file is missing.
    """
    path = src / CROSSFIT_FILE
    if not path.is_file():
        raise RunError(f"{path}: missing; fit the head again with --threshold-from cv")
    df = pd.read_csv(path, dtype={"id": str, "true": str}, keep_default_na=False)
    df = df.sort_values("id", kind="stable")  # one order for every member
    y = (df["true"] == data.labels.classes[1]).to_numpy().astype(int)
    return y, df["score"].to_numpy(dtype=np.float64)


def read_scores(path: Path, data: SequenceSet, idx: np.ndarray) -> np.ndarray:
    """The scores a fit wrote to ``path`` for the videos ``idx``: ``[N]`` or ``[N, C]``.

    Raises:
        RunError: the file is missing or lists other videos.
    """
    if not path.is_file():
        raise RunError(f"{path}: missing; fit the head again")
    df = pd.read_csv(path, dtype={"id": str}, keep_default_na=False)
    ids = [data.labels.ids[i] for i in idx]
    if df["id"].tolist() != ids:
        raise RunError(f"{path}: scores other videos than this split's; fit the head again")
    if "score" in df:
        return df["score"].to_numpy(dtype=np.float64)
    return df[[f"score_{c}" for c in data.labels.classes]].to_numpy(dtype=np.float64)


def copy_model(src: Path, dst: Path) -> None:
    """Copy a fitted head's model files (not its reports, checkpoints or logs) to ``dst``."""
    shutil.rmtree(dst, ignore_errors=True)

    def skip(where: str, names: list[str]) -> list[str]:
        return [n for n in names if n in _NOT_MODEL] if Path(where) == src else []

    shutil.copytree(src, dst, ignore=skip)


def member_record(head: str, folder: str, res: SplitResult, data: SequenceSet) -> dict[str, Any]:
    """The ``head_config["members"]`` entry of a member that reads every feature column."""
    d = int(data.num_features)
    layout = [list(p) for p in (data.layout or [("features", d)])]
    trainer = res.trainer or get_trainer("neural")
    return {
        "head": head, "trainer": getattr(trainer, "name", ""), "parts": [], "options": {},
        "folder": folder, "columns": [[0, d]], "layout": layout,
        "head_config": trainer.head_config(res.model, data),
    }  # fmt: skip


def write_ensemble_run(
    root: Path,
    store: FeatureStore | None,
    data: SequenceSet,
    splits: list[Split],
    cfg: TrainConfig,
    fitted: dict[str, tuple[list[SplitResult], list[Path]]],
    chosen: list[list[str]],
    *,
    extra: dict[str, Any] | None = None,
) -> TrainResult:
    """Write the run in ``root`` (new or emptied by the caller).

    Args:
        fitted: Per head (in ``--heads`` order, which numbers the member folders): its result
            and its folder on every split.
        chosen: Per split, the heads to average there.
        extra: Recorded in ``config.json``'s ``extra`` (the selection table).
    """
    order = list(fitted)
    many = len(splits) > 1
    results, records, fold_members = [], {}, {}
    for i, (split, heads) in enumerate(zip(splits, chosen, strict=True)):
        folder = root / split.name if many else root
        folder.mkdir(parents=True, exist_ok=True)
        _pin_split(data, split, folder, resume=False)
        members = []
        for h in heads:
            res, src = fitted[h][0][i], fitted[h][1][i]
            name = f"m{order.index(h)}_{h}"
            copy_model(src, folder / MEMBERS_DIR / name)
            records.setdefault(name, member_record(h, name, res, data))
            members.append((h, name, res, src))
        fold_members[folder.name] = [name for _, name, _, _ in members]
        results.append(_write_split(folder, data, split, cfg, members))
    cfg = replace(cfg, head="ensemble", head_options={"members": ",".join(dict.fromkeys(
        h for heads in chosen for h in heads))})  # fmt: skip
    folds = [s.name for s in splits] if many else None
    result = finish_run(root, store, data, cfg, results, folds, extra=extra)
    spec = RunSpec.read(root / "config.json")
    spec.head_config = {
        "members": [records[n] for n in sorted(records, key=lambda n: int(n[1:].split("_")[0]))],
        "fold_members": fold_members if many else None,
        "num_features": data.num_features,
        "layout": data.layout,
    }
    atomic_write_json(root / "config.json", spec.to_json())
    return result


def _write_split(
    folder: Path,
    data: SequenceSet,
    split: Split,
    cfg: TrainConfig,
    members: list[tuple[str, str, SplitResult, Path]],
) -> SplitResult:
    """One split's files: averaged scores, threshold, reports, ``ensemble.json``."""
    from ..metrics import classification_report, plot_confusion_matrix

    classes = data.labels.classes
    val = np.mean([read_scores(src / "predictions.csv", data, split.val)
                   for _, _, _, src in members], axis=0)  # fmt: skip
    y_val = data.labels.y[split.val]
    sources = [src for _, _, _, src in members]
    threshold = None
    if len(classes) == 2:
        threshold = choose_threshold_for(cfg, data, split, val, sources)
    report = classification_report(y_val, val, labels=classes, threshold=threshold)
    test = test_report = None
    if len(split.test):
        test = np.mean([read_scores(src / "test_predictions.csv", data, split.test)
                        for _, _, _, src in members], axis=0)  # fmt: skip
        test_report = classification_report(data.labels.y[split.test], test, labels=classes,
                                            threshold=threshold)  # fmt: skip
    fits = [r.fit for _, _, r, _ in members]
    fit = FitResult(
        best_epoch=max(f.best_epoch for f in fits), best_value=float("nan"),
        epochs_run=max(f.epochs_run for f in fits), seconds=sum(f.seconds for f in fits),
    )  # fmt: skip
    _write_outputs(folder, data, split, val, report, test_report, threshold, fit, test)
    plot_confusion_matrix(np.array((test_report or report)["confusion_matrix"]), classes,
                          folder / "confusion_matrix.png")  # fmt: skip
    summary = [{"member": h, "folder": f"{MEMBERS_DIR}/{name}", "best_epoch": r.fit.best_epoch,
                "epochs_run": r.fit.epochs_run, "seconds": round(r.fit.seconds, 3),
                "val_roc_auc": r.report.get("roc_auc"), "val_f1_macro": r.report.get("f1_macro")}
               for h, name, r, _ in members]  # fmt: skip
    atomic_write_json(folder / ENSEMBLE_FILE, {"members": summary, "score": "mean probability"})
    from ._ensemble import EnsembleTrainer

    model = EnsembleModel([
        EnsembleMember(h, r.trainer or get_trainer("neural"), r.model, name,
                       [(0, int(data.num_features))], list(data.layout or []), [], {})
        for h, name, r, _ in members
    ])  # fmt: skip
    params = sum(r.num_params for _, _, r, _ in members)
    return SplitResult(split.name, model, report, test_report, fit, params, EnsembleTrainer())
