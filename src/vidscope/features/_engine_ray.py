"""The ``ray`` engine: the same extraction on a Ray cluster (``--engine ray``).

Each Ray worker is an actor (:class:`_Extractor`) that builds the backbone once and then does
decode + sample + encode for whole videos with the same code as the local engine
(:func:`._worker.run_task`, :func:`._engine.encode_chunk`), so only ``[T, D]`` features
(kilobytes) cross the network, never decoded frames. The driver writes the store alone,
through the same :func:`._extract.save_video` as the local engine.

Why Ray Core actors with a bounded in-flight queue, not Ray Data ``map_batches`` with an
``ActorPoolStrategy``:

- **Per-video faults.** One bad video must never fail the job, and a dead worker must cost
  only its own videos, retried once more on another worker and then recorded with a reason.
  With one ``ObjectRef`` per video the driver knows exactly which videos a dead actor held;
  Ray Data retries or fails whole blocks, and its error budget (``max_errored_blocks``) is
  per block, not per video.
- **Write as each video finishes.** The driver saves every video the moment its features
  arrive (journal + atomic arrays), so a killed run resumes with only what is missing. Ray
  Data streams blocks in its own order and would need a second bookkeeping layer for that.
- **Bounded memory by construction.** At most :data:`QUEUE_DEPTH` videos are queued per actor
  (one running, one waiting so the actor never idles), so the object store holds at most
  ``2 x workers`` results of kilobytes each; nothing else is buffered.
- **Nothing to tune.** No blocks, batch sizes or autoscaling pool bounds: ``--workers N``
  actors, each reserving ``--decode-threads`` CPUs (default 1) and ``--num-gpus-per-worker``.

(``ray.data.read_videos`` decodes every frame with decord and has no timestamp sampling, so
it is not used at all.)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ._engine import (
    EngineEvent,
    EngineSetup,
    VideoFailed,
    VideoProgress,
    VideoTask,
    register_engine,
)
from ._fsspec import shipped_bytes
from ._ray_actor import CONCURRENCY_GROUPS, Extractor

#: Videos queued per actor: one being extracted, one waiting, so an actor never idles.
QUEUE_DEPTH = 2
#: Attempts per video when its worker dies (the first plus one retry on another worker).
MAX_ATTEMPTS = 2
#: Seconds each ``ray.wait`` blocks before the driver looks again.
POLL_S = 1.0


def import_ray() -> Any:
    """``ray``, or a :class:`ConfigError` saying which extra installs it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray, which is not installed: pip install 'vidscope[ray]'"
        ) from None
    return ray


@dataclass
class _Worker:
    """One actor, the videos queued on it (oldest = running first), and its status query."""

    actor: Any
    pid: int
    queue: deque[tuple[Any, VideoTask]] = field(default_factory=deque)
    status_ref: Any = None
    status_sent: float = 0.0


@register_engine("ray")
class RayEngine:
    """Ray Core actors with a bounded in-flight queue (see the module docstring)."""

    def __init__(self, setup: EngineSetup) -> None:
        self.ray = import_ray()
        self.setup = setup
        self.cfg = setup.config
        self.template = setup.decode_template()
        self.workers: list[_Worker] = []
        self.attempts: dict[int, int] = {}
        self._pending: deque[VideoTask] = deque()
        self._started_ray = False
        self._remote_class: Any = None

    def __enter__(self) -> RayEngine:
        if not self.ray.is_initialized():
            self.ray.init(address=self.cfg.address, log_to_driver=False)
            self._started_ray = True
        threads = self.cfg.decode_threads or 1
        self._remote_class = self.ray.remote(
            num_cpus=threads,
            num_gpus=self.cfg.num_gpus_per_worker,
            max_restarts=0,
            concurrency_groups=CONCURRENCY_GROUPS,
        )(Extractor)
        shipped = self.setup.backbone if self.setup.backbone_given else None
        try:
            self._args = (self.ray.put(self.cfg), self.ray.put(shipped))
        except Exception as exc:  # a backbone object that cannot be pickled
            raise ConfigError(
                f"--engine ray cannot send this backbone object to the workers ({exc}); name "
                "it in the config (backbone=..., weights=...) so each worker builds its own"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            self.ray.kill(w.actor)
        self.workers = []
        if self._started_ray:
            self.ray.shutdown()

    def run(self, tasks: Iterable[VideoTask]) -> Iterator[EngineEvent]:
        """See :meth:`Engine.run`."""
        self._pending = deque(tasks)
        count = min(self.cfg.workers, max(1, len(self._pending)))
        self.workers = self._start_workers(count)
        while self._pending or any(w.queue for w in self.workers):
            self._submit()
            yield from self._check_status()
            owner = {ref: w for w in self.workers for ref, _ in w.queue}
            ready, _ = self.ray.wait(list(owner), num_returns=1, timeout=POLL_S)
            for ref in ready:
                worker = owner[ref]
                if any(w is worker for w in self.workers):  # not replaced after a death
                    yield from self._collect(worker, ref)

    def _start_workers(self, count: int) -> list[_Worker]:
        """``count`` actors, each with its backbone built and checked against the driver's."""
        threads = self.cfg.decode_threads or 1
        actors = [self._remote_class.remote(*self._args, threads) for _ in range(count)]
        answers = self.ray.get([a.ready.remote() for a in actors])
        want = self.setup.backbone.identity()
        if any(identity != want for _, identity in answers):
            for a in actors:
                self.ray.kill(a)
            other = next(identity for _, identity in answers if identity != want)
            raise ConfigError(
                f"a Ray worker built a different backbone ({other}) than this process "
                f"({want}): give --weights as a path every node can read, and install the "
                "same vidscope version on every node"
            )
        return [_Worker(a, pid) for a, (pid, _) in zip(actors, answers, strict=True)]

    def _submit(self) -> None:
        for worker in sorted(self.workers, key=lambda w: len(w.queue)):
            while self._pending and len(worker.queue) < QUEUE_DEPTH:
                task = self._pending.popleft()
                data = shipped_bytes(task.source)
                decode = self.template.for_video(task.key, task.source, data)
                call = worker.actor.extract.options(concurrency_group="extract")
                worker.queue.append((call.remote(decode), task))

    def _check_status(self) -> Iterator[EngineEvent]:
        """Progress of each running video; a worker silent for ``timeout_s`` is abandoned."""
        now = time.monotonic()
        for worker in list(self.workers):
            if not worker.queue:
                continue
            if worker.status_ref is None:
                call = worker.actor.status.options(concurrency_group="status")
                worker.status_ref, worker.status_sent = call.remote(), now
                continue
            ready, _ = self.ray.wait([worker.status_ref], timeout=0)
            status = self._status_of(worker) if ready else None
            idle = now - worker.status_sent if status is None else status["idle_s"]
            if idle > self.cfg.timeout_s:
                reason = f"no progress for {self.cfg.timeout_s:g} s (decoder hung); skipped"
                yield from self._abandon(worker, reason)
            elif status is not None and status["key"] == worker.queue[0][1].key:
                yield VideoProgress(status["key"], status["samples_done"],
                                    status["num_samples"], status["time_s"],
                                    status["duration_s"])  # fmt: skip

    def _status_of(self, worker: _Worker) -> dict[str, Any] | None:
        """The answer to ``worker``'s status query (``None`` if it died); asks again later."""
        ref, worker.status_ref = worker.status_ref, None
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayActorError:
            return None  # its extract call reports the death

    def _abandon(self, worker: _Worker, reason: str) -> Iterator[EngineEvent]:
        """Kill a hung worker: its running video fails with ``reason``, the rest is requeued."""
        self.ray.kill(worker.actor)
        queued = self._replace(worker)
        if queued:
            self._pending.extendleft(reversed(queued[1:]))
            yield VideoFailed(queued[0].key, reason)

    def _replace(self, worker: _Worker) -> list[VideoTask]:
        """Put a fresh actor in ``worker``'s place; returns the tasks queued on the old one."""
        index = next(i for i, w in enumerate(self.workers) if w is worker)
        self.workers[index] = self._start_workers(1)[0]
        return [task for _, task in worker.queue]

    def _collect(self, worker: _Worker, ref: Any) -> Iterator[EngineEvent]:
        try:
            events = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as exc:
            yield from self._worker_died(worker, exc)
            return
        worker.queue = deque((r, t) for r, t in worker.queue if r != ref)
        yield from events

    def _worker_died(self, worker: _Worker, exc: BaseException) -> Iterator[EngineEvent]:
        """Replace a dead actor; retry its running video once more, requeue the others."""
        queued = self._replace(worker)
        if not queued:
            return
        head, rest = queued[0], queued[1:]
        self._pending.extendleft(reversed(rest))
        self.attempts[head.key] = self.attempts.get(head.key, 1) + 1
        if self.attempts[head.key] <= MAX_ATTEMPTS:
            self._pending.appendleft(head)
            return
        why = type(exc).__name__
        yield VideoFailed(
            head.key,
            f"Ray worker died {MAX_ATTEMPTS} times on this video ({why}); skipped",
        )
