"""Event-level evaluation of a run: frame/window-level ranking, segment mAP over tIoUs, and
average precision at lead times before the event."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..data import read_annotations
from ..features import FeatureStore, open_store
from ..localize import TimelineConfig, plan_windows, score_video
from ..metrics import cut_before_event, frame_level_metrics, segment_map
from ..metrics import lead_time_ap as ap_by_lead
from ..training import Run, load_run


def evaluate_events(
    run: Run | str | os.PathLike[str],
    store: FeatureStore | str | os.PathLike[str],
    annotations: str | os.PathLike[str],
    *,
    config: Any = None,
) -> dict[str, Any]:
    """Score every stored video over time and compare with annotated events.

    Args:
        run: A run (clip- or window-level).
        store: Features of the videos, sampled at a fixed rate (``vidscope extract --fps``).
        annotations: Ground-truth events (see :func:`vidscope.data.read_annotations`).
        config: :class:`vidscope.localize.TimelineConfig` (windows, segment post-processing).

    Returns:
        ``{"frame_level": {roc_auc, average_precision, ...}, "segments": segment_map(...),
        "window": {...}}``.
    """
    r = run if isinstance(run, Run) else load_run(run)
    st = store if isinstance(store, FeatureStore) else open_store(store)
    cfg = config or TimelineConfig()
    ids = st.ids()
    durations = {v: float(st.rows[v]["duration_s"]) for v in ids if st.rows[v].get("duration_s")}
    truth = read_annotations(annotations, video_ids=ids, durations_s=durations)
    plan = plan_windows(r.config, cfg)
    lines = [score_video(r, st, v, plan, cfg, truth=truth.get(v)) for v in ids]
    labels = sorted({s.label for segs in truth.values() for s in segs}) or None
    frame = frame_level_metrics(
        {t.video_id: t.times_s for t in lines},
        {t.video_id: t.scores.max(axis=1) for t in lines},
        {k: v for k, v in truth.items()},
    )
    segments = segment_map({t.video_id: t.segments for t in lines}, truth, labels=labels)
    window = {"window_s": plan.window_s, "stride_s": plan.stride_s, "fps": plan.fps}
    return {"frame_level": frame, "segments": segments, "window": window}


def lead_time_ap(
    run: Run,
    store: FeatureStore,
    ids: list[str],
    y: np.ndarray,
    event_s: np.ndarray,
    *,
    leads_s: tuple[float, ...] = (0.5, 1.0, 1.5),
) -> dict[str, float | None]:
    """Average precision of a binary run on clips cut ``lead`` seconds before their event.

    Positive clips keep the frames up to ``event - lead``; negative clips are cut at the
    same relative point (the positives' median event time over duration), so clip length
    gives nothing away. Features are the stored frames of each clip (no re-extraction).
    """
    seqs = [store.load(v) for v in ids]
    durations = np.array(
        [
            float(store.rows[v].get("duration_s") or s.times_s[-1])
            for v, s in zip(ids, seqs, strict=True)
        ]
    )
    pos = np.isfinite(event_s)
    fraction = float(np.median(event_s[pos] / durations[pos])) if pos.any() else 1.0
    scores: dict[float, np.ndarray] = {}
    for lead in leads_s:
        cut = []
        for s, ev, d in zip(seqs, event_s, durations, strict=True):
            keep = cut_before_event(
                s.times_s,
                ev if np.isfinite(ev) else None,
                lead,
                event_fraction=fraction,
                duration_s=d,
            )
            cut.append(s.features[keep])
        scores[lead] = run.scores(cut)
    return {f"ap@{lead:g}s": v for lead, v in ap_by_lead(scores, y).items()}
