"""Temporal-crop augmentation for the tree head (issue 16, "small-data training"), for
``accuracy_fight.py --crops``. Not a benchmark of its own.

Today's best (``efficientnet_lite0+flow`` store, 16 uniform frames, ``stats_xgboost``) pools
each clip's ``[T, D]`` frames into per-dim statistics and boosts trees on ~120 rows. Here each
training clip also contributes ``K`` extra rows: the statistics of random sub-sequences of its
valid frames (contiguous windows, or random frame dropout), same label, each row weighted
``1 / (K + 1)`` so a clip still weighs 1 in the booster (its ``min_child_weight`` and L2 keep
their per-clip meaning). The PCA is fitted on the original frames only, as without crops. At
prediction either the full clip is scored (as today) or the mean probability of the full
clip and fixed crops (start, centre, end windows). A crop is a mask over the clip's frames:
the same padded ``[N, T, D]`` array, fewer True steps, pooled by the library's own
``pool_stats``.

Protocol, as ``_fight_levers.tree_folds`` (row 0 of ``--levers``): per grouped fold the head
(``random_state`` = fold seed) is fit on the inner train part, the threshold (max balanced
accuracy, the library default) is chosen on the inner val with the same prediction rule, then
the head is refit on train + inner val (same augmentation) and scores the held-out fold with
that threshold. Nothing is chosen on the held-out fold. Every setting is paired per fold with
today's best (the library's plain ``fit``) over the same 5 folds x seeds.

The settings were fixed before any result was seen (:data:`SETTINGS`); all are reported.
Picking the best of several on the same folds is optimistic: the best row's gain is biased
upwards by the selection.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

STORE = "fight_store_16_flow"  # efficientnet_lite0+flow, 16 uniform frames (accuracy_fight)


@dataclass(frozen=True)
class CropSetting:
    """One augmentation setting.

    Attributes:
        name: Row label.
        crops: Extra training rows per clip (0: today's best, the library's plain fit).
        low: Smallest fraction of the clip's valid frames a crop keeps.
        high: Largest fraction (drawn uniformly in ``[low, high]`` per crop).
        kind: ``"window"`` (a contiguous run of frames) or ``"dropout"`` (each frame kept
            with that probability, order kept).
        tta: Fixed test-time crops (0, or 3: the first, centre and last 75 % windows) whose
            probabilities are averaged with the full clip's.
    """

    name: str
    crops: int = 0
    low: float = 0.75
    high: float = 0.75
    kind: str = "window"
    tta: int = 0


#: Chosen before looking at any result; every one is reported.
SETTINGS = (
    CropSetting("today's best (no crops)"),
    CropSetting("K=4 windows of 75%", 4, 0.75, 0.75),
    CropSetting("K=8 windows of 60-90%", 8, 0.6, 0.9),
    CropSetting("K=8 windows of 60-90% + test-time 3 crops", 8, 0.6, 0.9, tta=3),
    CropSetting("K=8 frame dropouts keeping 75%", 8, 0.75, 0.75, kind="dropout"),
)


def crop_masks(
    mask: np.ndarray, setting: CropSetting, rng: np.random.Generator
) -> list[np.ndarray]:
    """``setting.crops`` random crops of every clip: a list of bool ``[N, T]`` masks, each a
    subset of ``mask``'s True steps with at least 2 frames (or all, if the clip has fewer)."""
    out = []
    for _ in range(setting.crops):
        m = np.zeros_like(mask)
        for i, row in enumerate(mask):
            valid = np.flatnonzero(row)
            n = len(valid)
            frac = rng.uniform(setting.low, setting.high)
            if setting.kind == "window":
                length = min(n, max(2, round(frac * n)))
                start = rng.integers(0, n - length + 1)
                m[i, valid[start : start + length]] = True
            else:
                keep = valid[rng.random(n) < frac]
                if len(keep) < min(2, n):  # too few kept: keep a random pair instead
                    keep = np.sort(rng.choice(valid, min(2, n), replace=False))
                m[i, keep] = True
        out.append(m)
    return out


def fixed_masks(mask: np.ndarray, count: int, frac: float = 0.75) -> list[np.ndarray]:
    """``count`` (0 or 3) deterministic test-time crops: the first, centre and last ``frac``
    windows of each clip's valid frames."""
    if count == 0:
        return []
    if count != 3:
        raise ValueError(f"tta must be 0 or 3, got {count}")
    out = []
    for where in (0.0, 0.5, 1.0):
        m = np.zeros_like(mask)
        for i, row in enumerate(mask):
            valid = np.flatnonzero(row)
            length = min(len(valid), max(2, round(frac * len(valid))))
            start = round(where * (len(valid) - length))
            m[i, valid[start : start + length]] = True
        out.append(m)
    return out


def fit_cropped(model: Any, x: np.ndarray, mask: np.ndarray, y: np.ndarray, s: CropSetting) -> Any:
    """Fit the (unfitted, library-built) ``StatsXGBoost`` on the clips plus their crops.

    As ``StatsXGBoost.fit`` (the PCA on the original frames, the same booster parameters),
    but the booster sees ``K + 1`` rows per clip weighted ``1 / (K + 1)``. Crops are drawn
    from ``numpy.random.default_rng(random_state)``.
    """
    import xgboost as xgb

    classes, codes = np.unique(y, return_inverse=True)
    wide = x.shape[2] - model._kept(x.shape[2])
    from vidscope.models._stats import fit_pca  # the benchmark prototypes the library's fit

    pca = fit_pca(x[:, :, :wide], mask, model.max_dims, seed=model.random_state)
    model.pca_mean_, model.pca_components_ = pca if pca is not None else (None, None)
    masks = [mask, *crop_masks(mask, s, np.random.default_rng(model.random_state))]
    pooled = np.concatenate([model._pooled(x, m) for m in masks])  # [(K+1) N, 5k]
    weight = np.full(len(pooled), 1.0 / len(masks))
    data = xgb.DMatrix(pooled, label=np.tile(codes, len(masks)), weight=weight)
    params = model._xgb_params(len(classes))
    model.booster_ = xgb.train(params, data, num_boost_round=model.n_estimators)
    model.classes_ = classes
    model.n_features_in_ = int(x.shape[2])
    return model


def proba(model: Any, x: np.ndarray, mask: np.ndarray, s: CropSetting) -> np.ndarray:
    """P(class 1) of the full clips, averaged with ``s.tta`` fixed crops' when set."""
    views = [mask, *fixed_masks(mask, s.tta)]
    return np.mean([model.predict_proba(x, m)[:, 1] for m in views], axis=0)


def crop_folds(
    data: Any, splits: list[Any], seed: int, threads: int
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every setting on every fold of one seed: ``{setting: {"plain": folds, "refit": folds,
    "fit_s": [...]}}`` (plain: fit on inner train; refit: on train + inner val)."""
    from _fight_common import fold_metrics

    from vidscope.metrics import choose_threshold, classification_report
    from vidscope.models import create_head
    from vidscope.training import TrainConfig

    y, classes = data.labels.y, data.labels.classes
    out: dict[str, dict[str, list[Any]]] = {
        s.name: {"plain": [], "refit": [], "fit_s": []} for s in SETTINGS
    }

    def fitted(idx: np.ndarray, s: CropSetting) -> Any:
        model = create_head("stats_xgboost", num_features=data.num_features, num_outputs=1,
                            layout=data.layout, random_state=seed, n_jobs=threads)  # fmt: skip
        x, mask = data.padded(idx)
        if s.crops == 0:
            return model.fit(x, y[idx], mask=mask)  # today's best: the library's own fit
        return fit_cropped(model, x, mask, y[idx], s)

    def score(model: Any, idx: np.ndarray, s: CropSetting) -> np.ndarray:
        return proba(model, *data.padded(idx), s)

    for i, sp in enumerate(splits):
        extra = {"seed": seed, "fold": i, "best_epoch": 0, "epochs_run": 1}
        for s in SETTINGS:
            start = time.process_time()
            model = fitted(sp.train, s)
            thr = choose_threshold(
                y[sp.val], score(model, sp.val, s), metric=TrainConfig().threshold
            )
            pt = score(model, sp.test, s)
            rep = classification_report(y[sp.test], pt, labels=classes, threshold=thr)
            out[s.name]["plain"].append(fold_metrics(rep, extra))
            pt = score(fitted(np.concatenate([sp.train, sp.val]), s), sp.test, s)
            rep = classification_report(y[sp.test], pt, labels=classes, threshold=thr)
            out[s.name]["refit"].append(fold_metrics(rep, extra))
            out[s.name]["fit_s"].append(time.process_time() - start)
    return out


def paired(rows: list[dict[str, Any]], base: dict[str, Any]) -> None:
    """Per row: paired ROC-AUC / accuracy / F1 differences vs ``base`` over the same folds
    (mean, SE = std(ddof=1) / sqrt(n)), folds won and lost (ROC-AUC, and accuracy)."""
    for r in rows:
        for key in ("roc_auc", "accuracy", "f1_fight"):
            d = np.array([a[key] - b[key] for a, b in zip(r["folds"], base["folds"], strict=True)])
            r[f"d_{key}"] = float(d.mean())
            r[f"d_{key}_se"] = float(d.std(ddof=1) / np.sqrt(len(d)))
            r[f"won_{key}"], r[f"lost_{key}"] = int((d > 0).sum()), int((d < 0).sum())


def print_rows(rows: list[dict[str, Any]], title: str) -> None:
    head = (
        f"{'setting':<44} {'ROC-AUC':>13} {'accuracy':>13} {'F1 (fight)':>13} "
        f"{'ΔAUC (SE)':>16} {'won/lost':>8} {'Δacc (SE)':>16} {'won/lost':>8} {'CPU s':>6}"
    )
    print(f"\n{title}\n{head}\n{'-' * len(head)}")
    for r in rows:
        pm = {k: f"{r[k]:.3f}±{r[k + '_std']:.3f}" for k in ("roc_auc", "accuracy", "f1_fight")}
        d = {k: f"{r['d_' + k]:+.3f} ({r['d_' + k + '_se']:.3f})" for k in ("roc_auc", "accuracy")}
        wl = {k: f"{r['won_' + k]}/{r['lost_' + k]}" for k in ("roc_auc", "accuracy")}
        print(
            f"{r['method']:<44} {pm['roc_auc']:>13} {pm['accuracy']:>13} {pm['f1_fight']:>13} "
            f"{d['roc_auc']:>16} {wl['roc_auc']:>8} {d['accuracy']:>16} {wl['accuracy']:>8} "
            f"{r['train_s']:>6.1f}"
        )


def run_crops(args: argparse.Namespace, labels_csv: Path, af: Any) -> dict[str, Any]:
    """The crops table: every setting of :data:`SETTINGS`, refit and plain, on the grouped
    folds of ``--seeds``, paired with today's best; checks the baseline against the cached
    ``--levers`` row 0 when that cache exists.

    Args:
        args: ``accuracy_fight.py``'s arguments (``--seeds``, ``--threads``).
        labels_csv: The clips' label file.
        af: The ``accuracy_fight`` module (its folds and label options).
    """
    import sys

    from _fight_common import summarise

    from vidscope.training import load_data

    store = af.WORK / STORE
    if not (store / "store.json").is_file():
        sys.exit(
            f"accuracy_fight --crops: {store} is missing; make it first with "
            "`python benchmarks/accuracy_fight.py --backbone efficientnet_lite0+flow`"
        )
    _, data = load_data(store, af.label_options(labels_csv), allow_missing=False)
    per: dict[str, dict[str, list[Any]]] = {s.name: {"plain": [], "refit": [], "fit_s": []}
                                            for s in SETTINGS}  # fmt: skip
    for seed in args.seed_list:
        res = crop_folds(data, af.grouped_splits(data.labels, seed), seed, args.threads)
        for name, parts in res.items():
            for k, v in parts.items():
                per[name][k] += v
        print(f"  seed {seed} done", flush=True)
    out: dict[str, Any] = {"settings": [s.__dict__ for s in SETTINGS], "store": str(store)}
    for part in ("refit", "plain"):
        rows = [summarise(n, p[part], 0, float(np.sum(p["fit_s"])) / len(args.seed_list))
                for n, p in per.items()]  # fmt: skip
        paired(rows, rows[0])
        label = "refit on train + inner val" if part == "refit" else "fit on inner train only"
        print_rows(rows, f"temporal crops, stats_xgboost on {STORE} ({label}); grouped "
                   f"{af.FOLDS}-fold x seeds {args.seeds}, held-out folds; Δ paired with "
                   "today's best (first row); CPU s: per seed, fit + refit")  # fmt: skip
        out[part] = rows
    out["baseline_check"] = check_baseline(af, out["refit"][0])
    print(f"\nbaseline vs cached --levers row 0 (refit): {out['baseline_check']}")
    print("All settings were fixed before the run; the best of several on the same folds is an "
          "optimistic estimate of its gain.")  # fmt: skip
    return out


def check_baseline(af: Any, row: dict[str, Any]) -> str:
    """Whether today's best here equals the cached ``--levers`` row 0 (refit) per fold."""
    import json

    path = af.WORK / "fight_levers" / "lite0_flow_stats_xgboost_today_s_best.cache.json"
    if not path.is_file():
        return "no cache to compare with"
    cached = json.loads(path.read_text())["rows"][-1]
    a = np.array([f["roc_auc"] for f in row["folds"]])
    b = np.array([f["roc_auc"] for f in cached["folds"]])
    if a.shape != b.shape:
        return f"different fold counts ({len(a)} vs {len(b)})"
    return f"max per-fold ROC-AUC difference {np.abs(a - b).max():.4f} over {len(a)} folds"
