"""Scoring long videos with sliding windows: features at a fixed rate -> window scores ->
curve -> segments, per video."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError
from ..features import FeatureStore
from ..types import Segment, Timeline
from ._calibration import calibrated_segments
from ._postprocess import SegmentConfig, segments_of_curve, smooth_curve
from ._signals import adaptive_threshold, feature_signal

#: Windows scored per call by :func:`window_scores`.
WINDOW_CHUNK = 256


@dataclass(frozen=True)
class WindowPlan:
    """Feature rate and window geometry used to score a video."""

    fps: float
    window_s: float
    stride_s: float


@dataclass
class TimelineConfig:
    """Settings of ``vidscope timeline``; ``None`` fields are derived from the run."""

    window_s: float | None = None
    """Window length in seconds (``--window``); default: how the run was trained."""
    stride_s: float | None = None
    """Step between windows in seconds (``--stride``); default: a quarter window."""
    fps: float | None = None
    """Feature sampling rate (``--fps``); default: the density the run was trained on."""
    signal: str | None = None
    """Without a run: ``change``, ``norm`` or ``dim:<k>`` (``--signal``)."""
    segments: SegmentConfig = field(default_factory=SegmentConfig)
    """Curve-to-segment post-processing. Settings left at their defaults take the run's
    timeline calibration (``RUN/timeline.json``, see :func:`calibrate_timeline`) when it has
    one and ``calibrated`` is true."""
    calibrated: bool = True
    """Use the run's timeline calibration for settings not given (``--no-calibration``)."""
    embed_limit_mb: float = 50.0
    """Videos up to this size (MiB) are embedded in ``report.html``; larger ones are linked
    (``--embed-limit``); 0 links every video."""

    def __post_init__(self) -> None:
        for name, v in (
            ("--window", self.window_s),
            ("--stride", self.stride_s),
            ("--fps", self.fps),
        ):
            if v is not None and not (v > 0 and math.isfinite(v)):
                raise InputError(f"{name} must be > 0, got {v}")
        if not self.embed_limit_mb >= 0:
            raise InputError(f"--embed-limit must be >= 0 MiB, got {self.embed_limit_mb}")


def plan_windows(run_config: dict[str, Any] | None, cfg: TimelineConfig) -> WindowPlan:
    """Window geometry: flags first, else what the run was trained on.

    A window-level run records its window and stride. A clip-level run scores windows as
    long as its typical training clip (median duration), sampled at the same density (its
    frames per clip over that duration).
    """
    window = (run_config or {}).get("window") or {}
    clip_s = (run_config or {}).get("clip_duration_s") or 2.0
    window_s = cfg.window_s or window.get("window_s") or clip_s
    stride_s = cfg.stride_s or window.get("stride_s") or max(0.25, round(window_s / 4, 2))
    fps = cfg.fps or _trained_fps(run_config, clip_s)
    return WindowPlan(float(fps), float(window_s), float(stride_s))


def _trained_fps(run_config: dict[str, Any] | None, clip_s: float) -> float:
    sampling = (run_config or {}).get("sampling") or {}
    mode, value = sampling.get("mode"), sampling.get("value")
    if mode == "fps" and value:
        return float(value)
    if mode == "every" and value:
        return 1.0 / float(value)
    if mode == "uniform" and value:
        return max(1.0, float(value) / max(clip_s, 1e-6))
    return 4.0


def score_video(
    run: Any,
    store: FeatureStore,
    video_id: str,
    plan: WindowPlan,
    cfg: TimelineConfig,
    *,
    truth: list[Segment] | None = None,
) -> Timeline:
    """Timeline of one stored video: window scores from ``run`` (or a feature signal).

    For a binary run whose positive class has a placeholder name (``1``, ``true``, ...) and
    ground truth with one label, the curve and segments take the truth's label (``collision``
    rather than ``1``), so the report names the event as the labels do.
    """
    seq = store.load(video_id)
    row = store.rows.get(video_id, {})
    duration = float(row.get("duration_s") or (seq.times_s[-1] if len(seq.times_s) else 0.0))
    if run is None:
        return _signal_timeline(seq, row, duration, cfg, truth)
    bounds, scores = window_scores(run, seq, plan, duration)
    classes = event_names(run, truth)
    seg_cfg = calibrated_segments(run, cfg.segments) if cfg.calibrated else cfg.segments
    threshold = seg_cfg.threshold
    if threshold is None:
        threshold = run.threshold if run.binary and run.threshold is not None else 0.5
    centres = bounds.mean(axis=1)
    curve, segs = _segments(centres, scores, classes, threshold, seg_cfg, duration)
    return Timeline(
        video_id,
        row.get("path"),
        duration,
        centres,
        scores,
        classes,
        window_s=bounds,
        threshold=threshold,
        segments=segs,
        truth=truth or [],
        curve=curve,
    )


def window_scores(
    run: Any, seq: Any, plan: WindowPlan, duration_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Sliding-window bounds ``[N, 2]`` and the run's scores ``[N, C']`` over one video
    (``C' = 1`` for a binary run: the positive class)."""
    from ..data import frames_in_windows, window_bounds

    bounds = window_bounds(duration_s, window_s=plan.window_s, stride_s=plan.stride_s)
    parts = frames_in_windows(seq.times_s, bounds)
    # windows overlap, so their features are copies: build and score them a chunk at a time
    # (memory stays flat in video length instead of holding every window's copy at once)
    chunks = [
        run.scores([seq.features[i] for i in parts[s : s + WINDOW_CHUNK]])
        for s in range(0, len(parts), WINDOW_CHUNK)
    ]
    scores = np.concatenate(chunks) if chunks else run.scores([])
    return bounds, scores[:, None] if scores.ndim == 1 else scores


_PLACEHOLDERS = {"1", "1.0", "true", "yes", "positive", "pos", "event"}


def event_names(run: Any, truth: list[Segment] | None) -> list[str]:
    """Names of the score columns: the positive class of a binary run, else every class; a
    placeholder positive name (``1``, ``true``) becomes the truth's single label."""
    if not run.binary:
        return list(run.classes)
    name = run.classes[1]
    labels = {s.label for s in truth or []}
    if name.strip().lower() in _PLACEHOLDERS and len(labels) == 1:
        return [labels.pop()]
    return [name]


def _signal_timeline(
    seq: Any, row: dict[str, Any], duration: float, cfg: TimelineConfig, truth: list[Segment] | None
) -> Timeline:
    curve = feature_signal(seq.features, cfg.signal or "change")
    seg_cfg = cfg.segments
    smoothed = smooth_curve(seq.times_s, curve, kind=seg_cfg.smooth, width_s=seg_cfg.smooth_s)
    threshold = seg_cfg.threshold
    if threshold is None:
        threshold = adaptive_threshold(smoothed)
    label = cfg.signal or "change"
    _, segs = _segments(seq.times_s, curve[:, None], [label], threshold, seg_cfg, duration)
    return Timeline(
        seq.video_id,
        row.get("path"),
        duration,
        seq.times_s,
        curve[:, None],
        [label],
        threshold=threshold,
        segments=segs,
        truth=truth or [],
        curve=smoothed[:, None],
    )


def _segments(
    times: np.ndarray,
    scores: np.ndarray,
    classes: list[str],
    threshold: float,
    config: SegmentConfig,
    duration: float,
) -> tuple[np.ndarray, list[Segment]]:
    """The smoothed curve ``[N, C]`` and the segments found in it, per class."""
    out: list[Segment] = []
    curve = np.zeros(scores.shape, dtype=np.float64)
    for j, label in enumerate(classes):
        curve[:, j] = smooth_curve(times, scores[:, j], kind=config.smooth, width_s=config.smooth_s)
        out += segments_of_curve(
            times,
            curve[:, j],
            threshold=threshold,
            config=config,
            label=label,
            duration_s=duration,
        )
    return curve, sorted(out, key=lambda s: (s.start_s, s.label))
