"""Choose a binary decision threshold on validation scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

from ..errors import InputError
from ._ranking import ThresholdCounts, threshold_counts

ThresholdMetric = Literal["f1", "balanced_accuracy", "youden", "logistic"]
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

    ``logistic`` maximises nothing directly: it fits ``P(y = 1 | score)`` as a logistic curve
    of the score's logit (of the raw score when it is not in [0, 1]) with both classes
    weighted equally, and returns the score where that curve crosses 1/2 (where the two
    classes are equally likely once balanced: a smooth estimate of the balanced-accuracy
    optimum). Every video moves it a little instead of one or two moving the arg-max a lot;
    when the fitted slope is not positive (scores that do not rank the classes) it falls back
    to ``balanced_accuracy``.

    Args:
        y_true: ``[N]`` binary validation targets, 1 = positive; both classes present.
        scores: ``[N]`` validation probabilities (or any score) of class 1.
        metric: what to maximise: F1 of the positive class, balanced accuracy, or
            Youden's J (TPR - FPR); or ``logistic`` (above).

    Returns:
        The chosen threshold: one of the values in ``scores`` (``logistic``: any value).

    Raises:
        ValueError: on an unknown metric, mismatched or non-finite inputs, non-binary
            targets, or a ``y_true`` holding one class only.
    """
    if metric not in _METRICS and metric != "logistic":
        known = sorted([*_METRICS, "logistic"])
        raise InputError(f"Unknown threshold metric {metric!r}; choose one of {known}.")
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
    if metric == "logistic":
        crossing = _logistic_crossing(y, s)
        if crossing is not None:
            return crossing
        metric = "balanced_accuracy"
    values = _METRICS[metric](counts)  # [K], thresholds in decreasing order
    best = np.flatnonzero(values >= values.max() - _TIE_TOLERANCE)
    distance = np.abs(counts.thresholds[best] - 0.5)
    return float(counts.thresholds[best[np.argmin(distance)]])


def _logistic_crossing(y: np.ndarray, s: np.ndarray) -> float | None:
    """The score where a class-balanced logistic fit of ``y`` on the score crosses 1/2, or
    ``None`` when the fitted slope is not positive. Newton's method on the mean weighted log
    loss of ``sigmoid(a u + b)``, ``u`` the standardised logit of the score, with a tiny
    ridge on ``a`` so that perfectly separated classes still give a finite crossing."""
    probs = bool(s.min() >= 0.0 and s.max() <= 1.0)
    z = s
    if probs:
        c = np.clip(s, 1e-6, 1 - 1e-6)
        z = np.log(c) - np.log1p(-c)
    mu, sd = float(z.mean()), float(z.std())
    if sd == 0.0:
        return None
    u = (z - mu) / sd
    w = np.where(y == 1, 0.5 / (y == 1).sum(), 0.5 / (y == 0).sum())  # sums to 1
    a = b = 0.0
    ridge = 1e-3
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a * u + b)))
        r, h = w * (p - y), w * p * (1.0 - p)
        grad = np.array([r @ u + ridge * a, r.sum()])
        hess = np.array([[h @ (u * u) + ridge, h @ u], [h @ u, h.sum()]])
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    if not (np.isfinite(a) and np.isfinite(b)) or a <= 0:
        return None
    z_star = mu + sd * (-b / a)
    return float(1.0 / (1.0 + np.exp(-z_star))) if probs else float(z_star)
