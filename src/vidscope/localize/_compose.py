"""Long videos composed of labelled clips, in feature space: the stand-in for annotated long
videos when only clip labels exist (timeline calibration from clips, benchmarks).

Event stretches (1 to ``max_event_clips`` consecutive event clips, each event clip used once)
alternate with gaps of background clips (``gap_s`` seconds drawn uniformly; the last background
clip of a gap is cut to make it exact), starting with a gap. The clips' features are
concatenated with their timestamps shifted, so the result is what extracting the concatenated
video would give with a per-frame backbone, up to the sampling phase (window backbones such
as I3D see no window straddle a cut, and flow pairs no frames across one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ..types import Segment

#: Event stretches per composed video (videos stay tens of seconds long, like the clips'
#: typical deployments, so a per-video curve statistic such as the median means the same).
EVENTS_PER_VIDEO = 4


@dataclass(frozen=True)
class ClipFeatures:
    """One labelled clip: features ``[T, D]``, their times ``[T]`` from the clip's start, its
    duration and whether it shows the event."""

    features: np.ndarray
    times_s: np.ndarray
    duration_s: float
    event: bool


@dataclass(frozen=True)
class ComposedVideo:
    """A composed long video: features ``[T, D]``, times ``[T]``, duration and true events."""

    features: np.ndarray
    times_s: np.ndarray
    duration_s: float
    events: list[Segment]


def compose_clips(
    clips: list[ClipFeatures],
    rng: np.random.Generator,
    *,
    num_videos: int | None = None,
    gap_s: tuple[float, float] = (3.0, 10.0),
    max_event_clips: int = 2,
    label: str = "event",
) -> list[ComposedVideo]:
    """Every event clip once, in random stretches between background gaps.

    Args:
        clips: The clips to use (at least one event and one background clip).
        rng: Randomness of the order, stretch lengths, gaps and background picks.
        num_videos: Videos to deal the stretches into (default: one per
            :data:`EVENTS_PER_VIDEO` stretches); fewer when there are fewer stretches.
        gap_s: Range of background seconds before each stretch and after the last.
        max_event_clips: Most event clips per stretch (each stretch draws 1..this many).
        label: The events' label.

    Raises:
        ConfigError: no event or no background clip, or bad ``gap_s`` / ``max_event_clips``.
    """
    lo, hi = check_compose_options(gap_s, max_event_clips)
    events = [c for c in clips if c.event]
    background = [c for c in clips if not c.event and c.duration_s > 0 and len(c.times_s)]
    if not events or not background:
        raise ConfigError(
            f"composing long videos needs event and background clips; got {len(events)} "
            f"event and {len(background)} background clip(s)"
        )
    order = list(rng.permutation(len(events)))
    stretches: list[list[ClipFeatures]] = []
    while order:
        take = min(len(order), int(rng.integers(1, max_event_clips + 1)))
        stretches.append([events[order.pop()] for _ in range(take)])
    n = num_videos or -(-len(stretches) // EVENTS_PER_VIDEO)
    out = []
    for v in range(n):
        mine = stretches[v::n]
        if not mine:
            continue
        parts: list[tuple[ClipFeatures, float]] = []  # (clip, seconds kept)
        truth = []
        t = _gap(parts, background, rng, lo, hi)
        for stretch in mine:
            start = t
            for c in stretch:
                parts.append((c, c.duration_s))
                t += c.duration_s
            truth.append(Segment(start, t, label))
            t += _gap(parts, background, rng, lo, hi)
        feats, times = _concat(parts)
        out.append(ComposedVideo(feats, times, t, truth))
    return out


def check_compose_options(gap_s: tuple[float, float], max_event_clips: int) -> tuple[float, float]:
    """The gap range as floats, after checking both options.

    Raises:
        ConfigError: not ``0 < min <= max`` seconds, or fewer than 1 event clip per stretch.
    """
    lo, hi = (float(x) for x in gap_s)
    if not 0 < lo <= hi < float("inf"):
        raise ConfigError(f"--gap seconds must satisfy 0 < MIN <= MAX, got {lo:g},{hi:g}")
    if max_event_clips < 1:
        raise ConfigError(f"--event-clips must be >= 1, got {max_event_clips}")
    return lo, hi


def _gap(
    parts: list[tuple[ClipFeatures, float]],
    background: list[ClipFeatures],
    rng: np.random.Generator,
    lo: float,
    hi: float,
) -> float:
    """Append ``U(lo, hi)`` seconds of background clips (the last one cut to fit)."""
    gap = float(rng.uniform(lo, hi))
    left = gap
    while left > 1e-6:
        c = background[int(rng.integers(len(background)))]
        keep = min(c.duration_s, left)
        parts.append((c, keep))
        left -= keep
    return gap


def _concat(parts: list[tuple[ClipFeatures, float]]) -> tuple[np.ndarray, np.ndarray]:
    """The parts' samples inside their kept seconds, with shifted times. A part with no sample
    inside them (a short cut of a clip sampled late, e.g. uniformly) keeps its first sample,
    placed in the middle of the part, so times only grow and never enter a neighbour."""
    feats, times, offset = [], [], 0.0
    for c, keep in parts:
        t = np.asarray(c.times_s, np.float64)
        sel = (t >= 0) & (t < keep - 1e-9)
        if sel.any():
            feats.append(c.features[sel])
            times.append(t[sel] + offset)
        else:
            feats.append(c.features[:1])
            times.append(np.array([offset + keep / 2]))
        offset += keep
    return np.concatenate(feats), np.concatenate(times)
