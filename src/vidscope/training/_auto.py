"""``vidscope train --head auto``: choose the head by cross-validation on the training part.

For every split, each candidate head (``AUTO_CANDIDATES``: ``stats_xgboost`` and ``mlp``, or
``--head-option candidates=a,b,...``) is cross-validated on that split's training part alone
(``INNER_FOLDS`` grouped folds, each with its own inner validation for epoch and threshold;
:func:`~._select.inner_cv`); the best mean score (ROC-AUC, or macro F1 for more than two
classes; ties go to the earlier candidate) is trained on the split as usual. Validation and
held-out videos play no part in the choice, so the run's figures stay as honest as any run's.

Cost: per split, ``candidates x INNER_FOLDS`` fits on about two thirds of the training part,
then the one normal fit (default candidates: 6 small fits + 1; about 3-5x one
``stats_xgboost``+``mlp`` training).

The run is a normal run of the chosen head when every split chose the same one (the usual
case; ``export`` works on it); when k-fold folds chose differently it is an ``ensemble`` run
with one member per fold (:mod:`._assemble`). Either way ``config.json``'s
``extra["auto"]`` holds the selection table: per split and candidate, the inner-CV mean, std
and per-fold values.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ._api import (
    LabelOptions,
    StoreLike,
    TrainResult,
    WindowOptions,
    callbacks_for,
    finish_run,
    load_data,
    load_windows,
    prepare_run_dir,
    splits_for,
)
from ._config import TrainConfig
from ._fit import fit_split
from ._select import INNER_FOLDS, auto_candidates, inner_cv, selection_metric

#: The ``--head`` value that selects the head.
AUTO = "auto"


def train_auto(
    store: StoreLike,
    labels: LabelOptions | str | os.PathLike[str] | None = None,
    *,
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    overwrite: bool = False,
    progress: Callable[[dict[str, float]], None] | None = None,
    windows: WindowOptions | None = None,
    on_start: Callable[[Any], None] | None = None,
    on_select: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Choose the head per split by cross-validation on its training part, then train it.

    Args:
        store, labels, out, overwrite, progress, windows, on_start: As for
            :func:`~vidscope.training.train` (``config.head`` is ignored).
        config: Settings; ``head_options`` may only hold ``candidates`` (a list or
            ``"a,b"``), since each candidate trains with its own defaults.
        on_select: Called with the selection record (``candidates``, ``metric``,
            ``inner_folds``, ``chosen`` per split, ``table``) before the final fits.

    Raises:
        ConfigError: other head options, fewer than two candidates or one that is not a
            feature head, too few training videos for the inner folds, an ``out`` that holds
            another run (without ``overwrite``).
    """
    cfg = replace(config or TrainConfig(), head=AUTO)
    candidates = auto_candidates(cfg.head_options)
    if windows is not None:
        st, data = load_windows(store, windows)
    else:
        st, data = load_data(store, labels, allow_missing=cfg.allow_missing)
    splits = splits_for(data, cfg)
    root = prepare_run_dir(out, resume=False, overwrite=overwrite)
    if on_start is not None:
        on_start(data)
    table = [row for s in splits for row in inner_cv(data, s, cfg, candidates)]
    chosen = [next(r["candidate"] for r in table if r["split"] == s.name and r["chosen"])
              for s in splits]  # fmt: skip
    selection = {
        "candidates": candidates, "inner_folds": INNER_FOLDS,
        "metric": selection_metric(data.labels.num_classes), "selected_on": "train (inner CV)",
        "chosen": {s.name: c for s, c in zip(splits, chosen, strict=True)}, "table": table,
    }  # fmt: skip
    if on_select is not None:
        on_select(selection)
    many = len(splits) > 1
    folders = [root / s.name if many else root for s in splits]
    folds = [s.name for s in splits] if many else None
    if len(set(chosen)) == 1:
        c = replace(cfg, head=chosen[0], head_options={})
        results = [fit_split(data, s, c, f, callbacks=callbacks_for(c, progress, None))
                   for s, f in zip(splits, folders, strict=True)]  # fmt: skip
        return finish_run(root, st, data, c, results, folds, extra={AUTO: selection})
    return _mixed(root, st, data, splits, cfg, chosen, progress, selection)


def _mixed(
    root: Any,
    store: Any,
    data: Any,
    splits: list[Any],
    cfg: TrainConfig,
    chosen: list[str],
    progress: Callable[[dict[str, float]], None] | None,
    selection: dict[str, Any],
) -> TrainResult:
    """Folds chose different heads: fit each fold's head, then one ``ensemble`` run with one
    member per fold."""
    from ._assemble import write_ensemble_run

    staging = root / "_auto_fits"
    fitted: dict[str, tuple[list[Any], list[Any]]] = {}
    for h in dict.fromkeys(chosen):
        c = replace(cfg, head=h, head_options={})
        res: list[Any] = [None] * len(splits)
        dirs: list[Any] = [None] * len(splits)
        for i, s in enumerate(splits):
            if chosen[i] == h:
                dirs[i] = staging / h / s.name
                res[i] = fit_split(data, s, c, dirs[i], callbacks=callbacks_for(c, progress, None))
        fitted[h] = (res, dirs)
    result = write_ensemble_run(root, store, data, splits, cfg, fitted, [[c] for c in chosen],
                                extra={AUTO: selection})  # fmt: skip
    shutil.rmtree(staging, ignore_errors=True)
    return result
