"""Video-level classification metrics in numpy, matching scikit-learn number for number.

``classification_report`` returns one JSON-ready dict (plain ``float``/``int``/``list``,
no numpy types) that ``metrics.json``, the tables and ``aggregate_folds`` all read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ._ranking import average_precision, one_vs_rest_macro, roc_auc

_DEFAULT_THRESHOLD = 0.5
# a probability row further than this from summing to 1 is taken for logits
_SUM_TOLERANCE = 1e-3


def classification_report(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    labels: list[str],
    threshold: float | None = None,
) -> dict[str, Any]:
    """All classification metrics for one set of predictions.

    Binary problems (``len(labels) == 2``, ``labels[1]`` is the positive class) take
    ``scores`` as ``[N]`` probabilities of class 1 (an ``[N, 2]`` array is read as
    ``[:, 1]``) and predict ``scores >= threshold``. Multi-class problems take ``[N, C]``
    probabilities and predict the argmax; ``threshold`` is ignored there. Divisions by
    zero (a class never predicted, or never present) count as 0.0.

    Args:
        y_true: ``[N]`` integer class indices into ``labels``.
        scores: class probabilities (not logits), shaped as above.
        labels: class names, index ``i`` names class ``i``.
        threshold: binary decision threshold on ``scores``; ``None`` means 0.5.

    Returns:
        ``accuracy``, ``balanced_accuracy``; ``precision``/``recall``/``f1`` (binary: of
        the positive class, multi-class: macro) plus their ``_macro`` and ``_weighted``
        variants; ``roc_auc`` and ``average_precision`` (binary, or macro one-vs-rest over
        the classes present in ``y_true``; ``None`` where undefined); ``log_loss``;
        ``confusion_matrix`` (rows = true, columns = predicted); ``per_class`` (label,
        precision, recall, f1, support); ``threshold`` (``None`` for multi-class);
        ``num_samples``; ``labels``.

    Raises:
        ValueError: on mismatched shapes, labels outside ``labels``, or scores that are
            not probabilities.
    """
    y, proba = _validate(y_true, scores, labels)
    binary = len(labels) == 2
    if binary:
        threshold = _DEFAULT_THRESHOLD if threshold is None else float(threshold)
        y_pred = (proba[:, 1] >= threshold).astype(np.int64)
    else:
        threshold = None
        y_pred = np.argmax(proba, axis=1)
    cm = confusion_matrix(y, y_pred, num_classes=len(labels))
    precision, recall, f1, support = precision_recall_f1(cm)
    pick = 1 if binary else slice(None)
    report: dict[str, Any] = {
        "accuracy": float(np.trace(cm) / cm.sum()),
        "balanced_accuracy": balanced_accuracy(cm),
        "precision": float(np.mean(precision[pick])),
        "recall": float(np.mean(recall[pick])),
        "f1": float(np.mean(f1[pick])),
    }
    for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
        report[f"{name}_macro"] = float(np.mean(values))
        report[f"{name}_weighted"] = _weighted_mean(values, support)
    report.update(_probabilistic(y, proba, binary))
    report["confusion_matrix"] = cm.tolist()
    report["per_class"] = _per_class(labels, precision, recall, f1, support)
    report["threshold"] = threshold
    report["num_samples"] = int(y.size)
    report["labels"] = [str(label) for label in labels]
    return report


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, *, num_classes: int) -> np.ndarray:
    """Counts of (true, predicted) pairs.

    Args:
        y_true: ``[N]`` class indices in ``[0, num_classes)``.
        y_pred: ``[N]`` class indices in ``[0, num_classes)``.
        num_classes: C.

    Returns:
        ``[C, C]`` int64, rows = true class, columns = predicted class.
    """
    flat = np.asarray(y_true, dtype=np.int64) * num_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def precision_recall_f1(
    cm: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall, F1 and support from a confusion matrix.

    Args:
        cm: ``[C, C]`` counts, rows = true, columns = predicted.

    Returns:
        ``(precision, recall, f1, support)``, each ``[C]``; a zero denominator gives 0.0.
        ``f1 = 2 tp / (2 tp + fp + fn)``, which is 0.0 exactly when that is 0/0.
    """
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support.astype(np.float64))
    f1 = _safe_divide(2.0 * tp, predicted + support)
    return precision, recall, f1, support


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (the rows with support).

    Args:
        cm: ``[C, C]`` counts, rows = true, columns = predicted.

    Returns:
        The balanced accuracy; classes never present in ``y_true`` are left out, as in
        scikit-learn's ``balanced_accuracy_score``.
    """
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class (natural log).

    Args:
        y_true: ``[N]`` class indices.
        proba: ``[N, C]`` probabilities; clipped to ``[eps, 1 - eps]`` (float64 machine
            epsilon) as scikit-learn does, and not renormalised.

    Returns:
        The mean loss.
    """
    eps = np.finfo(np.float64).eps
    p_true = np.clip(proba[np.arange(y_true.size), y_true], eps, 1.0 - eps)
    return float(-np.mean(np.log(p_true)))


def _probabilistic(y: np.ndarray, proba: np.ndarray, binary: bool) -> dict[str, Any]:
    """ROC-AUC, average precision and log loss from the probabilities."""
    if binary:
        positive = y == 1
        auc = roc_auc(positive, proba[:, 1])
        ap = average_precision(positive, proba[:, 1])
    else:
        auc = one_vs_rest_macro(roc_auc, y, proba)
        ap = one_vs_rest_macro(average_precision, y, proba)
    return {"roc_auc": auc, "average_precision": ap, "log_loss": log_loss(y, proba)}


def _per_class(
    labels: list[str],
    precision: np.ndarray,
    recall: np.ndarray,
    f1: np.ndarray,
    support: np.ndarray,
) -> list[dict[str, Any]]:
    """One JSON-ready row per class, in label order."""
    return [
        {
            "label": str(label),
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    ]


def _validate(
    y_true: np.ndarray, scores: np.ndarray, labels: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Check the inputs and return ``y [N] int64`` and probabilities ``[N, C] float64``."""
    num_classes = len(labels)
    if num_classes < 2:
        raise InputError(f"Need at least 2 class labels, got {list(labels)!r}.")
    y = np.asarray(y_true).ravel()
    if y.size == 0:
        raise InputError("No samples to evaluate: y_true is empty.")
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.mod(y, 1) == 0):
        raise InputError("y_true must hold integer class indices into labels.")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= num_classes:
        raise InputError(
            f"y_true holds class index {int(y.max() if y.max() >= num_classes else y.min())},"
            f" outside [0, {num_classes}) for labels {list(labels)!r}."
        )
    proba = _to_proba(np.asarray(scores, dtype=np.float64), num_classes)
    if proba.shape[0] != y.size:
        raise InputError(f"y_true has {y.size} samples but scores has {proba.shape[0]}.")
    return y, proba


def _to_proba(scores: np.ndarray, num_classes: int) -> np.ndarray:
    """Scores as ``[N, C]`` probabilities, with a message that helps if they are logits."""
    if num_classes == 2 and scores.ndim == 1:
        scores = np.stack([1.0 - scores, scores], axis=1)
    elif num_classes == 2 and scores.ndim == 2 and scores.shape[1] == 2:
        scores = np.stack([1.0 - scores[:, 1], scores[:, 1]], axis=1)
    expected = "[N]" if num_classes == 2 else f"[N, {num_classes}]"
    if scores.ndim != 2 or scores.shape[1] != num_classes:
        raise InputError(f"scores must be {expected} probabilities, got shape {scores.shape}.")
    if not np.all(np.isfinite(scores)):
        raise InputError("scores contain NaN or infinite values.")
    if scores.min() < 0.0 or scores.max() > 1.0:
        raise InputError(
            "scores must be probabilities in [0, 1]; these look like logits "
            "(apply a sigmoid for binary or a softmax for multi-class first)."
        )
    if np.any(np.abs(scores.sum(axis=1) - 1.0) > _SUM_TOLERANCE):
        raise InputError("score rows must sum to 1 (softmax probabilities), they do not.")
    return scores


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0.0 wherever ``den == 0``."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _weighted_mean(values: np.ndarray, support: np.ndarray) -> float:
    """Support-weighted mean; 0.0 when there is no support at all."""
    total = support.sum()
    return float(np.dot(values, support) / total) if total > 0 else 0.0
