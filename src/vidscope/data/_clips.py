"""Raw clips of labelled videos for end-to-end training, read with vidscope's own reader.

A clip is ``num_frames`` frames taken by presentation timestamp: spread uniformly over the
whole video (the centre of ``num_frames`` equal slices, as ``vidscope extract --frames``), or,
with ``clip_s``, over a ``clip_s``-second stretch (random in training, evenly spaced in
evaluation). Frames are scaled in FFmpeg so the short side is ``size`` and cropped to
``size x size`` (centre; random position, scale and flip with ``augment``), and leave as
``uint8 [T, size, size, 3]``: normalising is the model's job, so worker processes ship a
quarter of the bytes. :func:`clip_loader` decodes in DataLoader worker processes, so decoding
overlaps training.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, VidscopeError
from ..features import resolve_videos
from ..video import SamplingSpec, VideoReader, probe
from ._labels import LabelError, LabelSet, read_labels


@dataclass(frozen=True)
class ClipSampling:
    """How clips are cut from a video.

    Attributes:
        num_frames: Frames per clip (``--frames``).
        size: Output side in pixels (``--size``): short side scaled to it, then a square crop.
        clip_s: Clip length in seconds (``--clip-seconds``); ``None`` spreads the frames over
            the whole video.
        augment: Training only: random crop position, scale (short side up to 1.25 x size)
            and horizontal flip (``--augment``).
        image_fps: Frame rate assumed for folders of image frames (``--image-fps``).
    """

    num_frames: int = 16
    size: int = 224
    clip_s: float | None = None
    augment: bool = False
    image_fps: float = 25.0

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise InputError(f"--frames must be >= 1, got {self.num_frames}")
        if self.size < 8:
            raise InputError(f"--size must be >= 8 pixels, got {self.size}")
        if self.clip_s is not None and not self.clip_s > 0:
            raise InputError(f"--clip-seconds must be > 0, got {self.clip_s}")


def clip_times(
    duration_s: float,
    sampling: ClipSampling,
    *,
    rng: np.random.Generator | None = None,
    clip: int = 0,
    num_clips: int = 1,
) -> np.ndarray:
    """Times (seconds, ``float64 [num_frames]``, sorted) of one clip of a video.

    Args:
        duration_s: The video's duration.
        sampling: Frames and clip length.
        rng: Training: draws the clip start uniformly (only when ``clip_s`` is shorter than
            the video). ``None``: evaluation clip ``clip`` of ``num_clips``.
        clip: Which evaluation clip, ``0 <= clip < num_clips``.
        num_clips: Evaluation clips per video (``--test-clips``). With ``clip_s`` their
            starts are evenly spaced from 0 to ``duration - clip_s`` (one clip: the centre);
            without it each clip spans the whole video, the ``k``-th shifted by ``k /
            num_clips`` of a slice (one clip: the slice centres, as ``--frames``).
    """
    d = max(float(duration_s), 0.0)
    n = sampling.num_frames
    if sampling.clip_s is None or sampling.clip_s >= d:
        if rng is not None or num_clips == 1:
            return SamplingSpec("uniform", n).times(d)
        return (np.arange(n, dtype=np.float64) + (clip + 0.5) / num_clips) * (d / n)
    span = d - sampling.clip_s
    start = float(rng.uniform(0.0, span)) if rng is not None else span * (clip + 0.5) / num_clips
    return start + SamplingSpec("uniform", n).times(sampling.clip_s)


def read_clip(
    path: str | os.PathLike[str],
    times_s: np.ndarray,
    sampling: ClipSampling,
    *,
    rng: np.random.Generator | None = None,
    threads: int = 1,
) -> np.ndarray:
    """Decode the frames shown at ``times_s`` as ``uint8 [T, size, size, 3]``.

    Args:
        path: Video file or image-frame folder.
        times_s: Sample times in seconds.
        sampling: Output size, augmentation and image-folder frame rate.
        rng: Random crop/scale/flip when ``sampling.augment``; ``None`` = centre crop.
        threads: Decoder threads.

    Raises:
        VideoError: the file cannot be decoded.
    """
    with VideoReader(path, threads=threads, image_fps=sampling.image_fps) as reader:
        w, h = reader.info.width, reader.info.height
        augment = sampling.augment and rng is not None
        side = sampling.size * (float(rng.uniform(1.0, 1.25)) if augment else 1.0)
        scale = side / max(1, min(w, h))
        out_w = max(sampling.size, round(w * scale))
        out_h = max(sampling.size, round(h * scale))
        batch = reader.read(np.asarray(times_s, np.float64), size=(out_w, out_h))
    frames = batch.frames  # [T, out_h, out_w, 3]
    if len(frames) < len(times_s):  # a damaged tail: repeat the last readable frame
        if not len(frames):
            raise VidscopeError(f"{path}: no readable frame at {list(times_s)[:3]} s")
        pad = np.repeat(frames[-1:], len(times_s) - len(frames), axis=0)
        frames = np.concatenate([frames, pad])
    s = sampling.size
    if augment:
        assert rng is not None
        y0 = int(rng.integers(0, out_h - s + 1))
        x0 = int(rng.integers(0, out_w - s + 1))
        flip = bool(rng.random() < 0.5)
    else:
        y0, x0, flip = (out_h - s) // 2, (out_w - s) // 2, False
    frames = frames[:, y0 : y0 + s, x0 : x0 + s]
    return np.ascontiguousarray(frames[:, :, ::-1] if flip else frames)


@dataclass
class ClipSet:
    """Labelled raw videos: the data of the ``videomae`` trainer.

    Attributes:
        labels: Labels; ``labels.ids`` are video ids (path relative to VIDEOS, no extension).
        paths: Video file (or frame folder) of each labelled video, aligned with the labels.
        durations_s: ``float64 [N]`` duration of each video (of each stretch, with
            ``offsets_s``).
        notes: What was left out and why.
        offsets_s: ``float64 [N]`` start of the stretch of each video that clips come from
            (timeline windows: one entry per window of a video), or ``None`` for whole videos.
    """

    labels: LabelSet
    paths: list[Path]
    durations_s: np.ndarray
    notes: list[str] = field(default_factory=list)
    offsets_s: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)


def load_clips(
    videos: str | os.PathLike[str] | list[str | os.PathLike[str]],
    labels: str | os.PathLike[str] | None = None,
    *,
    allow_missing: bool = False,
    image_fps: float = 25.0,
    workers: int = 4,
    **label_options: Any,
) -> ClipSet:
    """Find the videos, read their labels, and probe each labelled one (duration, readability).

    Args:
        videos: Folder (searched recursively), ``.txt`` list, ``.csv`` or paths, as for
            ``vidscope extract``.
        labels: Labels CSV; ``None`` = class folders (``class/video.mp4``,
            ``split/class/video.mp4``).
        allow_missing: Leave unreadable videos out (with a note) instead of raising.
        image_fps: Frame rate of image-frame folders.
        workers: Threads probing videos (demuxing only, no decoding).
        **label_options: ``id_column``, ``label_column``, ``split_column``, ``group_column``,
            ``positive_class`` (see :func:`read_labels`).

    Raises:
        LabelError: label problems, or unreadable labelled videos (named, with the reason)
            unless ``allow_missing``.
    """
    items = {v.video_id: v.path for v in resolve_videos(videos)}
    labelset = read_labels(list(items), labels, **label_options)
    paths = [Path(items[i]) for i in labelset.ids]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        probed = list(pool.map(lambda p: _probe(p, image_fps), paths))
    bad = [(labelset.ids[i], r) for i, r in enumerate(probed) if isinstance(r, str)]
    notes = list(labelset.notes)
    if bad:
        shown = "; ".join(f"{v}: {r}" for v, r in bad[:5]) + (" ..." if len(bad) > 5 else "")
        if not allow_missing:
            raise LabelError(
                f"{len(bad)} labelled video(s) cannot be read ({shown}); fix or remove them, "
                "or pass --allow-missing to train without them"
            )
        notes.append(f"left out {len(bad)} unreadable video(s): {shown}")
    keep = np.array([i for i, r in enumerate(probed) if not isinstance(r, str)], np.int64)
    subset = labelset.subset(keep)
    subset.notes = notes
    durations = np.array([probed[i] for i in keep], np.float64)
    return ClipSet(subset, [paths[i] for i in keep], durations, notes)


def _probe(path: Path, image_fps: float) -> float | str:
    """Duration in seconds, or the reason the video cannot be read."""
    try:
        info = probe(path, image_fps=image_fps)
    except VidscopeError as exc:
        return getattr(exc, "reason", str(exc))
    if info.duration_s <= 0 and info.num_frames == 0:
        return "no frames"
    return float(info.duration_s)


class ClipDataset:
    """Clips of a :class:`ClipSet`, keyed by ``(video position, draw)``.

    ``draw >= 0`` seeds a training draw (random clip start and augmentation, the same for
    the same key, so a resumed run sees the same clips); ``draw < 0`` is evaluation clip
    ``-draw - 1`` of ``num_clips``. An item is ``(frames uint8 [T, S, S, 3], position)``.
    A map-style dataset for ``torch.utils.data.DataLoader`` (torch loads only when used).
    """

    def __init__(self, clips: ClipSet, sampling: ClipSampling, *, num_clips: int = 1) -> None:
        self.paths = [str(p) for p in clips.paths]
        self.durations_s = clips.durations_s
        self.offsets_s = clips.offsets_s
        self.sampling = sampling
        self.num_clips = num_clips

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: tuple[int, int]) -> tuple[Any, int]:
        import torch

        i, draw = key
        rng = np.random.default_rng(draw) if draw >= 0 else None
        times = clip_times(
            self.durations_s[i], self.sampling, rng=rng, clip=-draw - 1, num_clips=self.num_clips
        )
        if self.offsets_s is not None:
            times = times + self.offsets_s[i]
        frames = read_clip(self.paths[i], times, self.sampling, rng=rng)
        return torch.from_numpy(frames), i


class ClipKeys:
    """The sampler of :func:`clip_loader`: ``(video position, draw)`` keys of one epoch.

    Training keys shuffle the videos and give each a draw seed, both from ``seed`` and the
    epoch (:meth:`set_epoch` redraws, also on a loader whose workers persist); evaluation
    keys list every video's ``num_clips`` clips in order.
    """

    def __init__(self, idx: np.ndarray, *, train: bool, seed: int = 0, num_clips: int = 1) -> None:
        self.idx = np.asarray(idx, np.int64)
        self.train, self.seed, self.num_clips = train, seed, num_clips
        self.keys: list[tuple[int, int]] = []
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Draw the keys of ``epoch``."""
        if not self.train:
            self.keys = [(int(i), -k - 1) for i in self.idx for k in range(self.num_clips)]
            return
        order = self.idx[np.random.default_rng([self.seed, epoch]).permutation(len(self.idx))]
        draws = np.random.SeedSequence([self.seed, epoch, 7]).generate_state(max(1, len(order)))
        self.keys = [(int(i), int(d) & 0x7FFFFFFF) for i, d in zip(order, draws, strict=False)]

    def __iter__(self) -> Any:
        return iter(list(self.keys))

    def __len__(self) -> int:
        return len(self.keys)


def clip_loader(
    clips: ClipSet,
    idx: np.ndarray,
    sampling: ClipSampling,
    *,
    batch_size: int,
    train: bool,
    seed: int = 0,
    epoch: int = 0,
    num_clips: int = 1,
    workers: int = 2,
    pin_memory: bool = False,
    persistent: bool = False,
) -> Any:
    """A ``torch.utils.data.DataLoader`` of the videos ``idx``: batches ``(frames uint8
    [B, T, S, S, 3], positions int64 [B])``.

    Args:
        clips: The videos.
        idx: Positions into ``clips`` to read.
        sampling: Frames, size, clip length, augmentation.
        batch_size: Clips per batch.
        train: Shuffle (seeded by ``seed`` and ``epoch``), draw random clips and augment;
            else every video's ``num_clips`` evaluation clips in order.
        seed, epoch: Make the shuffle and each draw reproducible (exact ``--resume``).
        num_clips: Evaluation clips per video (``--test-clips``).
        workers: Decoding processes (0 = decode in this process).
        pin_memory: Page-locked batches for fast copies to a GPU.
        persistent: Keep the worker processes between epochs (call
            ``loader.sampler.set_epoch(e)`` before each); saves their start-up per epoch.
    """
    import torch

    keys = ClipKeys(idx, train=train, seed=seed, num_clips=num_clips)
    keys.set_epoch(epoch)
    data = ClipDataset(clips, sampling, num_clips=num_clips)
    return torch.utils.data.DataLoader(
        data,
        batch_size=batch_size,
        sampler=keys,
        num_workers=workers,
        pin_memory=pin_memory,
        persistent_workers=persistent and workers > 0,
        prefetch_factor=2 if workers > 0 else None,
    )
