"""Event-detection metrics: frame/window-level ranking, segment mAP at tIoU thresholds, and
average precision of early (lead-time) event prediction.

Segment AP follows ActivityNet's detection evaluation: predictions of all videos are ranked
by score (equal scores keep their input order), each is greedily matched to the still
unmatched ground-truth segment of its video with the highest tIoU at or above the threshold
(ties: the earlier segment in the truth list), and AP is the area under the precision-recall
curve with interpolated (monotone) precision, as ``interpolated_prec_rec`` computes it.

Frame-level ROC-AUC/AP, as anomaly-detection papers report them, reuse
:mod:`vidscope.metrics._ranking` on per-frame (or per-window) targets from
:func:`frame_level_scores`. Lead-time AP scores clips cut ``lead_s`` before each event, as
the dashcam collision-prediction benchmark does (:func:`cut_before_event`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..types import Segment
from ._ranking import average_precision, roc_auc

#: tIoU thresholds 0.1:0.1:0.7.
DEFAULT_TIOUS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
#: Lead times of the collision-prediction benchmark, in seconds.
LEAD_TIMES_S = (0.5, 1.0, 1.5)
_EPS = 1e-9

Segments = dict[str, list[Segment]]


def tiou(a: Segment, b: Segment) -> float:
    """Temporal intersection over union of two segments, in ``[0, 1]``."""
    inter = max(0.0, min(a.end_s, b.end_s) - max(a.start_s, b.start_s))
    union = a.duration_s + b.duration_s - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class _Matches:
    """Greedy matching of ranked predictions to the truth at one tIoU threshold."""

    hits: np.ndarray  # [P] bool, true positive, predictions by descending score
    num_truth: int

    def ap(self) -> float | None:
        if self.num_truth == 0:
            return None
        tp = np.cumsum(self.hits)
        precision = tp / np.arange(1, len(tp) + 1)
        return _interpolated_ap(precision, tp / self.num_truth)


def segment_ap(
    predictions: Segments, truth: Segments, *, tiou: float, label: str | None = None
) -> float | None:
    """ActivityNet average precision of scored segments at one tIoU threshold.

    Args:
        predictions: Predicted segments per video id; every one needs a score.
        truth: Ground-truth segments per video id.
        tiou: Match threshold; a prediction matches when its tIoU is at least this.
        label: Evaluate only segments of this label; ``None`` ignores labels
            (class-agnostic AP).

    Returns:
        AP in ``[0, 1]`` (0 without predictions), or ``None`` without ground truth (undefined).

    Raises:
        ValueError: a prediction without a score (NaN).
    """
    return _match(predictions, truth, tiou, label).ap()


def segment_map(
    predictions: Segments,
    truth: Segments,
    *,
    tious: Sequence[float] = DEFAULT_TIOUS,
    labels: Sequence[str] | None = None,
) -> dict[str, object]:
    """Segment mAP at each tIoU, their average, and segment precision/recall.

    Precision and recall count every prediction as given (no score threshold), matched within
    its label, pooled over labels. Undefined values (no truth, no prediction) are ``None``.

    Args:
        predictions: Predicted segments per video id, with scores.
        truth: Ground-truth segments per video id.
        tious: tIoU thresholds (default 0.1:0.1:0.7).
        labels: Labels to evaluate; ``None`` is every label with ground truth (for mAP) and
            every label seen (for precision/recall). Other labels are ignored when given.

    Returns:
        ``{"tious": [K], "map": [K] mean AP over labels, "average_map": mean over tIoUs,
        "precision": [K], "recall": [K], "ap_per_label": {label: [K]},
        "num_predictions": int, "num_truth": int}``.
    """
    truth_labels = sorted({g.label for segs in truth.values() for g in segs})
    seen = {p.label for segs in predictions.values() for p in segs}
    ap_labels = truth_labels if labels is None else list(labels)
    pr_labels = sorted(seen | set(truth_labels)) if labels is None else list(labels)
    runs = [{lab: _match(predictions, truth, t, lab) for lab in pr_labels} for t in tious]
    per_label = {lab: [run[lab].ap() for run in runs] for lab in ap_labels}
    maps = [_mean([per_label[lab][k] for lab in ap_labels]) for k in range(len(runs))]
    hits = [sum(int(m.hits.sum()) for m in run.values()) for run in runs]
    num_pred = sum(1 for segs in predictions.values() for p in segs if p.label in pr_labels)
    num_truth = sum(1 for segs in truth.values() for g in segs if g.label in pr_labels)
    return {
        "tious": [float(t) for t in tious],
        "map": maps,
        "average_map": _mean(maps),
        "precision": [h / num_pred if num_pred else None for h in hits],
        "recall": [h / num_truth if num_truth else None for h in hits],
        "ap_per_label": per_label,
        "num_predictions": num_pred,
        "num_truth": num_truth,
    }


def frame_level_scores(
    times_s: np.ndarray,
    scores: np.ndarray,
    truth_segments: list[Segment],
    *,
    label: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame (or per-window) targets for ranking metrics on one video.

    Args:
        times_s: ``[T]`` frame times (window centres for window scores).
        scores: ``[T]`` event scores, higher = more likely an event.
        truth_segments: The video's ground-truth events.
        label: Count only events of this label; ``None`` counts all.

    Returns:
        ``(y_true int64 [T], y_score float64 [T])``; a frame is positive when its time lies
        in ``[start_s, end_s)`` of an event.
    """
    times = np.asarray(times_s, dtype=np.float64).ravel()
    y_score = np.asarray(scores, dtype=np.float64).ravel()
    if y_score.shape != times.shape:
        raise InputError(f"{times.size} times but {y_score.size} scores")
    inside = np.zeros(times.shape, dtype=bool)
    for seg in truth_segments:
        if label is None or seg.label == label:
            inside |= (times >= seg.start_s - _EPS) & (times < seg.end_s - _EPS)
    return inside.astype(np.int64), y_score


def frame_level_metrics(
    times_s: dict[str, np.ndarray],
    scores: dict[str, np.ndarray],
    truth: Segments,
    *,
    label: str | None = None,
) -> dict[str, float | int | None]:
    """Frame-level ROC-AUC and AP over all frames of all videos pooled together.

    Args:
        times_s: Frame (or window-centre) times per video id.
        scores: Event scores per video id, aligned with ``times_s``.
        truth: Ground-truth events per video id; a video without an entry has none.
        label: Count only events of this label.

    Returns:
        ``{"roc_auc", "average_precision", "num_frames", "num_positive"}``; a metric is
        ``None`` where undefined (one class only).
    """
    pairs = [
        frame_level_scores(times_s[v], scores[v], truth.get(v, []), label=label) for v in times_s
    ]
    y_true = np.concatenate([p[0] for p in pairs]) if pairs else np.zeros(0, np.int64)
    y_score = np.concatenate([p[1] for p in pairs]) if pairs else np.zeros(0)
    empty = y_true.size == 0
    return {
        "roc_auc": None if empty else roc_auc(y_true, y_score),
        "average_precision": None if empty else average_precision(y_true, y_score),
        "num_frames": int(y_true.size),
        "num_positive": int(y_true.sum()),
    }


def lead_time_ap(
    scores_by_lead: dict[float, np.ndarray], y_true: np.ndarray
) -> dict[float, float | None]:
    """Average precision of video-level event scores at each lead time.

    Args:
        scores_by_lead: ``{lead_s: [N] scores}``, each from clips cut ``lead_s`` before the
            event (see :func:`cut_before_event`).
        y_true: ``[N]`` 1 for videos with an event.

    Returns:
        ``{lead_s: AP}`` sorted by lead time; ``None`` where there is no positive.
    """
    y = np.asarray(y_true).ravel()
    out: dict[float, float | None] = {}
    for lead_s in sorted(scores_by_lead):
        s = np.asarray(scores_by_lead[lead_s]).ravel()
        if s.shape != y.shape:
            raise InputError(f"lead {lead_s} s: {s.size} scores for {y.size} videos")
        out[float(lead_s)] = average_precision(y, s) if y.size else None
    return out


def cut_before_event(
    times_s: np.ndarray,
    event_s: float | None,
    lead_s: float,
    *,
    event_fraction: float = 1.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """The frames of a clip cut ``lead_s`` before its event: those at ``event_s - lead_s`` or
    earlier.

    A negative clip (``event_s`` ``None`` or NaN) is cut ``lead_s`` before a stand-in event at
    ``event_fraction * duration_s`` (``duration_s`` defaults to the last frame time), so it
    keeps the same relative length as a positive clip whose event lies at that fraction.
    The default, 1.0, cuts negatives ``lead_s`` before their end; pass the positives' median
    ``event_s / duration_s`` so clip length does not give the answer away.
    A cut before the first frame keeps the first frame, so no clip is empty.

    Returns:
        ``bool [T]`` mask of the frames kept.
    """
    if not (math.isfinite(lead_s) and lead_s >= 0):
        raise InputError(f"lead time must be >= 0 seconds, got {lead_s}")
    times = np.asarray(times_s, dtype=np.float64).ravel()
    if times.size == 0:
        return np.zeros(0, dtype=bool)
    if event_s is None or math.isnan(event_s):
        event_s = event_fraction * (times[-1] if duration_s is None else duration_s)
    keep = times <= event_s - lead_s + _EPS
    if not keep.any():
        keep[0] = True
    return keep


def _match(predictions: Segments, truth: Segments, threshold: float, label: str | None) -> _Matches:
    """Greedy ActivityNet matching of the predictions (highest score first) to the truth."""
    want = lambda seg: label is None or seg.label == label  # noqa: E731
    preds = [(v, p) for v, segs in predictions.items() for p in segs if want(p)]
    scores = np.array([p.score for _, p in preds], dtype=np.float64)
    if np.isnan(scores).any():
        raise InputError("every predicted segment needs a score to rank it (got NaN)")
    gts = {v: [g for g in segs if want(g)] for v, segs in truth.items()}
    used = {v: np.zeros(len(g), dtype=bool) for v, g in gts.items()}
    order = np.argsort(-scores, kind="stable")
    hits = np.zeros(len(preds), dtype=bool)
    for rank, i in enumerate(order):
        video, pred = preds[i]
        cands = gts.get(video, [])
        if not cands:
            continue
        overlaps = np.array([tiou(pred, g) for g in cands])
        overlaps[used[video]] = -1.0
        best = int(np.argmax(overlaps))  # the first of equal tIoUs
        if overlaps[best] >= threshold - _EPS:
            used[video][best] = True
            hits[rank] = True
    return _Matches(hits, sum(len(g) for g in gts.values()))


def _interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """ActivityNet ``interpolated_prec_rec``: area under the monotone precision envelope."""
    mprec = np.r_[0.0, precision, 0.0]
    mrec = np.r_[0.0, recall, 1.0]
    mprec = np.maximum.accumulate(mprec[::-1])[::-1]
    steps = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return float(np.sum((mrec[steps] - mrec[steps - 1]) * mprec[steps]))


def _mean(values: list[float | None]) -> float | None:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None
