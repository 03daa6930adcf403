"""Timeline calibration: choose the threshold, smoothing, hysteresis and boundary rule that turn
a run's window scores into the best segments on annotated long videos, and keep them in the run.

A clip-level run's validation threshold separates *clips*; on a long video the sliding
windows straddle events and background, and the curve's background level is not the clips'.
:func:`calibrate_timeline` scores annotated long videos the run did not train on, searches a
small grid (smoothing window in samples, hysteresis fraction, half-maximum boundaries,
threshold at quantiles of the curve) for the best segment F1 averaged over tIoU 0.3/0.5/0.7,
and writes ``RUN/timeline.json``. ``vidscope timeline`` then uses those settings for every flag
left at its default.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields, replace
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VidscopeError
from ..types import Segment
from ._postprocess import SegmentConfig, sample_spacing, segments_of_curve, smooth_curve

CALIBRATION_FILE = "timeline.json"
#: Settings a calibration chooses (the rest keep their defaults or flags).
CALIBRATED_FIELDS = ("smooth", "smooth_s", "threshold", "hysteresis", "refine")
SMOOTH_SAMPLES = (1, 3, 5, 9)
HYSTERESIS = (0.0, 0.25, 0.5)
REFINE = ("none", "half_max")
QUANTILES = np.linspace(0.30, 0.995, 40)
TIOUS = (0.3, 0.5, 0.7)


@dataclass(frozen=True)
class Calibration:
    """The chosen timeline settings and how well they did on the calibration videos.

    Attributes:
        segments: The chosen curve-to-segment settings (threshold included).
        f1: Segment F1 at each of ``tious`` on the calibration videos with those settings.
        tious: tIoU thresholds of ``f1``.
        num_videos: Calibration videos scored.
        num_events: Their true events.
        window_s, stride_s, fps: The window plan the scores were made with.
        source: ``annotations`` (annotated long videos) or ``clips`` (videos composed of
            labelled clips, each scored by a fold model that did not train on its clips).
        folds: ``clips``: the fold models scored.
        num_clips: ``clips``: labelled clips composed (events count every shuffle's reuse).
        notes: What the caller should know (e.g. the clips' sampling differs from the plan's).
    """

    segments: SegmentConfig
    f1: list[float]
    tious: list[float]
    num_videos: int
    num_events: int
    window_s: float
    stride_s: float
    fps: float
    source: str = "annotations"
    folds: int | None = None
    num_clips: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        seg = {k: getattr(self.segments, k) for k in CALIBRATED_FIELDS}
        return {**asdict(self), "segments": seg}


@dataclass(frozen=True)
class VideoCurve:
    """One calibration video: curve sample times, its raw scores and its true events."""

    times_s: np.ndarray  # [N]
    scores: np.ndarray  # [N] positive-class score
    truth: list[Segment]
    duration_s: float


def calibrated_segments(run: Any, given: SegmentConfig) -> SegmentConfig:
    """``given`` with the run's calibrated settings in place of every field left at its
    default (so flags the user set win). Unchanged when the run has no calibration."""
    saved = read_calibration(getattr(run, "path", None))
    if saved is None:
        return given
    default = SegmentConfig()
    chosen = {
        k: v
        for k, v in saved.get("segments", {}).items()
        if k in CALIBRATED_FIELDS and getattr(given, k) == getattr(default, k)
    }
    return replace(given, **chosen)


def read_calibration(run_dir: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """The run's ``timeline.json``, or ``None`` when it has none."""
    if run_dir is None:
        return None
    path = Path(run_dir) / CALIBRATION_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise VidscopeError(f"{path}: unreadable timeline calibration ({exc}); delete it") from None


def search_settings(
    videos: list[VideoCurve],
    *,
    base: SegmentConfig | None = None,
    tious: tuple[float, ...] = TIOUS,
) -> tuple[SegmentConfig, list[float]]:
    """The grid point with the best mean segment F1 over ``tious``, judged on a plateau: each
    threshold scores the mean of its F1 and its two neighbours' on the threshold grid, so a
    lone lucky threshold on few calibration events does not win (first best on ties: less
    smoothing, less hysteresis, plain boundaries, lower threshold come first).

    Args:
        videos: Calibration curves with their truth; at least one true event overall.
        base: Settings kept as they are (merge gap, minimum duration, NMS, top-k).
        tious: tIoU thresholds the F1 is averaged over.

    Returns:
        The chosen settings and their F1 per tIoU.
    """
    if not any(v.truth for v in videos):
        raise VidscopeError("timeline calibration needs annotated videos with at least one event")
    base = base or SegmentConfig()
    best: tuple[float, SegmentConfig, list[float]] | None = None
    for k in SMOOTH_SAMPLES:
        curves = [_smoothed(v, k) for v in videos]
        thresholds = np.unique(np.quantile(np.concatenate(curves), QUANTILES))
        for hyst, refine in product(HYSTERESIS, REFINE):
            cfgs = [
                replace(
                    base,
                    smooth="mean" if k > 1 else "none",
                    smooth_s=_width(videos, k),
                    threshold=float(thr),
                    hysteresis=hyst,
                    refine=refine,
                )
                for thr in thresholds
            ]
            f1s = [_f1(videos, curves, cfg, tious) for cfg in cfgs]
            means = np.array([np.mean(f) for f in f1s])
            plateau = np.convolve(np.pad(means, 1, mode="edge"), np.ones(3) / 3, mode="valid")
            i = int(np.argmax(plateau))
            if best is None or plateau[i] > best[0] + 1e-12:
                best = (float(plateau[i]), cfgs[i], f1s[i])
    assert best is not None
    return best[1], best[2]


def _width(videos: list[VideoCurve], k: int) -> float:
    """``k`` samples in seconds (0 = no smoothing), from the first video's spacing."""
    return 0.0 if k <= 1 else float(k * sample_spacing(videos[0].times_s))


def _smoothed(v: VideoCurve, k: int) -> np.ndarray:
    if k <= 1:
        return np.asarray(v.scores, dtype=np.float64)
    width = k * sample_spacing(v.times_s)
    return smooth_curve(v.times_s, v.scores, kind="mean", width_s=width)


def _f1(
    videos: list[VideoCurve], curves: list[np.ndarray], cfg: SegmentConfig, tious: tuple
) -> list[float]:
    preds = {
        str(i): segments_of_curve(
            v.times_s, c, threshold=cfg.threshold, config=cfg, duration_s=v.duration_s
        )
        for i, (v, c) in enumerate(zip(videos, curves, strict=True))
    }
    truth = {str(i): [replace(s, label="event") for s in v.truth] for i, v in enumerate(videos)}
    return segment_f1(preds, truth, tious)


def segment_f1(
    predictions: dict[str, list[Segment]], truth: dict[str, list[Segment]], tious: tuple
) -> list[float]:
    """Class-agnostic segment F1 at each tIoU (greedy matching, highest score first)."""
    from ..metrics import segment_map

    preds = {k: [replace(s, label="event") for s in v] for k, v in predictions.items()}
    gts = {k: [replace(s, label="event") for s in v] for k, v in truth.items()}
    report = segment_map(preds, gts, tious=tious, labels=["event"])
    out = []
    for p, r in zip(report["precision"], report["recall"], strict=True):
        p, r = p or 0.0, r or 0.0
        out.append(2 * p * r / (p + r) if p + r > 0 else 0.0)
    return out


def fields_of(cfg: SegmentConfig) -> dict[str, Any]:
    """Every field of a :class:`SegmentConfig` as a plain dict."""
    return {f.name: getattr(cfg, f.name) for f in fields(cfg)}
