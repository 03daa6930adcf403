"""Progress bar (videos/s, ETA) and the end-of-run summary for extraction."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as _RichProgress


class Progress:
    """Counts finished videos; a no-op when disabled."""

    def __init__(self, total: int, *, enabled: bool = True, skipped: int = 0) -> None:
        self.total = total
        self.enabled = enabled
        self.skipped = skipped
        self.console = Console(stderr=True)
        self._bar: _RichProgress | None = None
        self._task = None

    def __enter__(self) -> Progress:
        if self.enabled:
            if self.skipped:
                self.console.print(f"{self.skipped} video(s) already in the store: skipped")
            self._bar = _RichProgress(
                TextColumn("[bold]extract"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]} videos/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[last]}", style="dim"),
                console=self.console,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("extract", total=self.total, rate="-", last="")
        return self

    def advance(self, video_id: str, status: str, message: str | None) -> None:
        """One video finished with ``status`` (ok/partial/failed)."""
        if self._bar is None:
            return
        task = self._bar.tasks[0]
        self._bar.advance(self._task, 1)
        rate = f"{task.speed:.2f}" if task.speed else "-"
        self._bar.update(self._task, rate=rate, last=video_id[-40:])
        if status != "ok":
            colour = "yellow" if status == "partial" else "red"
            self._bar.console.print(f"[{colour}]{status}[/] {video_id}: {message}")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)  # type: ignore[arg-type]
