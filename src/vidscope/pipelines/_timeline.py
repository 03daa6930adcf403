"""``timeline``: score videos over time and write curves, segments, plots and the report."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..backbones import create_backbone
from ..data import read_annotations
from ..errors import InputError
from ..features import ExtractConfig, FeatureStore, StoreKey, extract, open_store, store_key
from ..localize import TimelineConfig, WindowPlan, plan_windows, score_video
from ..report import plot_timeline, write_report
from ..training import Run, build_backbone, extractor_for, load_run
from ..types import Timeline
from ..video import SamplingSpec


def timeline(
    run: Any,
    videos: Any = None,
    *,
    out: str | os.PathLike[str],
    config: TimelineConfig | None = None,
    store: FeatureStore | str | os.PathLike[str] | None = None,
    annotations: str | os.PathLike[str] | None = None,
    backbone: str = "efficientnet_lite0",
    weights: str | None = None,
    report: bool = True,
    progress: bool = True,
) -> list[Timeline]:
    """Per-video score curves and event segments, written under ``out``.

    Args:
        run: A run (path or loaded), or ``None`` to draw a feature signal (``config.signal``).
        videos: Videos to score (folder, list, CSV, file, or paths); features are extracted
            at the plan's rate into ``out/features`` while streaming (bounded memory), or
            into ``out/features-<digest>`` when ``out/features`` holds features made with
            another backbone or rate (an earlier timeline of another run into the same
            ``out``). Only these videos are scored, not others cached there before.
        out: Output folder: ``<id>/scores.csv``, ``<id>/segments.csv``, ``<id>/timeline.png``
            and ``report.html``.
        config: Window, rate, signal and segment settings.
        store: Reuse an existing feature store (e.g. made with ``vidscope extract --fps``)
            instead of extracting ``videos``.
        annotations: Ground-truth events (CSV or folder of ``<class>_timestamp.csv``) drawn and
            compared on the timelines.
        backbone: Backbone for signal mode (a run brings its own).
        weights: Backbone weights file (``timm:`` backbones).
        report: Write ``report.html``.
        progress: Show extraction progress.
    """
    cfg = config or TimelineConfig()
    r = run if run is None or isinstance(run, Run) else load_run(run)
    if r is not None and hasattr(r.members[0].trainer, "window_scores"):  # clip models
        from ._clip_timeline import clip_timeline

        return clip_timeline(r, videos, out=out, config=cfg, annotations=annotations, report=report)
    if r is None and cfg.signal is None:
        cfg = TimelineConfig(**{**cfg.__dict__, "signal": "change"})
    plan = plan_windows(r.config if r is not None else None, cfg)
    root = Path(out)
    st, ids = _features(r, videos, store, root, plan, backbone, weights, progress)
    truth = _truth(annotations, st)
    lines = [score_video(r, st, v, plan, cfg, truth=truth.get(v)) for v in ids]
    for t in lines:
        write_outputs(t, root / t.video_id)
    if report and lines:
        write_report(lines, root / "report.html", embed_video_max_mb=cfg.embed_limit_mb)
    return lines


def _features(
    run: Any,
    videos: Any,
    store: Any,
    root: Path,
    plan: WindowPlan,
    backbone: str,
    weights: str | None,
    progress: bool,
) -> tuple[FeatureStore, list[str]]:
    """The store to score and the ids in it to score: all of a given ``store``, else the
    ``videos`` just extracted (or found already extracted) in the timeline's own cache."""
    if store is not None:
        st = store if isinstance(store, FeatureStore) else open_store(store)
        if run is not None:
            run.check_store(store_key(st), f"store {st.root}")
        return st, st.ids()
    if videos is None:
        raise InputError("give VIDEOS to score, or --store with their features")
    sampling = SamplingSpec("fps", plan.fps)
    if run is not None:  # the run's extractor (seek, tolerance, image fps), at the plan's rate
        cfg = extractor_for(run, sampling=sampling, weights=weights)
        model = build_backbone(run, cfg)
    else:
        cfg = ExtractConfig(backbone=backbone, weights=weights, sampling=sampling)
        model = create_backbone(backbone, weights=weights)
    folder = _cache_folder(root, cfg, model)
    report = extract(videos, folder, cfg, backbone=model, progress=progress)
    st = open_store(folder)
    wanted = {*report.done, *report.partial, *report.skipped}
    return st, [v for v in st.ids() if v in wanted]


def _cache_folder(root: Path, cfg: ExtractConfig, model: Any) -> Path:
    """``root/features``, unless it holds features made with another backbone, backbone
    options or rate (a timeline of another run into the same ``root``): then a sibling
    ``features-<digest of those settings>``, so neither run's features are mixed or lost."""
    base = root / "features"
    if not (base / "store.json").exists():
        return base
    wanted = StoreKey.from_json(
        {
            "backbone": model.identity(),
            "backbone_options": dict(cfg.backbone_options),
            "sampling": cfg.sampling.to_dict(),
        }
    )
    settings = ("backbone", "backbone_options", "sampling")
    if not store_key(open_store(base)).differences(wanted, keys=settings):
        return base
    text = json.dumps({k: wanted.to_json()[k] for k in settings}, sort_keys=True, default=str)
    return root / f"features-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def _truth(annotations: Any, store: FeatureStore) -> dict[str, list[Any]]:
    if annotations is None:
        return {}

    durations = {v: float(store.rows[v].get("duration_s") or 0) or None for v in store.ids()}
    return read_annotations(
        annotations, video_ids=store.ids(), durations_s={k: v for k, v in durations.items() if v}
    )


def write_outputs(t: Timeline, folder: Path) -> None:
    """``scores.csv``, ``segments.csv`` and ``timeline.png`` of one video."""

    folder.mkdir(parents=True, exist_ok=True)
    if t.window_s is not None:
        df = pd.DataFrame({"start_s": t.window_s[:, 0], "end_s": t.window_s[:, 1]})
    else:
        df = pd.DataFrame({"start_s": t.times_s, "end_s": t.times_s})
    for j, c in enumerate(t.classes):
        df[f"score_{c}"] = t.scores[:, j]
    df.round(6).to_csv(folder / "scores.csv", index=False)
    name = Path(t.video_path).name if t.video_path else t.video_id
    seg = pd.DataFrame(
        [
            (name, round(s.start_s, 3), round(s.end_s, 3), s.label, round(s.score, 6))
            for s in t.segments
        ],
        columns=["file_name", "start_time", "end_time", "label", "score"],
    )
    seg.to_csv(folder / "segments.csv", index=False)
    plot_timeline(t, folder / "timeline.png")
