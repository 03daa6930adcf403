"""Long videos composed of labelled clips, in feature space: the stand-in for annotated long
videos when only clip labels exist (timeline calibration from clips, benchmarks).

Event stretches (1 to ``max_event_clips`` consecutive event clips, each event clip used once)
alternate with gaps of background clips (``gap_s`` seconds drawn uniformly; the last background
clip of a gap is cut to make it exact), starting with a gap. The clips' features are
concatenated with their timestamps shifted, so the result is what extracting the concatenated
video would give with a per-frame backbone, up to the sampling phase (window backbones such
as I3D see no window straddle a cut, and flow pairs no frames across one).

Composed as training data (:func:`compose_store`), the clips are first cut into grouped folds
and each fold is composed apart (:func:`compose_grouped`): a composed video is then made of
one fold's clips only, and its events CSV names that fold as the video's group, so a
window-level run's validation never holds windows of clips it trained on (every arrangement
reuses every clip).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..types import Segment

if TYPE_CHECKING:
    from ..data import LabelSet
    from ..features import FeatureStore

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


def fold_count(ls: LabelSet, folds: int, event: str) -> tuple[int, str | None]:
    """``folds`` capped so that every fold can hold some source (or, without groups, some
    clip) of each class; and a note when capped.

    Raises:
        ConfigError: fewer than two sources (clips) of either class.
    """
    grouped = ls.groups is not None
    units = np.asarray(ls.groups if grouped else ls.ids, dtype=object)
    what = "source groups" if grouped else "clips"
    have = [len(set(units[ls.y == c].tolist())) for c in (1, 0)]
    k = min(folds, *have)
    if k < 2:
        raise ConfigError(
            f"{'grouped ' if grouped else ''}folds need {what} of both classes in at least 2 "
            f"folds; the labels have "
            f"{have[0]} {what} with {event!r} clips and {have[1]} with others"
        )
    if k == folds:
        return k, None
    return k, (
        f"--folds {folds} capped at {k}: {min(have)} {what} hold the rarer class, and each "
        "fold must hold some of it"
    )


def compose_grouped(
    ls: LabelSet,
    clips: list[ClipFeatures],
    rng: np.random.Generator,
    *,
    folds: int,
    shuffles: int,
    seed: int,
    **recipe: Any,
) -> tuple[list[ComposedVideo], list[str] | None]:
    """``shuffles`` arrangements of ``clips`` (one per label of ``ls``, in its order), each
    fold of a grouped ``folds``-fold cut composed apart; returns the videos and each video's
    fold name (``fold<k>``), the group its windows must keep together (``folds`` < 2: all
    composed together, and ``None``: each video is its own group).

    A fold left with one class only (a grouping the stratification could not balance) joins
    the next fold. ``folds`` must already be capped (:func:`fold_count`); ``recipe`` is
    :func:`compose_clips`' keywords.
    """
    from ..data import make_splits

    if folds < 2:
        parts = [np.arange(len(ls.ids))]
    else:
        splits = make_splits(ls, mode="kfold", folds=folds, seed=seed, inner_val=False)
        parts = [p.val for p in splits]
    merged: list[np.ndarray] = []
    carry = np.zeros(0, np.int64)
    for part in parts:
        part = np.concatenate([carry, part])
        if len(set(ls.y[part].tolist())) < 2:
            carry = part
            continue
        merged.append(part)
        carry = np.zeros(0, np.int64)
    if len(carry):
        if not merged:  # cannot happen with both classes present, but stay whole
            merged.append(carry)
        else:
            merged[-1] = np.concatenate([merged[-1], carry])
    videos: list[ComposedVideo] = []
    names: list[str] = []
    for _ in range(shuffles):
        for k, part in enumerate(merged):
            made = compose_clips([clips[i] for i in part], rng, **recipe)
            videos += made
            names += [f"fold{k}"] * len(made)
    return videos, (names if folds >= 2 else None)


def stored_clip(store: FeatureStore, video_id: str, event: bool) -> ClipFeatures:
    """One clip of a feature store, for composing (its duration from the manifest, else from
    its sample times)."""
    seq = store.load(video_id)
    times = np.asarray(seq.times_s, np.float64)
    return ClipFeatures(seq.features, times, _duration(store, video_id, times), event)


def _duration(store: FeatureStore, video_id: str, times: np.ndarray) -> float:
    """A stored clip's duration: the manifest's, else from its sample times."""
    row = store.rows.get(video_id, {})
    return float(row.get("duration_s") or 0.0) or _span(np.asarray(times, np.float64))


def _span(times: np.ndarray) -> float:
    """A duration from sample times alone: the last time plus one sample spacing."""
    if len(times) < 2:
        return 1.0
    return float(times[-1] + np.median(np.diff(times)))


def write_composed(
    videos: list[ComposedVideo],
    meta: dict[str, Any],
    out: Path,
    *,
    prefix: str = "comp",
    groups: list[str] | None = None,
) -> Path:
    """The composed videos as a feature store at ``out`` (``meta``: the clips' store key) with
    their events in ``out/events.csv`` (``file_name,start_time,end_time,label``, and ``group``
    when ``groups`` gives one per video); returns ``out``. Ids are ``<prefix>NNNN``."""
    from ..features import FeatureStore

    st = FeatureStore.create(out, meta)
    rows: list[tuple[Any, ...]] = []
    for i, v in enumerate(videos):
        vid = f"{prefix}{i:04d}"
        rel = st.write(vid, v.features, v.times_s)
        st.record(
            {"video_id": vid, "path": f"{vid}.mp4", "status": "ok", "duration_s": v.duration_s,
             "num_samples": len(v.times_s), "features": rel}
        )  # fmt: skip
        extra = (groups[i],) if groups else ()
        mine = [(f"{vid}.mp4", round(e.start_s, 4), round(e.end_s, 4), e.label) for e in v.events]
        rows += [r + extra for r in mine or [(f"{vid}.mp4", "", "", "")]]
    st.compact()
    header = "file_name,start_time,end_time,label" + (",group" if groups else "")
    lines = [header] + [",".join(map(str, r)) for r in rows]
    (Path(out) / "events.csv").write_text("\n".join(lines) + "\n")
    return Path(out)


def compose_store(
    store: FeatureStore | str | os.PathLike[str],
    labels: Any,
    out: str | os.PathLike[str],
    *,
    shuffles: int = 4,
    gap_s: tuple[float, float] = (3.0, 10.0),
    max_event_clips: int = 2,
    seed: int = 0,
    folds: int = 5,
    notes: list[str] | None = None,
    allow_missing: bool = False,
) -> tuple[Path, list[ComposedVideo]]:
    """Long videos composed of a store's labelled binary clips, written as a feature store
    with ``events.csv``: the training data of a window-level run for users with clip labels
    only (``vidscope compose``, then ``train OUT --annotations OUT/events.csv --window W``).

    The clips are cut into ``folds`` grouped folds (by the labels' source groups) composed
    apart, and ``events.csv`` names each video's fold in its ``group`` column, so the
    window-level run's validation holds only clips its training windows do not.

    Args:
        store: The clips' features (extracted at the rate the timeline will use).
        labels: Label CSV path or :class:`vidscope.training.LabelOptions` (two classes; the
            event class is the labels' positive class).
        out: A new (or empty) folder for the composed store.
        shuffles: Arrangements of all the clips (each event clip once per arrangement).
        gap_s, max_event_clips: As :func:`compose_clips`.
        seed: Seed of the folds and arrangements.
        folds: Grouped folds composed apart (capped at the sources of the rarer class).
        notes: Collects what the caller should know (folds capped, grouping dropped, clips
            left out).
        allow_missing: Leave out labelled clips whose extraction failed or left no samples
            (with a note) instead of raising.

    With a single source (clip) of a class the clips cannot be cut into grouped folds: they
    are composed together, without folds, and a note says that a window-level run's
    validation on them is optimistic.

    Raises:
        ConfigError: ``out`` holds files, labels that are not binary, or bad options.
        LabelError: labelled clips without features (unless ``allow_missing``).
    """
    from ..data import load_sequences, read_labels
    from ..features import open_store
    from ..training import LabelOptions

    check_compose_options(gap_s, max_event_clips)
    if shuffles < 1:
        raise ConfigError(f"--shuffles must be >= 1, got {shuffles}")
    if seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {seed}")
    root = Path(out)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConfigError(f"--out {root}: exists and is not an empty folder; choose a new one")
    st = store if hasattr(store, "load") else open_store(store)
    opts = labels if isinstance(labels, LabelOptions) else LabelOptions(labels)
    # failed clips are matched (then named, or left out with allow_missing) as train does
    ids = st.ids(("ok", "partial", "failed")) if opts.labels is not None else st.ids()
    ls = read_labels(
        ids, opts.labels, id_column=opts.id_column,
        label_column=opts.label_column, group_column=opts.group_column,
        manifest=st.manifest(), positive_class=opts.positive_class,
        split_column="",  # a split column is not used
    )  # fmt: skip
    data = load_sequences(st, ls, allow_missing=allow_missing)  # failed clips named / dropped
    ls = data.labels
    if ls.num_classes != 2:
        raise ConfigError(
            f"composing needs two classes (event and background); the labels have "
            f"{ls.num_classes}: {', '.join(ls.classes)}"
        )
    if folds < 2:
        raise ConfigError(f"--folds must be >= 2, got {folds}")
    try:
        k, capped = fold_count(ls, folds, str(ls.classes[1]))
    except ConfigError as exc:  # one source of a class: compose all clips together
        k, capped = (
            1,
            (
                f"{exc}: composed without folds, so a window-level run trained on these videos "
                "validates on clips it also trains on (optimistic validation); label clips of "
                "more sources"
            ),
        )
    clips = [
        ClipFeatures(x, np.asarray(t, np.float64), _duration(st, v, t), bool(y == 1))
        for v, y, x, t in zip(ls.ids, ls.y, data.features, data.times_s, strict=True)
    ]
    rng = np.random.default_rng(seed)
    recipe = {"gap_s": gap_s, "max_event_clips": max_event_clips, "label": str(ls.classes[1])}
    videos, groups = compose_grouped(
        ls, clips, rng, folds=k, shuffles=shuffles, seed=seed, **recipe
    )
    if notes is not None:
        notes += ([capped] if capped else []) + list(ls.notes)
    return write_composed(videos, dict(st.meta), root, groups=groups), videos
