"""The ``--levers`` run of ``accuracy_fight.py``: every row of :func:`_fight_levers.levers`
trained and scored on the held-out folds (or read from its cache), the ensembles, the paired
table against today's best, and the encoders' CPU cost per frame."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import _fight_levers as fl
import numpy as np
from _fight_levers import Lever


def run_levers(args: argparse.Namespace, labels_csv: Path, af: Any) -> dict[str, Any]:
    """Issue 16's levers: each composed feature set / head / setting on the held-out folds of
    every seed, paired with today's best (``lite0+flow | stats_xgboost``) over the same folds.

    Args:
        args: ``accuracy_fight.py``'s arguments (``--levers``, ``--seeds``, ``--threads``...).
        labels_csv: The clips' label file.
        af: The ``accuracy_fight`` module (its stores, folds and runners).
    """
    table = fl.levers()
    if args.levers != "all":
        table = [table[int(i)] for i in args.levers.split(",")]
        if table[0].name != fl.BASELINE:
            table.insert(0, fl.levers()[0])
    names = {t.name for t in table}
    for ens in [t for t in table if isinstance(t, fl.Ensemble)]:
        if any(m not in names for m in ens.members):
            sys.exit(f"accuracy_fight: --levers: {ens.name!r} needs the rows {ens.members}")
    sources = {}
    for name in fl.needed(table):
        src = fl.SOURCES[name]
        frames = src.frames or args.frames
        sources[name] = af.ensure_store(labels_csv, frames, src.backbone, src.options)
    rows: list[dict[str, Any]] = []
    scores: dict[str, list[tuple[np.ndarray, ...]]] = {}
    ids, classes, truth = None, [], []
    for lever in table:
        if isinstance(lever, fl.Ensemble):
            first = next(r for r in rows if r["method"] == lever.members[0])
            folds = fl.ensemble_folds(lever, scores, first["folds"], classes, truth)
            seconds = sum(r["train_s"] for r in rows if r["method"] in lever.members)
            rows.append(af.summarise(lever.name, folds, len(lever.members), seconds))
            print(f"  {lever.name}: ROC-AUC {af.pm(rows[-1], 'roc_auc')}", flush=True)
            continue
        rows += lever_rows(args, labels_csv, lever, sources, scores, af)
        store = af.WORK / "fight_levers" / fl.slug(lever.name)
        from vidscope.training import load_data

        _, data = load_data(store, af.label_options(labels_csv), allow_missing=False)
        classes = list(data.labels.classes)
        y = data.labels.y
        truth = [(y[s.val], y[s.test]) for seed in args.seed_list
                 for s in af.grouped_splits(data.labels, seed)]  # fmt: skip
        fids = af.fold_ids(data.labels, args.seed_list)
        if ids is not None and fids != ids:
            raise RuntimeError(f"{lever.name}: other folds than today's best: cannot pair")
        ids = fids
    paired(rows, rows[0])
    title = (
        f"issue 16 levers: grouped {af.FOLDS}-fold CV x seeds {args.seeds}, {args.frames} frames, "
        "held-out folds; ΔAUC paired with today's best over the same folds"
    )
    print_levers(rows, title)
    clip = af.DATA / "fight" / "fi001.mp4"
    speed = encode_cost(clip, args.frames)
    print(f"\nencoder cost on {args.frames} frames of {clip.name} (CPU s per frame, best of 3; "
          "frames/s of one busy core; decoding excluded):")  # fmt: skip
    base = speed["efficientnet_lite0"]["cpu_s_per_frame"] + speed["flow"]["cpu_s_per_frame"]
    for n, v in speed.items():
        print(f"  {n:<30} {v['cpu_s_per_frame'] * 1e3:7.1f} ms  {v['frames_per_cpu_s']:7.1f}/s")
    print(f"  (today's best, lite0 + flow: {base * 1e3:.1f} ms per frame)")
    return {"rows": rows, "sources": sources, "encode_cost": speed}


def lever_rows(
    args: argparse.Namespace,
    labels_csv: Path,
    lever: Any,
    sources: dict[str, dict[str, Any]],
    scores: dict[str, list[tuple[np.ndarray, ...]]],
    af: Any,
) -> list[dict[str, Any]]:
    """One lever's row (and its refit row): tree heads and linear probes directly
    (:func:`tree_folds`), other heads through ``compare``."""
    from vidscope.training import TrainConfig, load_data

    stores = {n: Path(sources[n]["store"]) for n in fl.needed([lever])}
    store = fl.compose(lever, stores, af.WORK / "fight_levers" / fl.slug(lever.name))
    _, data = load_data(store, af.label_options(labels_csv), allow_missing=False)
    key = cache_key(lever, stores, args.seed_list, args.threads)
    cached = None if args.no_cache else read_cache(store.parent, lever, key)
    if cached is not None:
        rows, scores[lever.name] = cached
        for r in rows:
            print(f"  {r['method']}: ROC-AUC {af.pm(r, 'roc_auc')} (cached)", flush=True)
        return rows
    folds, refit, seconds, params = [], [], 0.0, lever.head_options.get("n_estimators", 300)
    scores[lever.name] = []
    for seed in args.seed_list:
        start = time.monotonic()
        if lever.head in ("stats_xgboost", "linear_probe"):
            splits = af.grouped_splits(data.labels, seed)
            plain, again, sc = fl.tree_folds(data, splits, lever, seed, args.threads)
            folds, refit = folds + plain, refit + again
            scores[lever.name] += sc
        else:
            cfg = TrainConfig(**lever.train, head_options=dict(lever.head_options))
            res = af.run_head(store, labels_csv, lever.head, seed, cfg, args.runs / store.name)
            folds += res["folds"]
            params = res["params"]
        seconds += (time.monotonic() - start) / len(args.seed_list)
    rows = [af.summarise(lever.name, folds, params, seconds)]
    if refit:
        rows.append(af.summarise(f"{lever.name}, refit train+val", refit, params, seconds))
    for r in rows:
        r["sources"] = sorted(stores)
        print(f"  {r['method']}: ROC-AUC {af.pm(r, 'roc_auc')}", flush=True)
    write_cache(store.parent, lever, key, rows, scores[lever.name])
    return rows


def cache_key(lever: Lever, stores: dict[str, Path], seeds: list[int], threads: int) -> str:
    """What a lever row's results depend on: its settings, seeds, the code that builds its
    parts, and each source store's key and manifest (clip fingerprints)."""
    import hashlib
    import inspect
    import json

    h = hashlib.sha256()
    settings = [lever.name, lever.head, lever.head_options, lever.train, lever.refit, seeds]
    h.update(json.dumps([*settings, threads], sort_keys=True, default=str).encode())
    for part_name, fn in lever.parts:  # how the parts are built
        h.update(part_name.encode())
        h.update(inspect.getsource(fn).encode())
        h.update(repr([c.cell_contents for c in fn.__closure__ or ()]).encode())  # cols(...)
    for name in sorted(stores):
        h.update(name.encode())
        h.update((stores[name] / "store.json").read_bytes())
        h.update((stores[name] / "manifest.parquet").read_bytes())
    return h.hexdigest()[:20]


def read_cache(
    folder: Path, lever: Lever, key: str
) -> tuple[list[dict[str, Any]], list[tuple[np.ndarray, ...]]] | None:
    """The rows and per-fold scores :func:`write_cache` kept for ``key``, or None."""
    import json

    path = folder / f"{fl.slug(lever.name)}.cache.json"
    if not path.is_file():
        return None
    saved = json.loads(path.read_text())
    if saved.get("key") != key:
        return None
    scores = [tuple(np.asarray(a) for a in fold) for fold in saved["scores"]]
    return saved["rows"], scores


def write_cache(
    folder: Path,
    lever: Lever,
    key: str,
    rows: list[dict[str, Any]],
    scores: list[tuple[np.ndarray, ...]],
) -> None:
    import json

    plain = [[np.asarray(a).tolist() for a in fold] for fold in scores]
    path = folder / f"{fl.slug(lever.name)}.cache.json"
    path.write_text(json.dumps({"key": key, "rows": rows, "scores": plain}, default=float))


#: Encoders whose cost the levers table reports: label -> (backbone, options).
ENCODERS = {
    "efficientnet_lite0": ("efficientnet_lite0", {}),
    "efficientnet_lite0 tiles=2x2": ("efficientnet_lite0", {"tiles": "2x2"}),
    "efficientnet_lite0 tta=hflip": ("efficientnet_lite0", {"tta": "hflip"}),
    "efficientnet_lite2": ("efficientnet_lite2", {}),
    "flow": ("flow", {}),
    "flow grid=3": ("flow", {"grid": 3}),
}


def encode_cost(clip: Path, frames: int = 16, repeats: int = 3) -> dict[str, dict[str, float]]:
    """CPU seconds per frame of each encoder in :data:`ENCODERS` on ``frames`` frames of
    ``clip``, decoded as ``extract`` decodes them (their own size; pairs for flow).

    CPU time (all threads of this process, the best of ``repeats``) rather than wall time:
    on a machine shared with other jobs it still measures the work. Decoding is not included
    (the same for every appearance encoder except tiles, which decode at twice the size).
    ``frames_per_cpu_s`` is the frames/s of one fully used core.
    """
    import time

    from vidscope.backbones import create_backbone
    from vidscope.video import VideoReader

    out = {}
    for label, (name, options) in ENCODERS.items():
        backbone = create_backbone(name, **options)
        with VideoReader(clip) as reader:
            times = np.linspace(0, reader.info.duration_s * 0.9, frames)
            size = backbone.preprocess.decode_size(reader.info.width, reader.info.height)
            if backbone.needs_next_frame:
                first, after = reader.read_pairs(times, size=size)
                fn, args = backbone.encode_pairs, (first.frames, after.frames,
                                                   after.times_s - first.times_s)  # fmt: skip
            else:
                fn, args = backbone.encode, (reader.read(times, size=size).frames,)
        fn(*args)  # warm-up (ONNX session, caches)
        best = float("inf")
        for _ in range(repeats):
            start = time.process_time()
            fn(*args)
            best = min(best, (time.process_time() - start) / frames)
        out[label] = {"cpu_s_per_frame": best, "frames_per_cpu_s": 1.0 / best}
    return out


def paired(rows: list[dict[str, Any]], base: dict[str, Any]) -> None:
    """Add to each row its paired ROC-AUC / accuracy difference against ``base`` over the same
    folds: mean, fold-to-fold std, and the number of folds it wins (ROC-AUC strictly higher)."""
    b_auc = np.array([f["roc_auc"] for f in base["folds"]])
    b_acc = np.array([f["accuracy"] for f in base["folds"]])
    for r in rows:
        auc = np.array([f["roc_auc"] for f in r["folds"]])
        acc = np.array([f["accuracy"] for f in r["folds"]])
        d = auc - b_auc
        r["d_auc"], r["d_auc_std"] = float(d.mean()), float(d.std(ddof=1))
        r["d_auc_se"] = float(d.std(ddof=1) / np.sqrt(len(d)))
        r["d_acc"] = float((acc - b_acc).mean())
        r["folds_won"] = int((d > 0).sum())
        r["folds_lost"] = int((d < 0).sum())


def print_levers(rows: list[dict[str, Any]], title: str) -> None:
    """The levers table: metrics mean ± std over folds x seeds, paired ΔAUC vs today's best."""
    head = (
        f"{'lever':<58} {'accuracy':>13} {'F1 (fight)':>13} {'ROC-AUC':>13} "
        f"{'ΔAUC ± std (SE)':>22} {'won':>6} {'Δacc':>6} {'train s':>7}"
    )
    print(f"\n{title}\n{head}\n{'-' * len(head)}")
    for r in rows:
        d = f"{r['d_auc']:+.3f} ± {r['d_auc_std']:.3f} ({r['d_auc_se']:.3f})"
        n = len(r["folds"])
        print(
            f"{r['method']:<58} {_pm(r, 'accuracy'):>13} {_pm(r, 'f1_fight'):>13} "
            f"{_pm(r, 'roc_auc'):>13} {d:>22} {r['folds_won']:>3}/{n:<2} {r['d_acc']:+.3f} "
            f"{r['train_s']:>7.1f}"
        )


def _pm(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.3f}±{row[key + '_std']:.3f}"
