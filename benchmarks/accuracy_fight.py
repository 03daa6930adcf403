"""Accuracy of every temporal head on real surveillance clips, under grouped cross-validation.

Data: the 150 two-second clips of ``../shared/data/fight-surv-dev/`` (71 fight, 79 noFight,
36 source groups; ``labels.csv``: path, label, source_group, duration_s). Clips of one source
video share a ``source_group``; folds split by group, never by clip.

What it does, for each backbone in ``--backbone`` (default ``efficientnet_lite0``):

1. Extraction, once: ``--frames`` uniform frames per clip into
   ``benchmarks/_work/fight_store_<frames><suffix>/`` (no suffix for ``efficientnet_lite0``,
   ``_flow`` for ``efficientnet_lite0+flow``, else ``_<backbone>``). A later run reuses the store.
2. Every head (``vidscope.models.list_heads()``, or ``--heads``) through
   ``vidscope.training.compare`` with ``split="kfold", folds=5``, the label file's ``source_group``
   as groups, once per fold seed in ``--seeds``; all else library defaults.
3. The floor: scikit-learn ``LogisticRegression`` (C=1.0) on standardised mean-pooled features
   on the same folds: ``logreg_mean`` fit on train + inner val at threshold 0.5, and
   ``logreg_mean@valthr`` fit on train with its threshold picked on the inner val.

Protocol (the library's k-fold since 2fba9ff): each of the 5 grouped folds is the held-out
``test`` fold once; the other four are split again by group (80/20) into ``train`` and an inner
``val`` on which the heads pick their best epoch and decision threshold. Every figure is
scored on the held-out fold only, so nothing is selected on the videos that score it.
``fight`` is class 1 (the library names the event class: ``noFight`` reads as its absence;
tables made before that rule had ``noFight`` as class 1); F1 is that of ``fight``. Metrics:
mean ± population std over folds x seeds. Several backbones: a last table pairs each one with
the first over the same folds. ``--parts``: logistic regression on mean/max/std-pooled parts of
fused backbones (appearance alone, motion alone, both).

``--levers`` (issue 16) instead prints one table of every lever tried against today's best
(``efficientnet_lite0+flow`` with ``stats_xgboost``): other backbones, tiles, the flow grid,
refitting on train + inner val and probability ensembles, paired per fold, plus each encoder's
CPU cost per frame (``_fight_levers.py`` defines the rows, ``_fight_levers_run.py`` runs them).

``--preset`` (issue 16) runs each ``vidscope.training.PRESETS`` recipe end to end through the
library: its real store (the ``accurate`` preset's fused ``efficientnet_lite0+efficientnet_lite2
+flow`` extraction), ``preset_config`` through ``compare`` with inner validation and refit, the
grouped-CV row paired per fold with today's best, and each backbone's extraction frames/s
(``_fight_preset.py``).

``--thresholds`` (issue 16) measures decision-threshold policies (inner validation, 0.5, class
prior, cross-fitted over train + inner val) on today's best and the best ensemble, with and
without refit, paired per fold with today's policy (``_fight_thresholds.py``).

``--ensemble`` (issue 16) runs ``compare --ensemble`` (the top heads of stats_xgboost, mlp and
conv1d on each fold's inner validation, averaged, written as a run) and ``train --head auto``
through the library on the ``efficientnet_lite0+flow`` store with ``--refit``, plus K = 3 and
rank averaging from the same fits, paired per fold with today's best (``_fight_ensemble.py``).

``--crops`` (issue 16) trains today's best with temporal-crop augmentation (random sub-windows
or frame dropouts of each training clip as extra rows; optional test-time crops), paired per
fold with today's best (``_fight_crops.py``).

``--sweep`` then trains the ``--sweep-heads`` heads (first backbone) under variants of the
training defaults (lr, weight decay, class weights, epochs, MLP width / dropout, pooling, 8 vs
16 frames, fixed-length training scored at its last epoch at 0.5, the threshold rule), each
paired against its head's defaults; held-out folds as above.

Run::

    python benchmarks/accuracy_fight.py [--frames 16] [--seeds 0,1,2] [--heads mlp,lstm]
        [--backbone efficientnet_lite0,efficientnet_lite0+flow,mobilenet_v2] [--parts]
        [--xgb-estimators 300] [--threads 1]
    python benchmarks/accuracy_fight.py --seeds 0,1,2 --sweep [--sweep-heads mean_linear,mlp]
    python benchmarks/accuracy_fight.py --levers [0,2,...] [--no-cache]
    python benchmarks/accuracy_fight.py --preset [accurate,fast] [--cost-clips 20]
    python benchmarks/accuracy_fight.py --ensemble [--seeds 0,1,2]
    python benchmarks/accuracy_fight.py --thresholds [--no-cache]
    python benchmarks/accuracy_fight.py --crops [--seeds 0,1,2]

One torch / XGBoost thread by default (``--threads``): on 2 cores shared with other jobs more
threads made training slower with the same scores. Results: ``benchmarks/_work/
accuracy_fight[<suffixes>][_sweep].json``; runs in ``_work/accuracy_fight_runs<same>/``
(removed unless ``--keep-runs``). Default run (all heads, seeds 0,1,2): 6-8 minutes on the 2
shared cores (load 1-6) once the store exists; three backbones 23; ``--sweep --sweep-heads mlp``
about 10 more.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from _fight_common import (
    FLOOR,
    environment,
    fold_metrics,
    last_epoch_folds,
    manifest_timing,
    paired_delta,
    part_floor,
    pm,
    print_table,
    run_floor,
    set_threads_and_warm_up,
    summarise,
    write_json,
)

HERE = Path(__file__).resolve()
DATA = HERE.parents[2] / "shared" / "data" / "fight-surv-dev"
WORK = HERE.parent / "_work"
FOLDS = 5
GROUP_COLUMN = "source_group"
DEFAULT_BACKBONE = "efficientnet_lite0"
STORE_SUFFIX = {DEFAULT_BACKBONE: "", "efficientnet_lite0+flow": "_flow"}  # existing stores
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
    Variant("threshold=balanced_accuracy", {"threshold": "balanced_accuracy"}),
    Variant("threshold=fixed (0.5)", {"threshold": "fixed"}),
)


# ---------------------------------------------------------------------------------------------
# data, extraction and folds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=16, help="uniform frames per clip (16)")
    p.add_argument("--seeds", default="0,1,2", help="fold seeds, comma-separated (0,1,2)")
    p.add_argument("--heads", default="", help="heads, comma-separated (all registered)")
    p.add_argument(
        "--backbone",
        default=DEFAULT_BACKBONE,
        help=f"backbone(s), comma-separated; the first is the reference ({DEFAULT_BACKBONE})",
    )
    p.add_argument("--parts", action="store_true", help="logistic regression per fused part")
    p.add_argument("--xgb-estimators", type=int, default=None, help="stats_xgboost trees (300)")
    p.add_argument(
        "--levers",
        nargs="?",
        const="all",
        default=None,
        help="issue 16's levers table (all, or comma-separated row numbers, 0 = today's best)",
    )
    p.add_argument(
        "--thresholds",
        action="store_true",
        help="issue 16: decision-threshold policies (validation, 0.5, class prior, cross-fitted) "
        "on today's best and the best ensemble, paired per fold (_fight_thresholds.py)",
    )
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="issue 16: compare --ensemble (top heads on inner val) and --head auto through the "
        "library on the lite0+flow store, paired per fold with today's best (_fight_ensemble.py)",
    )
    p.add_argument(
        "--crops",
        action="store_true",
        help="issue 16: temporal-crop augmentation of stats_xgboost on the lite0+flow store, "
        "paired per fold with today's best (_fight_crops.py)",
    )
    p.add_argument(
        "--preset",
        nargs="?",
        const="all",
        default=None,
        help="each --preset recipe (all, or comma-separated names) end to end through the "
        "library against today's best, with extraction frames/s",
    )
    p.add_argument(
        "--preset-diagnose",
        action="store_true",
        help="train the accurate preset on composed stores that take each part from another "
        "extraction (why fused and composed figures differ; with or without --preset)",
    )
    p.add_argument(
        "--cost-clips",
        type=int,
        default=20,
        help="--preset: clips re-extracted per backbone to measure frames/s (0 = skip)",
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="--levers: recompute every row (default: reuse a row's per-fold results when its "
        "sources, settings and seeds are unchanged)",
    )
    p.add_argument("--sweep", action="store_true", help="also sweep the training defaults")
    p.add_argument("--sweep-heads", default="mean_linear,mlp", help="heads for --sweep")
    p.add_argument("--keep-runs", action="store_true", help="keep _work/accuracy_fight_runs<tag>/")
    p.add_argument("--threads", type=int, default=1, help="torch / XGBoost threads (1)")
    args = p.parse_args(argv)
    args.seed_list = [int(s) for s in args.seeds.split(",") if s.strip()]
    args.backbones = [b.strip() for b in args.backbone.split(",") if b.strip()]
    many = "".join(suffix(b) or "_lite0" for b in args.backbones)
    args.tag = many if len(args.backbones) > 1 else suffix(args.backbones[0])
    args.runs = WORK / f"accuracy_fight_runs{args.tag}"
    return args


def suffix(backbone: str) -> str:
    return STORE_SUFFIX.get(backbone, "_" + re.sub(r"[^A-Za-z0-9]+", "_", backbone))


def require_data() -> Path:
    """The label file, or exit with a message saying what is missing."""
    labels = DATA / "labels.csv"
    if not labels.is_file():
        sys.exit(
            f"accuracy_fight: {labels} not found. This benchmark needs the fight-surv-dev clips "
            f"in {DATA} (the project's ../shared/data/ folder beside the repository)."
        )
    return labels


def ensure_store(
    labels_csv: Path, frames: int, backbone: str, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Extract (or resume / skip) the store of ``backbone`` (with ``--backbone-option``
    ``options``) at ``frames`` uniform frames."""
    from vidscope import ExtractConfig, SamplingSpec
    from vidscope.features import extract

    opts = dict(options or {})
    tag = "".join(f"_{k}{v}" for k, v in sorted(opts.items()))
    out = WORK / f"fight_store_{frames}{suffix(backbone)}{re.sub(r'[^A-Za-z0-9_]+', '', tag)}"
    cfg = ExtractConfig(
        backbone=backbone, sampling=SamplingSpec("uniform", frames), backbone_options=opts
    )
    start = time.monotonic()
    report = extract(str(labels_csv), out, cfg, progress=False, path_column="path")
    info = {
        "store": str(out),
        "frames": frames,
        "backbone": cfg.backbone,
        "backbone_options": opts,
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
        f"in {info['wall_s']:.1f} s ({backbone}, {frames} uniform frames; extraction of "
        f"{first.get('extracted', '?')} clips took {first.get('extract_s', '?')} s)",
        flush=True,
    )
    return info


def label_options(labels_csv: Path) -> Any:
    from vidscope.training import LabelOptions

    return LabelOptions(labels=labels_csv, group_column=GROUP_COLUMN)


def grouped_splits(labels: Any, seed: int) -> list[Any]:
    """The 5 folds every method uses for ``seed`` (the library's defaults: held-out ``test``
    fold, inner grouped ``val``). Checks that no group straddles train, val and test and that
    the test folds cover every clip once."""
    from vidscope.data import make_splits

    splits = make_splits(labels, mode="kfold", folds=FOLDS, seed=seed)
    for s in splits:
        parts = {"train": s.train, "val": s.val, "test": s.test}
        if min(len(v) for v in parts.values()) == 0:
            raise RuntimeError(f"seed {seed} {s.name}: an empty part: no inner validation?")
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = set(labels.groups[parts[a]]) & set(labels.groups[parts[b]])
            if shared:
                raise RuntimeError(f"seed {seed} {s.name}: groups in {a} and {b}: {shared}")
    if sorted(np.concatenate([s.test for s in splits]).tolist()) != list(range(len(labels.y))):
        raise RuntimeError(f"seed {seed}: the test folds do not cover every clip once")
    return splits


def fold_ids(labels: Any, seed_list: list[int]) -> list[list[str]]:
    """The clip ids of every test fold, seed by seed: pairs backbones only on identical folds."""
    return [
        sorted(labels.ids[i] for i in s.test)
        for seed in seed_list
        for s in grouped_splits(labels, seed)
    ]


# ---------------------------------------------------------------------------------------------
# the heads, scored on the held-out folds


def run_head(
    store: Path, labels_csv: Path, head: str, seed: int, cfg: Any, out: Path
) -> dict[str, Any]:
    """One head through ``compare`` on the grouped folds of ``seed``; per-fold test metrics."""
    from vidscope.training import compare

    out = out / f"seed{seed}"
    shutil.rmtree(out / head, ignore_errors=True)
    cfg = replace(cfg, split="kfold", folds=FOLDS, seed=seed)
    row = compare(store, label_options(labels_csv), heads=[head], out=out, config=cfg)[0]
    if row["scope"] != "test":
        raise RuntimeError(f"{head}: compare scored {row['scope']!r}, not held-out folds")
    folds = []
    for i in range(FOLDS):
        m = json.loads((out / head / f"fold{i}" / "metrics.json").read_text())
        extra = {"seed": seed, "fold": i, "best_epoch": m["best_epoch"]}
        extra["epochs_run"] = m["epochs_run"]
        folds.append(fold_metrics(m["test"], extra))  # the held-out fold
    return {"folds": folds, "params": row["params"], "train_s": row["train_s"], "dir": out}


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


# ---------------------------------------------------------------------------------------------
# the experiments


def main_table(
    args: argparse.Namespace, labels_csv: Path, store: Path, backbone: str
) -> dict[str, Any]:
    """Every head and the floor on one backbone's store, over ``--seeds``."""
    from vidscope.models import list_heads
    from vidscope.training import TrainConfig, load_data

    # ensemble: members are chosen per store (see --preset), not a head to run bare
    heads = [h for h in args.heads.split(",") if h] or [h for h in list_heads() if h != "ensemble"]
    _, data = load_data(store, label_options(labels_csv), allow_missing=False)
    floor: dict[str, list[dict[str, Any]]] = {}
    parts: dict[str, list[float]] = {}
    for seed in args.seed_list:
        splits = grouped_splits(data.labels, seed)
        for name, folds in run_floor(data, splits, seed).items():
            floor.setdefault(name, []).extend(folds)
        if args.parts and len(data.layout) > 1:
            for name, aucs in part_floor(data, splits, seed).items():
                parts.setdefault(name, []).extend(aucs)
    fit_s = sum(f["fit_s"] for f in floor[FLOOR]) / len(args.seed_list)
    rows = [summarise(n, f, data.num_features + 1, fit_s) for n, f in floor.items()]
    for head in heads:
        options: dict[str, Any] = {}
        if head == "stats_xgboost":
            options = {"n_estimators": args.xgb_estimators, "n_jobs": args.threads}
        cfg = TrainConfig(head_options={k: v for k, v in options.items() if v is not None})
        folds, seconds, params = [], 0.0, 0
        for seed in args.seed_list:
            out = args.runs / f"main_f{args.frames}{suffix(backbone)}"
            res = run_head(store, labels_csv, head, seed, cfg, out)
            folds += res["folds"]
            seconds += res["train_s"] / len(args.seed_list)
            params = res["params"]
        rows.append(summarise(head, folds, params, seconds))
        r = rows[-1]
        print(f"  {backbone} {head}: ROC-AUC {pm(r, 'roc_auc')}  ({seconds:.1f} s / seed)")
    rec = recommend(rows)
    rows.sort(key=lambda r: -r["roc_auc"])
    parts_auc = {k: [float(x) for x in v] for k, v in parts.items()}  # per fold
    ids = fold_ids(data.labels, args.seed_list)
    return {"rows": rows, "recommendation": rec, "parts_roc_auc": parts_auc, "fold_ids": ids}


def compare_backbones(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each method on each backbone, paired with the first backbone over the same folds."""
    names = list(results)
    ref = results[names[0]]
    if any(results[n]["fold_ids"] != ref["fold_ids"] for n in names[1:]):
        raise RuntimeError("backbones' stores give different folds: cannot pair them")
    print(f"\nbackbones, paired with {names[0]} (ΔAUC: mean ± SE over the same folds)")
    out = []
    for row in ref["rows"]:
        for n in names:
            other = next((r for r in results[n]["rows"] if r["method"] == row["method"]), None)
            if other is None:
                continue
            delta, se = paired_delta(other["folds"], row["folds"]) if n != names[0] else (0, 0)
            out.append({"method": row["method"], "backbone": n, "delta_auc": delta, "se": se})
            print(
                f"  {row['method']:<20} {n:<28} ROC-AUC {pm(other, 'roc_auc')}  accuracy "
                f"{pm(other, 'accuracy')}  F1 (fight) {pm(other, 'f1_fight')}  "
                f"ΔAUC {delta:+.3f} ± {se:.3f}"
            )
    return out


def sweep_variant(
    v: Variant, args: argparse.Namespace, labels_csv: Path, stores: dict[int, Path]
) -> list[dict[str, Any]]:
    """One sweep variant for each of its heads, over ``--seeds``."""
    from vidscope.training import TrainConfig, load_data

    frames = v.frames or args.frames
    store = stores[frames]
    _, data = load_data(store, label_options(labels_csv), allow_missing=False)
    sweep_heads = [h for h in args.sweep_heads.split(",") if h]
    rows = []
    for head in [h for h in sweep_heads if v.heads is None or h in v.heads]:
        cfg = TrainConfig(**v.train, head_options=dict(v.head_options))
        folds, last, seconds, params = [], [], 0.0, 0
        for seed in args.seed_list:
            out = args.runs / f"sweep_f{frames}{suffix(args.backbones[0])}"
            res = run_head(store, labels_csv, head, seed, cfg, out)
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
    return {
        "best_auc": max(rows, key=lambda r: r["roc_auc"])["method"],
        "better_than_own_defaults": better,
        "better_means": f"paired ΔAUC > max({TIE_T} SE, {MIN_GAIN})",
        "delta_column": "paired ΔAUC against the same head's defaults (mean ± SE)",
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    labels_csv = require_data()
    set_threads_and_warm_up(args.threads)
    # BLAS threads too (the tree head's PCA): on the shared 2-core machine, 2 spinning
    # OpenBLAS threads made a stats_xgboost fold cost about 3x the CPU of one thread
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    start = time.monotonic()
    payload: dict[str, Any] = {"env": environment(), "args": vars(args), "protocol": "test"}
    if args.preset or args.preset_diagnose:
        import _fight_preset as fp

        if args.preset:
            payload["presets"] = fp.run_presets(args, labels_csv, sys.modules[__name__])
        if args.preset_diagnose:
            payload["diagnose"] = fp.diagnose(args, labels_csv, sys.modules[__name__])
        payload["wall_s"] = round(time.monotonic() - start, 1)
        print(f"\nwall time {payload['wall_s']:.0f} s")
        name = "presets" if args.preset else "presets_diagnose"
        write_json(WORK / f"accuracy_fight_{name}.json", payload)
        if not args.keep_runs:
            shutil.rmtree(args.runs, ignore_errors=True)
        return
    if args.thresholds:
        from _fight_thresholds import run_thresholds

        payload["thresholds"] = run_thresholds(args, labels_csv, sys.modules[__name__])
        payload["wall_s"] = round(time.monotonic() - start, 1)
        print(f"\nwall time {payload['wall_s']:.0f} s")
        write_json(WORK / "accuracy_fight_thresholds.json", payload)
        return
    if args.crops:
        from _fight_crops import run_crops

        payload["crops"] = run_crops(args, labels_csv, sys.modules[__name__])
        payload["wall_s"] = round(time.monotonic() - start, 1)
        print(f"\nwall time {payload['wall_s']:.0f} s")
        write_json(WORK / "accuracy_fight_crops.json", payload)
        return
    if args.ensemble:
        from _fight_ensemble import run_ensemble

        payload["ensemble"] = run_ensemble(args, labels_csv, sys.modules[__name__])
        payload["wall_s"] = round(time.monotonic() - start, 1)
        print(f"\nwall time {payload['wall_s']:.0f} s")
        write_json(WORK / "accuracy_fight_ensemble.json", payload)
        if not args.keep_runs:
            shutil.rmtree(args.runs, ignore_errors=True)
        return
    if args.levers:
        from _fight_levers_run import run_levers

        payload["levers"] = run_levers(args, labels_csv, sys.modules[__name__])
        payload["wall_s"] = round(time.monotonic() - start, 1)
        print(f"\nwall time {payload['wall_s']:.0f} s")
        write_json(WORK / "accuracy_fight_levers.json", payload)
        if not args.keep_runs:
            shutil.rmtree(args.runs, ignore_errors=True)
        return
    results: dict[str, dict[str, Any]] = {}
    for backbone in args.backbones:
        info = ensure_store(labels_csv, args.frames, backbone)
        res = main_table(args, labels_csv, Path(info["store"]), backbone)
        results[backbone] = {"extraction": info, **res}
        title = f"{backbone}: grouped {FOLDS}-fold CV, seeds {args.seeds}, {args.frames} frames"
        print_table(res["rows"], title + ", scored on the held-out folds")
        rec = res["recommendation"]
        print(
            f"{FLOOR}: fit on train + inner val, threshold 0.5. @valthr and the heads: fit on "
            "train; threshold (max balanced accuracy) and, for neural heads, best epoch (ROC-AUC) "
            "picked on the inner val. F1 is that of 'fight'. stats_xgboost 'params' = trees. "
            f"ΔAUC: paired vs the best, mean ± SE.\nrecommended: {rec.get('recommended')} "
            f"({rec.get('rule')}; tied: {', '.join(rec.get('tied_with_best', []))})"
        )
        for name, aucs in res["parts_roc_auc"].items():
            a, first = np.array(aucs), next(iter(res["parts_roc_auc"]))
            d = a - np.array(res["parts_roc_auc"][first])  # paired with the first part
            print(
                f"  parts: logreg on mean/max/std-pooled {name}: ROC-AUC {a.mean():.3f} ± "
                f"{a.std():.3f}; vs {first} {d.mean():+.3f} ± {d.std(ddof=1) / len(d) ** 0.5:.3f}"
            )
    payload["backbones"] = results
    if len(results) > 1:
        payload["backbone_pairs"] = compare_backbones(results)
    if args.sweep:
        frames = {args.frames, 8, 16}
        stores = {n: ensure_store(labels_csv, n, args.backbones[0]) for n in sorted(frames)}
        paths = {n: Path(s["store"]) for n, s in stores.items()}
        sweep = [r for v in SWEEP for r in sweep_variant(v, args, labels_csv, paths)]
        payload["sweep_recommendation"] = sweep_recommendation(sweep)
        print_table(sweep, f"sweep ({args.backbones[0]}, held-out folds); ΔAUC vs own defaults")
        print(f"\nsweep: {payload['sweep_recommendation']}")
        payload["sweep"] = sweep
    payload["wall_s"] = round(time.monotonic() - start, 1)
    print(f"\nwall time {payload['wall_s']:.0f} s")
    write_json(WORK / f"accuracy_fight{args.tag}{'_sweep' if args.sweep else ''}.json", payload)
    if not args.keep_runs:
        shutil.rmtree(args.runs, ignore_errors=True)


if __name__ == "__main__":
    main()
