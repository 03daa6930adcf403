"""Progress display for extraction: videos (videos/s, ETA, failures so far) and, below it,
the samples and video-seconds done within the videos in flight, so one long video does not sit
at ``0/1`` for minutes."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as _RichProgress


@dataclass
class _InFlight:
    """Samples done of one video being extracted."""

    total: int
    duration_s: float | None
    done: int = 0
    time_s: float = 0.0


class Progress:
    """Counts finished videos and the samples of videos in flight; a no-op when disabled.

    Args:
        total: Videos to extract in this run.
        enabled: Show anything at all.
        skipped: Videos already in the store (said once at the start).
    """

    def __init__(self, total: int, *, enabled: bool = True, skipped: int = 0) -> None:
        self.total = total
        self.enabled = enabled
        self.skipped = skipped
        self.failed = 0
        self.console = Console(stderr=True)
        self.in_flight: dict[str, _InFlight] = {}
        self._bar: _RichProgress | None = None
        self._videos: TaskID | None = None
        self._samples: TaskID | None = None

    def __enter__(self) -> Progress:
        if not self.enabled:
            return self
        if self.skipped:
            self.console.print(f"{self.skipped} video(s) already in the store: skipped")
        if not self.total:  # a rerun with nothing left to do: no empty 0/0 bar
            return self
        self._bar = _RichProgress(
            TextColumn("[bold]{task.description:<7}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[last]}", style="dim"),
            console=self.console,
        )
        self._bar.__enter__()
        self._videos = self._bar.add_task("extract", total=self.total, rate="- videos/s", last="")
        self._samples = self._bar.add_task("samples", total=None, rate="", last="", visible=False)
        return self

    def video_started(self, video_id: str, num_samples: int, duration_s: float | None) -> None:
        """A video was opened and will give ``num_samples`` samples over ``duration_s``."""
        self.in_flight[video_id] = _InFlight(num_samples, duration_s)
        self._show_samples(video_id)

    def samples(self, video_id: str, count: int, time_s: float) -> None:
        """``count`` more samples of ``video_id`` are done, the latest at ``time_s``."""
        flight = self.in_flight.get(video_id)
        if flight is None:
            return
        flight.done += count
        flight.time_s = max(flight.time_s, time_s)
        self._show_samples(video_id)

    def set_samples(
        self, video_id: str, done: int, total: int, time_s: float, duration_s: float | None
    ) -> None:
        """``done`` of ``total`` samples of ``video_id`` are done, the latest at ``time_s``."""
        self.in_flight[video_id] = _InFlight(total, duration_s, done, time_s)
        self._show_samples(video_id)

    def advance(self, video_id: str, status: str, message: str | None) -> None:
        """One video finished with ``status`` (ok/partial/failed)."""
        self.in_flight.pop(video_id, None)
        self.failed += status == "failed"
        if self._bar is None or self._videos is None:
            return
        self._bar.advance(self._videos, 1)
        speed = self._bar.tasks[self._videos].speed
        rate = f"{speed:.2f} videos/s" if speed else "- videos/s"
        if self.failed:
            rate += f", {self.failed} failed"
        self._bar.update(self._videos, rate=rate, last=video_id[-40:])
        self._show_samples(None)
        if status != "ok":
            colour = "yellow" if status == "partial" else "red"
            self._bar.console.print(f"[{colour}]{status}[/] {video_id}: {message}")

    def _show_samples(self, video_id: str | None) -> None:
        """Samples of the videos in flight; the detail names ``video_id`` (or any)."""
        if self._bar is None or self._samples is None:
            return
        flights = self.in_flight
        if not flights:
            self._bar.update(self._samples, visible=False)
            return
        vid = video_id if video_id in flights else next(iter(flights))
        f = flights[vid]
        where = f"{f.time_s:.0f}/{f.duration_s:.0f} video-s" if f.duration_s else ""
        self._bar.update(
            self._samples,
            total=sum(x.total for x in flights.values()),
            completed=sum(x.done for x in flights.values()),
            rate=where,
            last=vid[-40:],
            visible=True,
        )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)  # type: ignore[arg-type]
