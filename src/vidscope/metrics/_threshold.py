"""Choose a binary decision threshold on validation scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from ..errors import InputError
from ._ranking import ThresholdCounts, threshold_counts

ThresholdMetric = Literal["f1", "balanced_accuracy", "youden"]
# metric values this close to the best count as ties
_TIE_TOLERANCE = 1e-12


def _f1(c: ThresholdCounts) -> np.ndarray:
    """F1 of the positive class: ``2 tp / (2 tp + fp + fn)``; ``tp + fp >= 1`` always."""
    return 2.0 * c.tps / (c.tps + c.fps + c.num_pos)


def _balanced_accuracy(c: ThresholdCounts) -> np.ndarray:
    """Mean of the true-positive and true-negative rates."""
    return (c.tps / c.num_pos + (c.num_neg - c.fps) / c.num_neg) / 2.0


def _youden(c: ThresholdCounts) -> np.ndarray:
    """Youden's J = TPR - FPR (picks the same threshold as balanced accuracy)."""
    return c.tps / c.num_pos - c.fps / c.num_neg


_METRICS: dict[str, Callable[[ThresholdCounts], np.ndarray]] = {
    "f1": _f1,
    "balanced_accuracy": _balanced_accuracy,
    "youden": _youden,
}


def choose_threshold(
    y_true: np.ndarray, scores: np.ndarray, *, metric: ThresholdMetric = "f1"
) -> float:
    """The threshold that maximises ``metric`` when predicting ``scores >= threshold``.

    Candidates are the distinct values in ``scores``. Among thresholds that reach the
    best value (within 1e-12) the one closest to 0.5 wins, and of two equally close
    the higher one, so a flat optimum does not drift to an extreme score.

    Args:
        y_true: ``[N]`` binary validation targets, 1 = positive; both classes present.
        scores: ``[N]`` validation probabilities (or any score) of class 1.
        metric: what to maximise: F1 of the positive class, balanced accuracy, or
            Youden's J (TPR - FPR).

    Returns:
        The chosen threshold, one of the values in ``scores``.

    Raises:
        ValueError: on an unknown metric, mismatched or non-finite inputs, non-binary
            targets, or a ``y_true`` holding one class only.
    """
    if metric not in _METRICS:
        raise InputError(f"Unknown threshold metric {metric!r}; choose one of {sorted(_METRICS)}.")
    y = np.asarray(y_true).ravel()
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size != y.size or y.size == 0:
        raise InputError(
            f"choose_threshold needs y_true [N] and scores [N] (binary only), "
            f"got shapes {y.shape} and {s.shape}."
        )
    if not np.all(np.isin(y, (0, 1))):
        raise InputError("choose_threshold is binary only: y_true must hold 0 and 1.")
    if not np.all(np.isfinite(s)):
        raise InputError("scores contain NaN or infinite values.")
    counts = threshold_counts(y, s)
    if counts.num_pos == 0 or counts.num_neg == 0:
        raise InputError(
            "choose_threshold needs both classes in the validation targets; "
            "y_true holds only one. Use a larger or stratified validation split."
        )
    values = _METRICS[metric](counts)  # [K], thresholds in decreasing order
    best = np.flatnonzero(values >= values.max() - _TIE_TOLERANCE)
    distance = np.abs(counts.thresholds[best] - 0.5)
    return float(counts.thresholds[best[np.argmin(distance)]])
