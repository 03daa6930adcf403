"""Timestamp-true frame reading from a container: the frame shown at each requested time.

One pass over the requested frames in display order. The reader seeks (to a keyframe taken
from the packet index) only when the next wanted frame lies in a later keyframe interval than
the one being decoded, so no interval is ever decoded twice and dense sampling decodes
sequentially. Packets that are not wanted are decoded only as far as references need:
non-reference frames are skipped, and on the way to a wanted keyframe everything but
keyframes is skipped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import chain

import av
import numpy as np

from ._container import OpenVideo


def read_wanted(
    video: OpenVideo,
    wanted: np.ndarray,
    *,
    size: tuple[int, int] | None,
    stats: dict[str, int],
) -> Iterator[tuple[int, np.ndarray]]:
    """Decode the frames whose timestamps are in ``wanted`` and yield them upright in RGB.

    Args:
        video: An open video.
        wanted: ``int64`` sorted unique presentation timestamps, all present in the index.
        size: Displayed output ``(width, height)``; ``None`` keeps the displayed size.
        stats: Counters updated in place: ``decoded`` frames, ``errors`` (packets that failed
            to decode), ``seeks``.

    Yields:
        ``(pts, frame)`` for each wanted timestamp, in order. Where a wanted frame cannot be
        decoded, the closest earlier decoded frame stands in (or the next one if none) and
        its own timestamp is yielded.
    """
    queue = deque(int(p) for p in wanted)
    wanted_set = set(queue)
    key_set = set(int(k) for k in video.index.key_pts)
    ctx = video.stream.codec_context
    state = _Cursor(video)
    while queue:
        k = video.index.keyframe_of(queue[0])
        if state.key_pos is None or k > state.key_pos:
            state.seek(k)
            stats["seeks"] += 1
        for packet in state.packets():
            if packet.pts is not None and packet.is_keyframe:
                state.key_pos = max(state.key_pos or 0, video.index.keyframe_of(packet.pts))
            if packet.size:
                ctx.skip_frame = _skip_level(packet.pts, queue, wanted_set, key_set)
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                stats["errors"] += 1
                continue
            for frame in frames:
                stats["decoded"] += 1
                yield from _emit(frame, state.prev, queue, video, size)
                state.prev = frame
            if not queue or video.index.keyframe_of(queue[0]) > (state.key_pos or 0):
                break
        else:  # end of stream: what is left gets the last decoded frame
            state.key_pos, prev = None, state.prev
            while queue and prev is not None:
                queue.popleft()
                yield int(prev.pts), to_rgb(prev, size, video.info.rotation)
            if queue:  # nothing decodable from that keyframe on
                raise av.error.InvalidDataError(0, "no frame could be decoded")


def _emit(
    frame: av.VideoFrame,
    prev: av.VideoFrame | None,
    queue: deque[int],
    video: OpenVideo,
    size: tuple[int, int] | None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield every queued target that ``frame`` (or the frame before it) answers."""
    pts = frame.pts
    if pts is None:
        return
    while queue and pts > queue[0]:  # wanted frame was lost: use the one before, else this
        queue.popleft()
        stand_in = prev if prev is not None else frame
        yield int(stand_in.pts), to_rgb(stand_in, size, video.info.rotation)
    if queue and pts == queue[0]:
        queue.popleft()
        yield int(pts), to_rgb(frame, size, video.info.rotation)


def _skip_level(pts: int | None, queue: deque[int], wanted: set[int], keys: set[int]) -> str:
    if pts in wanted:
        return "DEFAULT"
    return "NONKEY" if queue and queue[0] in keys else "NONREF"


class _Cursor:
    """Where the demuxer stands: the keyframe interval being decoded and the packet iterator."""

    def __init__(self, video: OpenVideo) -> None:
        self.video = video
        self.key_pos: int | None = None
        self.prev: av.VideoFrame | None = None
        self._packets: Iterator[av.Packet] | None = None

    def seek(self, k: int) -> None:
        """Position the demuxer at keyframe ``k`` (or earlier), never after it.

        Seeks to the keyframe's own presentation timestamp; if the demuxer lands past it
        (containers that index by decode time), retries at its decode timestamp, then at the
        start of the file.
        """
        v = self.video
        want = int(v.index.key_pts[k])
        for target in (want, int(v.index.key_dts[k]), None):
            if target is None:
                v.container.seek(0, backward=True, any_frame=False)
            else:
                v.container.seek(target, stream=v.stream, backward=True, any_frame=False)
            v.stream.codec_context.flush_buffers()
            packets = v.container.demux(v.stream)
            first = next(packets, None)
            if first is None or first.pts is None or first.pts <= want or target is None:
                break
        self._packets = packets if first is None else chain([first], packets)
        self.key_pos = k
        self.prev = None

    def packets(self) -> Iterator[av.Packet]:
        assert self._packets is not None
        return self._packets


def to_rgb(frame: av.VideoFrame, size: tuple[int, int] | None, rotation: int) -> np.ndarray:
    """Scale and convert in FFmpeg's scaler (no full-size RGB copy), then rotate upright.

    Args:
        frame: Decoded frame in its coded orientation.
        size: Displayed ``(width, height)`` wanted, or ``None`` for the displayed size.
        rotation: Counter-clockwise display rotation in degrees (multiple of 90).
    """
    quarter = rotation // 90 % 4
    if size is None:
        w, h = frame.width, frame.height
    else:
        w, h = size if quarter % 2 == 0 else (size[1], size[0])
    shrink = w < frame.width or h < frame.height
    rgb = frame.to_ndarray(
        width=w, height=h, format="rgb24", interpolation="AREA" if shrink else "BILINEAR"
    )
    return np.ascontiguousarray(np.rot90(rgb, quarter)) if quarter else rgb
