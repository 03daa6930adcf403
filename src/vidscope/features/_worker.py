"""Decoding one video into frame chunks, and the decode worker process that runs it.

:func:`decode_video` is shared by every engine: the local engine runs it in worker processes
(:func:`worker_main`, which streams its messages back over a pipe) and the Ray engine runs it
inside each actor. It yields small dataclasses:

- :class:`Info` once, after probing: the video's metadata and how many samples it gets;
- :class:`Frames` per chunk of at most ``chunk_size`` samples;
- :class:`Done` at the end, with damage warnings and decoder counters.

A worker process answers each :class:`DecodeTask` with those messages (or one :class:`Error`),
and says :class:`Ready` once at start-up. ``Frames.frames`` is a list with one
``uint8 [n, h_p, w_p, 3]`` array per backbone part (a fused backbone has several), prepared
with that part's preprocessing record; ``Frames.nexts`` holds, for each part that needs the
next frame (motion), the frames shown right after the sampled ones, prepared the same way,
and ``None`` for the others. For a clip backbone part (``PartSpec.clip_frames``),
``Frames.frames`` holds the distinct frames of the chunk's windows and ``Frames.clips`` says
which of them each sample's window is made of (``int32 [n, K]``); they are read by a second
reader of the same file at the window times :func:`~vidscope.backbones.clip_times` gives.

Each video is decoded once, at the largest size any part needs (by area); parts that need a
smaller size get the decoded frames resized with OpenCV (``INTER_AREA``, see
:meth:`Preprocess.prepare`).

This module never imports torch: worker processes import it at start-up.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import signal
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from ..backbones import Preprocess, clip_times
from ..errors import VideoError
from ..video import SamplingSpec
from ._fsspec import local_copy


@dataclass(frozen=True)
class PartSpec:
    """What one backbone part needs from the decoder."""

    preprocess: dict[str, Any]
    """``Preprocess.to_dict()`` of the part."""
    needs_next_frame: bool = False
    """Whether the part also needs the frame shown after each sample (motion)."""
    pair_gap_s: float = 0.0
    """With ``needs_next_frame``: the partner is the first frame at least this much later."""
    clip_frames: int = 0
    """Clip backbones: frames per window (0: one frame per sample)."""
    clip_fps: float = 25.0
    """Clip backbones: rate of the window's frames."""
    clip_stride: int = 1
    """Clip backbones: frames between neighbouring window centres."""


@dataclass(frozen=True)
class DecodeTask:
    """Everything needed to decode one video into prepared frame chunks (picklable)."""

    job: int
    """Caller's key for this video; echoed in every message."""
    path: str
    """Local path, or an fsspec URL (fetched to a temporary file first)."""
    sampling: dict[str, Any]
    parts: tuple[PartSpec, ...]
    seek: str = "exact"
    keyframe_tolerance_s: float | None = None  # None: follows the sampling
    keyframe_reach: float = 1.0  # with no tolerance: fraction of the gap to a neighbour
    chunk_size: int = 32
    image_fps: float = 25.0
    data: bytes | None = field(default=None, repr=False)
    """The file's bytes, when ``path`` is on a filesystem only the driver can see
    (``memory://``)."""

    def for_video(self, job: int, path: str, data: bytes | None = None) -> DecodeTask:
        """This template for one video."""
        return replace(self, job=job, path=path, data=data)


@dataclass(frozen=True)
class Ready:
    """A worker process started and waits for tasks."""


@dataclass(frozen=True)
class Info:
    """A video was opened: its metadata (``VideoInfo`` as a dict) and its number of samples."""

    job: int
    info: dict[str, Any]
    num_samples: int


@dataclass(frozen=True)
class Frames:
    """One chunk of prepared sampled frames."""

    job: int
    frames: list[np.ndarray]  # per part: uint8 [n, h_p, w_p, 3]
    times_s: np.ndarray  # float64 [n] presentation times
    indices: np.ndarray  # int64 [n] sample indices
    nexts: list[np.ndarray | None]  # per part: uint8 [n, h_p, w_p, 3] or None
    next_times_s: np.ndarray | None  # float64 [n], or None when no part needs next frames
    clips: list[np.ndarray | None] | None = None  # per part: int32 [n, K] rows of frames[p]


@dataclass(frozen=True)
class Done:
    """The video was read to the end."""

    job: int
    damage: tuple[str, ...]
    stats: dict[str, float]  # counters and max_displacement_s


@dataclass(frozen=True)
class Error:
    """The video gave no features; ``reason`` says why (without the path)."""

    job: int
    reason: str


WorkerMessage = Ready | Info | Frames | Done | Error


def worker_main(conn: Connection, threads: int) -> None:
    """Serve :class:`DecodeTask` s from ``conn`` until it sends ``None`` or closes.

    The parent decides what an interrupt stops, so SIGINT is ignored here; SIGTERM, or a
    parent that went away (a closed pipe), ends the process quietly, without a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        conn.send(Ready())
        while True:
            task = conn.recv()
            if task is None:
                return
            for msg in run_task(task, threads):
                conn.send(msg)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the parent is gone: nobody is left to read what this process would say


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run_task(task: DecodeTask, threads: int) -> Iterator[Info | Frames | Done | Error]:
    """:func:`decode_video`, with any failure turned into a final :class:`Error`."""
    try:
        yield from decode_video(task, threads)
    except VideoError as exc:
        yield Error(task.job, exc.reason)
    except (OSError, MemoryError) as exc:
        yield Error(task.job, f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # anything else a damaged file can provoke, recorded per file
        yield Error(task.job, f"{type(exc).__name__}: {exc}")


def decode_video(task: DecodeTask, threads: int) -> Iterator[Info | Frames | Done]:
    """Probe and sample one video; yields :class:`Info`, :class:`Frames` chunks, :class:`Done`.

    Raises:
        VideoError: the file cannot be opened or decoded at all.
    """
    from ..video import VideoReader  # PyAV: only where videos are decoded

    spec = SamplingSpec(**task.sampling)
    pres = [Preprocess(**p.preprocess) for p in task.parts]
    paired = [p.needs_next_frame for p in task.parts]
    windowed = any(p.clip_frames for p in task.parts)
    with contextlib.ExitStack() as stack:
        path = stack.enter_context(local_copy(task.path, task.data))
        reader = stack.enter_context(VideoReader(path, threads=threads, image_fps=task.image_fps))
        # clip parts read their windows with a reader of their own (the first one streams)
        clip_reader = (
            stack.enter_context(VideoReader(path, threads=threads, image_fps=task.image_fps))
            if windowed
            else None
        )
        info = reader.info
        times = spec.times(info.duration_s)
        trim_heap()  # indexing a long video leaves MiBs of freed heap the decoder would sit on
        yield Info(task.job, {**asdict(info), "path": task.path}, len(times))
        w, h = info.width, info.height
        frame_parts = [
            p for p, spec_p in zip(pres, task.parts, strict=True) if not spec_p.clip_frames
        ]
        size = max(
            (p.decode_size(w, h) for p in frame_parts or pres), key=lambda s: (s[0] * s[1], s)
        )
        options = {
            "size": size,
            "seek": task.seek,
            "keyframe_tolerance_s": task.keyframe_tolerance_s,
            "keyframe_reach": task.keyframe_reach,
            "chunk_size": task.chunk_size,
        }
        if any(paired):
            gap = max(p.pair_gap_s for p in task.parts)
            chunks = reader.iter_pairs(times, gap_s=gap, **options)
        else:
            chunks = ((batch, None) for batch in reader.iter_frames(times, **options))
        for batch, after in chunks:
            frames: list[np.ndarray] = []
            clips: list[np.ndarray | None] = []
            for p, part in zip(pres, task.parts, strict=True):
                if part.clip_frames:
                    assert clip_reader is not None
                    window, index = _windows(clip_reader, part, p, batch.times_s, info)
                    frames.append(window)
                    clips.append(index)
                else:
                    frames.append(p.prepare(batch.frames, w, h))
                    clips.append(None)
            nexts = [
                p.prepare(after.frames, w, h) if need and after is not None else None
                for p, need in zip(pres, paired, strict=True)
            ]
            next_times = None if after is None else after.times_s
            yield Frames(
                task.job, frames, batch.times_s, batch.indices, nexts, next_times,
                clips if windowed else None,
            )  # fmt: skip
        if clip_reader is not None:
            reader.damage.extend(d for d in clip_reader.damage if d not in reader.damage)
        yield Done(task.job, tuple(reader.damage), dict(reader.stats))


def _windows(
    reader: Any, part: PartSpec, pre: Preprocess, times_s: np.ndarray, info: Any
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct frames ``uint8 [m, h, w, 3]`` of the windows of samples shown at
    ``times_s``, prepared for the part, and each sample's window as rows of them
    (``int32 [n, K]``)."""
    wanted = clip_times(
        times_s, info.duration_s, part.clip_frames, part.clip_fps, part.clip_stride
    )  # [n, K]
    distinct, index = np.unique(wanted, return_inverse=True)
    size = pre.decode_size(info.width, info.height)
    batch = reader.read(distinct, size=size, seek="exact")  # rows in the order of ``distinct``
    frames = pre.prepare(batch.frames, info.width, info.height)
    return frames, index.reshape(wanted.shape).astype(np.int32)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # type: ignore[no-any-return]
    except (AttributeError, OSError):  # not glibc
        return None


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc's ``malloc_trim``; nothing
    elsewhere). Building the packet index of a 2-hour video allocates and frees some 20 MiB
    in pieces the allocator keeps; trimmed, the worker's peak is lower by what it kept."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
