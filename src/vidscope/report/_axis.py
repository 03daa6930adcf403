"""Time axis helpers shared by the PNG plot and the HTML page: formatting, ticks, downsampling."""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..types import Timeline

# Candidate tick steps in seconds, from a tenth of a second to a day.
_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)
_STEPS_S += (21600, 43200, 86400)

# Ten distinguishable class colours (matplotlib's tab10), used by the plot and the page alike.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
UNKNOWN_COLOR = "#555555"


def format_time(seconds: float, *, decimals: int = 1) -> str:
    """``mm:ss.s`` (or ``h:mm:ss.s`` from one hour on) for a time in seconds.

    Args:
        seconds: Time; negative values get a leading ``-``, non-finite ones give ``"--:--"``.
        decimals: Digits after the seconds' decimal point (0 drops the point).

    Returns:
        The formatted time, e.g. ``format_time(65.26) == "01:05.3"``.
    """
    if not math.isfinite(seconds):
        return "--:--"
    sign = "-" if seconds < 0 else ""
    scale = 10**decimals
    units = round(abs(seconds) * scale)  # rounded once, so 59.96 s becomes 01:00.0, not 00:60.0
    whole, frac = divmod(units, scale)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    tail = f".{frac:0{decimals}d}" if decimals > 0 else ""
    if hours:
        return f"{sign}{hours}:{minutes:02d}:{secs:02d}{tail}"
    return f"{sign}{minutes:02d}:{secs:02d}{tail}"


def tick_step(span_s: float, *, target: int = 8) -> float:
    """The smallest round step (1, 2, 5, 10, 15, 30 s, 1, 2, 5 ... min, ...) giving <= target
    ticks."""
    for step in _STEPS_S:
        if span_s / step <= target:
            return float(step)
    return float(math.ceil(span_s / target / 86400) * 86400)


def time_ticks(t0: float, t1: float, *, target: int = 8) -> tuple[np.ndarray, list[str]]:
    """Round tick positions in ``[t0, t1]`` and their ``m:ss`` / ``h:mm:ss`` labels.

    Labels carry tenths only when the step is below one second.
    """
    step = tick_step(max(t1 - t0, 1e-9), target=target)
    first = math.ceil(t0 / step - 1e-9) * step
    ticks = np.arange(first, t1 + step * 1e-6, step)
    decimals = 1 if step < 1 else 0
    return ticks, [format_time(float(t), decimals=decimals) for t in ticks]


def time_domain(timeline: Timeline) -> tuple[float, float]:
    """``(0, end)`` of the x axis: the duration, or the last score/segment time if it is unknown."""
    end = float(timeline.duration_s) if timeline.duration_s is not None else math.nan
    if not (math.isfinite(end) and end > 0):
        ends = [s.end_s for s in (*timeline.segments, *timeline.truth)]
        if timeline.window_s is not None and len(timeline.window_s):
            ends.append(float(np.nanmax(timeline.window_s)))
        if len(timeline.times_s):
            ends.append(float(np.nanmax(timeline.times_s)))
        end = max([e for e in ends if math.isfinite(e)], default=0.0)
    return 0.0, end if end > 0 else 1.0


def downsample_max(
    times_s: np.ndarray, scores: np.ndarray, max_points: int
) -> tuple[np.ndarray, np.ndarray]:
    """Max-pool a curve to at most ``max_points`` samples so that peaks survive.

    Args:
        times_s: ``[N]`` sample times.
        scores: ``[N, C]`` scores; NaNs are ignored within a bin (all-NaN bins stay NaN).
        max_points: Largest number of output samples (>= 1).

    Returns:
        ``(times [M], scores [M, C])`` with ``M <= max_points``; each output time is the centre of
        its bin. Curves that are already short enough come back unchanged.
    """
    n = len(times_s)
    if n <= max_points:
        return times_s, scores
    k = math.ceil(n / max_points)  # samples per bin
    m = math.ceil(n / k)
    pad = m * k - n
    t = np.concatenate([times_s, np.full(pad, times_s[-1])])  # [m*k]
    s = np.concatenate([scores, np.full((pad, scores.shape[1]), np.nan, scores.dtype)])
    pooled = np.fmax.reduce(s.reshape(m, k, -1), axis=1)  # [m, C], NaN only if all NaN
    centres = 0.5 * (t.reshape(m, k)[:, 0] + t.reshape(m, k)[:, -1])  # [m]
    return centres, pooled


def thresholds(timeline: Timeline) -> list[float | None]:
    """One threshold per class (``None`` where there is none); a scalar applies to all classes."""
    thr = timeline.threshold
    num = len(timeline.classes)
    if thr is None:
        return [None] * num
    values = np.atleast_1d(np.asarray(thr, dtype=np.float64))
    if values.size == 1:
        return [float(values[0])] * num
    if values.size != num:
        raise InputError(
            f"{timeline.video_id}: {values.size} thresholds for {num} classes; "
            "give one threshold, or one per class"
        )
    return [float(v) if math.isfinite(v) else None for v in values]


def score_range(scores: np.ndarray, thresholds_: list[float | None]) -> tuple[float, float]:
    """y-axis limits: ``[0, 1]`` for probabilities, widened to hold any other scores."""
    finite = scores[np.isfinite(scores)]
    values = [0.0, 1.0, *[t for t in thresholds_ if t is not None]]
    if finite.size:
        values += [float(finite.min()), float(finite.max())]
    lo, hi = min(values), max(values)
    return lo, hi if hi > lo else lo + 1.0


def class_color(label: str, classes: list[str]) -> str:
    """The palette colour of a class name (grey for labels outside several ``classes``)."""
    if label in classes:
        return PALETTE[classes.index(label) % len(PALETTE)]
    return PALETTE[0] if len(classes) == 1 else UNKNOWN_COLOR
