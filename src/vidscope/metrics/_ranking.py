"""Threshold-free ranking metrics: ROC and precision-recall curves, ROC-AUC, average precision.

Pure numpy. Ties in the scores are handled exactly as scikit-learn handles them: samples
with equal scores move through the curve together (one point per distinct score), so the
ROC-AUC of tied scores is the trapezoid between the points, i.e. half credit per tied pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class ThresholdCounts:
    """Cumulative counts at every distinct score, highest score first.

    Predicting ``scores >= thresholds[k]`` as positive gives ``tps[k]`` true positives
    and ``fps[k]`` false positives. ``num_pos``/``num_neg`` are the totals in ``y_true``.
    """

    thresholds: np.ndarray  # [K] float64, strictly decreasing
    tps: np.ndarray  # [K] float64, non-decreasing
    fps: np.ndarray  # [K] float64, non-decreasing
    num_pos: float
    num_neg: float


def threshold_counts(y_true: np.ndarray, scores: np.ndarray) -> ThresholdCounts:
    """Counts of true and false positives when thresholding at each distinct score.

    Args:
        y_true: ``[N]`` binary targets, 1 = positive (anything non-zero counts as 1).
        scores: ``[N]`` scores, higher = more positive.

    Returns:
        The counts, one entry per distinct score, from the highest score down.
    """
    y = (np.asarray(y_true).ravel() != 0).astype(np.float64)
    s = np.asarray(scores, dtype=np.float64).ravel()
    order = np.argsort(-s, kind="stable")  # descending, equal scores keep input order
    y, s = y[order], s[order]
    # the last index of each run of equal scores
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(y)[ends]
    fps = (ends + 1) - tps
    return ThresholdCounts(s[ends], tps, fps, float(tps[-1]), float(fps[-1]))


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve from ``(0, 0)`` to ``(1, 1)``, one point per distinct score.

    Args:
        y_true: ``[N]`` binary targets (1 = positive); both classes must be present.
        scores: ``[N]`` scores, higher = more positive.

    Returns:
        ``(fpr, tpr)``, each ``[K + 1]``.

    Raises:
        ValueError: if ``y_true`` holds only one class (the curve is undefined).
    """
    counts = threshold_counts(y_true, scores)
    if counts.num_pos == 0 or counts.num_neg == 0:
        raise InputError("ROC curve needs both classes in y_true; only one class is present.")
    fpr = np.r_[0.0, counts.fps / counts.num_neg]
    tpr = np.r_[0.0, counts.tps / counts.num_pos]
    return fpr, tpr


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve (trapezoidal, so tied scores get half credit).

    Args:
        y_true: ``[N]`` binary targets, 1 = positive.
        scores: ``[N]`` scores, higher = more positive.

    Returns:
        The area in ``[0, 1]``, or ``None`` when ``y_true`` holds only one class.
    """
    counts = threshold_counts(y_true, scores)
    if counts.num_pos == 0 or counts.num_neg == 0:
        return None
    fpr, tpr = roc_curve(y_true, scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def precision_recall_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at each distinct score, highest score first.

    Args:
        y_true: ``[N]`` binary targets, 1 = positive; at least one positive.
        scores: ``[N]`` scores, higher = more positive.

    Returns:
        ``(precision, recall)``, each ``[K]``; recall rises to 1 at the lowest score.

    Raises:
        ValueError: if ``y_true`` has no positive sample (recall is undefined).
    """
    counts = threshold_counts(y_true, scores)
    if counts.num_pos == 0:
        raise InputError("Precision-recall curve needs at least one positive in y_true.")
    precision = counts.tps / (counts.tps + counts.fps)  # tps + fps >= 1 at every point
    recall = counts.tps / counts.num_pos
    return precision, recall


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Average precision: ``sum_k (R_k - R_{k-1}) * P_k`` over distinct scores.

    The step-wise (non-interpolated) definition of scikit-learn's
    ``average_precision_score``, not the trapezoidal area under the PR curve.

    Args:
        y_true: ``[N]`` binary targets, 1 = positive.
        scores: ``[N]`` scores, higher = more positive.

    Returns:
        The AP in ``[0, 1]``, or ``None`` when ``y_true`` has no positive (scikit-learn
        warns and returns 0 there; the quantity is undefined).
    """
    if not np.any(np.asarray(y_true) != 0):
        return None
    precision, recall = precision_recall_curve(y_true, scores)
    return float(max(0.0, np.sum(np.diff(np.r_[0.0, recall]) * precision)))


def one_vs_rest_macro(metric, y_true: np.ndarray, proba: np.ndarray) -> float | None:
    """Macro mean of a binary ranking metric over classes, one class against the rest.

    Classes absent from ``y_true`` (for which ``metric`` returns ``None``) are left out
    of the mean, so one rare class missing from a test fold does not void the metric.

    Args:
        metric: ``roc_auc`` or ``average_precision``.
        y_true: ``[N]`` class indices in ``[0, C)``.
        proba: ``[N, C]`` class probabilities.

    Returns:
        The mean over the classes where the metric is defined, or ``None`` if none is.
    """
    values = [metric(y_true == c, proba[:, c]) for c in range(proba.shape[1])]
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None
