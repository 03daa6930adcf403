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
