"""The extraction engine: decode workers feed frames, the backbone encodes them in batches,
the store saves each video as it finishes. One bad video is recorded and the batch goes on."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..backbones import Backbone, create_backbone
from ._config import ExtractConfig
from ._inputs import VideoInput, resolve_videos
from ._pool import DecodePool, DecodeWorker
from ._progress import Progress
from ._store import FeatureStore


@dataclass
class ExtractReport:
    """What an extraction run did.

    Attributes:
        store: Where the features are.
        done: Ids extracted fully in this run.
        partial: Id -> warning, for damaged videos whose readable part was extracted.
        failed: Id -> reason, for videos that gave no features.
        skipped: Ids already in the store and unchanged.
        seconds: Wall time of the run.
    """

    store: Path
    done: list[str] = field(default_factory=list)
    partial: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when nothing failed (partial videos count as extracted)."""
        return not self.failed


@dataclass
class _Job:
    item: VideoInput
    started: float
    info: dict[str, Any] | None = None
    features: np.ndarray | None = None  # [T, D]
    times: np.ndarray | None = None  # [T]
    filled: np.ndarray | None = None  # [T] bool


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
            single file, or a list of paths.
        out: Store folder; created if new, resumed if it holds a store with the same settings.
        config: Settings; keyword ``overrides`` replace single fields (``frames`` is not a
            field: pass ``sampling=SamplingSpec("uniform", 12)``).
        backbone: An already built backbone (else built from ``config.backbone``).
        progress: Show a progress bar and summary.
        path_column: CSV column holding video paths.

    Returns:
        The run's report; ``report.failed`` lists every video that gave no features.
    """
    cfg = replace(config or ExtractConfig(), **overrides)
    items = resolve_videos(videos, path_column=path_column)
    model = backbone or create_backbone(
        cfg.backbone,
        weights=cfg.weights,
        trust_checkpoint=cfg.trust_checkpoint or None,
        runtime=cfg.runtime,
        **cfg.backbone_options,
    )
    store = FeatureStore.create(out, store_meta(cfg, model))
    report = ExtractReport(store=Path(out))
    todo = [i for i in items if not _is_current(store, i)]
    report.skipped = [i.video_id for i in items if i not in todo]
    start = time.monotonic()
    with Progress(len(todo), enabled=progress, skipped=len(report.skipped)) as bar:
        try:
            _run(todo, store, cfg, model, report, bar)
        finally:
            store.compact()
            report.seconds = time.monotonic() - start
    return report


def store_meta(cfg: ExtractConfig, model: Backbone) -> dict[str, Any]:
    """The store key (plus informational fields) for these settings and this backbone."""
    return {
        "backbone": model.identity(),
        "layout": [[name, width] for name, width in model.layout],
        "sampling": cfg.sampling.to_dict(),
        "seek": cfg.seek,
        "keyframe_tolerance_s": cfg.keyframe_tolerance_s if cfg.seek == "keyframe" else None,
        "dtype": cfg.dtype,
        "image_fps": cfg.image_fps,
        "runtime": model.runtime,
        "backbone_options": dict(cfg.backbone_options),
        "vidscope_version": __version__,
    }


def _is_current(store: FeatureStore, item: VideoInput) -> bool:
    row = store.rows.get(item.video_id)
    if row is None or row.get("status") not in ("ok", "partial"):
        return False
    return (
        row.get("fingerprint") == fingerprint(item.path)
        and (store.root / str(row.get("features"))).exists()
    )


def fingerprint(path: Path) -> str | None:
    """``size:mtime_ns`` of a file (count and newest mtime for a frame folder)."""
    try:
        if path.is_dir():
            stats = [p.stat() for p in path.iterdir()]
            return f"dir{len(stats)}:{max((s.st_mtime_ns for s in stats), default=0)}"
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return None


def _run(
    todo: list[VideoInput], store: FeatureStore, cfg: ExtractConfig, model: Backbone,
    report: ExtractReport, bar: Progress,
) -> None:  # fmt: skip
    pending = deque(enumerate(todo))
    jobs: dict[int, _Job] = {}
    pool = DecodePool(min(cfg.workers, max(1, len(todo))), cfg.threads_per_worker())
    task = _task_template(cfg, model)
    try:
        while pending or jobs:
            for worker in pool.with_room():
                if pending:
                    n, item = pending.popleft()
                    jobs[n] = _Job(item, time.monotonic())
                    worker.submit(n, {**task, "path": str(item.path)})
            requeue: list[int] = []
            for worker, msg in pool.poll(timeout=1.0):
                requeue += _handle(worker, msg, jobs, pool, store, model, cfg, report, bar)
            for worker in pool.busy():
                if time.monotonic() - worker.last_seen > cfg.timeout_s:
                    reason = f"no progress for {cfg.timeout_s:g} s (decoder hung); skipped"
                    requeue += _finish_failed(worker, jobs, pool, store, report, bar, reason)
            pending.extendleft((n, jobs.pop(n).item) for n in reversed(requeue))
    except BaseException:
        pool.close(force=True)
        raise
    pool.close()


def _task_template(cfg: ExtractConfig, model: Backbone) -> dict[str, Any]:
    return {
        "sampling": cfg.sampling.to_dict(),
        "parts": [
            {
                "preprocess": p.preprocess.to_dict(),
                "needs_next_frame": p.needs_next_frame,
                "pair_gap_s": p.pair_gap_s,
            }
            for p in model.parts
        ],
        "seek": cfg.seek,
        "keyframe_tolerance_s": cfg.keyframe_tolerance_s,
        "chunk_size": cfg.batch_size,
        "image_fps": cfg.image_fps,
    }


def _handle(
    worker: DecodeWorker, msg: tuple | None, jobs: dict[int, _Job], pool: DecodePool,
    store: FeatureStore, model: Backbone, cfg: ExtractConfig, report: ExtractReport, bar: Progress,
) -> list[int]:  # fmt: skip
    """Act on one worker message; returns jobs to resubmit (a dead worker's queued ones)."""
    if msg is None:
        code = worker.proc.exitcode
        reason = f"decoder process crashed (exit code {code}) on this file; skipped"
        return _finish_failed(worker, jobs, pool, store, report, bar, reason)
    kind, n = msg[0], msg[1]
    job = jobs[n]
    if kind == "info":
        job.info, num = msg[2], msg[3]
        job.features = np.zeros((num, model.num_features), np.float32)
        job.times = np.zeros(num, np.float64)
        job.filled = np.zeros(num, bool)
    elif kind == "frames":
        frames, times, idx, nexts, next_times = msg[2:7]
        dt = None if next_times is None else next_times - times  # [n] s to the next frame
        for s in range(0, len(times), cfg.batch_size):
            sl = slice(s, s + cfg.batch_size)
            job.features[idx[sl]] = encode_parts(model, frames, nexts, dt, sl)  # type: ignore[index]
        job.times[idx] = times  # type: ignore[index]
        job.filled[idx] = True  # type: ignore[index]
    elif kind == "done":
        worker.finish(n)
        _finish_ok(jobs.pop(n), store, report, bar, damage=msg[2], stats=msg[3])
    else:  # "error"
        worker.finish(n)
        _record_failure(jobs.pop(n), store, report, bar, msg[2])
    return []


def encode_parts(
    model: Backbone,
    frames: list[np.ndarray],
    nexts: list[np.ndarray | None],
    dt_s: np.ndarray | None,
    rows: slice,
) -> np.ndarray:
    """``float32 [n, D]`` features of the ``rows`` of one worker chunk, parts side by side.

    Args:
        model: The backbone; each of ``model.parts`` encodes its own prepared frames.
        frames: Per part, ``uint8 [N, h_p, w_p, 3]`` sampled frames.
        nexts: Per part, the next frames (parts with ``needs_next_frame``) or ``None``.
        dt_s: ``[N]`` seconds from each sampled frame to its next frame (``None`` if no
            part needs them).
        rows: Which rows of the chunk to encode (one inference batch).
    """
    feats = []
    for part, now, after in zip(model.parts, frames, nexts, strict=True):
        if part.needs_next_frame:
            assert after is not None and dt_s is not None
            feats.append(part.encode_pairs(now[rows], after[rows], dt_s[rows]))
        else:
            feats.append(part.encode(now[rows]))
    return feats[0] if len(feats) == 1 else np.concatenate(feats, axis=1)


def _finish_ok(
    job: _Job, store: FeatureStore, report: ExtractReport, bar: Progress, *,
    damage: list[str], stats: dict[str, int],
) -> None:  # fmt: skip
    vid = job.item.video_id
    assert job.features is not None and job.filled is not None and job.info is not None
    if not job.filled.all():
        missing = int((~job.filled).sum())
        _record_failure(job, store, report, bar, f"{missing} samples could not be decoded")
        return
    rel = store.write(vid, job.features, job.times)  # type: ignore[arg-type]
    status = "partial" if damage else "ok"
    warning = "; ".join(damage) or None
    store.record(_row(job, status, warning, rel, stats.get("decoded")))
    if damage:
        report.partial[vid] = warning or ""
    else:
        report.done.append(vid)
    bar.advance(vid, status, warning)


def _finish_failed(
    worker: DecodeWorker, jobs: dict[int, _Job], pool: DecodePool, store: FeatureStore,
    report: ExtractReport, bar: Progress, reason: str,
) -> list[int]:  # fmt: skip
    n = worker.job
    requeue = pool.replace(worker)
    if n is not None and n in jobs:
        _record_failure(jobs.pop(n), store, report, bar, reason)
    return requeue


def _record_failure(
    job: _Job, store: FeatureStore, report: ExtractReport, bar: Progress, reason: str
) -> None:
    vid = job.item.video_id
    store.record(_row(job, "failed", reason, None, None))
    report.failed[vid] = reason
    bar.advance(vid, "failed", reason)


def _row(
    job: _Job, status: str, error: str | None, rel: str | None, decoded: int | None
) -> dict[str, Any]:
    info = job.info or {}
    return {
        "video_id": job.item.video_id,
        "path": str(job.item.path),
        "status": status,
        "error": error,
        "duration_s": info.get("duration_s"),
        "fps": info.get("fps"),
        "num_frames": info.get("num_frames"),
        "width": info.get("width"),
        "height": info.get("height"),
        "rotation": info.get("rotation"),
        "num_samples": None if job.features is None or rel is None else len(job.features),
        "fingerprint": fingerprint(job.item.path),
        "features": rel,
        "seconds": round(time.monotonic() - job.started, 4),
        "decoded_frames": decoded,
    }
