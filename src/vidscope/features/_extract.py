"""The extraction driver: an engine (:mod:`._engine`) decodes, samples and encodes videos and
streams typed events back; this process assembles each video from them and saves it in the
store through :func:`save_video`, the store's only writer whichever engine ran. One bad video
is recorded and the batch goes on."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..backbones import Backbone
from ._config import ExtractConfig
from ._engine import (
    EngineEvent,
    EngineSetup,
    FeatureChunk,
    VideoDone,
    VideoFailed,
    VideoProgress,
    VideoStarted,
    VideoTask,
    backbone_from_config,
    create_engine,
)
from ._fsspec import UrlInput, is_url, resolve_urls
from ._inputs import VideoInput, resolve_videos
from ._integrity import os_error
from ._progress import Progress
from ._target import StoreTarget, content_digest, fingerprint, open_target
from ._writer import FeatureWriter

Item = VideoInput | UrlInput


@dataclass
class ExtractReport:
    """What an extraction run did.

    Attributes:
        store: Where the features are (a path, or the URL given as ``out``).
        done: Ids extracted fully in this run.
        partial: Id -> warning, for damaged videos whose readable part was extracted.
        failed: Id -> reason, for videos that gave no features.
        skipped: Ids already in the store and unchanged.
        reused: Of ``skipped``, ids whose file had a new timestamp but the same content
            (copied, unpacked or downloaded again): kept, their rows re-recorded with the
            new fingerprint and path (see :mod:`._target`).
        seconds: Wall time of the run.
        notes: Things the summary should tell (e.g. inputs whose id keeps its extension).
        samples: Samples of the videos stored in this run.
        shared: Of those, samples whose frame another sample of the same video also shows
            (``--seek keyframe`` lets neighbours share a cheap frame; sampling faster than a
            video's frame rate repeats frames). The manifest's ``distinct_frames`` has them
            per video.
    """

    store: Path | str
    done: list[str] = field(default_factory=list)
    partial: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    samples: int = 0
    shared: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed (partial videos count as extracted)."""
        return not self.failed


def extract(
    videos: str | os.PathLike[str] | list[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    config: ExtractConfig | None = None,
    *,
    backbone: Backbone | None = None,
    progress: bool = True,
    path_column: str | None = None,
    **overrides: Any,
) -> ExtractReport:
    """Extract per-frame features of ``videos`` into the feature store ``out``.

    Args:
        videos: Folder (searched recursively), ``.txt`` list, ``.csv`` with a path column, a
            single file, or a list of paths; any of them may be an fsspec URL (``s3://...``).
        out: Store folder or URL; created if new, resumed if it holds a store with the same
            settings.
        config: Settings; keyword ``overrides`` replace single fields (``frames`` is not a
            field: pass ``sampling=SamplingSpec("uniform", 12)``). ``config.engine`` picks
            the engine (``local`` processes, or ``ray``).
        backbone: An already built backbone (else built from ``config.backbone``).
        progress: Show a progress bar and summary.
        path_column: CSV column holding video paths.

    Returns:
        The run's report; ``report.failed`` lists every video that gave no features.
    """
    cfg = replace(config or ExtractConfig(), **overrides)
    items = _resolve(videos, path_column)
    model = backbone or backbone_from_config(cfg)
    setup = EngineSetup(cfg, model, backbone_given=backbone is not None)
    report = ExtractReport(store=str(out) if is_url(out) else Path(out))
    start = time.monotonic()
    with open_target(out, store_meta(cfg, model)) as target:  # locked; manifest folded at end
        todo = [i for i in items if not target.is_current(i)]
        todo_ids = {i.video_id for i in todo}
        report.skipped = [i.video_id for i in items if i.video_id not in todo_ids]
        report.reused = list(target.reused)
        if report.reused:
            report.notes.append(_reused_note(len(report.reused)))
        report.notes += [n for n in (getattr(i, "note", None) for i in items) if n]
        bar = Progress(len(todo), enabled=progress, skipped=len(report.skipped))
        with bar, _sigterm_as_interrupt():
            sink = _Sink(target, todo, report, bar)
            try:
                _drive(todo, setup, sink)
            finally:
                sink.abort()  # videos still in flight: their temporary files go
                report.seconds = time.monotonic() - start
    if report.shared:
        report.notes.append(_shared_note(report, cfg))
    return report


def _reused_note(n: int) -> str:
    return (
        f"{n} video{'s' if n != 1 else ''} had new timestamps but the same content: kept "
        "(not extracted again; their manifest rows now hold the new path and timestamp)"
    )


def _shared_note(report: ExtractReport, cfg: ExtractConfig) -> str:
    why = (
        "--seek keyframe let neighbours share a frame that is cheap to decode; "
        "--keyframe-tolerance 0.5x keeps them apart"
        if cfg.seek == "keyframe"
        else "the sampling is denser than the videos' frames"
    )
    return (
        f"{report.shared} of {report.samples} samples show the same frame as another sample "
        f"of their video ({why}; manifest column distinct_frames)"
    )


def store_meta(cfg: ExtractConfig, model: Backbone) -> dict[str, Any]:
    """The store key (plus informational fields) for these settings and this backbone."""
    return {
        "backbone": model.identity(),
        "layout": [[name, width] for name, width in model.layout],
        "sampling": cfg.sampling.to_dict(),
        "seek": cfg.seek,
        "keyframe_tolerance_s": cfg.keyframe_tolerance_s if cfg.seek == "keyframe" else None,
        "keyframe_reach": (
            cfg.keyframe_reach
            if cfg.seek == "keyframe" and cfg.keyframe_tolerance_s is None
            else None
        ),
        "dtype": cfg.dtype,
        "image_fps": cfg.image_fps,
        "runtime": model.runtime,
        "backbone_options": dict(cfg.backbone_options),
        "vidscope_version": __version__,
    }


def _resolve(videos: Any, path_column: str | None) -> list[Item]:
    urls = is_url(videos) or (
        isinstance(videos, (list, tuple)) and bool(videos) and all(is_url(v) for v in videos)
    )
    if urls:
        return list(resolve_urls(videos if isinstance(videos, str) else list(videos),
                                 path_column=path_column))  # fmt: skip
    return list(resolve_videos(videos, path_column=path_column))


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C for the run: workers are stopped, finished videos are kept,
    and the CLI says the run can be resumed (instead of dying mid-write)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _drive(todo: list[Item], setup: EngineSetup, sink: _Sink) -> None:
    if not todo:
        return
    tasks = [VideoTask(n, item.video_id, str(item.path)) for n, item in enumerate(todo)]
    with create_engine(setup) as engine:
        for event in engine.run(tasks):
            sink.handle(event)


@dataclass
class AssembledVideo:
    """One video put together from engine events, ready for :func:`save_video`."""

    item: Item
    started: float = field(default_factory=time.monotonic)
    info: dict[str, Any] = field(default_factory=dict)
    writer: FeatureWriter | None = None  # the [T, D] features, written as they come
    times_s: np.ndarray | None = None  # [T]
    filled: np.ndarray | None = None  # [T] bool
    damage: tuple[str, ...] = ()
    decoded_frames: int | None = None
    max_displacement_s: float | None = None
    failure: str | None = None


class _Sink:
    """Assembles each video from its events, saves it, and keeps the report and bar current."""

    def __init__(
        self, target: StoreTarget, todo: list[Item], report: ExtractReport, bar: Progress
    ) -> None:
        self.target = target
        self.items = dict(enumerate(todo))
        self.report = report
        self.bar = bar
        self.videos: dict[int, AssembledVideo] = {}

    def handle(self, event: EngineEvent) -> None:
        """Act on one engine event."""
        if isinstance(event, VideoStarted):
            self._started(event)
        elif isinstance(event, FeatureChunk):
            v = self.videos[event.key]
            assert v.writer is not None and v.times_s is not None and v.filled is not None
            try:
                v.writer.put(event.indices, event.features)
            except OSError as exc:
                raise os_error(v.writer.path, exc) from None
            v.times_s[event.indices] = event.times_s
            v.filled[event.indices] = True
            if len(event.indices):
                self.bar.samples(v.item.video_id, len(event.indices), float(event.times_s.max()))
        elif isinstance(event, VideoProgress):
            vid = self.items[event.key].video_id
            self.bar.set_samples(vid, event.samples_done, event.num_samples, event.time_s,
                                 event.duration_s)  # fmt: skip
        else:
            video = self.videos.pop(event.key, None) or AssembledVideo(self.items[event.key])
            if isinstance(event, VideoDone):
                video.damage = event.damage
                video.decoded_frames = event.stats.get("decoded")
                video.max_displacement_s = event.stats.get("max_displacement_s")
            elif isinstance(event, VideoFailed):
                video.failure = event.reason
            self._finish(video)

    def _started(self, event: VideoStarted) -> None:
        n, item = event.num_samples, self.items[event.key]
        old = self.videos.pop(event.key, None)  # started again (a replaced worker): start over
        if old is not None and old.writer is not None:
            old.writer.abort()
        self.videos[event.key] = AssembledVideo(
            item,
            info=event.info,
            writer=self.target.store.begin(item.video_id, n),
            times_s=np.zeros(n, np.float64),
            filled=np.zeros(n, bool),
        )
        duration = event.info.get("duration_s")
        self.bar.video_started(self.items[event.key].video_id, n, duration)

    def abort(self) -> None:
        """Drop the videos not finished (an interrupted or failed run)."""
        for video in self.videos.values():
            if video.writer is not None:
                video.writer.abort()
        self.videos.clear()

    def _finish(self, video: AssembledVideo) -> None:
        status, message = save_video(self.target, video)
        vid = video.item.video_id
        if status == "failed":
            self.report.failed[vid] = message or ""
        elif status == "partial":
            self.report.partial[vid] = message or ""
        else:
            self.report.done.append(vid)
        if status != "failed" and video.times_s is not None:
            self.report.samples += len(video.times_s)
            self.report.shared += len(video.times_s) - distinct_frames(video)
        self.bar.advance(vid, status, message)


def save_video(target: StoreTarget, video: AssembledVideo) -> tuple[str, str | None]:
    """Write one finished (or failed) video to the store: arrays, then its manifest row.

    The only function that writes videos into a store, for every engine. Features with
    unfilled samples, NaN/inf values or no samples are recorded as failed, never stored.

    Returns:
        ``(status, message)``: ``ok``/``partial``/``failed`` and the warning or reason.
    """
    store, writer = target.store, video.writer
    reason = video.failure
    if reason is None and video.filled is not None and not video.filled.all():
        reason = f"{int((~video.filled).sum())} samples could not be decoded"
    if reason is None and writer is not None:
        problem = writer.problem()  # NaN/inf or no samples: never stored
        reason = f"features not stored: {problem}" if problem else None
    if reason is not None or writer is None:
        if writer is not None:
            writer.abort()
        status, message, rel = "failed", reason or "no features", None
    else:
        rel = store.finish(video.item.video_id, writer, video.times_s)  # type: ignore[arg-type]
        status = "partial" if video.damage else "ok"
        message = "; ".join(video.damage) or None
    row = _row(video, status, message, rel)
    store.record(row)
    if target.remote is not None:
        target.remote.push_video(store.rows[video.item.video_id])
    return status, message


def _row(video: AssembledVideo, status: str, error: str | None, rel: str | None) -> dict:
    info = video.info
    return {
        "video_id": video.item.video_id,
        "path": str(video.item.path),
        "status": status,
        "error": error,
        "duration_s": info.get("duration_s"),
        "fps": info.get("fps"),
        "num_frames": info.get("num_frames"),
        "width": info.get("width"),
        "height": info.get("height"),
        "rotation": info.get("rotation"),
        "num_samples": None if video.writer is None or rel is None else video.writer.num_samples,
        "fingerprint": fingerprint(video.item.path),
        "content": content_digest(video.item.path) if rel is not None else None,
        "features": rel,
        "seconds": round(time.monotonic() - video.started, 4),
        "decoded_frames": video.decoded_frames if rel is not None else None,
        "max_displacement_s": video.max_displacement_s if rel is not None else None,
        "distinct_frames": distinct_frames(video) if rel is not None else None,
    }


def distinct_frames(video: AssembledVideo) -> int:
    """How many different frames a stored video's samples show (by presentation time)."""
    return 0 if video.times_s is None else len(np.unique(video.times_s))
