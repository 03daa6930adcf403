"""Scoring raw videos with a ``videomae`` run: ``predict`` and ``evaluate`` of a run whose
models read clips, not features (no store, no extraction: the clips are decoded directly)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import ClipSet, LabelSet, load_clips
from ..errors import InputError, VidscopeError
from ..features import resolve_videos
from ..video import probe


def run_clip_scores(run: Any, clips: ClipSet) -> np.ndarray:
    """Mean over the run's members of their probabilities (binary ``[N]``, else ``[N, C]``).

    ``clips.labels.classes`` must be the run's classes (their order decides the columns).
    """
    idx = np.arange(len(clips))
    out = [m.trainer.scores(m.model, clips, idx) for m in run.members]
    return np.mean(out, axis=0)


def window_scores(run: Any, path: str | os.PathLike[str], bounds_s: np.ndarray) -> np.ndarray:
    """The run's scores of clips cut from the windows ``bounds_s`` ``[N, 2]`` (seconds) of one
    video (each window's frames spread over it): binary ``[N]``, else ``[N, C]``."""
    bounds = np.asarray(bounds_s, np.float64).reshape(-1, 2)
    n = len(bounds)
    labels = LabelSet([f"w{i}" for i in range(n)], np.zeros(n, np.int64), list(run.classes))
    clips = ClipSet(labels, [Path(path)] * n, bounds[:, 1] - bounds[:, 0], offsets_s=bounds[:, 0])
    return run_clip_scores(run, clips)


def predict_videos(
    run: Any, videos: str | os.PathLike[str] | list[str | os.PathLike[str]]
) -> pd.DataFrame:
    """Scores of every video; an unreadable one gets a row with its reason in ``error``.

    Returns:
        Binary: ``id, score, label``; multi-class: ``id, label, score_<class>...``; plus
        ``error`` when some videos could not be read.
    """
    items = resolve_videos(videos)
    with ThreadPoolExecutor(4) as pool:
        probed = list(pool.map(_duration, [i.path for i in items]))
    ok = [k for k, p in enumerate(probed) if not isinstance(p, str)]
    ids = [items[k].video_id for k in ok]
    frame = None
    if ok:
        labels = LabelSet(ids, np.zeros(len(ok), np.int64), list(run.classes))
        clips = ClipSet(
            labels, [Path(items[k].path) for k in ok], np.array([probed[k] for k in ok])
        )
        frame = _frame(run, ids, run_clip_scores(run, clips))
    errors = {items[k].video_id: probed[k] for k in range(len(items)) if k not in set(ok)}
    if not errors:
        return frame  # type: ignore[return-value]
    bad = pd.DataFrame({"id": list(errors), "error": list(errors.values())})
    return bad if frame is None else pd.concat([frame.assign(error=""), bad], ignore_index=True)


def evaluate_videos(
    run: Any,
    videos: str | os.PathLike[str] | list[str | os.PathLike[str]],
    labels: Any = None,
    *,
    allow_missing: bool = False,
) -> dict[str, Any]:
    """The classification report of ``run`` on labelled videos, with the run's threshold.

    Args:
        labels: Label CSV path or a ``LabelOptions``; ``None`` = class folders.

    Raises:
        InputError: labels with classes the run never saw.
    """
    from ..metrics import classification_report

    opts = {k: getattr(labels, k) for k in _LABEL_FIELDS} if _is_options(labels) else {}
    source = getattr(labels, "labels", None) if _is_options(labels) else labels
    clips = load_clips(videos, source, allow_missing=allow_missing, **opts)
    unknown = sorted(set(clips.labels.classes) - set(run.classes))
    if unknown:
        raise InputError(
            f"labels have class(es) {', '.join(unknown)} that run {run.path} never saw "
            f"(it knows {', '.join(run.classes)})"
        )
    y = np.array([run.classes.index(clips.labels.classes[i]) for i in clips.labels.y])
    mine = ClipSet(
        LabelSet(list(clips.labels.ids), y, list(run.classes)), clips.paths, clips.durations_s
    )
    scores = run_clip_scores(run, mine)
    return classification_report(y, scores, labels=run.classes, threshold=run.threshold)


_LABEL_FIELDS = ("id_column", "label_column", "split_column", "group_column", "positive_class")


def _is_options(labels: Any) -> bool:
    return labels is not None and not isinstance(labels, (str, os.PathLike))


def _duration(path: Path) -> float | str:
    try:
        return float(probe(path).duration_s)
    except VidscopeError as exc:
        return getattr(exc, "reason", str(exc))


def _frame(run: Any, ids: list[str], scores: np.ndarray) -> pd.DataFrame:
    if run.binary:
        label = np.where(scores >= (run.threshold or 0.5), run.classes[1], run.classes[0])
        return pd.DataFrame({"id": ids, "score": scores, "label": label})
    df = pd.DataFrame({"id": ids, "label": [run.classes[i] for i in scores.argmax(1)]})
    for j, c in enumerate(run.classes):
        df[f"score_{c}"] = scores[:, j]
    return df
