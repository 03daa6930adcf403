"""Evaluation: classification metrics, threshold choice, fold aggregation, plots and tables.

Metrics are plain numpy and agree with scikit-learn (which is not a dependency)::

    report = classification_report(y_true, scores, labels=["no", "yes"], threshold=t)
    t = choose_threshold(y_val, val_scores, metric="f1")
    summary = aggregate_folds([report_fold0, report_fold1, ...])
    plot_confusion_matrix(report["confusion_matrix"], report["labels"], "cm.png")
    plot_roc_pr(y_true, scores, "roc_pr.png")
    rich.print(metrics_table(report), per_class_table(report), leaderboard_table(rows))

Names load on first use, so computing metrics never imports matplotlib or rich.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "classification_report": "._classification",
    "choose_threshold": "._threshold",
    "aggregate_folds": "._aggregate",
    "plot_confusion_matrix": "._plots",
    "plot_roc_pr": "._plots",
    "metrics_table": "._table",
    "per_class_table": "._table",
    "leaderboard_table": "._table",
    "tiou": "._events",
    "segment_ap": "._events",
    "segment_map": "._events",
    "frame_level_scores": "._events",
    "frame_level_metrics": "._events",
    "lead_time_ap": "._events",
    "cut_before_event": "._events",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
