"""Segment detection on long videos composed of held-out real surveillance clips (issue 16).

Data: the 150 clips of ``../shared/data/fight-surv-dev/`` (71 fight, 79 noFight, 36 source
groups). Protocol, per fold of a grouped 5-fold split (``vidscope.data.make_splits``, seeds in
``--seeds``):

1. The held-out fold's clips are concatenated into ``--videos`` long test videos: stretches of
   1-2 fight clips (every held-out fight clip used once) between 3-10 s of no-fight clips of
   the same fold (the last no-fight clip of a gap is cut to make the gap exact), with a no-fight
   lead-in. The true events are the fight stretches, to the sample.
2. The other four folds are split by group (the library's inner split) into ``train`` and
   ``val``. A clip-level run is trained on ``train`` (``val`` picks its epoch and threshold, as
   ``vidscope train`` does). ``val`` clips are composed the same way into calibration videos.
3. Recipes, each scored on the test videos with segment precision / recall / F1 at tIoU
   0.3 / 0.5 / 0.7 (class-agnostic greedy matching, ``vidscope.metrics.segment_map``):

   - ``old defaults``: the timeline before this change: 1 s mean smoothing, the run's clip-level
     threshold, absolute hysteresis 0.1, minimum duration 0.5 s, merge gap 1 s;
   - ``new defaults``: ``vidscope timeline`` defaults now (3-sample smoothing, relative
     hysteresis 0.25, the run's threshold), no calibration;
   - ``calibrated``: ``vidscope.localize.calibrate_timeline`` on the calibration videos (never
     the test fold) chooses threshold, smoothing, hysteresis and half-maximum boundaries; the
     timeline then uses ``RUN/timeline.json`` by default;
   - ``oracle``: the same search run on the test videos themselves. Not a result: the ceiling
     of post-processing given the run's window scores (their window-level ROC-AUC is printed
     for every recipe);
   - ``cal, oracle thr``: the calibrated settings with the oracle's threshold, a diagnostic of
     how much of the gap to the oracle is the threshold alone;
   - ``clips cv+cal``: what a user with clip labels only runs: one run trained on all the
     training clips (``train`` + ``val``, with a preset's ``--refit``), then ``vidscope
     calibrate RUN STORE --labels`` (``calibrate_timeline_on_clips``): 5 fold models trained
     like the run, each scoring compositions (4 shuffles) of the training clips it left out;
   - ``ensemble+cal`` (``--ensemble``): a 5-fold run (the average of 5 models) trained on the
     ``train`` clips, calibrated on the ``val`` compositions;
   - ``window+cal`` (``--window-level``): a window-level run (``train --annotations --window``)
     trained on compositions of the ``train`` clips, calibrated the same way;
   - ``window clips cv+cal`` (``--window-clips``): clip labels only, window-level: ``vidscope
     compose`` of all the training clips (``--window-shuffles`` arrangements), a window-level
     run on them (the preset's, with its refit), ``vidscope calibrate --labels`` (5 window-level
     fold models, each trained on compositions of the other folds' clips).

Composition is done on features: every clip is extracted once at ``--fps`` (default 8) frames
per second with the bundled EfficientNet-Lite0 into ``benchmarks/_work/fight_store_fps8`` and
the per-frame features are concatenated with shifted timestamps into real feature stores
(``benchmarks/_work/timeline_fight/``). With a per-frame backbone this is what extracting the
concatenated video would give, up to the sampling phase.

Run::

    nice -n 10 python benchmarks/timeline_fight.py [--seeds 0] [--head mlp] [--window-level]
        [--ensemble] [--calib-shuffles 4] [--backbone B] [--backbone-option K=V]
        [--preset NAME]

Results: ``benchmarks/_work/timeline_fight_<head>.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve()
DATA = HERE.parents[2] / "shared" / "data" / "fight-surv-dev"
WORK = HERE.parent / "_work"
TIOUS = (0.3, 0.5, 0.7)
DEFAULT_BACKBONE = "efficientnet_lite0"


def _tag(backbone: str, options: dict | None = None) -> str:
    """File-name suffix of a non-default backbone and its options (``""`` for the default's
    old names)."""
    tag = "" if backbone == DEFAULT_BACKBONE else "_" + backbone.replace("+", "_")
    tag += "".join(f"_{k}-{v}" for k, v in sorted((options or {}).items()))
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)


@dataclass
class Clip:
    """One stored clip: id, label, duration and its per-frame features with local times."""

    vid: str
    fight: bool
    duration_s: float
    features: np.ndarray  # [T, D]
    times_s: np.ndarray  # [T] from 0


def extract_store(
    fps: float, backbone: str = DEFAULT_BACKBONE, options: dict | None = None
) -> Path:
    """Every clip at ``fps`` frames per second (resumes / skips when done)."""
    from vidscope import ExtractConfig, SamplingSpec
    from vidscope.features import extract

    out = WORK / f"fight_store_fps{fps:g}{_tag(backbone, options)}"
    cfg = ExtractConfig(backbone=backbone, sampling=SamplingSpec("fps", fps),
                        backbone_options=dict(options or {}))  # fmt: skip
    extract(str(DATA / "labels.csv"), out, cfg, progress=False, path_column="path")
    return out


def load_clips(store_path: Path) -> tuple[list[Clip], pd.DataFrame]:
    """The clips with features, and the label table (id, label, group) in store-id order."""
    from vidscope.features import open_store

    st = open_store(store_path)
    df = pd.read_csv(DATA / "labels.csv")
    df["id"] = df["path"].str.replace(r"\.mp4$", "", regex=True)
    df = df[df["id"].isin(st.ids())].reset_index(drop=True)
    clips = []
    for row in df.itertuples():
        seq = st.load(row.id)
        dur = float(st.rows[row.id].get("duration_s") or row.duration_s)
        clips.append(Clip(row.id, row.label == "fight", dur, seq.features, seq.times_s))
    return clips, df


def compose(
    clips: list[Clip], n_videos: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray, float, list[tuple[float, float]]]]:
    """Long videos from ``clips`` (``vidscope.localize.compose_clips``: 1-2 fight clips per
    stretch, 3-10 s of no-fight between): (features [T, D], times [T], duration, events)."""
    from vidscope.localize import ClipFeatures, compose_clips

    parts = [ClipFeatures(c.features, c.times_s, c.duration_s, c.fight) for c in clips]
    return [
        (v.features, v.times_s, v.duration_s, [(e.start_s, e.end_s) for e in v.events])
        for v in compose_clips(parts, rng, num_videos=n_videos)
    ]


def write_store(root: Path, meta: dict, videos: list, prefix: str) -> Path:
    """The composed videos as a real feature store, and their events CSV next to it."""
    from vidscope.features import FeatureStore

    shutil.rmtree(root, ignore_errors=True)
    st = FeatureStore.create(root, meta)
    rows = []
    for i, (f, t, dur, events) in enumerate(videos):
        vid = f"{prefix}{i:02d}"
        rel = st.write(vid, f, t)
        st.record(
            {"video_id": vid, "path": f"{vid}.mp4", "status": "ok", "duration_s": dur,
             "num_samples": len(t), "features": rel}
        )  # fmt: skip
        rows += [(f"{vid}.mp4", round(a, 4), round(b, 4), "fight") for a, b in events]
        if not events:
            rows.append((f"{vid}.mp4", "", "", ""))
    st.compact()
    pd.DataFrame(rows, columns=["file_name", "start_time", "end_time", "label"]).to_csv(
        root / "events.csv", index=False
    )
    return root


def old_defaults(times: np.ndarray, scores: np.ndarray, thr: float, duration: float):
    """Segments as ``vidscope timeline`` made them before this change."""
    from vidscope.localize import SegmentConfig, curve_to_segments, smooth_curve

    v = smooth_curve(times, scores, kind="mean", width_s=1.0)
    on, active = False, np.zeros(len(v), bool)
    for i, x in enumerate(v):  # absolute hysteresis 0.1
        on = x >= thr - 0.1 if on else x >= thr
        active[i] = on
    plain = SegmentConfig(smooth="none", hysteresis=0.0, min_duration_s=0.5, merge_gap_s=1.0)
    return curve_to_segments(times, active.astype(float), threshold=0.5, config=plain,
                             duration_s=duration)  # fmt: skip


def score_recipe(run, store_path: Path, recipe: str, segments=None) -> dict:
    """Segment precision / recall / F1 of one recipe on one composed test store, and the
    window-level ROC-AUC of the run's scores there (what any post-processing starts from)."""
    from vidscope.data import read_annotations
    from vidscope.features import open_store
    from vidscope.localize import TimelineConfig, plan_windows, score_video
    from vidscope.metrics import frame_level_metrics, segment_map

    st = open_store(store_path)
    truth = read_annotations(store_path / "events.csv", video_ids=st.ids())
    cfg = TimelineConfig(calibrated=recipe != "new defaults")
    if segments is not None:
        cfg = TimelineConfig(calibrated=False, segments=segments)
    plan = plan_windows(run.config, cfg)
    preds, times, scores = {}, {}, {}
    for vid in st.ids():
        tl = score_video(run, st, vid, plan, cfg, truth=truth.get(vid))
        if recipe == "old defaults":
            segs = old_defaults(tl.times_s, tl.scores[:, 0], run.threshold, tl.duration_s)
        else:
            segs = tl.segments
        preds[vid], times[vid], scores[vid] = segs, tl.times_s, tl.scores[:, 0]
    auc = frame_level_metrics(times, scores, truth)["roc_auc"]
    rep = segment_map(
        {k: [_event(s) for s in v] for k, v in preds.items()},
        {k: [_event(s) for s in v] for k, v in truth.items()},
        tious=TIOUS,
        labels=["event"],
    )
    p = [x or 0.0 for x in rep["precision"]]
    r = [x or 0.0 for x in rep["recall"]]
    f1 = [2 * a * b / (a + b) if a + b else 0.0 for a, b in zip(p, r, strict=True)]
    return {"precision": p, "recall": r, "f1": f1, "num_predictions": rep["num_predictions"],
            "num_truth": rep["num_truth"], "window_auc": auc}  # fmt: skip


def _event(s):
    from vidscope.types import Segment

    return Segment(s.start_s, s.end_s, "event", s.score if np.isfinite(s.score) else 1.0)


def run_fold(fold, clips, df, meta, store_path, args, seed, root) -> dict:
    """Train, compose, calibrate and score every recipe on one held-out fold."""
    from vidscope.localize import calibrate_timeline, calibrate_timeline_on_clips, compose_store
    from vidscope.training import (
        LabelOptions,
        TrainConfig,
        WindowOptions,
        load_run,
        preset_config,
        train,
    )

    rng = np.random.default_rng(
        1000 * seed + int("".join(ch for ch in fold.name if ch.isdigit()) or 0)
    )
    pick = lambda idx: [clips[i] for i in idx]  # noqa: E731
    test = write_store(root / "test", meta, compose(pick(fold.test), args.videos, rng), "test")
    calib_videos = [v for _ in range(args.calib_shuffles) for v in compose(pick(fold.val), 2, rng)]
    calib = write_store(root / "calib", meta, calib_videos, "cal")
    split = np.full(len(df), "", dtype=object)
    split[fold.train], split[fold.val] = "train", "val"
    keep = split != ""
    lab = df.loc[keep, ["id", "label", "source_group"]].assign(split=split[keep])
    lab.to_csv(root / "labels.csv", index=False)
    cfg = TrainConfig(head=args.head, split="given", tensorboard=False, seed=seed)
    if args.preset:
        # no refit: the calibration videos are made of the val clips, which a refit would see
        base = TrainConfig(split="given", tensorboard=False, seed=seed)
        cfg = preset_config(args.preset, base, refit=False)
    opts = LabelOptions(root / "labels.csv", split_column="split", group_column="source_group")
    train(store_path, opts, out=root / "run", config=cfg)
    run = load_run(root / "run")
    out = {r: score_recipe(run, test, r) for r in ("old defaults", "new defaults")}
    cal = calibrate_timeline(run, calib, calib / "events.csv")
    out["calibrated"] = score_recipe(load_run(root / "run"), test, "calibrated")
    out["calibrated"]["settings"] = cal.to_json()["segments"]
    oracle = calibrate_timeline(run, test, test / "events.csv", write=False)
    out["oracle"] = score_recipe(run, test, "oracle", segments=oracle.segments)
    # diagnostic, not a recipe: how much of the gap to the oracle is the threshold alone
    mixed = replace(cal.segments, threshold=oracle.segments.threshold)
    out["cal, oracle thr"] = score_recipe(run, test, "oracle", segments=mixed)
    # clip labels only, as a user has them: one run on all the training clips (train + val;
    # a preset's refit), calibrated on compositions of those same clips, cross-fitted
    lab.drop(columns="split").to_csv(root / "trval.csv", index=False)
    ccfg = TrainConfig(head=args.head, tensorboard=False, seed=seed)
    if args.preset:
        ccfg = preset_config(args.preset, TrainConfig(tensorboard=False, seed=seed))
    topts = LabelOptions(root / "trval.csv", group_column="source_group")
    train(store_path, topts, out=root / "crun", config=ccfg)
    calibrate_timeline_on_clips(root / "crun", store_path, topts, seed=seed)
    out["clips cv+cal"] = score_recipe(load_run(root / "crun"), test, "calibrated")
    if args.ensemble:
        lab[lab["split"] == "train"].drop(columns="split").to_csv(root / "ens.csv", index=False)
        ecfg = TrainConfig(head=args.head, split="kfold", folds=5, tensorboard=False, seed=seed)
        eopts = LabelOptions(root / "ens.csv", group_column="source_group")
        train(store_path, eopts, out=root / "erun", config=ecfg)
        calibrate_timeline(root / "erun", calib, calib / "events.csv")
        out["ensemble+cal"] = score_recipe(load_run(root / "erun"), test, "calibrated")
    if args.window_level:
        comp = write_store(root / "wtrain", meta, compose(pick(fold.train), 6, rng), "wtr")
        win = WindowOptions(comp / "events.csv", window_s=args.window, overlap=args.overlap)
        wcfg = TrainConfig(head=args.head, tensorboard=False, seed=seed)
        if args.preset:  # the preset's heads on windows (no refit, as the clip-level run)
            wcfg = preset_config(args.preset, TrainConfig(tensorboard=False, seed=seed),
                                 refit=False)  # fmt: skip
        train(comp, out=root / "wrun", config=wcfg, windows=win)
        calibrate_timeline(root / "wrun", calib, calib / "events.csv")
        out["window+cal"] = score_recipe(load_run(root / "wrun"), test, "calibrated")
    if args.window_clips:
        # clip labels only, window-level: `vidscope compose` of all the training clips, a
        # window-level run on them, `vidscope calibrate --labels` (window-level fold models)
        comp, _ = compose_store(store_path, topts, root / "wcomp", shuffles=args.window_shuffles,
                                seed=seed)  # fmt: skip
        win = WindowOptions(comp / "events.csv", window_s=args.window, overlap=args.overlap)
        wcfg = TrainConfig(head=args.head, tensorboard=False, seed=seed)
        if args.preset:
            wcfg = preset_config(args.preset, TrainConfig(tensorboard=False, seed=seed))
        train(comp, out=root / "wcrun", config=wcfg, windows=win)
        calibrate_timeline_on_clips(root / "wcrun", store_path, topts, seed=seed,
                                    shuffles=args.window_shuffles)  # fmt: skip
        out["window clips cv+cal"] = score_recipe(load_run(root / "wcrun"), test, "calibrated")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0", help="fold seeds, comma-separated")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--videos", type=int, default=3, help="test videos per held-out fold")
    ap.add_argument("--head", default="mlp")
    ap.add_argument(
        "--calib-shuffles", type=int, default=4, help="calibration: 2 videos per shuffle of val"
    )
    ap.add_argument("--fps", type=float, default=8.0)
    ap.add_argument(
        "--backbone",
        default=DEFAULT_BACKBONE,
        help="extraction backbone, e.g. efficientnet_lite0+flow (flow pairs each sample with "
        "the clip's own next frame: a real concatenated video would pair across a cut once "
        "per clip boundary)",
    )
    ap.add_argument(
        "--preset",
        help="the clip-level run as `vidscope train --preset NAME` (its backbone and head; "
        "overrides --backbone and --head)",
    )
    ap.add_argument(
        "--backbone-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extraction option of --backbone (a --preset's own come first)",
    )
    ap.add_argument("--window-level", action="store_true", help="also window-level training")
    ap.add_argument("--ensemble", action="store_true", help="also a 5-fold ensemble run")
    ap.add_argument(
        "--window-clips",
        action="store_true",
        help="also a window-level run on `vidscope compose` of all the training clips, "
        "calibrated with `vidscope calibrate --labels`",
    )
    ap.add_argument(
        "--window-shuffles", type=int, default=2, help="--window-clips: compositions of the clips"
    )
    ap.add_argument("--window", type=float, default=1.0, help="window seconds (window-level)")
    ap.add_argument(
        "--overlap", type=float, default=0.5, help="window overlap fraction (window-level)"
    )
    ap.add_argument("--out", help="results JSON (default: _work/timeline_fight_<head>.json)")
    args = ap.parse_args()
    from vidscope.cli._common import key_values
    from vidscope.training import get_preset

    if args.preset:
        preset = get_preset(args.preset)
        args.backbone, args.head = preset.backbone, f"preset_{args.preset}"
    options = dict(get_preset(args.preset).backbone_options) if args.preset else {}
    options.update(key_values(args.backbone_option, "--backbone-option"))
    import torch

    torch.set_num_threads(1)
    from vidscope.data import make_splits, read_labels
    from vidscope.features import open_store

    start = time.monotonic()
    store_path = extract_store(args.fps, args.backbone, options)
    clips, df = load_clips(store_path)
    meta = dict(open_store(store_path).meta)
    csv = WORK / "timeline_fight_labels.csv"
    df[["id", "label", "source_group"]].to_csv(csv, index=False)
    labels = read_labels(list(df["id"]), csv, group_column="source_group")
    results = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        for fold in make_splits(labels, mode="kfold", folds=args.folds, seed=seed):
            root = (
                WORK
                / "timeline_fight"
                / f"{args.head}{_tag(args.backbone, options)}_s{seed}_{fold.name}"
            )
            shutil.rmtree(root, ignore_errors=True)
            res = run_fold(fold, clips, df, meta, store_path, args, seed, root)
            results.append({"seed": seed, "fold": fold.name, **res})
            print_fold(results[-1])
    summary = print_summary(results)
    out = (
        Path(args.out)
        if args.out
        else WORK / f"timeline_fight_{args.head}{_tag(args.backbone, options)}.json"
    )
    out.write_text(json.dumps({"args": vars(args), "folds": results, "summary": summary,
                               "wall_s": time.monotonic() - start}, indent=1))  # fmt: skip
    print(f"\n{time.monotonic() - start:.0f} s; results in {out}")


def _recipes(res: dict) -> list[str]:
    return [k for k in res if isinstance(res[k], dict) and "f1" in res[k]]


def print_fold(res: dict) -> None:
    print(f"\nseed {res['seed']} {res['fold']}")
    for r in _recipes(res):
        m = res[r]
        cells = "  ".join(
            f"t{t}: P {p:.2f} R {q:.2f} F1 {f:.2f}"
            for t, p, q, f in zip(TIOUS, m["precision"], m["recall"], m["f1"], strict=True)
        )
        print(
            f"  {r:13s} {cells}  ({m['num_predictions']} found / {m['num_truth']} true; "
            f"window ROC-AUC {m['window_auc']:.2f})"
        )
    if "settings" in res.get("calibrated", {}):
        print(f"  calibrated settings: {res['calibrated']['settings']}")


def print_summary(results: list[dict]) -> dict:
    print(f"\nmean ± std over {len(results)} folds")
    print("| recipe | " + " | ".join(f"P / R / F1 @ tIoU {t}" for t in TIOUS) + " | window AUC |")
    print("| --- | " + " | ".join("---:" for _ in TIOUS) + " | ---: |")
    summary = {}
    for r in _recipes(results[0]):
        cells, summary[r] = [], {}
        for k, t in enumerate(TIOUS):
            vals = {
                m: np.array([x[r][m][k] for x in results]) for m in ("precision", "recall", "f1")
            }
            summary[r][str(t)] = {m: [float(v.mean()), float(v.std())] for m, v in vals.items()}
            p, q, f = (vals[m] for m in ("precision", "recall", "f1"))
            cells.append(f"{p.mean():.2f} / {q.mean():.2f} / {f.mean():.2f} ± {f.std():.2f}")
        auc = np.array([x[r]["window_auc"] for x in results])
        summary[r]["window_auc"] = [float(auc.mean()), float(auc.std())]
        print(f"| {r} | " + " | ".join(cells) + f" | {auc.mean():.2f} ± {auc.std():.2f} |")
    return summary


if __name__ == "__main__":
    main()
