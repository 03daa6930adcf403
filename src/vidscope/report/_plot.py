"""``timeline.png``: a video's score curve with threshold, detected segments and ground truth."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..types import Segment, Timeline
from ._axis import (
    class_color,
    downsample_max,
    score_range,
    thresholds,
    time_domain,
    time_ticks,
)

_MAX_LEGEND_CLASSES = 12
_MAX_SCORE_LABELS = 40


def plot_timeline(
    timeline: Timeline, path: str | Path, *, max_points: int = 5000, dpi: int = 100
) -> Path:
    """Draw one video's timeline and save it as an image (PNG unless ``path`` says otherwise).

    One line per class over time in seconds (``m:ss`` / ``h:mm:ss`` ticks): the curve that was
    thresholded (``timeline.curve``, the smoothed scores) with the raw scores faint behind it,
    the threshold as a dashed line, each detected segment shaded in its class colour with an
    opacity that grows with its score (scores written above the wider ones; the legend swatch
    has the band's colour), and the ground truth, when given, as a band below the curve. Curves
    longer than ``max_points`` are max-pooled for drawing so that peaks stay visible on
    multi-hour videos. Uses no pyplot state, so it is safe in threads and servers.

    Args:
        timeline: The video's scores, segments and truth.
        path: Output file; its folder is created.
        max_points: Most curve samples drawn per class.
        dpi: Resolution (the figure is 12 inches wide).

    Returns:
        ``path`` as a ``Path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0, t1 = time_domain(timeline)
    fig = Figure(figsize=(12, 4.0 if timeline.truth else 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    if timeline.truth:
        ax, band = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [8, 1]})
    else:
        ax, band = fig.subplots(1, 1), None
    handles = _draw_curves(ax, timeline, max_points)
    _shade_segments(ax, timeline.segments, timeline.classes, (t0, t1))
    handles += _detected_handles(timeline)
    if band is not None:
        _draw_truth(band, timeline.truth, timeline.classes)
    bottom = band if band is not None else ax
    ax.set_xlim(t0, t1)
    ticks, labels = time_ticks(t0, t1, target=10)
    bottom.set_xticks(ticks, labels)
    bottom.set_xlabel("time (h:mm:ss)" if t1 >= 3600 else "time (mm:ss)")
    ax.set_ylabel("score")
    ax.set_axisbelow(True)  # grid behind the shaded segments
    ax.grid(True, color="0.9", linewidth=0.8)
    ax.set_title(
        f"{timeline.video_id} — {len(timeline.segments)} segment(s)", loc="left", parse_math=False
    )
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    with warnings.catch_warnings():  # e.g. CJK video ids: drawn as boxes, no need to warn
        warnings.filterwarnings(
            "ignore", message="Glyph .* missing from font", category=UserWarning
        )
        fig.savefig(path, dpi=dpi)
    return path


def _label(text: str) -> str:
    """A class name as matplotlib text: ``$`` kept literal, a leading ``_`` not hidden."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _detected_handles(timeline: Timeline) -> list:
    """Legend swatches of the detected segments, in the colour and opacity of their bands."""
    labels = [c for c in timeline.classes if any(s.label == c for s in timeline.segments)]
    extra = sorted({s.label for s in timeline.segments} - set(labels))
    out = []
    for name in (labels + extra)[:_MAX_LEGEND_CLASSES]:
        text = "detected" if len(labels + extra) == 1 else f"detected {_label(name)}"
        color = class_color(name, timeline.classes)
        out.append(Patch(facecolor=to_rgba(color, 0.35), edgecolor="none", label=text))
    return out


def _draw_curves(ax: Axes, timeline: Timeline, max_points: int) -> list:
    """Class lines (the thresholded curve; the raw scores faint behind it when they differ)
    and threshold lines; returns legend handles."""
    raw = timeline.scores
    curve = raw if timeline.curve is None else timeline.curve
    both = np.concatenate([curve, raw], axis=1) if timeline.curve is not None else curve
    times, pooled = downsample_max(timeline.times_s, both, max_points)  # [M], [M, C or 2C]
    num = len(timeline.classes)
    scores, faint = pooled[:, :num], (pooled[:, num:] if timeline.curve is not None else None)
    thrs = thresholds(timeline)
    lo, hi = score_range(scores if faint is None else pooled, thrs)
    pad = 0.04 * (hi - lo)
    ax.set_ylim(lo - pad, hi + pad)
    handles: list = []
    marker = "." if len(times) < 50 else None
    for c, name in enumerate(timeline.classes):
        color = class_color(name, timeline.classes)
        if faint is not None:
            ax.plot(times, faint[:, c], color=color, linewidth=0.7, alpha=0.3)
        (line,) = ax.plot(times, scores[:, c], color=color, linewidth=1.1, marker=marker)
        if c < _MAX_LEGEND_CLASSES:
            line.set_label(_label(name) + (" (smoothed)" if faint is not None else ""))
            handles.append(line)
    if faint is not None and num:
        handles.append(Line2D([], [], color="0.5", alpha=0.4, linewidth=0.7, label="raw scores"))
    distinct = {t for t in thrs if t is not None}
    for c, thr in enumerate(thrs):
        if thr is None:
            continue
        color = "0.25" if len(distinct) == 1 else class_color(timeline.classes[c], timeline.classes)
        ax.axhline(thr, color=color, linestyle="--", linewidth=1.0)
        if len(distinct) == 1:
            break
    if distinct:
        text = f"threshold {next(iter(distinct)):.3g}" if len(distinct) == 1 else "thresholds"
        handles.append(Line2D([], [], color="0.25", linestyle="--", label=text))
    if len(timeline.classes) > _MAX_LEGEND_CLASSES:
        more = len(timeline.classes) - _MAX_LEGEND_CLASSES
        handles.append(Line2D([], [], color="none", label=f"(+{more} more classes)"))
    return handles


def _segment_color(seg: Segment, classes: list[str], alpha: float) -> tuple:
    return to_rgba(class_color(seg.label, classes), alpha)


def _shade_segments(
    ax: Axes, segments: list[Segment], classes: list[str], domain: tuple[float, float]
) -> None:
    """Detected segments as full-height spans; more opaque for higher scores."""
    if not segments:
        return
    polys, colors = [], []
    for seg in segments:
        score = seg.score if math.isfinite(seg.score) else 0.5
        alpha = 0.12 + 0.33 * float(np.clip(score, 0.0, 1.0))
        polys.append([(seg.start_s, 0), (seg.end_s, 0), (seg.end_s, 1), (seg.start_s, 1)])
        colors.append(_segment_color(seg, classes, alpha))
    coll = PolyCollection(
        polys, facecolors=colors, edgecolors="none", transform=ax.get_xaxis_transform()
    )
    ax.add_collection(coll, autolim=False)
    min_width = 0.02 * (domain[1] - domain[0])
    wide = [s for s in segments if s.duration_s >= min_width and math.isfinite(s.score)]
    if len(wide) > _MAX_SCORE_LABELS:
        return
    for seg in wide:
        ax.text(
            0.5 * (seg.start_s + seg.end_s),
            0.98,
            f"{seg.score:.2f}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=7,
            color="0.2",
            parse_math=False,
        )


def _draw_truth(band: Axes, truth: list[Segment], classes: list[str]) -> None:
    """Ground-truth segments as bars in their own thin axes below the curve."""
    polys = [
        [(s.start_s, 0.15), (s.end_s, 0.15), (s.end_s, 0.85), (s.start_s, 0.85)] for s in truth
    ]
    colors = [_segment_color(s, classes, 0.85) for s in truth]
    band.add_collection(PolyCollection(polys, facecolors=colors, edgecolors="none"), autolim=False)
    band.set_ylim(0, 1)
    band.set_yticks([0.5], ["truth"])
    band.tick_params(axis="y", length=0)
    band.set_axisbelow(True)
    band.grid(True, axis="x", color="0.9", linewidth=0.8)
