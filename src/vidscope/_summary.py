"""Human summaries printed by the CLI: an extraction report and a store's contents."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from .features import ExtractReport, FeatureStore


def print_extract_report(report: ExtractReport, console: Console) -> None:
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


def print_store_info(store: FeatureStore, console: Console, *, max_failed: int = 10) -> None:
    """Backbone, sampling, dims, status counts, samples, size on disk, first failures."""
    meta = store.meta
    df = store.manifest()
    counts = df["status"].value_counts().to_dict() if len(df) else {}
    backbone = meta.get("backbone", {})
    name = backbone.get("name") if isinstance(backbone, dict) else backbone
    layout = " + ".join(f"{n} {w}" for n, w in meta.get("layout", []))
    table = Table(show_header=False, title=f"feature store {store.root}")
    table.add_row("backbone", f"{name} (weights {backbone.get('weights', '?')})")
    table.add_row("features", f"D = {store.num_features} ({layout}), {meta.get('dtype', '?')}")
    sampling = meta.get("sampling")
    if sampling:
        from .video import SamplingSpec

        table.add_row("sampling", f"{SamplingSpec(**sampling).describe()}, seek {meta.get('seek')}")
    table.add_row("runtime", str(meta.get("runtime", "?")))
    table.add_row(
        "videos",
        f"{len(df)}: {counts.get('ok', 0)} ok, {counts.get('partial', 0)} partial, "
        f"{counts.get('failed', 0)} failed",
    )
    if len(df) and "num_samples" in df:
        table.add_row("samples", f"{int(df['num_samples'].fillna(0).sum())} frames encoded")
    table.add_row("on disk", _human(_disk_size(store.root)))
    console.print(table)
    failed = df[df["status"] == "failed"] if len(df) else df
    for _, row in failed.head(max_failed).iterrows():
        console.print(f"  [red]failed[/] {row['video_id']}: {row['error']}", highlight=False)


def _disk_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"
