"""Public reading API: probe a video and iterate the frames shown at requested times."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from ..errors import InputError, VideoError
from ._container import OpenVideo, open_video
from ._decode import read_wanted
from ._imagedir import ImageFolder
from ._keyframe import DEFAULT_REACH, keyframe_targets, snap_windows
from ._sampling import SeekMode
from ._types import FrameBatch, VideoInfo


class VideoReader:
    """Timestamp-true frame reader for a video file or an image-frame folder.

    Use as a context manager. ``damage`` collects human-readable warnings about damaged
    input found while reading (the frames around the damage are still returned); ``stats``
    counts decoded frames, decode errors, seeks and wanted frames that could not be decoded
    (``lost``), and keeps ``max_displacement_s``: the largest distance so far between a
    requested time and the presentation time of the frame returned for it.

    Args:
        path: Video file, or folder of image frames.
        threads: Decoder threads per video (0 = one per core).
        image_fps: Frame rate assumed for image folders (``--image-fps``).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, threads: int = 0, image_fps: float = 25.0
    ) -> None:
        self.path = Path(path)
        self.stats: dict[str, float] = {
            "decoded": 0,
            "errors": 0,
            "seeks": 0,
            "lost": 0,
            "max_displacement_s": 0.0,
        }
        self._video: OpenVideo | None = None
        self._images: ImageFolder | None = None
        if self.path.is_dir():
            self._images = ImageFolder(self.path, image_fps)
            self.info: VideoInfo = self._images.info
            self.damage: list[str] = []
        else:
            self._video = open_video(self.path, threads=threads)
            self.info = self._video.info
            self.damage = [self._video.index.damage] if self._video.index.damage else []
            declared = self.info.declared_frames
            if declared > self.info.num_frames:
                self.damage = [
                    f"file cut short: header declares {declared} frames, "
                    f"only {self.info.num_frames} are readable"
                ]

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the file."""
        if self._video is not None:
            self._video.close()

    def frame_times_s(self) -> np.ndarray:
        """``float64 [N]`` presentation time of every readable frame, seconds from the first.

        From the packet index (no decoding): the times :meth:`iter_frames` can return, so a
        player stepping frame by frame lands on exactly the frames the extractor samples.
        """
        if self._images is not None:
            return np.arange(len(self._images.files), dtype=np.float64) / self._images.fps
        assert self._video is not None
        return self._video.index.to_seconds(self._video.index.pts)

    @property
    def start_s(self) -> float:
        """The first frame's presentation time in the file's own timeline, in seconds.

        Every time this reader takes or returns counts from that frame (t = 0); a player
        such as a browser shows the file's own timeline, so its ``currentTime`` for frame
        ``i`` is ``start_s + frame_times_s()[i]`` (0 for image folders).
        """
        if self._images is not None:
            return 0.0
        assert self._video is not None
        index = self._video.index
        return float(index.origin * index.time_base)

    def iter_frames(
        self,
        times_s: np.ndarray,
        *,
        size: tuple[int, int] | None = None,
        seek: SeekMode = "exact",
        keyframe_tolerance_s: float | None = None,
        keyframe_reach: float = DEFAULT_REACH,
        chunk_size: int = 32,
    ) -> Iterator[FrameBatch]:
        """Yield the frames shown at ``times_s`` in chunks of at most ``chunk_size``.

        Args:
            times_s: Requested times in seconds from the first frame (any order).
            size: Displayed output ``(width, height)``; ``None`` keeps the displayed size.
            seek: ``"exact"`` returns the frame on screen at each time; ``"keyframe"`` may
                return any frame shown within ``keyframe_tolerance_s`` of it and takes the
                cheapest to decode: a keyframe when one lies within reach (decoding only that
                keyframe), else the frame nearest the time among those decoding passes anyway,
                decoding each keyframe interval only up to the earliest frame (in decode
                order) that its farthest time allows (see :mod:`._keyframe`).
            keyframe_tolerance_s: How far ``"keyframe"`` mode may move a sample, in seconds;
                ``None`` (default) follows the sampling (``keyframe_reach``).
            keyframe_reach: With no tolerance in seconds, how far a sample may move as a
                fraction of the gap to the requested time before or after it: 1 (default)
                up to that time, 0.5 halfway (see :func:`snap_windows`).
            chunk_size: Frames per yielded batch; bounds memory on long videos.

        Yields:
            ``FrameBatch`` whose ``indices`` say which requested time each frame answers and
            whose ``times_s`` are the real presentation times of the frames used.
        """
        if seek not in ("exact", "keyframe"):
            raise InputError(f"--seek must be exact or keyframe, got {seek!r}")
        times = np.asarray(times_s, dtype=np.float64)
        if self._images is not None:
            chunks = self._iter_images(times, size, chunk_size)
        else:
            targets = self._targets(times, seek, keyframe_tolerance_s, keyframe_reach)
            chunks = self._iter_video(targets, size, chunk_size)
        for batch in chunks:
            self._note_displacement(times, batch)
            yield batch

    def iter_pairs(
        self,
        times_s: np.ndarray,
        *,
        size: tuple[int, int] | None = None,
        seek: SeekMode = "exact",
        keyframe_tolerance_s: float | None = None,
        keyframe_reach: float = DEFAULT_REACH,
        chunk_size: int = 32,
        gap_s: float = 0.0,
    ) -> Iterator[tuple[FrameBatch, FrameBatch]]:
        """Like :meth:`iter_frames`, with the frame shown right after each sampled frame.

        The next frame is the next presentation timestamp in the packet index (next image
        in a folder), whatever the sampling rate, so sparse samples still see real
        frame-to-frame motion; with ``gap_s > 0`` it is the frame on screen ``gap_s``
        seconds after the sampled frame's timestamp (still at least the next one). The last
        frame is paired with itself. Sampled and next frames are decoded in the same single
        pass (their timestamps form one wanted set), and no frame is decoded twice.

        Yields:
            ``(frames, next_frames)``: two ``FrameBatch`` aligned row by row, with the same
            ``indices``; ``next_frames.times_s - frames.times_s`` is the time between them
            (0 where a frame is paired with itself).
        """
        if seek not in ("exact", "keyframe"):
            raise InputError(f"--seek must be exact or keyframe, got {seek!r}")
        if not gap_s >= 0:
            raise InputError(f"pair gap must be >= 0 seconds, got {gap_s}")
        times = np.asarray(times_s, dtype=np.float64)
        if self._images is not None:
            chunks = self._iter_image_pairs(times, size, chunk_size, gap_s)
        else:
            targets = self._targets(times, seek, keyframe_tolerance_s, keyframe_reach)
            chunks = self._iter_video_pairs(targets, size, chunk_size, gap_s)
        for first, after in chunks:
            self._note_displacement(times, first)
            yield first, after

    def read(self, times_s: np.ndarray, **kwargs: object) -> FrameBatch:
        """All frames of :meth:`iter_frames` in the order of ``times_s``, as one batch."""
        parts = list(self.iter_frames(times_s, **kwargs))  # type: ignore[arg-type]
        return self._merge(parts, kwargs.get("size"))  # type: ignore[arg-type]

    def read_pairs(self, times_s: np.ndarray, **kwargs: object) -> tuple[FrameBatch, FrameBatch]:
        """All pairs of :meth:`iter_pairs` in the order of ``times_s``, as two batches."""
        parts = list(self.iter_pairs(times_s, **kwargs))  # type: ignore[arg-type]
        size = kwargs.get("size")
        return (
            self._merge([p[0] for p in parts], size),  # type: ignore[arg-type]
            self._merge([p[1] for p in parts], size),  # type: ignore[arg-type]
        )

    def _merge(self, parts: list[FrameBatch], size: tuple[int, int] | None) -> FrameBatch:
        """Chunks joined into one batch in sample order."""
        if not parts:
            w, h = size or (self.info.width, self.info.height)
            return FrameBatch(np.zeros((0, h, w, 3), np.uint8), np.zeros(0), np.zeros(0))
        frames = np.concatenate([b.frames for b in parts])
        idx = np.concatenate([b.indices for b in parts])
        order = np.argsort(idx, kind="stable")
        return FrameBatch(
            frames[order], np.concatenate([b.times_s for b in parts])[order], idx[order]
        )

    def _note_displacement(self, times: np.ndarray, batch: FrameBatch) -> None:
        if len(batch):
            moved = float(np.abs(batch.times_s - times[batch.indices]).max())
            self.stats["max_displacement_s"] = max(self.stats["max_displacement_s"], moved)

    def _targets(
        self, times: np.ndarray, seek: SeekMode, tol_s: float | None, reach: float
    ) -> np.ndarray:
        """Timestamp of the frame to return for each time (``int64``, in the index)."""
        index = self._video.index  # type: ignore[union-attr]
        if seek != "keyframe" or not len(times):
            return index.shown_at(times)
        if not reach > 0:
            raise InputError(f"keyframe reach must be > 0 (a fraction of the spacing), got {reach}")
        if tol_s is None:
            before, after = snap_windows(times, self.info.duration_s, reach)
        else:
            before = after = np.full(len(times), float(tol_s))
        return keyframe_targets(index, times, before, after)

    def _iter_video(
        self, wanted: np.ndarray, size: tuple[int, int] | None, chunk_size: int
    ) -> Iterator[FrameBatch]:
        video = self._video
        assert video is not None
        order = np.argsort(wanted, kind="stable")
        buf = _Chunker(chunk_size, video.index.to_seconds)
        j = 0
        for target, used, rgb in self._decode(np.unique(wanted), size):
            while j < len(order) and wanted[order[j]] <= target:
                buf.add(rgb, used, int(order[j]))
                j += 1
                if buf.full():
                    yield buf.take()
        if len(buf):
            yield buf.take()

    def _decode(
        self, targets: np.ndarray, size: tuple[int, int] | None
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """:func:`read_wanted` of ``targets``; an FFmpeg failure becomes a :class:`VideoError`
        saying how many frames were decoded first, and damaged packets a note."""
        assert self._video is not None
        try:
            yield from read_wanted(self._video, targets, size=size, stats=self.stats)
        except av.error.FFmpegError as exc:
            message = f"decoding failed after {self.stats['decoded']} frames ({exc.strerror})"
            raise VideoError(self.path, message) from None
        if self.stats["errors"] and not self.damage:
            self.damage.append(f"{self.stats['errors']} packet(s) failed to decode (damaged data)")
        if self.stats["lost"] and not self.damage:
            self.damage.append(
                f"{self.stats['lost']} requested frame(s) could not be decoded (damaged data); "
                "the latest decodable frame before each stands in"
            )

    def _iter_images(
        self, times: np.ndarray, size: tuple[int, int] | None, chunk_size: int
    ) -> Iterator[FrameBatch]:
        images = self._images
        assert images is not None
        idx = images.shown_at(times)
        order = np.argsort(idx, kind="stable")
        buf = _Chunker(chunk_size, lambda i: np.asarray(i, dtype=np.float64) / images.fps)
        cache: tuple[int, np.ndarray] | None = None
        for j in order:
            i = int(idx[j])
            if cache is None or cache[0] != i:
                cache = (i, images.frame(i, size))
                self.stats["decoded"] += 1
            buf.add(cache[1], i, int(j))
            if buf.full():
                yield buf.take()
        if len(buf):
            yield buf.take()

    def _iter_video_pairs(
        self, wanted: np.ndarray, size: tuple[int, int] | None, chunk_size: int, gap_s: float
    ) -> Iterator[tuple[FrameBatch, FrameBatch]]:
        video = self._video
        assert video is not None
        pts = video.index.pts
        nxt = np.searchsorted(pts, wanted, side="right")  # position of the next frame
        if gap_s > 0:  # the frame on screen gap_s later, if that is later still
            later = wanted + round(gap_s / float(video.index.time_base))
            nxt = np.maximum(nxt, np.searchsorted(pts, later, side="right") - 1)
        after = pts[np.minimum(nxt, len(pts) - 1)]
        order = np.argsort(wanted, kind="stable")  # also orders ``after`` (monotone in it)
        pairs = _PairChunker(chunk_size, video.index.to_seconds)
        held: dict[int, tuple[int, np.ndarray]] = {}  # decoded target -> (pts used, rgb)
        j = 0
        for target, used, rgb in self._decode(np.union1d(wanted, after), size):
            held[target] = (used, rgb)
            while j < len(order) and after[order[j]] <= target:
                s = int(order[j])
                pairs.add(held[int(wanted[s])], (used, rgb), s)
                j += 1
                if pairs.full():
                    yield pairs.take()
            first = int(wanted[order[j]]) if j < len(order) else target
            held = {t: v for t, v in held.items() if t >= first}  # drop frames all paired
        if len(pairs):
            yield pairs.take()

    def _iter_image_pairs(
        self, times: np.ndarray, size: tuple[int, int] | None, chunk_size: int, gap_s: float
    ) -> Iterator[tuple[FrameBatch, FrameBatch]]:
        images = self._images
        assert images is not None
        idx = images.shown_at(times)
        step = max(1, int(np.floor(gap_s * images.fps + 1e-9)))  # frames ahead
        after = np.minimum(idx + step, len(images.files) - 1)
        pairs = _PairChunker(chunk_size, lambda i: np.asarray(i, dtype=np.float64) / images.fps)
        cache: dict[int, np.ndarray] = {}
        for j in np.argsort(idx, kind="stable"):
            i, k = int(idx[j]), int(after[j])
            for n in (i, k):
                if n not in cache:
                    cache[n] = images.frame(n, size)
                    self.stats["decoded"] += 1
            pairs.add((i, cache[i]), (k, cache[k]), int(j))
            cache = {n: f for n, f in cache.items() if n >= i}  # later samples start at i or after
            if pairs.full():
                yield pairs.take()
        if len(pairs):
            yield pairs.take()


class _Chunker:
    """Collects (frame, pts, sample index) triples into ``FrameBatch`` chunks."""

    def __init__(self, size: int, to_seconds: object) -> None:
        self.size = max(1, size)
        self.to_seconds = to_seconds
        self.frames: list[np.ndarray] = []
        self.pts: list[int] = []
        self.idx: list[int] = []

    def add(self, frame: np.ndarray, pts: int, index: int) -> None:
        self.frames.append(frame)
        self.pts.append(pts)
        self.idx.append(index)

    def __len__(self) -> int:
        return len(self.frames)

    def full(self) -> bool:
        return len(self.frames) >= self.size

    def take(self) -> FrameBatch:
        batch = FrameBatch(np.stack(self.frames), self.to_seconds(np.array(self.pts)), self.idx)
        self.frames, self.pts, self.idx = [], [], []
        return batch


class _PairChunker:
    """Collects (sampled frame, next frame) pairs into two aligned ``FrameBatch`` chunks."""

    def __init__(self, size: int, to_seconds: object) -> None:
        self.first = _Chunker(size, to_seconds)
        self.second = _Chunker(size, to_seconds)

    def add(
        self, first: tuple[int, np.ndarray], second: tuple[int, np.ndarray], index: int
    ) -> None:
        """Add ``(pts, rgb)`` of a sampled frame and of its next frame, for sample ``index``."""
        self.first.add(first[1], first[0], index)
        self.second.add(second[1], second[0], index)

    def __len__(self) -> int:
        return len(self.first)

    def full(self) -> bool:
        return self.first.full()

    def take(self) -> tuple[FrameBatch, FrameBatch]:
        return self.first.take(), self.second.take()


def probe(path: str | os.PathLike[str], *, image_fps: float = 25.0) -> VideoInfo:
    """Probe a video file or image folder: duration, frame rate and count, displayed size.

    Raises:
        VideoError: when the file cannot be read as a video, with the reason.
    """
    with VideoReader(path, threads=1, image_fps=image_fps) as reader:
        return reader.info
