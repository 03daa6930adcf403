"""The ``local`` engine: decode worker processes on this machine, encoding in this process.

Workers (:mod:`._pool`) decode and prepare frames, one video at a time each, with up to
``QUEUE_DEPTH`` videos queued per worker so decoding overlaps encoding; this process encodes
each chunk with the backbone as it arrives. A worker that crashes or makes no progress for
``timeout_s`` is killed and replaced: the video it was on is recorded as failed, the ones
queued behind it are resubmitted.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator

from ._engine import (
    EngineEvent,
    EngineSetup,
    VideoDone,
    VideoFailed,
    VideoStarted,
    VideoTask,
    encode_chunk,
    register_engine,
)
from ._fsspec import shipped_bytes
from ._pool import DecodePool, DecodeWorker
from ._worker import Done, Error, Frames, Info, WorkerMessage

#: Seconds between checks for hung workers when no message arrives.
POLL_S = 1.0


@register_engine("local")
class LocalEngine:
    """Process-pool engine (``--engine local``, the default)."""

    def __init__(self, setup: EngineSetup) -> None:
        self.setup = setup
        self.cfg = setup.config
        self.template = setup.decode_template()
        self.pool: DecodePool | None = None
        self._pending: deque[VideoTask] = deque()
        self._live: dict[int, VideoTask] = {}

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self.pool is not None:
            self.pool.close(force=exc_type is not None)
            self.pool = None

    def run(self, tasks: Iterable[VideoTask]) -> Iterator[EngineEvent]:
        """See :meth:`Engine.run`."""
        self._pending = deque(tasks)
        size = min(self.cfg.workers, max(1, len(self._pending)))
        self.pool = DecodePool(size, self.cfg.threads_per_worker())
        while self._pending or self._live:
            self._submit()
            for worker, msg in self.pool.poll(timeout=POLL_S):
                yield from self._on_message(worker, msg)
            for worker in self.pool.busy():
                if time.monotonic() - worker.last_seen > self.cfg.timeout_s:
                    reason = f"no progress for {self.cfg.timeout_s:g} s (decoder hung); skipped"
                    yield from self._replace(worker, reason)

    def _submit(self) -> None:
        assert self.pool is not None
        for worker in self.pool.with_room():
            if not self._pending:
                return
            task = self._pending.popleft()
            self._live[task.key] = task
            data = shipped_bytes(task.source)
            worker.submit(self.template.for_video(task.key, task.source, data))

    def _on_message(self, worker: DecodeWorker, msg: WorkerMessage | None) -> Iterator[EngineEvent]:
        if msg is None:
            code = worker.proc.exitcode
            yield from self._replace(
                worker, f"decoder process crashed (exit code {code}) on this file; skipped"
            )
        elif isinstance(msg, Info):
            yield VideoStarted(msg.job, msg.info, msg.num_samples)
        elif isinstance(msg, Frames):
            yield encode_chunk(self.setup.backbone, msg, self.cfg.batch_size)
        elif isinstance(msg, Done):
            worker.finish(msg.job)
            self._live.pop(msg.job, None)
            yield VideoDone(msg.job, msg.damage, msg.stats)
        elif isinstance(msg, Error):
            worker.finish(msg.job)
            self._live.pop(msg.job, None)
            yield VideoFailed(msg.job, msg.reason)

    def _replace(self, worker: DecodeWorker, reason: str) -> Iterator[EngineEvent]:
        """Kill ``worker`` and start a fresh one: its video fails, its queue is resubmitted."""
        assert self.pool is not None
        key = worker.job
        requeue = self.pool.replace(worker)
        self._pending.extendleft(self._live.pop(k) for k in reversed(requeue))
        if key is not None and key in self._live:
            del self._live[key]
            yield VideoFailed(key, reason)
