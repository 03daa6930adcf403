"""The ``--ensemble`` run of ``accuracy_fight.py``: ``compare --ensemble`` and ``train --head
auto`` through the library on the ``efficientnet_lite0+flow`` store, paired per fold with
today's best (``stats_xgboost`` with ``--refit``, i.e. ``--preset fast``).

Per fold seed: one ``vidscope.training.compare(heads=HEADS, refit=True, ensemble=2)`` on the
grouped 5 folds (inner validation, held-out fold only scored). Its ``ensemble(...)`` row is the
library's: per fold the two heads with the best inner-validation ROC-AUC, mean of
probabilities, threshold on the averaged inner-val scores. From the same fitted heads (their
``predictions.csv`` / ``test_predictions.csv``, nothing refitted) this script also scores the
other choices the issue asks to measure: K = 3 (every head), and rank averaging instead of the
mean (each member's score mapped to its position among its own inner-val scores, so a new
video is scored without the other test videos), each chosen on inner validation only. It
checks that its own K = 2 mean reproduces the library's row fold for fold. Then
``vidscope.training.train_auto`` (``--head auto``, default candidates, ``--refit``) on the
same folds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: The heads compared (cheap to mid-cost on 2 cores; transformer/lstm cost more and scored lower).
HEADS = ("stats_xgboost", "mlp", "conv1d")
BACKBONE = "efficientnet_lite0+flow"
BASELINE = "lite0+flow | stats_xgboost, refit (today's best, --preset fast)"


def run_ensemble(args: argparse.Namespace, labels_csv: Path, af: Any) -> dict[str, Any]:
    """The table: each head, the ensembles, ``--head auto``, paired with today's best."""
    from _fight_levers_run import paired, print_levers

    from vidscope.training import TrainConfig, compare, train_auto

    info = af.ensure_store(labels_csv, args.frames, BACKBONE)
    store = Path(info["store"])
    folds: dict[str, list[dict[str, Any]]] = {}
    seconds: dict[str, float] = {}
    auto_choices: list[dict[str, Any]] = []
    for seed in args.seed_list:
        cfg = TrainConfig(split="kfold", folds=af.FOLDS, seed=seed, refit=True)
        out = af.WORK / "fight_ensemble_runs" / f"seed{seed}"  # kept: the written runs
        start = time.monotonic()
        timing = out / "timing.json"  # written last: the seed's runs are complete
        if timing.is_file() and not args.no_cache:
            rows = json.loads((out / "leaderboard.json").read_text())
            took = json.loads(timing.read_text())["auto_s"]
            print(f"  seed {seed}: reusing the finished runs in {out}", flush=True)
        else:
            rows = compare(store, af.label_options(labels_csv), heads=list(HEADS), out=out,
                           config=cfg, ensemble=2)  # fmt: skip
            print(f"  seed {seed}: compare in {time.monotonic() - start:.0f} s", flush=True)
            start = time.monotonic()
            train_auto(store, af.label_options(labels_csv), out=out / "auto", overwrite=True,
                       config=cfg)  # fmt: skip
            took = time.monotonic() - start
            timing.write_text(json.dumps({"auto_s": took}))
        print("    " + ", ".join(f"{r['head']} {r['roc_auc']:.3f}" for r in rows), flush=True)
        for r in rows:
            seconds[r["head"]] = seconds.get(r["head"], 0.0) + r["train_s"] / len(args.seed_list)
        for name, fs in seed_folds(out, seed, af).items():
            folds.setdefault(name, []).extend(fs)
        spec = json.loads((out / "auto" / "config.json").read_text())
        auto_auc = json.loads((out / "auto" / "metrics.json").read_text())["test"]["roc_auc"]
        auto_choices.append({"seed": seed, **spec["extra"]["auto"]["chosen"]})
        name = "--head auto (stats_xgboost|mlp by 3-fold CV on train), refit"
        seconds[name] = seconds.get(name, 0.0) + took / len(args.seed_list)
        folds.setdefault(name, []).extend(
            fold_record(out / "auto" / f"fold{i}" / "metrics.json", seed, i, af)
            for i in range(af.FOLDS)
        )
        print(f"  seed {seed}: --head auto in {took:.0f} s, chose "
              f"{spec['extra']['auto']['chosen']}, ROC-AUC {auto_auc:.3f}",
              flush=True)  # fmt: skip
        for name, fs in cv_folds(args, store, labels_csv, cfg, seed, af, seconds).items():
            folds.setdefault(name, []).extend(fs)
    names = [n for n in folds if n != "stats_xgboost"]
    table = [af.summarise(BASELINE, folds["stats_xgboost"], 300, seconds["stats_xgboost"])]
    all_heads = sum(seconds[h] for h in HEADS)  # an ensemble needs every head fitted
    for n in names:
        table.append(af.summarise(n, folds[n], 0, seconds.get(n, all_heads)))
    paired(table, table[0])
    title = (f"compare --ensemble / --head auto: {BACKBONE}, grouped {af.FOLDS}-fold x seeds "
             f"{args.seeds}, held-out folds, --refit; ΔAUC paired with today's best")  # fmt: skip
    print_levers(table, title)
    accuracy_pairs(table)
    print(f"--head auto chose: {auto_choices}")
    chosen = {kind: members_chosen(af.WORK / "fight_ensemble_runs", args.seed_list, kind)
              for kind in ("", "_cv")}  # fmt: skip
    print(f"compare --ensemble 2 members, folds chosen in (of {len(table[0]['folds'])}): "
          f"inner val {chosen['']}; cross-fitted {chosen['_cv']}")  # fmt: skip
    return {"rows": table, "auto_chosen": auto_choices, "store": info, "heads": list(HEADS),
            "ensemble_members_chosen": chosen}  # fmt: skip


CV_ROWS = {
    "stats_xgboost": "stats_xgboost, refit, --threshold-from cv",
    "ensemble": "compare --ensemble 2 --threshold-from cv (ranked on cross-fitted scores)",
}


def cv_folds(
    args: argparse.Namespace,
    store: Path,
    labels_csv: Path,
    cfg: Any,
    seed: int,
    af: Any,
    seconds: dict[str, float],
) -> dict[str, list[dict[str, Any]]]:
    """The same compare with ``threshold_from="cv"``: heads ranked and the threshold chosen on
    their cross-fitted train + inner-val scores (5 more fits per head and fold)."""
    from dataclasses import replace

    from vidscope.training import compare

    out = af.WORK / "fight_ensemble_runs" / f"seed{seed}_cv"
    done = out / "timing.json"
    if done.is_file() and not args.no_cache:
        rows = json.loads((out / "leaderboard.json").read_text())
    else:
        start = time.monotonic()
        rows = compare(store, af.label_options(labels_csv), heads=list(HEADS), out=out,
                       config=replace(cfg, threshold_from="cv"), ensemble=2)  # fmt: skip
        done.write_text(json.dumps({"compare_s": time.monotonic() - start}))
    print("    --threshold-from cv: " + ", ".join(f"{r['head']} {r['roc_auc']:.3f}"
                                                  for r in rows), flush=True)  # fmt: skip
    n = len(args.seed_list)
    seconds[CV_ROWS["stats_xgboost"]] = seconds.get(CV_ROWS["stats_xgboost"], 0.0) + rows[0][
        "train_s"] / n  # fmt: skip
    seconds[CV_ROWS["ensemble"]] = seconds.get(CV_ROWS["ensemble"], 0.0) + sum(
        r["train_s"] for r in rows if r["head"] in HEADS) / n  # fmt: skip
    res = {name: [fold_record(out / folder / f"fold{i}" / "metrics.json", seed, i, af)
                  for i in range(af.FOLDS)] for folder, name in CV_ROWS.items()}  # fmt: skip
    res[CV_LOGISTIC] = [logistic_fold(out, seed, i, af) for i in range(af.FOLDS)]
    seconds[CV_LOGISTIC] = seconds[CV_ROWS["ensemble"]]
    res[STACK] = [stacked_fold(out, seed, i, af) for i in range(af.FOLDS)]
    seconds[STACK] = seconds[CV_ROWS["ensemble"]]
    return res


CV_LOGISTIC = "… the same members, --threshold logistic (cross-fitted) [computed]"


def logistic_fold(out: Path, seed: int, fold: int, af: Any) -> dict[str, Any]:
    """The cross-fitted ensemble's fold with the threshold where a class-balanced logistic fit
    on its averaged cross-fitted scores crosses 1/2 (``--threshold logistic``), from the files
    the library wrote: nothing refitted, nothing chosen on the held-out fold."""
    from vidscope.metrics import choose_threshold, classification_report

    spec = json.loads((out / "ensemble" / "config.json").read_text())
    classes = spec["classes"]
    heads = [n.split("_", 1)[1] for n in spec["head_config"]["fold_members"][f"fold{fold}"]]
    cv = [pd.read_csv(out / h / f"fold{fold}" / "crossfit_predictions.csv").sort_values("id")
          for h in heads]  # fmt: skip
    test = [pd.read_csv(out / h / f"fold{fold}" / "test_predictions.csv") for h in heads]
    y_cv = (cv[0]["true"] == classes[1]).to_numpy().astype(int)
    thr = choose_threshold(y_cv, np.mean([c["score"] for c in cv], axis=0), metric="logistic")
    y = (test[0]["true"] == classes[1]).to_numpy().astype(int)
    rep = classification_report(y, np.mean([t["score"] for t in test], axis=0), labels=classes,
                                threshold=thr)  # fmt: skip
    return af.fold_metrics(rep, {"seed": seed, "fold": fold, "best_epoch": 0, "epochs_run": 1})


STACK = "stacking: logistic regression on the 3 heads' cross-fitted logits [computed]"


def stacked_fold(out: Path, seed: int, fold: int, af: Any) -> dict[str, Any]:
    """Stacking instead of averaging: a class-balanced logistic regression (C = 1) on the logits
    of every head's cross-fitted train + val scores (~120 clips, each scored by models that did
    not see it) weighs the heads; the held-out fold is scored with the fitted heads' test scores
    at the regression's own 0.5."""
    from sklearn.linear_model import LogisticRegression

    from vidscope.metrics import classification_report

    classes = json.loads((out / "ensemble" / "config.json").read_text())["classes"]
    cv = [pd.read_csv(out / h / f"fold{fold}" / "crossfit_predictions.csv").sort_values("id")
          for h in HEADS]  # fmt: skip
    test = [pd.read_csv(out / h / f"fold{fold}" / "test_predictions.csv") for h in HEADS]

    def logits(frames: list[pd.DataFrame]) -> np.ndarray:
        p = np.clip(np.stack([f["score"].to_numpy() for f in frames], 1), 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))  # [N, heads]

    y_cv = (cv[0]["true"] == classes[1]).to_numpy().astype(int)
    model = LogisticRegression(C=1.0, class_weight="balanced").fit(logits(cv), y_cv)
    scores = model.predict_proba(logits(test))[:, 1]
    y = (test[0]["true"] == classes[1]).to_numpy().astype(int)
    rep = classification_report(y, scores, labels=classes, threshold=0.5)
    extra = {"seed": seed, "fold": fold, "best_epoch": 0, "epochs_run": 1,
             "weights": [round(float(w), 3) for w in model.coef_[0]]}  # fmt: skip
    return af.fold_metrics(rep, extra)


def members_chosen(root: Path, seeds: list[int], kind: str) -> dict[str, int]:
    """How many folds chose each head (``kind``: ``""`` inner val, ``"_cv"`` cross-fitted)."""
    counts = {h: 0 for h in HEADS}
    for seed in seeds:
        path = root / f"seed{seed}{kind}" / "ensemble" / "config.json"
        if path.is_file():
            for names in json.loads(path.read_text())["head_config"]["fold_members"].values():
                for n in names:
                    counts[n.split("_", 1)[1]] += 1
    return counts


def accuracy_pairs(table: list[dict[str, Any]]) -> None:
    """Print (and keep in each row) the paired accuracy difference to the first row: mean,
    SE and folds won / lost."""
    base = np.array([f["accuracy"] for f in table[0]["folds"]])
    print("\naccuracy, paired with today's best: Δacc mean (SE), folds won/lost")
    for r in table[1:]:
        d = np.array([f["accuracy"] for f in r["folds"]]) - base
        r["d_acc_se"] = float(d.std(ddof=1) / np.sqrt(len(d)))
        r["acc_won"], r["acc_lost"] = int((d > 0).sum()), int((d < 0).sum())
        print(f"  {r['method'][:72]:<72} {d.mean():+.3f} ({r['d_acc_se']:.3f}) "
              f"{r['acc_won']}/{r['acc_lost']}")  # fmt: skip


def fold_record(path: Path, seed: int, fold: int, af: Any) -> dict[str, Any]:
    m = json.loads(path.read_text())
    extra = {"seed": seed, "fold": fold, "best_epoch": m["best_epoch"]}
    extra["epochs_run"] = m["epochs_run"]
    return af.fold_metrics(m["test"], extra)


def seed_folds(out: Path, seed: int, af: Any) -> dict[str, list[dict[str, Any]]]:
    """Per-fold test records of each head, the library's ensemble row and the variants
    computed here from the same fitted heads (checked against the library's row)."""
    from vidscope.metrics import choose_threshold, classification_report

    res: dict[str, list[dict[str, Any]]] = {h: [] for h in HEADS}
    lib = f"compare --ensemble 2 (library run; {'|'.join(HEADS)})"
    variants = {(k, how): f"ensemble top-{k} of {len(HEADS)}, {how} [computed]"
                for k in (2, 3) for how in ("mean", "rank")}  # fmt: skip
    res[lib] = []
    classes = json.loads((out / "ensemble" / "config.json").read_text())["classes"]
    for name in variants.values():
        res[name] = []
    for i in range(af.FOLDS):
        fold = f"fold{i}"
        for h in HEADS:
            res[h].append(fold_record(out / h / fold / "metrics.json", seed, i, af))
        res[lib].append(fold_record(out / "ensemble" / fold / "metrics.json", seed, i, af))
        val_auc = {h: json.loads((out / h / fold / "metrics.json").read_text())["val"]["roc_auc"]
                   for h in HEADS}  # fmt: skip
        ranked = sorted(HEADS, key=lambda h: (-val_auc[h], HEADS.index(h)))
        val = {h: pd.read_csv(out / h / fold / "predictions.csv") for h in HEADS}
        test = {h: pd.read_csv(out / h / fold / "test_predictions.csv") for h in HEADS}
        y_val = (val[HEADS[0]]["true"] == classes[1]).to_numpy().astype(int)
        y_test = (test[HEADS[0]]["true"] == classes[1]).to_numpy().astype(int)
        for (k, how), name in variants.items():
            members = ranked[:k]
            pv, pt = combine([val[h]["score"].to_numpy() for h in members],
                             [test[h]["score"].to_numpy() for h in members], how)  # fmt: skip
            thr = choose_threshold(y_val, pv, metric="balanced_accuracy")
            rep = classification_report(y_test, pt, labels=classes, threshold=thr)
            extra = {"seed": seed, "fold": i, "best_epoch": 0, "epochs_run": 1,
                     "members": members}  # fmt: skip
            res[name].append(af.fold_metrics(rep, extra))
    mine = [f["roc_auc"] for f in res[variants[(2, "mean")]]]
    theirs = [f["roc_auc"] for f in res[lib]]
    if not np.allclose(mine, theirs, atol=1e-9):
        raise RuntimeError(f"seed {seed}: computed top-2 mean {mine} != library's {theirs}")
    del res[variants[(2, "mean")]]  # the same figures as the library's row
    return res


def combine(
    val: list[np.ndarray], test: list[np.ndarray], how: str
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the members' probabilities, or of their ranks: each score's position among
    that member's own inner-val scores (mid-rank, linear between them), in [0, 1]."""
    if how == "mean":
        return np.mean(val, axis=0), np.mean(test, axis=0)
    rv, rt = [], []
    for v, t in zip(val, test, strict=True):
        ref = np.sort(v)
        pos = (np.arange(len(ref)) + 0.5) / len(ref)
        rv.append(np.interp(v, ref, pos, left=0.0, right=1.0))
        rt.append(np.interp(t, ref, pos, left=0.0, right=1.0))
    return np.mean(rv, axis=0), np.mean(rt, axis=0)
