"""Several heads on the same split(s): a leaderboard, optionally with their best ensemble."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..features import atomic_write_json
from ._api import LabelOptions, StoreLike, headline_report, load_data, prepare_run_dir, splits_for
from ._config import TrainConfig
from ._fit import SplitResult, fit_split
from ._heads import check_head_options
from ._leaderboard import run_row

METRICS = ("accuracy", "balanced_accuracy", "f1", "f1_macro", "roc_auc", "average_precision")
#: ``compare --ensemble`` without a number: the top two heads. On fight-surv-dev two members
#: gained the most (benchmarks/README: a third weaker head adds noise, not signal).
DEFAULT_ENSEMBLE = 2
#: The folder (under ``--out``) of the run ``compare --ensemble`` writes.
ENSEMBLE_DIR = "ensemble"


def compare(
    store: StoreLike,
    labels: LabelOptions | str | os.PathLike[str] | None = None,
    *,
    heads: list[str],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    progress: bool = False,
    runs: list[str | os.PathLike[str]] | None = None,
    ensemble: int | None = None,
) -> list[dict[str, Any]]:
    """Train each head on the same splits and return one leaderboard row per head.

    Every head sees identical data and folds (same seed). Rows hold the metrics of
    :func:`~vidscope.training.headline_report` (k-fold: held-out folds, mean and ``<metric>_std``;
    ``scope`` says whether they are test or validation figures), ``params`` and ``train_s``;
    each head's run is written to ``out/<head>`` and the leaderboard to ``out/leaderboard.json``.
    ``runs`` adds finished runs fitted elsewhere on the same splits (e.g. ``vidscope
    finetune`` on the raw videos), one row each (see :func:`run_row`).

    ``ensemble=K`` (``--ensemble K``) adds a row ``ensemble(a+b)``: per split, the K heads
    with the best score on that split's validation part (k-fold: the inner validation cut
    from the training folds, never the held-out fold; ROC-AUC, or macro F1 for more than two
    classes) averaged as probabilities, the threshold chosen on their averaged validation
    scores. The fitted members are reused, not refitted, and written as a normal
    ``--head ensemble`` run to ``out/ensemble`` (each fold keeps its own members) that
    ``predict``, ``evaluate`` and ``timeline`` load. Without inner validation
    (``--no-inner-val``, or a holdout split) the row is selected on the videos it scores.
    Neural heads pick their epoch on that validation part too, which flatters their
    validation score against trees (fight-surv-dev: +0.05 to +0.10 ROC-AUC over their held-out
    score, trees +0.01); with ``--threshold-from cv`` the heads are ranked (and the threshold
    chosen) on their cross-fitted train + validation scores instead, where no head selected
    anything but its number of epochs.

    Raises:
        ConfigError: ``ensemble`` < 2 or more than the heads, or a head that cannot be a
            member (``ensemble``, a video model), an unknown head, or a ``head_options``
            key one of the heads does not take.
    """
    base = config or TrainConfig()
    if ensemble is not None:
        check_ensemble(heads, ensemble)
    check_head_options(heads, base.head_options, "--heads")  # before the first head trains
    st, data = load_data(store, labels, allow_missing=base.allow_missing)
    splits = splits_for(data, base)
    rows, fitted = [], {}
    for head in heads:
        onnx = base.export_onnx and ensemble is not None  # members then predict without torch
        cfg = replace(base, head=head, tensorboard=False, export_onnx=onnx)
        start = time.monotonic()
        dirs = [Path(out) / head / (s.name if len(splits) > 1 else "") for s in splits]
        results = [fit_split(data, s, cfg, d) for s, d in zip(splits, dirs, strict=True)]
        fitted[head] = (results, dirs)
        row = _row(head, results, time.monotonic() - start)
        rows.append(row)
        if progress:
            print(f"{head}: " + ", ".join(f"{m} {row[m]:.3f}" for m in METRICS
                                          if row[m] is not None))  # fmt: skip
    if ensemble is not None:
        rows.append(ensemble_row(st, data, splits, base, fitted, ensemble, Path(out)))
        if progress:
            print(f"{rows[-1]['head']}: roc_auc {rows[-1]['roc_auc']}; run {rows[-1]['run']}")
    rows += [run_row(r, data.labels, splits, METRICS) for r in runs or []]
    atomic_write_json(Path(out) / "leaderboard.json", rows)
    return rows


def check_ensemble(heads: list[str], k: int) -> None:
    """``--ensemble K`` must name 2..len(heads) feature heads.

    Raises:
        ConfigError: naming the flag and what to change.
    """
    from ._select import check_feature_heads

    if k < 2:
        raise ConfigError(f"--ensemble must be at least 2 (heads to average), got {k}")
    if k > len(heads):
        raise ConfigError(
            f"--ensemble {k}: only {len(heads)} head(s) in --heads ({','.join(heads)}); "
            f"list at least {k} heads or lower --ensemble"
        )
    if len(set(heads)) != len(heads):
        raise ConfigError(f"--ensemble: --heads lists a head twice ({','.join(heads)})")
    check_feature_heads(heads, "--ensemble")


def crossfit_metric(src: Path, data: Any) -> float | None:
    """ROC-AUC of a fit's cross-fitted train + val scores (``--threshold-from cv``)."""
    from ..metrics import classification_report
    from ._assemble import saved_crossfit_scores

    y, scores = saved_crossfit_scores(src, data)
    return classification_report(y, scores, labels=data.labels.classes).get("roc_auc")


def _row(head: str, results: list[SplitResult], seconds: float) -> dict[str, Any]:
    rep, scope = headline_report(results)
    row = {"head": head, "scope": scope, "params": results[0].num_params,
           "train_s": round(seconds, 2)}  # fmt: skip
    for m in METRICS:
        row[m] = rep.get(m)
        if f"{m}_std" in rep:
            row[f"{m}_std"] = rep[f"{m}_std"]
    return row


def ensemble_row(
    store: Any,
    data: Any,
    splits: list[Any],
    cfg: TrainConfig,
    fitted: dict[str, tuple[list[SplitResult], list[Path]]],
    k: int,
    out: Path,
) -> dict[str, Any]:
    """Choose the top ``k`` heads per split on its validation part, write the run to
    ``out/ensemble`` and return its leaderboard row (``members``: per split; ``selection``:
    every head's validation score per split)."""
    from ._assemble import write_ensemble_run
    from ._select import selection_metric, top_heads

    metric = selection_metric(data.labels.num_classes)
    cv = cfg.threshold_from == "cv" and data.labels.num_classes == 2
    chosen, table = [], []
    for i, s in enumerate(splits):
        if cv:
            values = {h: crossfit_metric(dirs[i], data) for h, (_, dirs) in fitted.items()}
        else:
            values = {h: res[i].report.get(metric) for h, (res, _) in fitted.items()}
        chosen.append(top_heads(values, k))
        table += [{"split": s.name, "head": h, metric: v, "chosen": h in chosen[-1]}
                  for h, v in values.items()]  # fmt: skip
    start = time.monotonic()
    root = prepare_run_dir(out / ENSEMBLE_DIR, resume=False, overwrite=True)
    where = "cross-fitted train+val" if cv else "val"
    selection = {"k": k, "metric": f"{'cv' if cv else 'val'}_{metric}", "selected_on": where,
                 "table": table}  # fmt: skip
    result = write_ensemble_run(root, store, data, splits, cfg, fitted, chosen,
                                extra={"ensemble_selection": selection})  # fmt: skip
    same = all(c == chosen[0] for c in chosen)
    name = "+".join(chosen[0]) if same else f"top {k} per split"
    seconds = sum(r.fit.seconds for res, _ in fitted.values() for r in res)
    row = _row(f"ensemble({name})", result.splits, 0.0)
    row.update(train_s=round(seconds + time.monotonic() - start, 2), run=str(root),
               members={s.name: c for s, c in zip(splits, chosen, strict=True)})  # fmt: skip
    return row
