"""What the CLI prints: extraction summaries, store info, metrics tables, leaderboards,
timelines' segments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def print_extract_report(report: Any, console: Console) -> None:
    """One line of counts, then every failed and partial video with its reason."""
    n = len(report.done) + len(report.partial) + len(report.failed) + len(report.skipped)
    console.print(
        f"[bold]{n} videos[/]: {len(report.done)} ok, {len(report.partial)} partial, "
        f"{len(report.failed)} failed, {len(report.skipped)} already done "
        f"in {report.seconds:.1f} s -> {report.store}",
        highlight=False,
    )
    if report.failed or report.partial:
        table = Table("status", "video", "reason", show_lines=False)
        for vid, why in report.failed.items():
            table.add_row("[red]failed[/]", vid, why)
        for vid, why in report.partial.items():
            table.add_row("[yellow]partial[/]", vid, why)
        console.print(table)
    for note in getattr(report, "notes", None) or []:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


def print_store_info(store: Any, console: Console, *, max_failed: int = 10) -> None:
    """Backbone, sampling, dims, status counts, samples, size on disk, first failures."""
    from ..features import store_key

    key = store_key(store)
    df = store.manifest()
    counts = df["status"].value_counts().to_dict() if len(df) else {}
    layout = " + ".join(f"{n} {w}" for n, w in key.layout)
    table = Table(show_header=False, title=f"feature store {store.root}")
    table.add_row("backbone", f"{key.backbone_name} (weights {key.backbone.get('weights', '?')})")
    if key.backbone_options:
        table.add_row("options", ", ".join(f"{k}={v}" for k, v in key.backbone_options.items()))
    table.add_row("features", f"D = {store.num_features} ({layout}), {key.dtype}")
    spec = key.sampling_spec()
    if spec is not None:
        table.add_row("sampling", f"{spec.describe()}, seek {_seek(key)}")
    table.add_row("runtime", str(key.runtime or "?"))
    table.add_row(
        "videos",
        f"{len(df)}: {counts.get('ok', 0)} ok, {counts.get('partial', 0)} partial, "
        f"{counts.get('failed', 0)} failed",
    )
    if len(df) and "num_samples" in df:
        samples = f"{int(df['num_samples'].fillna(0).sum())} frames encoded"
        if "distinct_frames" in df and df["distinct_frames"].notna().any():
            samples += f", {int(df['distinct_frames'].fillna(0).sum())} of them distinct"
        if key.seek == "keyframe" and "max_displacement_s" in df:
            moved = df["max_displacement_s"].max()
            samples += "" if moved != moved else f"; moved at most {moved:.2f} s"  # NaN: unknown
        table.add_row("samples", samples)
    table.add_row("on disk", human_bytes(_disk_size(store.root)))
    console.print(table)
    failed = df[df["status"] == "failed"] if len(df) else df
    for _, row in failed.head(max_failed).iterrows():
        console.print(f"  [red]failed[/] {row['video_id']}: {row['error']}", highlight=False)


def _seek(key: Any) -> str:
    """``exact``, ``keyframe (reach 1x the spacing)`` or ``keyframe (tolerance 2 s)``."""
    if key.seek != "keyframe":
        return str(key.seek)
    if key.keyframe_tolerance_s is not None:
        return f"keyframe (tolerance {key.keyframe_tolerance_s:g} s)"
    return f"keyframe (reach {key.keyframe_reach or 0.5:g}x the spacing)"


def print_report(report: dict[str, Any], console: Console, *, title: str | None = None) -> None:
    """Main metrics and the per-class table of a classification report."""
    from ..metrics import metrics_table, per_class_table

    console.print(metrics_table(report, title=title))
    if report.get("per_class"):
        console.print(per_class_table(report))
    if report.get("frame_level"):  # heads with frame logits (coop)
        frames = report["frame_level"]
        console.print(metrics_table(frames, title=f"{title or 'report'}, frame level"))
        console.print(per_class_table(frames))
    if report.get("lead_time_ap"):
        leads = ", ".join(f"{k} {fmt(v)}" for k, v in report["lead_time_ap"].items())
        console.print(f"average precision at lead times: {leads}", highlight=False)


def print_train_result(result: Any, console: Console) -> None:
    """Report of a training run (held-out or validation), where it was saved, and notes."""
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
    line = threshold_line(Path(result.run_dir), [s.name for s in result.splits])
    if line:
        console.print(line, highlight=False)
    console.print(f"run saved to {result.run_dir}", highlight=False)


def threshold_line(run_dir: Path, splits: list[str]) -> str | None:
    """``decision threshold 0.43 (balanced_accuracy on 30 validation videos)``, or the range
    over k folds, from each split's ``member.json``; ``None`` for runs without one (more than
    two classes, runs written before the record)."""
    folders = [run_dir] if len(splits) == 1 else [run_dir / s for s in splits]
    choices = []
    for folder in folders:
        try:
            member = json.loads((folder / "member.json").read_text())
        except (OSError, ValueError):
            return None
        choice = member.get("threshold_choice")
        if not isinstance(choice, dict) or member.get("threshold") is None:
            return None
        choices.append((float(member["threshold"]), choice))
    values = [v for v, _ in choices]
    rule = choices[0][1]
    shown = f"{values[0]:.3f}" if len(values) == 1 else f"{min(values):.3f}-{max(values):.3f}"
    if rule.get("rule") == "fixed":
        how = "fixed"
    else:
        source = (
            "cross-fitted train + validation scores"
            if rule.get("from") == "cv"
            else "validation scores"
        )
        count = [c.get("num_videos") for _, c in choices]
        videos = (
            f" of {min(count)}-{max(count)} videos"
            if len(set(count)) > 1
            else (f" of {count[0]} videos" if count[0] else "")
        )
        how = f"{rule.get('rule')} on {source}{videos}"
    folds = f" over {len(values)} folds" if len(values) > 1 else ""
    return f"decision threshold {shown}{folds} ({how})"


def print_leaderboard(rows: list[dict[str, Any]], console: Console) -> None:
    """Heads side by side. On a narrow console (80 columns, or output to a file or pipe) the
    figure cells wrap (``0.567 ±`` over ``0.094``) instead of being cut to ``0.567 ± 0…``."""
    from ..metrics import leaderboard_table

    table = leaderboard_table(rows)
    for column in table.columns[2:]:  # after rank and head: the figures
        column.no_wrap = False
    console.print(fold(table))


def fold(table: Table) -> Table:
    """``table`` with every cell folded onto more lines where the console is too narrow,
    never cut short with ``…`` (an option list or a figure loses nothing)."""
    for column in table.columns:
        column.overflow = "fold"
    return table


def print_event_report(report: dict[str, Any], console: Console) -> None:
    """Frame-level ranking metrics and segment mAP per tIoU."""
    frame = report["frame_level"]
    console.print(
        f"frame level: ROC-AUC {fmt(frame.get('roc_auc'))}, AP "
        f"{fmt(frame.get('average_precision'))} over {frame.get('num_frames')} windows "
        f"({frame.get('num_positive')} in events)",
        highlight=False,
    )
    seg = report["segments"]
    table = Table("tIoU", "mAP", "precision", "recall", title="segments")
    for i, t in enumerate(seg["tious"]):
        table.add_row(
            f"{t:.1f}", fmt(seg["map"][i]), fmt(seg["precision"][i]), fmt(seg["recall"][i])
        )
    console.print(table)
    console.print(f"average mAP {fmt(seg.get('average_map'))}", highlight=False)


def print_segments(lines: list[Any], console: Console) -> None:
    """Detected (and true) segments of every video."""
    for t in lines:
        table = Table(
            "", "start", "end", "label", "score", title=f"{t.video_id} ({t.duration_s:.1f} s)"
        )
        for s in t.segments:
            table.add_row("detected", clock(s.start_s), clock(s.end_s), s.label, f"{s.score:.3f}")
        for s in t.truth:
            table.add_row("[green]true[/]", clock(s.start_s), clock(s.end_s), s.label, "")
        console.print(table)


def print_matches(lines: list[Any], console: Console, *, min_tiou: float = 0.5) -> None:
    """Per video with truth: ``N of M true events found, K false detections (tIoU >= t)``,
    with precision and recall."""
    from ..pipelines import matches

    for t in lines:
        if not t.truth:
            continue
        found, false = matches(t, min_tiou)
        hits = len(t.segments) - false
        precision = hits / len(t.segments) if t.segments else 0.0
        recall = found / len(t.truth)
        console.print(
            f"{t.video_id}: {found} of {len(t.truth)} true events found, {false} false "
            f"detection(s) (tIoU >= {min_tiou:g}): precision {precision:.2f}, "
            f"recall {recall:.2f}",
            highlight=False,
        )


def clock(seconds: float) -> str:
    """``mm:ss.s`` or ``h:mm:ss.s``."""
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:04.1f}" if h else f"{m:02d}:{s:04.1f}"


def fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


def _disk_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
