"""Summarise k cross-validation folds: mean and spread of every metric."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError

# scalars that are sizes, not metrics: summed over folds rather than averaged
_SUMMED = ("num_samples",)
_PER_CLASS_METRICS = ("precision", "recall", "f1")


def aggregate_folds(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation of each scalar metric over folds.

    Args:
        reports: one ``classification_report`` dict per fold, all with the same labels.

    Returns:
        For every scalar metric ``m``: ``m`` (mean) and ``m_std`` (population std,
        ``ddof=0``), both over the folds where ``m`` is defined (not ``None``), ``None``
        if it is defined in none. ``confusion_matrix`` is the sum over folds and
        ``num_samples`` the total; ``per_class`` holds each class's mean and std of
        precision/recall/f1 and its summed support; plus ``num_folds`` and ``labels``.

    Raises:
        ValueError: if ``reports`` is empty or the folds disagree on the labels.
    """
    if not reports:
        raise InputError("aggregate_folds needs at least one fold report, got none.")
    labels = reports[0].get("labels")
    for i, report in enumerate(reports):
        if report.get("labels") != labels:
            raise InputError(
                f"Fold {i} has labels {report.get('labels')!r}, fold 0 has {labels!r}; "
                "folds of one experiment must share their labels."
            )
    out: dict[str, Any] = {}
    for key in _scalar_keys(reports):
        values = [r.get(key) for r in reports]
        if key in _SUMMED:
            out[key] = int(sum(v for v in values if v is not None))
        else:
            out.update(_mean_std(key, values))
    if all("confusion_matrix" in r for r in reports):
        total = np.sum([np.asarray(r["confusion_matrix"]) for r in reports], axis=0)
        out["confusion_matrix"] = total.tolist()
    if all("per_class" in r for r in reports):
        out["per_class"] = _aggregate_per_class(reports)
    out["num_folds"] = len(reports)
    out["labels"] = labels
    return out


def _is_scalar(value: Any) -> bool:
    """A real number (``bool`` excluded), numpy or not."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _scalar_keys(reports: list[dict[str, Any]]) -> list[str]:
    """Keys whose value is a number (or ``None``) in every fold and a number in at least one."""
    keys: list[str] = []
    for report in reports:
        keys.extend(k for k in report if k not in keys)
    return [
        k
        for k in keys
        if all(r.get(k) is None or _is_scalar(r.get(k)) for r in reports)
        and any(_is_scalar(r.get(k)) for r in reports)
    ]


def _mean_std(key: str, values: list[Any]) -> dict[str, float | None]:
    """``{key: mean, key_std: std}`` over the values that are not ``None``."""
    defined = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if defined.size == 0:
        return {key: None, f"{key}_std": None}
    return {key: float(defined.mean()), f"{key}_std": float(defined.std(ddof=0))}


def _aggregate_per_class(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-class mean/std of precision, recall and F1; support summed."""
    rows = []
    for i, first in enumerate(reports[0]["per_class"]):
        fold_rows = [r["per_class"][i] for r in reports]
        row: dict[str, Any] = {"label": first["label"]}
        for name in _PER_CLASS_METRICS:
            row.update(_mean_std(name, [fr.get(name) for fr in fold_rows]))
        row["support"] = int(sum(fr.get("support", 0) for fr in fold_rows))
        rows.append(row)
    return rows
