"""Printing training results: metrics tables, per-class tables, leaderboards."""

from __future__ import annotations

from typing import Any

from rich.console import Console


def print_report(report: dict[str, Any], console: Console, *, title: str | None = None) -> None:
    """Main metrics and the per-class table of a classification report."""
    from .metrics import metrics_table, per_class_table

    console.print(metrics_table(report, title=title))
    if report.get("per_class"):
        console.print(per_class_table(report))
    if report.get("lead_time_ap"):
        leads = ", ".join(f"{k} {_fmt(v)}" for k, v in report["lead_time_ap"].items())
        console.print(f"average precision at lead times: {leads}", highlight=False)


def print_train_result(result: Any, console: Console) -> None:
    """Validation report of a training run, where it was saved, and notes."""
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    first = result.splits[0]
    if len(result.splits) == 1:
        console.print(
            f"best epoch {first.fit.best_epoch + 1} of {first.fit.epochs_run}, "
            f"{first.num_params:,} parameters, {first.fit.seconds:.1f} s",
            highlight=False,
        )
    n = len(result.splits)
    if result.scope == "val":
        title = f"validation ({n} split(s))"
    elif n > 1:
        title = f"held-out folds ({n}; epoch and threshold picked on inner validation splits)"
    else:
        title = "test split"
    print_report(result.report, console, title=title)
    console.print(f"run saved to {result.run_dir}", highlight=False)


def print_leaderboard(rows: list[dict[str, Any]], console: Console) -> None:
    """Heads side by side."""
    from .metrics import leaderboard_table

    console.print(leaderboard_table(rows))


def print_event_report(report: dict[str, Any], console: Console) -> None:
    """Frame-level ranking metrics and segment mAP per tIoU."""
    from rich.table import Table

    frame = report["frame_level"]
    console.print(
        f"frame level: ROC-AUC {_fmt(frame.get('roc_auc'))}, AP "
        f"{_fmt(frame.get('average_precision'))} over {frame.get('num_frames')} windows "
        f"({frame.get('num_positive')} in events)",
        highlight=False,
    )
    seg = report["segments"]
    table = Table("tIoU", "mAP", "precision", "recall", title="segments")
    for i, t in enumerate(seg["tious"]):
        table.add_row(
            f"{t:.1f}", _fmt(seg["map"][i]), _fmt(seg["precision"][i]), _fmt(seg["recall"][i])
        )
    console.print(table)
    console.print(f"average mAP {_fmt(seg.get('average_map'))}", highlight=False)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"
