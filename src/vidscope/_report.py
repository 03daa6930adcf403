"""Printing training results: metrics tables, per-class tables, leaderboards."""

from __future__ import annotations

from typing import Any

from rich.console import Console


def print_report(report: dict[str, Any], console: Console, *, title: str | None = None) -> None:
    """Main metrics and the per-class table of a classification report."""
    from .evaluate import metrics_table, per_class_table

    console.print(metrics_table(report, title=title))
    if report.get("per_class"):
        console.print(per_class_table(report))


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
    print_report(result.report, console, title=f"validation ({len(result.splits)} split(s))")
    console.print(f"run saved to {result.run_dir}", highlight=False)


def print_leaderboard(rows: list[dict[str, Any]], console: Console) -> None:
    """Heads side by side."""
    from .evaluate import leaderboard_table

    console.print(leaderboard_table(rows))
