"""The score curve of one video as inline SVG: lines, threshold, segments, truth, axis, cursor."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

import numpy as np

from ..types import Segment, Timeline
from ._axis import (
    class_color,
    downsample_max,
    format_time,
    score_range,
    thresholds,
    time_domain,
    time_ticks,
)

WIDTH = 1000.0  # viewBox units; the plot spans the full width, so x / width = t / duration
_TOP = 6.0
_PLOT_H = 170.0
_BAND_GAP = 8.0
_BAND_H = 16.0
_AXIS_H = 20.0


@dataclass(frozen=True)
class _Frame:
    """Maps seconds and scores to viewBox coordinates."""

    t0: float
    t1: float
    lo: float
    hi: float

    def x(self, t: np.ndarray | float) -> np.ndarray | float:
        return WIDTH * (np.asarray(t, dtype=np.float64) - self.t0) / (self.t1 - self.t0)

    def y(self, v: np.ndarray | float) -> np.ndarray | float:
        v = np.asarray(v, dtype=np.float64)
        return _TOP + _PLOT_H * (self.hi - v) / (self.hi - self.lo)


def _num(value: float) -> str:
    """A coordinate or time for an attribute: short, locale-free, at most 3 decimals."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def path_d(xs: np.ndarray, ys: np.ndarray) -> str:
    """SVG path data through the points, broken where a value is NaN."""
    parts: list[str] = []
    pen_down = False
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        if not (math.isfinite(x) and math.isfinite(y)):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        pen_down = True
    return "".join(parts)


def curve_svg(timeline: Timeline, *, max_points: int = 2000) -> tuple[str, dict[str, float]]:
    """Render the curve of one timeline: the thresholded curve (``timeline.curve``, else the
    scores) as the line, and the raw scores faint behind it when they differ.

    Args:
        timeline: The video's scores, segments and truth.
        max_points: Most samples drawn per class (longer curves are max-pooled).

    Returns:
        ``(svg markup, geometry)`` where geometry holds ``t0``, ``t1`` (seconds at the left and
        right edges) and ``width`` (viewBox units) for the page's script.
    """
    t0, t1 = time_domain(timeline)
    num = len(timeline.classes)
    smoothed = timeline.curve is not None
    both = np.concatenate([timeline.curve, timeline.scores], axis=1) if smoothed else None
    times, pooled = downsample_max(
        timeline.times_s, both if smoothed else timeline.scores, max_points
    )  # [M], [M, C] (or [M, 2C]: curve, then raw scores)
    scores, raw = pooled[:, :num], (pooled[:, num:] if smoothed else None)
    thrs = thresholds(timeline)
    frame = _Frame(t0, t1, *score_range(pooled, thrs))
    bottom = _TOP + _PLOT_H
    band_bottom = bottom + (_BAND_GAP + _BAND_H if timeline.truth else 0.0)
    height = band_bottom + _AXIS_H
    parts = [
        f'<svg class="vs-curve" viewBox="0 0 {_num(WIDTH)} {_num(height)}" '
        'xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="score curve of {escape(timeline.video_id)}">',
        f'<rect class="vs-bg" x="0" y="0" width="{_num(WIDTH)}" height="{_num(band_bottom)}"/>',
        *_grid(frame, bottom, band_bottom),
        *_segment_rects(timeline.segments, timeline.classes, frame, "vs-segment", _TOP, _PLOT_H),
        *_threshold_lines(timeline.classes, thrs, frame),
    ]
    xs = frame.x(times)
    for c, name in enumerate(timeline.classes):
        color = class_color(name, timeline.classes)
        if raw is not None:
            d = path_d(xs, frame.y(raw[:, c]))
            parts.append(f'<path class="vs-raw" stroke="{color}" d="{d}"/>')
    for c, name in enumerate(timeline.classes):
        color = class_color(name, timeline.classes)
        d = path_d(xs, frame.y(scores[:, c]))
        parts.append(
            f'<path class="vs-line" data-class="{escape(name)}" stroke="{color}" d="{d}"/>'
        )
    if timeline.truth:
        y0 = bottom + _BAND_GAP
        parts.append(f'<text class="vs-band-label" x="4" y="{_num(y0 + 12)}">truth</text>')
        parts += _segment_rects(timeline.truth, timeline.classes, frame, "vs-truth", y0, _BAND_H)
    parts.append(f'<line class="vs-cursor" x1="0" x2="0" y1="0" y2="{_num(band_bottom)}"/></svg>')
    return "".join(parts), {"t0": t0, "t1": t1, "width": WIDTH}


def _grid(frame: _Frame, bottom: float, band_bottom: float) -> list[str]:
    """Vertical time grid with m:ss labels under it; three score levels labelled inside."""
    out: list[str] = []
    ticks, labels = time_ticks(frame.t0, frame.t1, target=10)
    for t, label in zip(ticks.tolist(), labels, strict=True):
        x = float(frame.x(t))
        anchor = "start" if x < 20 else "end" if x > WIDTH - 20 else "middle"
        out.append(
            f'<line class="vs-grid" x1="{_num(x)}" x2="{_num(x)}" y1="{_num(_TOP)}" '
            f'y2="{_num(band_bottom)}"/><text class="vs-xlabel" x="{_num(x)}" '
            f'y="{_num(band_bottom + 15)}" text-anchor="{anchor}">{escape(label)}</text>'
        )
    for v in (frame.lo, 0.5 * (frame.lo + frame.hi), frame.hi):
        y = float(frame.y(v))
        out.append(
            f'<line class="vs-grid" x1="0" x2="{_num(WIDTH)}" y1="{_num(y)}" y2="{_num(y)}"/>'
            f'<text class="vs-ylabel" x="4" y="{_num(min(max(y + 4, _TOP + 10), bottom - 2))}">'
            f"{v:.3g}</text>"
        )
    return out


def _threshold_lines(classes: list[str], thrs: list[float | None], frame: _Frame) -> list[str]:
    """A dashed line per distinct threshold (in the class colour when they differ)."""
    distinct = sorted({t for t in thrs if t is not None})
    out = []
    for c, thr in enumerate(thrs):
        if thr is None or (len(distinct) == 1 and c != thrs.index(thr)):
            continue
        color = "#444" if len(distinct) == 1 else class_color(classes[c], classes)
        y = _num(float(frame.y(thr)))
        out.append(
            f'<line class="vs-threshold" data-threshold="{_num(thr)}" stroke="{color}" '
            f'x1="0" x2="{_num(WIDTH)}" y1="{y}" y2="{y}"><title>threshold {thr:.3g}</title></line>'
        )
    return out


def _segment_rects(
    segments: list[Segment],
    classes: list[str],
    frame: _Frame,
    css_class: str,
    y: float,
    height: float,
) -> list[str]:
    """Clickable rectangles, at least 2 units wide so that short segments stay visible."""
    out = []
    for i, seg in enumerate(segments):
        x0, x1 = float(frame.x(seg.start_s)), float(frame.x(seg.end_s))
        width = max(x1 - x0, 2.0)
        score = seg.score if math.isfinite(seg.score) else 0.5
        opacity = 0.15 + 0.35 * float(np.clip(score, 0.0, 1.0))
        tip = f"{seg.label} {format_time(seg.start_s)}–{format_time(seg.end_s)}"
        if math.isfinite(seg.score):
            tip += f" score {seg.score:.3f}"
        out.append(
            f'<rect class="{css_class}" data-index="{i}" data-start="{_num(seg.start_s)}" '
            f'data-end="{_num(seg.end_s)}" data-label="{escape(seg.label)}" '
            f'x="{_num(x0)}" y="{_num(y)}" width="{_num(width)}" height="{_num(height)}" '
            f'fill="{class_color(seg.label, classes)}" fill-opacity="{opacity:.2f}">'
            f"<title>{escape(tip)}</title></rect>"
        )
    return out
