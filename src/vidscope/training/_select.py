"""Choosing heads on validation data only: ``compare --ensemble K`` and ``train --head auto``.

Both choose per split, on videos that split never scores:

- ``compare --ensemble K`` ranks the heads it fitted by their score on each split's
  **validation** part (k-fold: the inner validation cut from the training folds, never the
  held-out fold) and averages the top K (:func:`top_heads`).
- ``train --head auto`` runs a grouped ``INNER_FOLDS``-fold cross-validation of every
  candidate on each split's **training** part alone (:func:`inner_cv`), so the validation
  part stays free for the chosen head's epoch and threshold, as for any run.

The score is ROC-AUC for two classes and macro F1 otherwise (the ``auto`` monitor).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import SequenceSet, Split, make_splits
from ..errors import ConfigError, VidscopeError
from ._config import TrainConfig

#: ``--head auto``'s candidates unless ``--head-option candidates=...`` names others: the
#: two heads that were best and cheapest on fight-surv-dev's held-out folds (benchmarks/README).
AUTO_CANDIDATES = ("stats_xgboost", "mlp")
#: Folds of ``--head auto``'s cross-validation inside each split's training part.
INNER_FOLDS = 3
#: The ``--head-option`` key of ``--head auto``.
CANDIDATES_KEY = "candidates"


def selection_metric(num_classes: int) -> str:
    """``roc_auc`` for two classes, ``f1_macro`` for more (what ``--monitor auto`` uses)."""
    return "roc_auc" if num_classes == 2 else "f1_macro"


def top_heads(values: dict[str, float | None], k: int) -> list[str]:
    """The ``k`` heads with the highest ``values`` (``None``, e.g. ROC-AUC of a validation
    part with one class, ranks last); ties keep the given order (the ``--heads`` order)."""
    order = list(values)

    def key(h: str) -> tuple[float, int]:
        v = values[h]
        return (-(float(v)) if v is not None and np.isfinite(v) else np.inf, order.index(h))

    return sorted(order, key=key)[:k]


def check_feature_heads(heads: list[str], flag: str) -> None:
    """Every head must be a registered feature head (not ``ensemble``, not a video model).

    Raises:
        ConfigError: naming ``flag`` and the head.
    """
    from ..models import head_trainer
    from ._trainer import get_trainer

    for h in heads:
        if h == "ensemble":
            raise ConfigError(f"{flag}: 'ensemble' cannot be a candidate; list plain heads")
        trainer = get_trainer(head_trainer(h))  # an unknown head fails here, by name
        if not hasattr(trainer, "score_padded") or not hasattr(trainer, "refit"):
            raise ConfigError(
                f"{flag}: {h!r} trains on raw clips, not on features; candidates must be "
                "feature heads (`vidscope heads`: trainer neural, tree or linear)"
            )


def auto_candidates(head_options: dict[str, Any]) -> list[str]:
    """``--head auto``'s candidates from its head options (``candidates=a,b``), else
    :data:`AUTO_CANDIDATES`.

    Raises:
        ConfigError: other head options (each candidate trains with its own defaults), fewer
            than two candidates, or a candidate that is not a feature head.
    """
    other = sorted(set(head_options) - {CANDIDATES_KEY})
    if other:
        raise ConfigError(
            f"--head auto: --head-option {', '.join(other)} would go to every candidate; "
            f"only --head-option {CANDIDATES_KEY}=HEAD,HEAD,... is taken (each candidate "
            "trains with its own defaults)"
        )
    given = head_options.get(CANDIDATES_KEY, AUTO_CANDIDATES)
    if isinstance(given, str):
        given = given.split(",")
    heads = list(dict.fromkeys(str(h).strip() for h in given if str(h).strip()))
    if len(heads) < 2:
        raise ConfigError(
            f"--head auto: --head-option {CANDIDATES_KEY} needs at least two heads, got {heads}"
        )
    check_feature_heads(heads, f"--head auto: --head-option {CANDIDATES_KEY}")
    return heads


def inner_splits(data: SequenceSet, split: Split, cfg: TrainConfig) -> list[Split]:
    """``INNER_FOLDS`` grouped, stratified folds of ``split.train`` alone (positions into
    ``data``), each with an inner validation part cut from its other folds.

    Raises:
        ConfigError: too few training videos (or source groups) for them.
    """
    sub = data.labels.subset(split.train)
    try:
        inner = make_splits(sub, mode="kfold", folds=INNER_FOLDS, seed=cfg.seed,
                            val_fraction=cfg.val_fraction, inner_val=True)  # fmt: skip
    except (VidscopeError, ValueError) as exc:  # scikit-learn's splitters raise ValueError
        raise ConfigError(
            f"--head auto: split {split.name}'s {len(split.train)} training videos are too few "
            f"for a {INNER_FOLDS}-fold cross-validation ({exc}); choose a --head"
        ) from None
    pick = split.train
    return [Split(f"{split.name}.{s.name}", pick[s.train], pick[s.val], pick[s.test])
            for s in inner]  # fmt: skip


def inner_cv(
    data: SequenceSet, split: Split, cfg: TrainConfig, candidates: list[str]
) -> list[dict[str, Any]]:
    """Each candidate cross-validated on ``split.train`` alone: one row per candidate with
    the held-out inner folds' metric (``mean``, ``std``, per fold) and seconds; the best
    (ties: the earlier candidate) has ``chosen`` true.

    Every inner fit is a normal fit (its epoch and threshold on the inner validation part,
    no refit; the ranking metric needs no threshold, so none is cross-fitted) written to a
    temporary folder and removed.
    """
    from ._fit import fit_split

    metric = selection_metric(data.labels.num_classes)
    folds = inner_splits(data, split, cfg)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vidscope-auto-") as tmp:
        for head in candidates:
            c = replace(cfg, head=head, head_options={}, refit=False, tensorboard=False,
                        export_onnx=False, threshold_from="val")  # fmt: skip
            start, values = time.monotonic(), []
            for s in folds:
                res = fit_split(data, s, c, Path(tmp) / head / s.name, callbacks=None)
                values.append((res.test_report or {}).get(metric))
            ok = np.array([v for v in values if v is not None], dtype=float)
            rows.append({
                "split": split.name, "candidate": head, "metric": metric,
                "mean": float(ok.mean()) if len(ok) else None,
                "std": float(ok.std()) if len(ok) else None,
                "folds": values, "seconds": round(time.monotonic() - start, 2),
            })  # fmt: skip
    if all(r["mean"] is None for r in rows):
        raise ConfigError(
            f"--head auto: no inner fold of split {split.name} could be scored by {metric} "
            f"(too few training videos of each class); choose a --head"
        )
    best = top_heads({r["candidate"]: r["mean"] for r in rows}, 1)[0]
    for r in rows:
        r["chosen"] = r["candidate"] == best
    return rows
