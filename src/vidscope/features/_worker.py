"""Decode worker process: probes a video, samples it and streams frame chunks back.

Runs in its own process so that a decoder that hangs or crashes on one file can be killed
without stopping the batch. Messages sent over the pipe (all plain tuples):

    ("info", job, VideoInfo-as-dict, num_samples)
    ("frames", job, uint8 [n, h, w, 3], float64 [n] times, int64 [n] sample indices)
    ("done", job, damage warnings, decoder stats)
    ("error", job, reason)

and ("ready",) once at start-up.
"""

from __future__ import annotations

import signal
from dataclasses import asdict
from multiprocessing.connection import Connection

from ..backbones._base import Preprocess
from ..errors import VideoError
from ..video import SamplingSpec, VideoReader


def worker_main(conn: Connection, threads: int) -> None:
    """Serve decode tasks from ``conn`` until it sends ``None`` or closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops
    conn.send(("ready",))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        job = task["job"]
        try:
            _decode(conn, task, threads)
        except VideoError as exc:
            conn.send(("error", job, exc.reason))
        except Exception as exc:  # anything else a damaged file can provoke, recorded per file
            conn.send(("error", job, f"{type(exc).__name__}: {exc}"))


def _decode(conn: Connection, task: dict, threads: int) -> None:
    job = task["job"]
    spec = SamplingSpec(**task["sampling"])
    pre = Preprocess(**task["preprocess"])
    with VideoReader(task["path"], threads=threads, image_fps=task["image_fps"]) as reader:
        info = reader.info
        times = spec.times(info.duration_s)
        conn.send(("info", job, asdict(info), len(times)))
        size = pre.decode_size(info.width, info.height)
        for batch in reader.iter_frames(
            times,
            size=size,
            seek=task["seek"],
            keyframe_tolerance_s=task["keyframe_tolerance_s"],
            chunk_size=task["chunk_size"],
        ):
            frames = batch.frames if pre.resize == "squash" else pre.crop(batch.frames)
            conn.send(("frames", job, frames, batch.times_s, batch.indices))
        conn.send(("done", job, list(reader.damage), dict(reader.stats)))
