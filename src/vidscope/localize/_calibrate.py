"""``calibrate_timeline``: score annotated long videos with a run and store the best timeline
settings in the run (see :mod:`vidscope.localize._calibration`)."""

from __future__ import annotations

import os
from typing import Any

from ..errors import VidscopeError
from ..features import FeatureStore, open_store
from ._calibration import (
    CALIBRATION_FILE,
    TIOUS,
    Calibration,
    VideoCurve,
    search_settings,
)
from ._timeline import TimelineConfig, WindowPlan, plan_windows, window_scores


def calibrate_timeline(
    run: Any,
    store: FeatureStore | str | os.PathLike[str],
    annotations: str | os.PathLike[str],
    *,
    config: TimelineConfig | None = None,
    tious: tuple[float, ...] = TIOUS,
    write: bool = True,
) -> Calibration:
    """Choose the timeline threshold, smoothing, hysteresis and boundary rule of a binary run
    on annotated long videos, and (``write``) save them as ``RUN/timeline.json``.

    Use videos the run did not train on (their scores are what new videos get); videos listed
    in ``annotations`` without events count as event-free. Later ``vidscope timeline`` calls
    use the saved settings for every flag left at its default.

    Args:
        run: A binary run (path or loaded).
        store: Features of the annotated videos, extracted at the timeline's rate (``vidscope
            extract --fps F``, F = the run's frame density unless ``config.fps`` says).
        annotations: Events CSV (``file_name,start_time,end_time``) or a folder of
            ``<class>_timestamp.csv``.
        config: Window plan and the settings that are not searched (merge gap, ...).
        tious: tIoU thresholds the segment F1 is averaged over.
        write: Save the result in the run.

    Raises:
        VidscopeError: a multi-class run, or no annotated video with an event in the store.
    """
    from ..data import read_annotations
    from ..training import Run, load_run

    r = run if isinstance(run, Run) else load_run(run)
    if not r.binary:
        raise VidscopeError(f"run {r.path}: timeline calibration needs a binary run")
    st = store if isinstance(store, FeatureStore) else open_store(store)
    r.check_store(st.meta, f"store {st.root}")
    cfg = config or TimelineConfig()
    plan = plan_windows(r.config, cfg)
    ids = st.ids()
    durations = {v: float(st.rows[v]["duration_s"]) for v in ids if st.rows[v].get("duration_s")}
    events = read_annotations(annotations, video_ids=ids, durations_s=durations)
    videos = []
    for vid, truth in events.items():
        seq = st.load(vid)
        duration = durations.get(vid) or float(seq.times_s[-1])
        bounds, scores = window_scores(r, seq, plan, duration)
        videos.append(VideoCurve(bounds.mean(axis=1), scores[:, 0], list(truth), duration))
    return settle(r, videos, plan, cfg, tious=tious, write=write)


def settle(
    run: Any,
    videos: list[VideoCurve],
    plan: WindowPlan,
    cfg: TimelineConfig,
    *,
    tious: tuple[float, ...],
    write: bool,
    **extra: Any,
) -> Calibration:
    """Search the settings on scored ``videos``, and (``write``) save them in the run.

    Args:
        run: The loaded run the curves came from.
        videos: Calibration curves with their truth.
        plan: The window plan they were scored with.
        cfg: Settings kept as they are (merge gap, ...).
        tious: tIoU thresholds the segment F1 is averaged over.
        write: Write ``RUN/timeline.json``.
        extra: Further :class:`Calibration` fields (``source``, ``folds``, ...).
    """
    from ..features import atomic_write_json

    seg, f1 = search_settings(videos, base=cfg.segments, tious=tious)
    result = Calibration(
        seg,
        [round(x, 4) for x in f1],
        list(tious),
        len(videos),
        sum(len(v.truth) for v in videos),
        plan.window_s,
        plan.stride_s,
        plan.fps,
        **extra,
    )
    if write:
        atomic_write_json(run.path / CALIBRATION_FILE, result.to_json())
    return result
