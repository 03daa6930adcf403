"""Logits to probabilities, and the validation value that early stopping watches."""

from __future__ import annotations

import numpy as np
import torch


def scores_from_logits(logits: torch.Tensor, binary: bool) -> np.ndarray:
    """Binary: ``[N]`` probability of class 1; multi-class: ``[N, C]`` probabilities."""
    if binary:
        return torch.sigmoid(logits[:, 0]).double().numpy()
    return torch.softmax(logits, dim=1).double().numpy()


def monitor_value(
    name: str, y: np.ndarray, scores: np.ndarray, classes: list[str], loss: float
) -> float:
    """The named validation metric (``loss`` or any key of the classification report)."""
    if name == "loss":
        return float(loss)
    from ..metrics import classification_report

    value = classification_report(y, scores, labels=classes).get(name)
    if value is None:  # e.g. ROC-AUC with one class in validation: fall back to -loss
        return -float(loss)
    return float(value)


def epoch_metrics(
    monitor: str,
    y: np.ndarray,
    scores: np.ndarray,
    classes: list[str],
    loss: float,
    *,
    prefix: str = "val_",
) -> dict[str, float]:
    """One epoch's validation figures: the monitored metric, accuracy, and each class's
    accuracy (its recall: the share of its videos predicted as it), keyed ``<prefix><name>``
    (``val_roc_auc``, ``val_accuracy``, ``val_accuracy_<class>``)."""
    from ..metrics import classification_report

    out = {prefix + monitor: monitor_value(monitor, y, scores, classes, loss)}
    if len(y) == 0:
        return out
    report = classification_report(y, scores, labels=classes)
    out[prefix + "accuracy"] = float(report["accuracy"])
    for row in report.get("per_class") or []:
        out[f"{prefix}accuracy_{row['label']}"] = float(row["recall"])
    return out
