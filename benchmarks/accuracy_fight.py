"""Accuracy of every temporal head on real surveillance clips, under grouped cross-validation.

Data: the 150 two-second clips of ``../shared/data/fight-surv-dev/`` (71 fight, 79 noFight,
36 source groups; ``labels.csv``: path, label, source_group, duration_s). Clips of one source
video share a ``source_group``; folds split by group, never by clip.

What it does:

1. Extraction, once: EfficientNet-Lite0 (the default backbone), ``--frames`` uniform frames per
   clip, into ``benchmarks/_work/fight_store_<frames>/``. A later run finds the store and skips
   every clip already in it (the store resumes by itself); the time is reported either way.
2. Every head (``vidscope.models.list_heads()``, or ``--heads``) through the library's
   ``vidscope.train.compare`` with ``split="kfold", folds=5`` and the label file's
   ``source_group`` as groups, once per fold seed in ``--seeds`` (the seed also seeds the
   heads' initialisation). Everything else is the library default.
3. The floor to beat: scikit-learn ``LogisticRegression`` (C=1.0, max_iter 2000) on
   standardised mean-pooled features, on exactly the same folds (``vidscope.data.make_splits``
   on the same ``LabelSet``), scored by ``vidscope.evaluate.classification_report`` at a fixed
   0.5 threshold (``logreg_mean``), and, for a like-for-like accuracy/F1, with the threshold
   picked on the validation fold the way the heads pick theirs (``logreg_mean@valthr``).

Caveats printed with the table: the heads pick their decision threshold (max F1 of the
positive class) *and* their best epoch (max ROC-AUC) on the validation fold itself, so their
accuracy and F1 are optimistic, and their ROC-AUC somewhat too; the floor at 0.5 selects
nothing on validation. The library makes the alphabetically later class positive, so
``noFight`` is class 1; the table's F1 is that of ``fight`` (from the per-class report).
Metrics are mean ± std over all folds x seeds (population std).

``--sweep`` then trains the neural heads named by ``--sweep-heads`` under variants of the
training defaults (learning rate, weight decay, class weights, epochs / early stopping,
MLP width and dropout, temporal pooling, 8 vs 16 frames, fixed-length training scored at its
last epoch, which selects nothing on validation) with the same folds and seeds, and prints a
second table, each variant's ROC-AUC paired against its head's defaults.

Run::

    python benchmarks/accuracy_fight.py [--frames 16] [--seeds 0,1,2] [--heads mlp,lstm]
                                        [--xgb-estimators 300] [--threads 1]
    python benchmarks/accuracy_fight.py --seeds 0,1,2 --sweep [--sweep-heads mean_linear,mlp]

Training runs with one torch / XGBoost thread (``--threads``): on 2 cores shared with other
jobs, 2 threads made the small heads' training about 4 times slower (measured here) and gave
the same scores. Results go to ``benchmarks/_work/accuracy_fight.json`` (with ``--sweep``:
``accuracy_fight_sweep.json``); training runs to ``benchmarks/_work/accuracy_fight_runs/``
(removed afterwards unless ``--keep-runs``). Default run (16 frames, seeds 0,1,2, all heads):
10 minutes on the 2 shared CPU cores at load ~5 once the store exists (20 at load 7-11); the
first extraction adds about 3 minutes. ``--sweep``: about 25 minutes more.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve()
DATA = HERE.parents[2] / "shared" / "data" / "fight-surv-dev"
WORK = HERE.parent / "_work"
RUNS = WORK / "accuracy_fight_runs"
FOLDS = 5
GROUP_COLUMN = "source_group"
TARGET = "fight"  # the class whose F1 the table shows
FLOOR = "logreg_mean"
# simplest first: on a tie in ROC-AUC the earlier one is recommended
SIMPLICITY = ("mean_linear", "mlp", "stats_xgboost", "conv1d", "lstm", "transformer")
TIE_T = 1.0  # one-standard-error rule: paired mean ΔAUC within 1 SE of the best is a tie
MIN_GAIN = 0.005  # a sweep variant must also gain this much ROC-AUC to count as better


@dataclass
class Variant:
    """One training setting of the sweep: ``TrainConfig`` fields plus head options."""

    name: str
    train: dict[str, Any] = field(default_factory=dict)
    head_options: dict[str, Any] = field(default_factory=dict)
    frames: int | None = None  # None: --frames
    heads: tuple[str, ...] | None = None  # None: every --sweep-heads head
    last_epoch: bool = False  # also score the last epoch (needs patience >= epochs)


SWEEP = (
    Variant("defaults"),
    Variant("lr=3e-4", {"lr": 3e-4}),
    Variant("lr=3e-3", {"lr": 3e-3}),
    Variant("weight_decay=0.1", {"weight_decay": 0.1}),
    Variant("class_weight=balanced", {"class_weight": "balanced"}),
    Variant("epochs=30,patience=8", {"epochs": 30, "patience": 8}),
    Variant("fixed 30 epochs", {"epochs": 30, "patience": 30}, last_epoch=True),
    Variant("fixed 60 epochs", {"patience": 60}, heads=("mean_linear", "mlp"), last_epoch=True),
    Variant("hidden=64", head_options={"hidden": 64}, heads=("mlp",)),
    Variant("dropout=0.5", head_options={"dropout": 0.5}, heads=("mlp", "mean_linear")),
    Variant("pool=mean", head_options={"pool": "mean"}, heads=("mlp",)),
    Variant("pool=mean_max", head_options={"pool": "mean_max"}, heads=("mean_linear",)),
    Variant(
        "pool=mean_max,lr=3e-3",
        {"lr": 3e-3},
        head_options={"pool": "mean_max"},
        heads=("mean_linear",),
    ),
    Variant("frames=8", frames=8),
)


# ---------------------------------------------------------------------------------------------
# data and extraction


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=16, help="uniform frames per clip (16)")
    p.add_argument("--seeds", default="0,1,2", help="fold seeds, comma-separated (0,1,2)")
    p.add_argument("--heads", default="", help="heads, comma-separated (all registered)")
    p.add_argument(
        "--xgb-estimators",
        type=int,
        default=None,
        help="n_estimators of stats_xgboost (library default 300)",
    )
    p.add_argument("--sweep", action="store_true", help="also sweep the training defaults")
    p.add_argument("--sweep-heads", default="mean_linear,mlp", help="heads for --sweep")
    p.add_argument("--keep-runs", action="store_true", help=f"keep {RUNS.name}/")
    p.add_argument(
        "--threads", type=int, default=1, help="torch / XGBoost threads for training (1)"
    )
    args = p.parse_args(argv)
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    return args


def require_data() -> Path:
    """The label file, or exit with a message saying what is missing."""
    labels = DATA / "labels.csv"
    if not labels.is_file():
        sys.exit(
            f"accuracy_fight: {labels} not found. This benchmark needs the fight-surv-dev clips "
            f"in {DATA} (the project's ../shared/data/ folder beside the repository)."
        )
    return labels


def ensure_store(labels_csv: Path, frames: int) -> dict[str, Any]:
    """Extract (or resume / skip) the store for ``frames`` uniform frames; its timing."""
    from vidscope import ExtractConfig, SamplingSpec
    from vidscope.features import extract

    out = WORK / f"fight_store_{frames}"
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", frames))
    start = time.monotonic()
    report = extract(str(labels_csv), out, cfg, progress=False, path_column="path")
    info = {
        "store": str(out),
        "frames": frames,
        "backbone": cfg.backbone,
        "extracted": len(report.done),
        "skipped": len(report.skipped),
        "failed": report.failed,
        "partial": report.partial,
        "extract_s": round(report.seconds, 2),
        "wall_s": round(time.monotonic() - start, 2),
    }
    if report.failed:
        sys.exit(f"accuracy_fight: {len(report.failed)} clip(s) failed: {report.failed}")
    timing = WORK / f"{out.name}_extract.json"
    if report.done:  # this run extracted: remember how long it took
        timing.write_text(json.dumps(info, indent=1))
    first = json.loads(timing.read_text()) if timing.is_file() else manifest_timing(out)
    info["first_extraction"] = first
    print(
        f"store {out.name}: {len(report.done)} clips extracted, {len(report.skipped)} reused, "
        f"in {info['wall_s']:.1f} s ({cfg.backbone}, {frames} uniform frames; extraction of "
        f"{first.get('extracted', '?')} clips took {first.get('extract_s', '?')} s)",
        flush=True,
    )
    return info


def manifest_timing(store: Path) -> dict[str, Any]:
    """Extraction time of a store made elsewhere: the sum of its clips' recorded seconds (one
    decode worker on 2 cores, so about the wall time)."""
    from vidscope import open_store

    manifest = open_store(store).manifest()
    return {
        "extracted": len(manifest),
        "extract_s": round(float(manifest["seconds"].sum()), 1),
        "source": "sum of the manifest's per-clip seconds",
    }


def label_options(labels_csv: Path) -> Any:
    from vidscope.train import LabelOptions

    return LabelOptions(labels=labels_csv, group_column=GROUP_COLUMN)


def grouped_splits(labels: Any, seed: int) -> list[Any]:
    """The 5 grouped folds every method uses for ``seed``; checks that no group straddles."""
    from vidscope.data import make_splits

    splits = make_splits(labels, mode="kfold", folds=FOLDS, seed=seed)
    for s in splits:
        shared = set(labels.groups[s.train]) & set(labels.groups[s.val])
        if shared:
            raise RuntimeError(f"seed {seed} {s.name}: groups in train and val: {shared}")
    return splits


# ---------------------------------------------------------------------------------------------
# methods: the heads (through compare) and the logistic-regression floor


def fold_metrics(report: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The numbers kept per fold from a ``classification_report``."""
    per_class = {r["label"]: r for r in report["per_class"]}
    return {
        "accuracy": report["accuracy"],
        "balanced_accuracy": report["balanced_accuracy"],
        "f1_fight": per_class[TARGET]["f1"],
        "f1_positive": report["f1"],
        "roc_auc": report["roc_auc"],
        "threshold": report["threshold"],
        "num_samples": report["num_samples"],
        **(extra or {}),
    }


def run_head(
    store: Path, labels_csv: Path, head: str, seed: int, cfg: Any, tag: str
) -> dict[str, Any]:
    """One head through ``compare`` on the grouped folds of ``seed``; per-fold metrics."""
    from vidscope.train import compare

    out = RUNS / tag / f"seed{seed}"
    shutil.rmtree(out / head, ignore_errors=True)
    cfg = replace(cfg, split="kfold", folds=FOLDS, seed=seed)
    row = compare(store, label_options(labels_csv), heads=[head], out=out, config=cfg)[0]
    folds = []
    for i in range(FOLDS):
        m = json.loads((out / head / f"fold{i}" / "metrics.json").read_text())
        extra = {"seed": seed, "fold": i, "best_epoch": m["best_epoch"]}
        extra["epochs_run"] = m["epochs_run"]
        folds.append(fold_metrics(m["test"] or m["val"], extra))  # held-out fold
    return {"folds": folds, "params": row["params"], "train_s": row["train_s"], "dir": out}


def last_epoch_folds(
    data: Any, splits: list[Any], run_dir: Path, head: str, cfg: Any
) -> list[dict[str, Any]]:
    """Score each fold's last-epoch weights (``checkpoints/last``) at threshold 0.5."""
    import torch
    from safetensors.torch import load_file

    from vidscope.data import pad
    from vidscope.evaluate import classification_report
    from vidscope.models import create_head

    folds = []
    for i, s in enumerate(splits):
        shape = {"num_features": data.num_features, "num_outputs": 1, "layout": data.layout}
        model = create_head(head, **shape, **cfg.head_options)
        tensors = load_file(str(run_dir / head / f"fold{i}" / "checkpoints" / "last.safetensors"))
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        model.eval()
        x, mask = pad([data.features[j] for j in s.val])
        with torch.inference_mode():
            p = torch.sigmoid(model(torch.from_numpy(x), torch.from_numpy(mask))[:, 0]).double()
        report = classification_report(
            data.labels.y[s.val], p.numpy(), labels=data.labels.classes, threshold=0.5
        )
        folds.append(fold_metrics(report, {"fold": i}))
    return folds


def run_floor(data: Any, splits: list[Any], seed: int) -> dict[str, list[dict[str, Any]]]:
    """Logistic regression on standardised mean-pooled features: at 0.5 and at a val threshold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from vidscope.evaluate import choose_threshold, classification_report

    x = np.stack([f.mean(axis=0) for f in data.features])  # [N, D]
    y, classes = data.labels.y, data.labels.classes
    out: dict[str, list[dict[str, Any]]] = {FLOOR: [], f"{FLOOR}@valthr": []}
    for i, s in enumerate(splits):
        start = time.monotonic()
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        model.fit(x[s.train], y[s.train])
        p = model.predict_proba(x[s.val])[:, 1]  # probability of class 1 (= classes[1])
        extra = {"seed": seed, "fold": i, "fit_s": time.monotonic() - start}
        for name, thr in ((FLOOR, 0.5), (f"{FLOOR}@valthr", choose_threshold(y[s.val], p))):
            report = classification_report(y[s.val], p, labels=classes, threshold=thr)
            out[name].append(fold_metrics(report, extra))
    return out


def floor_params(num_features: int) -> int:
    return num_features + 1


# ---------------------------------------------------------------------------------------------
# summaries, ranking, table


def summarise(name: str, folds: list[dict[str, Any]], params: int, train_s: float) -> dict:
    """Mean ± population std over all folds x seeds of the table's metrics."""
    row: dict[str, Any] = {"method": name, "params": params, "train_s": round(train_s, 2)}
    for key in ("accuracy", "balanced_accuracy", "f1_fight", "roc_auc"):
        values = np.array([f[key] for f in folds if f[key] is not None], dtype=float)
        row[key] = float(values.mean())
        row[f"{key}_std"] = float(values.std(ddof=0))
    seeds = sorted({f.get("seed", 0) for f in folds})
    per_seed = [np.mean([f["roc_auc"] for f in folds if f.get("seed", 0) == s]) for s in seeds]
    row["roc_auc_seed_std"] = float(np.std(per_seed)) if len(per_seed) > 1 else None
    epochs = [f["best_epoch"] for f in folds if f.get("epochs_run", 0) > 1]  # neural only
    row["best_epoch_mean"] = float(np.mean(epochs)) if epochs else None
    row["num_folds"] = len(folds)
    row["folds"] = folds
    return row


def paired_delta(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> tuple[float, float]:
    """Mean and standard error of the per-fold ROC-AUC difference ``a - b`` (same folds)."""
    d = np.array([x["roc_auc"] - y["roc_auc"] for x, y in zip(a, b, strict=True)])
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(d.mean()), se


def recommend(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Best mean ROC-AUC; of the heads within one paired standard error of it, the simplest."""
    heads = [r for r in rows if r["method"] in SIMPLICITY]
    if not heads:
        return {}
    best = max(heads, key=lambda r: r["roc_auc"])
    tied = []
    for r in rows:  # the floor gets its paired difference too, for the table
        delta, se = paired_delta(r["folds"], best["folds"])
        r["delta_auc_vs_best"], r["delta_auc_se"] = delta, se
        if r["method"] in SIMPLICITY and (r is best or (se > 0 and abs(delta) / se < TIE_T)):
            tied.append(r)
    pick = min(tied, key=lambda r: SIMPLICITY.index(r["method"]))
    return {
        "best_auc": best["method"],
        "tied_with_best": [r["method"] for r in tied],
        "recommended": pick["method"],
        "rule": "simplest head within 1 paired SE of the best mean ROC-AUC (1-SE rule)",
    }


def pm(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.3f} ± {row[key + '_std']:.3f}"


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    head = (
        f"{'method':<38} {'accuracy':>15} {'F1 (fight)':>15} {'ROC-AUC':>15} "
        f"{'ΔAUC (paired)':>15} {'params':>9} {'train s':>8} {'best ep':>7}"
    )
    print(f"\n{title}\n{head}\n{'-' * len(head)}")
    for r in rows:
        delta = r.get("delta_auc_vs_best")
        d = f"{delta:+.3f} ± {r['delta_auc_se']:.3f}" if delta is not None else ""
        ep = f"{r['best_epoch_mean']:.1f}" if r.get("best_epoch_mean") is not None else ""
        print(
            f"{r['method']:<38} {pm(r, 'accuracy'):>15} {pm(r, 'f1_fight'):>15} "
            f"{pm(r, 'roc_auc'):>15} {d:>15} {r['params']:>9} {r['train_s']:>8.1f} {ep:>7}"
        )


# ---------------------------------------------------------------------------------------------
# the two experiments


def main_table(args: argparse.Namespace, labels_csv: Path, store: Path) -> list[dict[str, Any]]:
    """Every head and the floor, over ``--seeds``; one summary row each."""
    from vidscope.models import list_heads
    from vidscope.train import TrainConfig, load_data

    heads = [h for h in args.heads.split(",") if h] or list_heads()
    _, data = load_data(store, label_options(labels_csv), allow_missing=False)
    floor: dict[str, list[dict[str, Any]]] = {}
    for seed in args.seed_list:
        for name, folds in run_floor(data, grouped_splits(data.labels, seed), seed).items():
            floor.setdefault(name, []).extend(folds)
    fit_s = sum(f["fit_s"] for f in floor[FLOOR]) / len(args.seed_list)
    rows = [summarise(n, f, floor_params(data.num_features), fit_s) for n, f in floor.items()]
    for head in heads:
        options: dict[str, Any] = {}
        if head == "stats_xgboost":
            options = {"n_estimators": args.xgb_estimators, "n_jobs": args.threads}
        cfg = TrainConfig(head_options={k: v for k, v in options.items() if v is not None})
        folds, seconds, params = [], 0.0, 0
        for seed in args.seed_list:
            res = run_head(store, labels_csv, head, seed, cfg, f"main_f{args.frames}")
            folds += res["folds"]
            seconds += res["train_s"] / len(args.seed_list)
            params = res["params"]
        rows.append(summarise(head, folds, params, seconds))
        r = rows[-1]
        print(f"  {head}: ROC-AUC {pm(r, 'roc_auc')}  ({seconds:.1f} s / seed)", flush=True)
    return rows


def sweep_variant(
    v: Variant, args: argparse.Namespace, labels_csv: Path, stores: dict[int, Path]
) -> list[dict[str, Any]]:
    """One sweep variant for each of its heads, over ``--seeds``."""
    from vidscope.train import TrainConfig, load_data

    frames = v.frames or args.frames
    store = stores[frames]
    _, data = load_data(store, label_options(labels_csv), allow_missing=False)
    sweep_heads = [h for h in args.sweep_heads.split(",") if h]
    rows = []
    for head in [h for h in sweep_heads if v.heads is None or h in v.heads]:
        cfg = TrainConfig(**v.train, head_options=dict(v.head_options))
        folds, last, seconds, params = [], [], 0.0, 0
        for seed in args.seed_list:
            res = run_head(store, labels_csv, head, seed, cfg, f"sweep_f{frames}")
            folds += res["folds"]
            if v.last_epoch:
                splits = grouped_splits(data.labels, seed)
                for f in last_epoch_folds(data, splits, res["dir"], head, cfg):
                    last.append({**f, "seed": seed})
            seconds += res["train_s"] / len(args.seed_list)
            params = res["params"]
        rows.append(summarise(f"{head} | {v.name}", folds, params, seconds))
        if last:
            rows.append(summarise(f"{head} | {v.name} @last", last, params, seconds))
        print(f"  {rows[-1]['method']}: ROC-AUC {pm(rows[-1], 'roc_auc')}", flush=True)
    return rows


def sweep_recommendation(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Each variant against its own head's defaults (paired, same folds); the best overall."""
    base = {r["method"].split(" | ")[0]: r for r in rows if r["method"].endswith("| defaults")}
    for r in rows:
        ref = base.get(r["method"].split(" | ")[0])
        if ref is not None and len(ref["folds"]) == len(r["folds"]):
            r["delta_auc_vs_best"], r["delta_auc_se"] = paired_delta(r["folds"], ref["folds"])
    better = [
        r["method"]
        for r in rows
        if r.get("delta_auc_se")
        and r["delta_auc_vs_best"] > max(TIE_T * r["delta_auc_se"], MIN_GAIN)
    ]
    best = max(rows, key=lambda r: r["roc_auc"])
    return {
        "best_auc": best["method"],
        "better_than_own_defaults": better,
        "better_means": f"paired ΔAUC > max({TIE_T} SE, {MIN_GAIN})",
        "delta_column": "paired ΔAUC against the same head's defaults (mean ± SE)",
    }


# ---------------------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    import sklearn
    import torch

    import vidscope

    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_avg_start": os.getloadavg(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),  # after --threads
        "sklearn": sklearn.__version__,
        "vidscope": vidscope.__version__,
    }


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))
    print(f"\nwrote {path}")


def set_threads(threads: int) -> None:
    """Training threads: 1 by default; on 2 shared cores more threads only wait for each other."""
    import torch

    torch.set_num_threads(threads)


def warm_up() -> None:
    """Pay the one-off imports (matplotlib for the confusion-matrix plots, torch's optimizer
    machinery, scikit-learn's splitters) before anything is timed, so that they do not land
    in the first head's training seconds."""
    import matplotlib.pyplot  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import torch

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1e-3)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    labels_csv = require_data()
    set_threads(args.threads)
    warm_up()
    start = time.monotonic()
    env = environment()
    frames = {args.frames} | ({8, 16} if args.sweep else set())
    stores = {n: ensure_store(labels_csv, n) for n in sorted(frames)}
    store = Path(stores[args.frames]["store"])
    rows = main_table(args, labels_csv, store)
    rec = recommend(rows)
    rows.sort(key=lambda r: -r["roc_auc"])
    print_table(rows, f"grouped {FOLDS}-fold CV, seeds {args.seeds}, {args.frames} frames")
    print(
        f"\n{FLOOR}: threshold 0.5 (nothing chosen on validation); @valthr and the heads: "
        "threshold (max F1 of noFight) and, for neural heads, best epoch (max ROC-AUC) chosen "
        "on the validation fold: their accuracy/F1 are optimistic. F1 is that of 'fight'. "
        "stats_xgboost 'params' = trees. ΔAUC: paired over the same folds, mean ± SE."
        f"\nrecommended: {rec.get('recommended')} ({rec.get('rule')}; tied: "
        f"{', '.join(rec.get('tied_with_best', []))})"
    )
    payload = {"env": env, "args": vars(args), "extraction": stores, "results": rows}
    payload["recommendation"] = rec
    if args.sweep:
        paths = {n: Path(s["store"]) for n, s in stores.items()}
        sweep = [r for v in SWEEP for r in sweep_variant(v, args, labels_csv, paths)]
        payload["sweep_recommendation"] = sweep_recommendation(sweep)
        print_table(sweep, f"sweep, seeds {args.seeds}; ΔAUC: paired vs the same head's defaults")
        print(f"\nsweep: {payload['sweep_recommendation']}")
        payload["sweep"] = sweep
    payload["wall_s"] = round(time.monotonic() - start, 1)
    print(f"\nwall time {payload['wall_s']:.0f} s")
    name = "accuracy_fight_sweep.json" if args.sweep else "accuracy_fight.json"
    write_json(WORK / name, payload)
    if not args.keep_runs:
        shutil.rmtree(RUNS, ignore_errors=True)


if __name__ == "__main__":
    main()
