"""Stand-ins for frames that cannot be decoded: the latest decodable frame shown before them.

The fast pass of :mod:`._decode` skips frames nothing refers to, so when a wanted frame turns
out to be undecodable, the frame it decoded last may be older than the latest decodable one
(a skipped non-reference frame). Which frame stands in must not depend on what else was
requested, so this module answers from a separate, unskipped decode: from the keyframe before
the lost frame up to it, then, if nothing there decodes, the whole interval before, and so on.
It only runs on damaged files, on a second handle of the file, so the fast pass is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

import av
import numpy as np

from ._container import OpenVideo


class StandIns:
    """Finds, for a lost timestamp ``t``, the latest frame with pts <= ``t`` that decodes.

    Args:
        video: The open video whose index (keyframes, shown timestamps) is used; the file is
            opened a second time, on first need, for the unskipped decodes.
    """

    def __init__(self, video: OpenVideo) -> None:
        self.video = video
        self._side: OpenVideo | None = None
        self._interval_tail: dict[int, av.VideoFrame | None] = {}  # keyframe pos -> last frame

    def find(self, t: int) -> av.VideoFrame | None:
        """Latest decodable frame with ``pts <= t``, or ``None`` if no earlier frame decodes."""
        k = self.video.index.keyframe_of(t)
        frame = self._scan(k, t)
        while frame is None and k > 0:
            k -= 1
            if k not in self._interval_tail:
                self._interval_tail[k] = self._scan(k, None)
            frame = self._interval_tail[k]
        return frame

    def close(self) -> None:
        """Release the second handle of the file."""
        if self._side is not None:
            self._side.close()
            self._side = None

    def _scan(self, k: int, t: int | None) -> av.VideoFrame | None:
        """Decode every packet from keyframe ``k`` on; the last shown frame with pts <= ``t``
        (``None``: up to the next keyframe's interval), or ``None`` if none decodes."""
        side = self._open()
        index = side.index
        limit = t if t is not None else _before_next_key(index.key_pts, k)
        packets = _seek(side, int(index.key_pts[k]), int(index.key_dts[k]))
        best: av.VideoFrame | None = None
        for frames in _decoded(side, packets, limit):
            for frame in frames:
                p = frame.pts
                usable = p is not None and p <= limit and _is_shown(index.pts, p)
                if usable and (best is None or p > best.pts):
                    best = frame
        return best

    def _open(self) -> OpenVideo:
        if self._side is None:
            v = self.video
            container = av.open(v.info.path, metadata_errors="ignore")
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            self._side = OpenVideo(container, stream, v.info, v.index)
        return self._side


def _before_next_key(key_pts: np.ndarray, k: int) -> int:
    """Largest timestamp shown before keyframe ``k + 1`` (everything, after the last one)."""
    return int(key_pts[k + 1]) - 1 if k + 1 < len(key_pts) else np.iinfo(np.int64).max


def _seek(side: OpenVideo, key_pts: int, key_dts: int) -> Iterator[av.Packet]:
    """Packets from the keyframe on (seeking by its pts, else its dts, else to the start)."""
    for target in (key_pts, key_dts, None):
        if target is None:
            side.container.seek(0, backward=True, any_frame=False)
        else:
            side.container.seek(target, stream=side.stream, backward=True, any_frame=False)
        packets = side.container.demux(side.stream)
        first = next(packets, None)
        if first is None or first.pts is None or first.pts <= key_pts or target is None:
            break
    side.stream.codec_context.flush_buffers()
    return packets if first is None else chain([first], packets)


def _decoded(side: OpenVideo, packets: Iterator[av.Packet], limit: int) -> Iterator[list]:
    """Frames decoded from ``packets`` until one shown after ``limit`` comes out, or a keyframe
    shown after ``limit`` has been fed (then the decoder is drained)."""
    for packet in packets:
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            continue
        yield frames
        if any(f.pts is not None and f.pts > limit for f in frames):
            return
        if packet.is_keyframe and packet.pts is not None and packet.pts > limit:
            break
    try:
        yield side.stream.codec_context.decode(None)
    except av.error.FFmpegError:
        return


def _is_shown(pts: np.ndarray, p: int) -> bool:
    """Whether ``p`` is the timestamp of a shown frame (not a discarded one)."""
    i = int(np.searchsorted(pts, p))
    return i < len(pts) and int(pts[i]) == p
