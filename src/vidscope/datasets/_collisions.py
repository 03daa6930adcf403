"""``make_collisions``: a reproducible synthetic video dataset of colliding objects.

Like scikit-learn's ``make_classification``, but the samples are real H.264 ``.mp4`` files
(encoded with PyAV, yuv420p, one keyframe per second) together with labels in the layout
of the Kaggle dashcam-collision competition, plus one long video with timed events.
"""

from __future__ import annotations

import csv
import math
import numbers
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidscope.datasets._layout import ScenePlan, min_long_duration, plan_clip, plan_long

from ..errors import InputError

_ALERT_LEAD_S = 0.5


@dataclass(frozen=True)
class CollisionDataset:
    """Where :func:`make_collisions` wrote its files, and the ground truth.

    Attributes:
        root: The output directory.
        videos_dir: Folder with the short clips ``00000.mp4``, ``00001.mp4``, ...
        labels_csv: ``labels.csv`` with columns ``id,time_of_event,time_of_alert,target``.
        long_video: The long multi-event video, ``long/long_000.mp4``.
        long_events_csv: ``long/events.csv`` with ``file_name,start_time,end_time,label``.
        event_times_s: Clip id (zero-padded, e.g. ``"00042"``) -> contact time in seconds
            from the clip start, or None for clips without a collision.
        long_events: ``(start_s, end_s)`` of every collision in the long video, in time
            order; start is the first contact, end the end of the objects' reaction (the
            crash effect is visible exactly in between).
    """

    root: Path
    videos_dir: Path
    labels_csv: Path
    long_video: Path
    long_events_csv: Path
    event_times_s: dict[str, float | None]
    long_events: list[tuple[float, float]]

    def video_path(self, video_id: str) -> Path:
        """Path of the clip with the given zero-padded id."""
        return self.videos_dir / f"{video_id}.mp4"


@dataclass(frozen=True, eq=False)
class _DatasetPlan:
    """Scene plans of every video, before anything is rendered."""

    clips: list[ScenePlan]
    long: ScenePlan


def _is_int(value: object) -> bool:
    """True for Python / numpy integers, False for bools and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_size(size: object) -> tuple[int, int]:
    """Returns ``size`` as ``(width, height)`` ints or raises ValueError."""
    if (
        not isinstance(size, Sequence)
        or len(size) != 2
        or any(not _is_int(s) or s < 32 or s % 2 for s in size)
    ):
        raise InputError(f"size must be (width, height) with even integers >= 32, got {size!r}")
    return int(size[0]), int(size[1])


def _validate(
    n_videos: int,
    collide_fraction: float,
    durations: tuple[float, float],
    fps: int,
    n_long_events: int,
) -> None:
    """Raises ValueError with a readable message for any unusable argument but ``size``."""
    if not _is_int(n_videos) or n_videos < 2:
        raise InputError(f"n_videos must be an integer >= 2, got {n_videos!r}")
    if not 0.0 < collide_fraction < 1.0:
        raise InputError(
            f"collide_fraction must be strictly between 0 and 1, got {collide_fraction!r}"
        )
    n_pos = round(n_videos * collide_fraction)
    if not 0 < n_pos < n_videos:
        raise InputError(
            f"n_videos={n_videos} with collide_fraction={collide_fraction} gives {n_pos} "
            "colliding clips; both classes need at least one clip"
        )
    if not _is_int(fps) or fps <= 0:
        raise InputError(f"fps must be a positive integer, got {fps!r}")
    for name, value in zip(("duration_s", "long_duration_s"), durations, strict=True):
        if not value > 0 or not math.isfinite(value):
            raise InputError(f"{name} must be a positive number of seconds, got {value!r}")
        if round(value * fps) < 2:
            raise InputError(f"{name}={value} at fps={fps} gives fewer than 2 frames")
    if not _is_int(n_long_events) or n_long_events < 1:
        raise InputError(f"n_long_events must be an integer >= 1, got {n_long_events!r}")
    needed = min_long_duration(n_long_events)
    if durations[1] < needed:
        raise InputError(
            f"long_duration_s={durations[1]} is too short for {n_long_events} events spaced "
            f">= 5 s apart with quiet margins at both ends; use at least {needed:g} s"
        )


def _plan_dataset(
    seed: int,
    *,
    n_videos: int,
    collide_fraction: float,
    duration_s: float,
    fps: int,
    size: tuple[int, int],
    long_duration_s: float,
    n_long_events: int,
) -> _DatasetPlan:
    """Samples every scene from ``numpy.random.default_rng(seed)``, rendering nothing.

    Arguments are as for :func:`make_collisions` (already validated). Each video gets its
    own child generator, so rendering order and parallelism cannot change the result.
    """
    rng = np.random.default_rng(seed)
    n_pos = round(n_videos * collide_fraction)
    targets = rng.permutation(np.arange(n_videos) < n_pos)
    child_seeds = rng.integers(0, 2**63, n_videos + 1)
    n_frames = round(duration_s * fps)
    clips = [
        plan_clip(
            np.random.default_rng(int(s)), collide=bool(t), n_frames=n_frames, fps=fps, size=size
        )
        for s, t in zip(child_seeds[:-1], targets, strict=True)
    ]
    long = plan_long(
        np.random.default_rng(int(child_seeds[-1])),
        n_frames=round(long_duration_s * fps),
        fps=fps,
        size=size,
        n_events=n_long_events,
    )
    return _DatasetPlan(clips, long)


def _encode(path: Path, frames: Iterable[np.ndarray], fps: int, size: tuple[int, int]) -> None:
    """Writes RGB uint8 frames as H.264 / yuv420p ``.mp4`` with a keyframe every second."""
    options = {"g": str(fps), "keyint_min": str(fps), "preset": "veryfast", "crf": "23"}
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps, options=options)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        time_base = Fraction(1, fps)
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _write_videos(
    root: Path, ids: list[str], plan: _DatasetPlan, fps: int, size: tuple[int, int]
) -> Path:
    """Renders and encodes every video, several at a time; returns the long video's path."""
    videos_dir, long_dir = root / "videos", root / "long"
    videos_dir.mkdir(parents=True, exist_ok=True)
    long_dir.mkdir(parents=True, exist_ok=True)
    long_video = long_dir / "long_000.mp4"
    jobs = [(long_video, plan.long)]  # longest first, for better load balance
    jobs += [(videos_dir / f"{i}.mp4", clip) for i, clip in zip(ids, plan.clips, strict=True)]
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # list() re-raises the first encoding error, if any.
        list(pool.map(lambda job: _encode(job[0], job[1].frames(), fps, size), jobs))
    return long_video


def _write_labels(path: Path, event_times: dict[str, float | None]) -> None:
    """Writes ``labels.csv`` in the Kaggle dashcam-collision layout (empty = no event)."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "time_of_event", "time_of_alert", "target"])
        for video_id, t in event_times.items():
            if t is None:
                writer.writerow([video_id, "", "", 0])
            else:
                alert = max(t - _ALERT_LEAD_S, 0.0)
                writer.writerow([video_id, f"{t:.3f}", f"{alert:.3f}", 1])


def _write_events(path: Path, file_name: str, events: list[tuple[float, float]]) -> None:
    """Writes the long video's ``events.csv``."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file_name", "start_time", "end_time", "label"])
        for start, end in events:
            writer.writerow([file_name, f"{start:.3f}", f"{end:.3f}", "collision"])


def make_collisions(
    out_dir: str | os.PathLike[str],
    *,
    n_videos: int = 40,
    collide_fraction: float = 0.5,
    duration_s: float = 3.0,
    fps: int = 15,
    size: tuple[int, int] = (160, 120),
    long_duration_s: float = 60.0,
    n_long_events: int = 4,
    seed: int = 0,
) -> CollisionDataset:
    """Writes a synthetic, labelled dataset of short clips and one long video.

    In every clip two (sometimes three) objects move across a random background (solid,
    gradient, texture or tiles, with static scenery) under camera noise and jitter. In
    ``round(n_videos * collide_fraction)`` clips, in shuffled order, two of them touch at a
    random moment in 30-80% of the clip and visibly react for 1.2-1.8 s: they bounce or
    stop and flash, and a large crash effect (star-shaped fireball, smoke cloud, flying
    debris) bursts from the contact point and is gone when the reaction ends. In the rest
    they pass at least 3 px apart (near misses, no effect). Clip length, backgrounds and
    objects are drawn the same way for both classes: only the collision and its reaction
    tell them apart. The long video holds ``n_long_events`` collisions at least 5 s apart,
    each with a 1.5 s reaction, with passing and drifting objects in between.

    Files written under ``out_dir`` (existing ones with these names are overwritten, other
    files are left alone):

    - ``videos/00000.mp4``, ``videos/00001.mp4``, ...: the clips (H.264, yuv420p,
      ``round(duration_s * fps)`` frames, a keyframe every second).
    - ``labels.csv``: ``id,time_of_event,time_of_alert,target`` as in the Kaggle dashcam
      collision data; times in seconds (3 decimals), ``time_of_alert`` is 0.5 s before the
      event (clipped at 0); both are empty when ``target`` is 0.
    - ``long/long_000.mp4`` and ``long/events.csv``
      (``file_name,start_time,end_time,label``; start is the contact, end 1.5 s later when
      the objects' reaction and the crash effect end; label ``collision``).

    Videos are rendered and encoded on up to 4 threads; the result does not depend on it.

    Args:
        out_dir: Output folder, created if needed.
        n_videos: Number of short clips (>= 2).
        collide_fraction: Fraction of clips with a collision, in (0, 1).
        duration_s: Length of each clip, seconds.
        fps: Frame rate (integer) of every video.
        size: Frame ``(width, height)``, even integers >= 32.
        long_duration_s: Length of the long video, seconds.
        n_long_events: Collisions in the long video (>= 1).
        seed: Seed of ``numpy.random.default_rng``; the same seed gives the same labels and
            the same decoded frames.

    Returns:
        Paths of the written files and the ground-truth event times.

    Raises:
        ValueError: If an argument is out of range.
    """
    _validate(n_videos, collide_fraction, (duration_s, long_duration_s), fps, n_long_events)
    size = _check_size(size)
    n_videos, fps, n_long_events = int(n_videos), int(fps), int(n_long_events)
    plan = _plan_dataset(
        seed,
        n_videos=n_videos,
        collide_fraction=collide_fraction,
        duration_s=duration_s,
        fps=fps,
        size=size,
        long_duration_s=long_duration_s,
        n_long_events=n_long_events,
    )
    root = Path(out_dir)
    ids = [f"{i:05d}" for i in range(n_videos)]
    long_video = _write_videos(root, ids, plan, fps, size)
    event_times = {
        i: (c.events[0][0] if c.events else None) for i, c in zip(ids, plan.clips, strict=True)
    }
    labels_csv, events_csv = root / "labels.csv", long_video.parent / "events.csv"
    _write_labels(labels_csv, event_times)
    _write_events(events_csv, long_video.name, list(plan.long.events))
    return CollisionDataset(
        root=root,
        videos_dir=root / "videos",
        labels_csv=labels_csv,
        long_video=long_video,
        long_events_csv=events_csv,
        event_times_s=event_times,
        long_events=list(plan.long.events),
    )
