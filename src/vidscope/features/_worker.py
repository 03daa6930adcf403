"""Decode worker process: probes a video, samples it and streams frame chunks back.

Runs in its own process so that a decoder that hangs or crashes on one file can be killed
without stopping the batch. Messages sent over the pipe (all plain tuples):

    ("info", job, VideoInfo-as-dict, num_samples)
    ("frames", job, frames, float64 [n] times, int64 [n] sample indices, next_frames,
        float64 [n] next times or None)
    ("done", job, damage warnings, decoder stats)
    ("error", job, reason)

and ("ready",) once at start-up. ``frames`` is a list with one ``uint8 [n, h_p, w_p, 3]`` array
per backbone part (a fused backbone has several), prepared with that part's preprocessing
record; ``next_frames`` is a list of the same length holding, for each part that needs the next
frame (motion), the frames shown right after the sampled ones, prepared the same way, and
``None`` for the others.

Each video is decoded once, at the largest size any part needs (by area); parts that need a
smaller size get the decoded frames resized with OpenCV (``INTER_AREA``, see
:meth:`Preprocess.prepare`). A task names its parts as ``task["parts"]``: a list of
``{"preprocess": Preprocess-as-dict, "needs_next_frame": bool}``.
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
    pres = [Preprocess(**p["preprocess"]) for p in task["parts"]]
    paired = [bool(p["needs_next_frame"]) for p in task["parts"]]
    with VideoReader(task["path"], threads=threads, image_fps=task["image_fps"]) as reader:
        info = reader.info
        times = spec.times(info.duration_s)
        conn.send(("info", job, asdict(info), len(times)))
        w, h = info.width, info.height
        size = max((p.decode_size(w, h) for p in pres), key=lambda s: (s[0] * s[1], s))
        options = {
            "size": size,
            "seek": task["seek"],
            "keyframe_tolerance_s": task["keyframe_tolerance_s"],
            "chunk_size": task["chunk_size"],
        }
        if any(paired):
            gap = max(float(p.get("pair_gap_s", 0.0)) for p in task["parts"])
            chunks = reader.iter_pairs(times, gap_s=gap, **options)
        else:
            chunks = ((batch, None) for batch in reader.iter_frames(times, **options))
        for batch, after in chunks:
            frames = [p.prepare(batch.frames, w, h) for p in pres]
            nexts = [
                p.prepare(after.frames, w, h) if need and after is not None else None
                for p, need in zip(pres, paired, strict=True)
            ]
            next_times = None if after is None else after.times_s
            conn.send(("frames", job, frames, batch.times_s, batch.indices, nexts, next_times))
        conn.send(("done", job, list(reader.damage), dict(reader.stats)))
