"""Rich tables for reports: main metrics, per-class metrics, and a leaderboard of heads.

Every table reads the plain dicts of ``classification_report`` / ``aggregate_folds``;
a metric with a ``<metric>_std`` entry (an aggregate over folds) prints as ``mean ± std``.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

_MAIN_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "f1_macro",
    "f1_weighted",
    "roc_auc",
    "average_precision",
    "log_loss",
    "threshold",
    "num_samples",
    "num_folds",
)
_LEADERBOARD_METRICS = ("accuracy", "f1", "roc_auc")
_LEADERBOARD_COSTS = ("params", "train_s")
# lower is better for these; everything else sorts best-first by descending value
_LOWER_IS_BETTER = frozenset({"log_loss", "train_s", "params"})
_MISSING = "—"


def metrics_table(report: dict[str, Any], *, title: str | None = None) -> Table:
    """The headline metrics of one report, one row per metric.

    Args:
        report: a ``classification_report`` or ``aggregate_folds`` dict.
        title: table title; ``None`` for "Metrics" (with the fold count, if any).

    Returns:
        A two-column table (metric, value); metrics missing from the report are skipped.
    """
    labels = report.get("labels") or []
    binary = len(labels) == 2
    if title is None:
        folds = report.get("num_folds")
        title = f"Metrics ({folds} folds, mean ± std)" if folds else "Metrics"
    caption = (
        f"precision / recall / f1: positive class {labels[1]!r}"
        if binary
        else "precision / recall / f1: macro average over classes"
    )
    table = Table(title=title, caption=caption if labels else None)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in _MAIN_METRICS:
        if key not in report or (key == "f1_macro" and not binary):
            continue  # multi-class f1 already is the macro F1
        table.add_row(key, _format(key, report))
    return table


def per_class_table(report: dict[str, Any], *, title: str | None = None) -> Table:
    """Precision, recall, F1 and support per class, then the macro and weighted averages.

    Args:
        report: a ``classification_report`` or ``aggregate_folds`` dict.
        title: table title; ``None`` for "Per class".

    Returns:
        One row per class plus ``macro avg`` / ``weighted avg`` rows where available.
    """
    table = Table(title=title or "Per class")
    table.add_column("class")
    for name in ("precision", "recall", "f1", "support"):
        table.add_column(name, justify="right")
    per_class = report.get("per_class", [])
    for i, row in enumerate(per_class):
        cells = [_format(name, row) for name in ("precision", "recall", "f1", "support")]
        table.add_row(str(row.get("label", "")), *cells, end_section=i == len(per_class) - 1)
    total = sum(int(row.get("support", 0)) for row in per_class)
    for average in ("macro", "weighted"):
        keys = [f"{name}_{average}" for name in ("precision", "recall", "f1")]
        if all(k in report for k in keys):
            cells = [_format(k, report) for k in keys]
            table.add_row(f"{average} avg", *cells, str(total) if per_class else _MISSING)
    return table


def leaderboard_table(rows: list[dict[str, Any]], *, sort_by: str = "f1_macro") -> Table:
    """Compare several heads (or runs), best first.

    Args:
        rows: one dict per head: ``head`` (its name) plus any of accuracy,
            balanced_accuracy, f1, f1_macro, roc_auc, average_precision, log_loss,
            ``params`` (parameter count) and ``train_s`` (training seconds), each
            optionally with ``<key>_std`` (shown as ``mean ± std``).
        sort_by: the key to rank by; descending, except for log_loss, params and
            train_s (ascending). Rows without it go last, in their given order.

    Returns:
        A table with a rank column, the head, and every listed key present in any row.
    """
    metrics = [*_LEADERBOARD_METRICS, *([] if sort_by in _LEADERBOARD_METRICS else [sort_by])]
    columns = [c for c in (*metrics, *_LEADERBOARD_COSTS) if any(c in row for row in rows)]
    sign = 1.0 if sort_by in _LOWER_IS_BETTER else -1.0

    def rank_key(row: dict[str, Any]) -> tuple[bool, float]:
        value = row.get(sort_by)
        return (value is None, sign * float(value) if value is not None else 0.0)

    table = Table(title=f"Leaderboard (sorted by {sort_by})")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("head", no_wrap=True)
    for column in columns:
        style = "bold" if column == sort_by else None
        table.add_column(column, justify="right", header_style=style, style=style, no_wrap=True)
    for rank, row in enumerate(sorted(rows, key=rank_key), start=1):
        name = row.get("head", row.get("name", _MISSING))
        table.add_row(str(rank), str(name), *[_format(c, row, digits=3) for c in columns])
    return table


def _format(key: str, row: dict[str, Any], *, digits: int = 4) -> str:
    """``row[key]`` as text, with ``± row[key_std]`` when present; ``digits`` after the point."""
    value = row.get(key)
    if value is None:
        return _MISSING
    std = row.get(f"{key}_std")
    if key == "train_s":
        text = f"{float(value):.1f}s"
        return text if std is None else f"{text} ± {float(std):.1f}s"
    if key in ("params", "support", "num_samples", "num_folds") or isinstance(value, int):
        text = f"{round(float(value)):,}"
        return text if std is None else f"{text} ± {float(std):,.0f}"
    text = f"{float(value):.{digits}f}"
    return text if std is None else f"{text} ± {float(std):.{digits}f}"
