"""Score curve -> event segments: smoothing, threshold with hysteresis, minimum duration,
half-maximum boundaries, gap merging, non-maximum suppression and top-k.

Defaults are relative to the curve itself, so they suit a per-frame change curve at 4 samples
per second and a window-score curve at one sample per 2 s alike:

- smoothing: a centred mean over ``DEFAULT_SMOOTH_SAMPLES`` (3) samples;
- minimum duration: one sample (every run of samples above the threshold counts, a
  single-sample spike included);
- hysteresis: a *fraction* of the way from the threshold down to the curve's median, so the
  "off" level always lies between the curve's median and the threshold and is always reached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..errors import InputError
from ..types import Segment

Smoothing = Literal["none", "mean", "median"]
Refine = Literal["none", "half_max"]

#: Default smoothing window, in samples of the curve.
DEFAULT_SMOOTH_SAMPLES = 3


@dataclass(frozen=True)
class SegmentConfig:
    """How a curve becomes segments; each field is a ``vidscope timeline`` flag."""

    smooth: Smoothing = "mean"
    """Smoothing filter (``--smooth``)."""
    smooth_s: float | None = None
    """Smoothing window in seconds (``--smooth-window``); ``None`` = 3 samples of the curve
    (``DEFAULT_SMOOTH_SAMPLES``); 0 disables smoothing."""
    threshold: float | None = None
    """Level of the smoothed curve above which time is an event (``--threshold``); ``None`` =
    the run's timeline calibration or validation threshold, or for plain signals mean + 2 std
    of the smoothed curve."""
    hysteresis: float = 0.25
    """An event, once started, lasts until the curve drops below ``threshold - hysteresis *
    (threshold - median of the curve)`` (``--hysteresis``, a fraction in [0, 1]); 0 = plain
    thresholding. The off level never falls below the curve's median, so it is always
    reachable."""
    min_duration_s: float | None = None
    """Shorter segments are dropped (``--min-duration``); ``None`` = one sample, i.e. none."""
    merge_gap_s: float = 1.0
    """Segments separated by less than this are merged (``--merge-gap``)."""
    nms_iou: float = 0.5
    """Of two overlapping segments with this tIoU or more, the weaker is dropped (``--nms``)."""
    top_k: int | None = None
    """Keep only the k best segments per video and label (``--top-k``)."""
    refine: Refine = "none"
    """``half_max``: move each segment's ends to where the smoothed curve crosses half-way
    between the curve's median and the segment's peak (``--refine``). Sliding-window scores
    blur an event by the window length; their half-maximum lies at the event's true edges."""

    def __post_init__(self) -> None:
        if self.smooth not in ("none", "mean", "median"):
            raise InputError(f"--smooth must be none, mean or median, got {self.smooth!r}")
        if self.refine not in ("none", "half_max"):
            raise InputError(f"--refine must be none or half_max, got {self.refine!r}")
        for name, value in (
            ("--smooth-window", self.smooth_s),
            ("--min-duration", self.min_duration_s),
            ("--merge-gap", self.merge_gap_s),
        ):
            if value is not None and not value >= 0:
                raise InputError(f"{name} must be >= 0 seconds, got {value}")
        if not 0 <= self.hysteresis <= 1:
            raise InputError(
                f"--hysteresis is a fraction of the way from the threshold down to the curve's "
                f"median, in [0, 1]; got {self.hysteresis}"
            )
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise InputError(f"--threshold must be a finite number, got {self.threshold}")
        if not 0 < self.nms_iou <= 1:
            raise InputError(f"--nms must be in (0, 1], got {self.nms_iou}")
        if self.top_k is not None and self.top_k < 1:
            raise InputError(f"--top-k must be >= 1, got {self.top_k}")


def sample_spacing(times_s: np.ndarray) -> float:
    """Median step between curve samples in seconds (1.0 for fewer than two samples)."""
    t = np.asarray(times_s, dtype=np.float64)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    return step if step > 0 else 1.0


def smooth_curve(
    times_s: np.ndarray,
    values: np.ndarray,
    *,
    kind: Smoothing,
    width_s: float | None = None,
) -> np.ndarray:
    """Moving mean/median over ``width_s`` seconds (centred; edges repeat the end values).

    The window is the smallest odd number of samples covering ``width_s`` (``round``ed to
    whole samples); ``width_s=None`` is ``DEFAULT_SMOOTH_SAMPLES`` samples. A window shorter
    than 3 samples leaves the curve as it is.
    """
    v = np.asarray(values, dtype=np.float64)
    step = sample_spacing(times_s)
    samples = DEFAULT_SMOOTH_SAMPLES if width_s is None else round(width_s / step + 1e-6)
    half = samples // 2  # the window: the smallest odd number of samples >= width_s
    if kind == "none" or half < 1 or len(v) < 3:
        return v
    pad = np.pad(v, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)
    return np.median(windows, axis=1) if kind == "median" else windows.mean(axis=1)


def off_level(curve: np.ndarray, threshold: float, hysteresis: float) -> float:
    """Level below which an active event ends: ``hysteresis`` of the way from ``threshold``
    down to the curve's median (``threshold`` itself when the median is above it)."""
    v = np.asarray(curve, dtype=np.float64)
    base = float(np.median(v)) if len(v) else threshold
    if base >= threshold or hysteresis == 0:
        return threshold
    return base + (1.0 - hysteresis) * (threshold - base)


def curve_to_segments(
    times_s: np.ndarray,
    values: np.ndarray,
    *,
    threshold: float,
    config: SegmentConfig,
    label: str = "event",
    duration_s: float | None = None,
) -> list[Segment]:
    """Segments where the smoothed curve is above ``threshold``, post-processed.

    Each curve sample stands for the time cell half-way to its neighbours, so a segment
    spans from the first active cell's start to the last active cell's end (clipped to the
    video). A segment's score is the peak of the smoothed curve (the curve that was
    thresholded, drawn on the plots) inside it.
    """
    t = np.asarray(times_s, dtype=np.float64)
    if len(t) == 0:
        return []
    v = smooth_curve(t, values, kind=config.smooth, width_s=config.smooth_s)
    return segments_of_curve(
        t, v, threshold=threshold, config=config, label=label, duration_s=duration_s
    )


def segments_of_curve(
    times_s: np.ndarray,
    curve: np.ndarray,
    *,
    threshold: float,
    config: SegmentConfig,
    label: str = "event",
    duration_s: float | None = None,
) -> list[Segment]:
    """:func:`curve_to_segments` on a curve that is already smoothed."""
    t = np.asarray(times_s, dtype=np.float64)
    v = np.asarray(curve, dtype=np.float64)
    if len(t) == 0:
        return []
    active = _hysteresis(v, threshold, off_level(v, threshold, config.hysteresis))
    runs = _runs(active)
    if config.refine == "half_max":
        runs = _half_max(v, runs, float(np.median(v)))
    edges = _cell_edges(t, duration_s)
    segs = [
        Segment(float(edges[a]), float(edges[b + 1]), label, float(v[a : b + 1].max()))
        for a, b in runs
        if edges[b + 1] > edges[a]
    ]
    segs = merge_close(segs, config.merge_gap_s)
    if config.min_duration_s is not None:
        segs = [s for s in segs if s.duration_s >= config.min_duration_s - 1e-9]
    segs = nms(segs, config.nms_iou)
    if config.top_k is not None:
        segs = sorted(segs, key=lambda s: -s.score)[: config.top_k]
    return sorted(segs, key=lambda s: s.start_s)


def _hysteresis(v: np.ndarray, high: float, low: float) -> np.ndarray:
    """True from a crossing above ``high`` until the value falls below ``low``."""
    out = np.zeros(len(v), bool)
    on = False
    for i, x in enumerate(v):
        on = x >= low if on else x >= high
        out[i] = on
    return out


def _runs(active: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` index pairs of consecutive True values."""
    d = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1, strict=True))


def _half_max(v: np.ndarray, runs: list[tuple[int, int]], base: float) -> list[tuple[int, int]]:
    """Each run's ends moved to the outermost samples at or above half its peak over ``base``:
    outwards while the curve stays above that level, inwards while it is below. Runs that
    come to overlap are joined."""
    out: list[tuple[int, int]] = []
    n = len(v)
    for a, b in runs:
        peak = a + int(np.argmax(v[a : b + 1]))
        level = base + 0.5 * (v[peak] - base)
        lo, hi = a, b
        while lo > 0 and v[lo - 1] >= level:
            lo -= 1
        while lo < peak and v[lo] < level:
            lo += 1
        while hi < n - 1 and v[hi + 1] >= level:
            hi += 1
        while hi > peak and v[hi] < level:
            hi -= 1
        if out and lo <= out[-1][1] + 1:
            lo = out.pop()[0]
        out.append((lo, hi))
    return out


def _cell_edges(t: np.ndarray, duration_s: float | None) -> np.ndarray:
    """``[N + 1]`` boundaries half-way between samples, clipped to ``[0, duration]``."""
    if len(t) == 1:
        half = 0.5
        edges = np.array([t[0] - half, t[0] + half])
    else:
        mid = (t[1:] + t[:-1]) / 2
        edges = np.concatenate([[t[0] - (mid[0] - t[0])], mid, [t[-1] + (t[-1] - mid[-1])]])
    hi = duration_s if duration_s is not None else edges[-1]
    return np.clip(edges, 0.0, max(hi, 0.0))


def merge_close(segments: list[Segment], gap_s: float) -> list[Segment]:
    """Merge segments of one label whose gap is below ``gap_s`` (score = max)."""
    out: list[Segment] = []
    for s in sorted(segments, key=lambda s: (s.label, s.start_s)):
        last = out[-1] if out else None
        if last is not None and last.label == s.label and s.start_s - last.end_s < gap_s:
            out[-1] = Segment(
                last.start_s, max(last.end_s, s.end_s), s.label, max(last.score, s.score)
            )
        else:
            out.append(s)
    return out


def nms(segments: list[Segment], iou: float) -> list[Segment]:
    """Greedy non-maximum suppression per label by temporal IoU."""
    kept: list[Segment] = []
    for s in sorted(segments, key=lambda s: -s.score):
        if all(k.label != s.label or _tiou(k, s) < iou for k in kept):
            kept.append(s)
    return kept


def _tiou(a: Segment, b: Segment) -> float:
    inter = max(0.0, min(a.end_s, b.end_s) - max(a.start_s, b.start_s))
    union = max(a.end_s, b.end_s) - min(a.start_s, b.start_s)
    return inter / union if union > 0 else 0.0
