"""Score curve -> event segments: smoothing, threshold with hysteresis, minimum duration,
gap merging, non-maximum suppression and top-k."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..types import Segment

Smoothing = Literal["none", "mean", "median"]


@dataclass(frozen=True)
class SegmentConfig:
    """How a curve becomes segments; each field is a ``vidscope timeline`` flag."""

    smooth: Smoothing = "mean"
    """Smoothing filter (``--smooth``)."""
    smooth_s: float = 1.0
    """Smoothing window in seconds (``--smooth-window``); 0 disables smoothing."""
    threshold: float | None = None
    """Score above which time is an event (``--threshold``); ``None`` = the run's threshold
    (chosen on validation at training) or, for plain signals, mean + 2 std of the curve."""
    hysteresis: float = 0.1
    """An event, once started, lasts until the score drops below threshold - hysteresis
    (``--hysteresis``); 0 = plain thresholding."""
    min_duration_s: float = 0.5
    """Shorter segments are dropped (``--min-duration``)."""
    merge_gap_s: float = 1.0
    """Segments separated by less than this are merged (``--merge-gap``)."""
    nms_iou: float = 0.5
    """Of two overlapping segments with this tIoU or more, the weaker is dropped (``--nms``)."""
    top_k: int | None = None
    """Keep only the k best segments per video and label (``--top-k``)."""

    def __post_init__(self) -> None:
        if self.smooth not in ("none", "mean", "median"):
            raise ValueError(f"--smooth must be none, mean or median, got {self.smooth!r}")
        for name, value in (
            ("--smooth-window", self.smooth_s),
            ("--hysteresis", self.hysteresis),
            ("--min-duration", self.min_duration_s),
            ("--merge-gap", self.merge_gap_s),
        ):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not 0 < self.nms_iou <= 1:
            raise ValueError(f"--nms must be in (0, 1], got {self.nms_iou}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"--top-k must be >= 1, got {self.top_k}")


def smooth_curve(
    times_s: np.ndarray, values: np.ndarray, *, kind: Smoothing, width_s: float
) -> np.ndarray:
    """Moving mean/median over ``width_s`` seconds (centred; edges use what exists)."""
    v = np.asarray(values, dtype=np.float64)
    if kind == "none" or width_s <= 0 or len(v) < 3:
        return v
    step = float(np.median(np.diff(times_s))) if len(times_s) > 1 else width_s
    half = round(width_s / max(step, 1e-9) / 2)
    if half < 1:
        return v
    pad = np.pad(v, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(pad, 2 * half + 1)
    return np.median(windows, axis=1) if kind == "median" else windows.mean(axis=1)


def curve_to_segments(
    times_s: np.ndarray,
    values: np.ndarray,
    *,
    threshold: float,
    config: SegmentConfig,
    label: str = "event",
    duration_s: float | None = None,
) -> list[Segment]:
    """Segments where the (smoothed) curve is above ``threshold``, post-processed.

    Each curve sample stands for the time cell half-way to its neighbours, so a segment
    spans from the first active cell's start to the last active cell's end (clipped to the
    video). A segment's score is the peak of the smoothed curve inside it.
    """
    t = np.asarray(times_s, dtype=np.float64)
    if len(t) == 0:
        return []
    v = smooth_curve(t, values, kind=config.smooth, width_s=config.smooth_s)
    active = _hysteresis(v, threshold, threshold - config.hysteresis)
    edges = _cell_edges(t, duration_s)
    segs = [
        Segment(float(edges[a]), float(edges[b + 1]), label, float(v[a : b + 1].max()))
        for a, b in _runs(active)
        if edges[b + 1] > edges[a]
    ]
    segs = merge_close(segs, config.merge_gap_s)
    segs = [s for s in segs if s.duration_s >= config.min_duration_s]
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
