"""A small pool of decode worker processes that can be killed one at a time."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sys
import time
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection, wait

from ..errors import VidscopeError
from ._worker import DecodeTask, Ready, WorkerMessage, worker_main

STARTUP_TIMEOUT_S = 120.0
#: Tasks queued per worker: with 2, a worker decodes the next video while the main process
#: encodes and stores the current one.
QUEUE_DEPTH = 2


@contextlib.contextmanager
def _main_importable() -> Iterator[None]:
    """Start ``spawn`` workers without re-running the parent's ``__main__``.

    ``spawn`` re-imports the parent's main script (or ``-m`` module) in every child. The
    workers need nothing from it, and re-running it breaks two common cases: a script that
    calls ``vidscope.extract`` at top level without an ``if __name__ == "__main__":`` guard
    (each child would start extracting again) and ``python -``/``python -c`` sessions whose
    "file" does not exist. So the main module's ``__file__`` and ``__spec__`` are hidden while
    a worker starts.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None  # type: ignore[assignment]
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


class DecodeWorker:
    """One decode process, its pipe, and the jobs queued on it (the first is in progress)."""

    def __init__(self, ctx: mp.context.BaseContext, threads: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=worker_main, args=(child, threads), daemon=True)
        with _main_importable():
            self.proc.start()
        child.close()
        self.jobs: deque[int] = deque()
        self.last_seen = time.monotonic()
        self._await_ready()

    def _await_ready(self) -> None:
        ready = self.conn.poll(STARTUP_TIMEOUT_S)
        try:
            msg = self.conn.recv() if ready else None
        except (EOFError, OSError):
            msg = None
        if not isinstance(msg, Ready):
            self.kill()
            raise VidscopeError(
                "could not start a decode worker process (exit code "
                f"{self.proc.exitcode}); see the messages above, and check that the machine "
                "allows new processes (or pass --workers 1)"
            )

    @property
    def job(self) -> int | None:
        """The job being decoded now, if any."""
        return self.jobs[0] if self.jobs else None

    def submit(self, task: DecodeTask) -> None:
        """Queue a task; the worker starts it when the one before it is done."""
        if not self.jobs:
            self.last_seen = time.monotonic()
        self.jobs.append(task.job)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.conn.send(task)  # a dead worker: the next poll sees it and requeues its jobs

    def finish(self, job: int) -> None:
        """``job`` is done (or failed); the next queued job starts now."""
        self.jobs.remove(job)
        self.last_seen = time.monotonic()

    def kill(self) -> None:
        """Stop the process now (used on hangs and interrupts)."""
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        """Ask the process to exit after its current task, then reap it."""
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send(None)
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.kill()


class DecodePool:
    """``size`` decode workers; ``poll`` returns messages as they arrive."""

    def __init__(self, size: int, threads: int) -> None:
        self._ctx = mp.get_context("spawn")
        self._threads = threads
        self.workers = [DecodeWorker(self._ctx, threads) for _ in range(size)]

    def with_room(self) -> list[DecodeWorker]:
        """Workers with fewer than :data:`QUEUE_DEPTH` jobs, emptiest first."""
        room = [w for w in self.workers if len(w.jobs) < QUEUE_DEPTH]
        return sorted(room, key=lambda w: len(w.jobs))

    def busy(self) -> list[DecodeWorker]:
        """Workers with at least one job queued."""
        return [w for w in self.workers if w.jobs]

    def poll(self, timeout: float) -> list[tuple[DecodeWorker, WorkerMessage | None]]:
        """Messages ready within ``timeout`` s; ``None`` means the worker died."""
        conns: list[Connection] = [w.conn for w in self.busy()]
        out: list[tuple[DecodeWorker, WorkerMessage | None]] = []
        for conn in wait(conns, timeout=timeout) if conns else []:
            worker = next(w for w in self.workers if w.conn is conn)
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                msg = None
            worker.last_seen = time.monotonic()
            out.append((worker, msg))
        return out

    def replace(self, worker: DecodeWorker) -> list[int]:
        """Kill ``worker`` (hung or dead), start a fresh one; returns its queued jobs after
        the first (the one it was stuck on), which must be resubmitted."""
        worker.kill()
        self.workers[self.workers.index(worker)] = DecodeWorker(self._ctx, self._threads)
        return list(worker.jobs)[1:]

    def close(self, *, force: bool = False) -> None:
        """Stop every worker: after its current task, or at once with ``force``."""
        for w in self.workers:
            w.kill() if force else w.stop()
