"""Several heads on the same split(s): a leaderboard."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..features import atomic_write_json
from ._api import LabelOptions, StoreLike, headline_report, load_data, splits_for
from ._config import TrainConfig
from ._fit import fit_split
from ._leaderboard import run_row

METRICS = ("accuracy", "balanced_accuracy", "f1", "f1_macro", "roc_auc", "average_precision")


def compare(
    store: StoreLike,
    labels: LabelOptions | str | os.PathLike[str] | None = None,
    *,
    heads: list[str],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    progress: bool = False,
    runs: list[str | os.PathLike[str]] | None = None,
) -> list[dict[str, Any]]:
    """Train each head on the same splits and return one leaderboard row per head.

    Every head sees identical data and folds (same seed). Rows hold the metrics of
    :func:`~vidscope.training.headline_report` (k-fold: held-out folds, mean and ``<metric>_std``;
    ``scope`` says whether they are test or validation figures), ``params`` and ``train_s``;
    each head's run is written to ``out/<head>`` and the leaderboard to ``out/leaderboard.json``.
    ``runs`` adds finished runs fitted elsewhere on the same splits (e.g. ``vidscope
    finetune`` on the raw videos), one row each (see :func:`run_row`).
    """
    base = config or TrainConfig()
    _, data = load_data(store, labels, allow_missing=base.allow_missing)
    splits = splits_for(data, base)
    rows = []
    for head in heads:
        cfg = replace(base, head=head, tensorboard=False, export_onnx=False)
        start = time.monotonic()
        results = [
            fit_split(data, s, cfg, Path(out) / head / (s.name if len(splits) > 1 else ""))
            for s in splits
        ]
        rep, scope = headline_report(results)
        row = {
            "head": head,
            "scope": scope,
            "params": results[0].num_params,
            "train_s": round(time.monotonic() - start, 2),
        }
        for m in METRICS:
            row[m] = rep.get(m)
            if f"{m}_std" in rep:
                row[f"{m}_std"] = rep[f"{m}_std"]
        rows.append(row)
        if progress:
            print(
                f"{head}: " + ", ".join(f"{m} {row[m]:.3f}" for m in METRICS if row[m] is not None)
            )
    rows += [run_row(r, data.labels, splits, METRICS) for r in runs or []]
    atomic_write_json(Path(out) / "leaderboard.json", rows)
    return rows
