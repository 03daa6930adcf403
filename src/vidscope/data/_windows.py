"""Fixed-length windows over videos, labelled from event annotations, as a :class:`SequenceSet`.

A window-level head trains on windows exactly as a video-level head trains on videos: each
window becomes one "video" of the set, its id ``"<video_id>@<start>-<end>"`` and its source
group the video id (or the video's own group when the annotations give one, e.g. a camera or
the clips a composed video was made of), so no split puts windows of one source on both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, StoreError
from ..features import FeatureSequence, FeatureStore
from ..types import Segment
from ._annotations import merge_segments
from ._labels import LabelError, LabelSet
from ._sequences import SequenceSet

NORMAL = "normal"
_EPS = 1e-9


def window_bounds(duration_s: float, *, window_s: float, stride_s: float) -> np.ndarray:
    """Start/end times of windows covering ``[0, duration_s]``.

    Full-length windows start at ``0, stride_s, 2 * stride_s, ...`` while they end by
    ``duration_s``; if their last one stops short of the end, one more full-length window
    ``[duration_s - window_s, duration_s]`` covers the tail. A video shorter than one window
    gets the single window ``[0, duration_s]``. (``--overlap f`` is ``stride_s = window_s *
    (1 - f)``.)

    Returns:
        ``float64 [N, 2]`` window starts and ends in seconds, N >= 1.

    Raises:
        ValueError: non-positive duration, window or stride.
    """
    for name, value in (("duration_s", duration_s), ("--window", window_s), ("stride", stride_s)):
        if not (math.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a positive number of seconds, got {value}")
    if duration_s < window_s + _EPS:
        return np.array([[0.0, float(duration_s)]])
    count = math.floor((duration_s - window_s) / stride_s + _EPS) + 1
    starts = np.arange(count, dtype=np.float64) * stride_s
    if starts[-1] + window_s < duration_s - 1e-6:
        starts = np.r_[starts, duration_s - window_s]
    return np.stack([starts, starts + window_s], axis=1)


def frames_in_windows(times_s: np.ndarray, bounds: np.ndarray) -> list[np.ndarray]:
    """Frame indices per window: frames whose time lies in ``[start, end)``.

    A window holding no frame gets the last frame before its end (the first frame if none
    is), so no window is ever empty.

    Args:
        times_s: ``[T]`` non-decreasing frame times, T >= 1.
        bounds: ``[N, 2]`` window starts/ends (see :func:`window_bounds`).

    Returns:
        N ``int64`` index arrays into ``times_s``.
    """
    times = np.asarray(times_s, dtype=np.float64)
    if times.size == 0:
        raise InputError("no frames to put into windows")
    if np.any(np.diff(times) < 0):
        raise InputError("frame times must be non-decreasing")
    lo = np.searchsorted(times, bounds[:, 0] - _EPS, side="left")
    hi = np.searchsorted(times, bounds[:, 1] - _EPS, side="left")
    out = []
    for a, b in zip(lo, hi, strict=True):
        if b > a:
            out.append(np.arange(a, b, dtype=np.int64))
        else:
            out.append(np.array([max(b - 1, 0)], dtype=np.int64))
    return out


def label_windows(
    bounds: np.ndarray,
    events: list[Segment],
    *,
    min_overlap: float = 0.5,
    classes: list[str] | None = None,
) -> np.ndarray:
    """Class index per window: 0 (normal) or the index of the event label it holds.

    A window takes an event label when its overlap with the union of that label's events
    is at least ``min_overlap`` of the window's length, or when it covers at least
    ``min_overlap`` of one event of that label (so events shorter than a window still mark
    the windows around them). When several labels qualify, the largest overlap wins (ties:
    the first in ``classes``).

    Args:
        bounds: ``[N, 2]`` window starts/ends in seconds.
        events: The video's event segments.
        min_overlap: Fraction in ``(0, 1]`` (``--min-overlap``).
        classes: Window classes, the normal class first (as ``LabelSet.classes``); ``None``
            is ``["normal", *sorted event labels]``, so binary events give 0/1.

    Returns:
        ``int64 [N]`` class indices into ``classes``.
    """
    if not 0 < min_overlap <= 1:
        raise InputError(f"--min-overlap must be in (0, 1], got {min_overlap}")
    classes = classes or [NORMAL, *sorted({e.label for e in events})]
    unknown = sorted({e.label for e in events} - set(classes[1:]))
    if unknown:
        raise InputError(f"event label(s) {unknown} not among the window classes {classes}")
    bounds = np.asarray(bounds, dtype=np.float64).reshape(-1, 2)
    length = bounds[:, 1] - bounds[:, 0]
    best = np.zeros(len(bounds))
    labels = np.zeros(len(bounds), dtype=np.int64)
    for index, name in enumerate(classes[1:], start=1):
        union = merge_segments(e for e in events if e.label == name)
        overlap = np.zeros(len(bounds))  # [N] window ∩ union of this label's events
        covers = np.zeros(len(bounds), dtype=bool)  # [N] window covers most of one event
        for e in union:
            part = np.clip(
                np.minimum(bounds[:, 1], e.end_s) - np.maximum(bounds[:, 0], e.start_s), 0, None
            )
            overlap += part
            covers |= part >= min_overlap * e.duration_s - _EPS
        hit = ((overlap >= min_overlap * length - _EPS) | covers) & (overlap > best)
        labels[hit], best[hit] = index, overlap[hit]
    return labels


def drop_after_first_event(
    bounds: np.ndarray, labels: np.ndarray, events: list[Segment]
) -> np.ndarray:
    """Which windows to keep: every event window, and the normal windows that end by the
    start of the video's first event (later normal windows carry the event's aftermath).

    Returns:
        ``bool [N]``; all ``True`` for a video without events.
    """
    if not events:
        return np.ones(len(labels), dtype=bool)
    first_s = min(e.start_s for e in events)
    return (np.asarray(labels) != 0) | (np.asarray(bounds)[:, 1] <= first_s + _EPS)


def window_sequences(
    store: FeatureStore,
    annotations: dict[str, list[Segment]],
    *,
    window_s: float,
    stride_s: float,
    min_overlap: float = 0.5,
    drop_after_event: bool = False,
    classes: list[str] | None = None,
    groups: dict[str, str] | None = None,
) -> SequenceSet:
    """The windows of the annotated videos as a :class:`SequenceSet` for a window-level head.

    Each window of each video in ``annotations`` (videos with an empty list are normal) is
    one sequence: id ``"<video_id>@<start>-<end>"`` (3 decimals), its frames' features and
    times, its label from :func:`label_windows`, and its video's group (``groups``, else the
    video id) as its source group. A video's
    duration comes from the manifest (``duration_s``), else from its frame times.

    Args:
        store: The feature store.
        annotations: Events per store id (see :func:`read_annotations`).
        window_s: Window length in seconds (``--window``).
        stride_s: Step between window starts in seconds (``--window * (1 - --overlap)``).
        min_overlap: See :func:`label_windows`.
        drop_after_event: Drop the normal windows of event videos ending after the first
            event starts (see :func:`drop_after_first_event`).
        classes: Window classes, normal first; ``None`` is ``["normal", *sorted labels]``.
        groups: Source group per video id (see :func:`read_annotation_groups`); videos it
            does not name are their own group.

    Raises:
        LabelError: annotated videos without features, or no event window at all.
        StoreError: arrays of different widths.
    """
    classes = _check(store, annotations, classes)
    out = _Windows()
    for vid, events in annotations.items():
        seq = store.load(vid)
        duration_s = _duration(store, vid, seq.times_s)
        bounds = window_bounds(duration_s, window_s=window_s, stride_s=stride_s)
        labels = label_windows(bounds, events, min_overlap=min_overlap, classes=classes)
        keep = np.ones(len(bounds), dtype=bool)
        if drop_after_event:
            keep = drop_after_first_event(bounds, labels, events)
        out.add(seq, bounds, labels, keep, (groups or {}).get(vid, vid))
    return out.assemble(store, classes)


def _check(
    store: FeatureStore, annotations: dict[str, list[Segment]], classes: list[str] | None
) -> list[str]:
    """The window classes, after checking the annotated videos and labels against them."""
    found = {e.label for segs in annotations.values() for e in segs}
    classes = list(classes or [NORMAL, *sorted(found)])
    if found - set(classes[1:]):
        raise LabelError(f"event label(s) {sorted(found - set(classes[1:]))} not in {classes}")
    ok = set(store.ids())
    missing = [v for v in annotations if v not in ok]
    if missing:
        raise LabelError(
            f"{len(missing)} annotated video(s) have no features in {store.root} "
            f"({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); extract them first"
        )
    return classes


@dataclass
class _Windows:
    """Windows collected video by video."""

    ids: list[str] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)  # [T_w, D] float32 each
    times_s: list[np.ndarray] = field(default_factory=list)  # [T_w] each
    y: list[int] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    videos: set[str] = field(default_factory=set)
    dropped: int = 0

    def add(
        self,
        seq: FeatureSequence,
        bounds: np.ndarray,
        y: np.ndarray,
        keep: np.ndarray,
        group: str,
    ) -> None:
        frames = frames_in_windows(seq.times_s, bounds)
        for i in np.flatnonzero(keep):
            self.ids.append(f"{seq.video_id}@{bounds[i, 0]:.3f}-{bounds[i, 1]:.3f}")
            self.features.append(seq.features[frames[i]].astype(np.float32))
            self.times_s.append(seq.times_s[frames[i]])
            self.y.append(int(y[i]))
            self.groups.append(group)
        self.videos.add(seq.video_id)
        self.dropped += int((~keep).sum())

    def assemble(self, store: FeatureStore, classes: list[str]) -> SequenceSet:
        """The windows as a :class:`SequenceSet`, with per-class counts in its notes."""
        y = np.array(self.y, dtype=np.int64)
        videos = len(self.videos)
        if not np.any(y != 0):
            raise LabelError(
                f"no window of the {videos} annotated video(s) overlaps an event enough to be "
                "labelled one; check the annotation times, or lower --min-overlap or --window"
            )
        widths = {f.shape[1] for f in self.features}
        if len(widths) > 1:
            raise StoreError(
                f"{store.root}: feature widths differ between videos: {sorted(widths)}"
            )
        counts = np.bincount(y, minlength=len(classes))
        sources = len(set(self.groups))
        notes = [
            f"{len(y)} windows from {videos} videos"
            + (f" of {sources} source groups" if sources != videos else "")
            + ": "
            + ", ".join(f"{c} {n}" for c, n in zip(classes, counts, strict=True))
        ]
        if self.dropped:
            notes.append(
                f"{self.dropped} normal window(s) after a video's first event were dropped"
            )
        labels = LabelSet(
            self.ids, y, list(classes), groups=np.array(self.groups), notes=notes,
            units=np.array([i.rsplit("@", 1)[0] for i in self.ids]),  # "VIDEO@START-END"
        )  # fmt: skip
        layout = [(str(n), int(w)) for n, w in store.meta.get("layout", [])] or [("features", 0)]
        backbone = dict(store.meta.get("backbone") or {})
        return SequenceSet(labels, self.features, self.times_s, layout, backbone=backbone)


def _duration(store: FeatureStore, video_id: str, times_s: np.ndarray) -> float:
    """The manifest's duration, else the last frame time plus one typical frame step."""
    value = store.rows.get(video_id, {}).get("duration_s")
    try:
        duration = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        duration = math.nan
    if math.isfinite(duration) and duration > 0:
        return duration
    step = float(np.median(np.diff(times_s))) if len(times_s) > 1 else 1.0
    return float(times_s[-1]) + (step if step > 0 else 1.0)
