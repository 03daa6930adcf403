"""``timeline`` for runs whose models read raw clips (``vidscope finetune``): each sliding
window of a video becomes one clip (its frames spread over the window), scored by the run;
the curve, segments, files and report are those of the feature timeline."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..data import read_annotations, window_bounds
from ..features import resolve_videos
from ..localize import TimelineConfig, curve_to_segments, plan_windows, smooth_curve
from ..report import write_report
from ..types import Timeline
from ..video import probe


def clip_timeline(
    run: Any,
    videos: Any,
    *,
    out: str | os.PathLike[str],
    config: TimelineConfig | None = None,
    annotations: str | os.PathLike[str] | None = None,
    report: bool = True,
) -> list[Timeline]:
    """Per-video window scores, curves and segments of a clip model, written under ``out``.

    Windows default to the run's median training-clip duration with a quarter-window stride
    (``config.window_s``/``stride_s`` override); the run's timeline calibration, made on
    features, does not apply.
    """
    from ._timeline import write_outputs

    cfg = config or TimelineConfig()
    plan = plan_windows(run.config, cfg)
    trainer = run.members[0].trainer
    items = resolve_videos(videos)
    durations = {i.video_id: float(probe(i.path).duration_s) for i in items}
    truth = (
        read_annotations(annotations, video_ids=list(durations), durations_s=durations)
        if annotations is not None
        else {}
    )
    classes = [run.classes[1]] if run.binary else list(run.classes)
    threshold = cfg.segments.threshold
    if threshold is None:
        threshold = run.threshold if run.binary and run.threshold is not None else 0.5
    lines = []
    for item in items:
        duration = durations[item.video_id]
        bounds = window_bounds(duration, window_s=plan.window_s, stride_s=plan.stride_s)
        scores = trainer.window_scores(run, item.path, bounds)
        scores = scores[:, None] if scores.ndim == 1 else scores  # [N, C']
        centres = bounds.mean(axis=1)
        seg = cfg.segments
        curve = np.stack(
            [smooth_curve(centres, scores[:, j], kind=seg.smooth, width_s=seg.smooth_s)
             for j in range(scores.shape[1])],
            axis=1,
        )  # fmt: skip
        found = [
            s
            for j, c in enumerate(classes)
            for s in curve_to_segments(
                centres, scores[:, j], threshold=threshold, config=seg, label=c,
                duration_s=duration,
            )
        ]  # fmt: skip
        line = Timeline(
            item.video_id, str(item.path), duration, centres, scores, classes, window_s=bounds,
            threshold=threshold, segments=sorted(found, key=lambda s: (s.start_s, s.label)),
            truth=truth.get(item.video_id) or [], curve=curve,
        )  # fmt: skip
        write_outputs(line, Path(out) / item.video_id)
        lines.append(line)
    if report and lines:
        write_report(lines, Path(out) / "report.html")
    return lines
