"""Timestamp-true frame reading from a container: the frame shown at each requested time.

One pass over the requested frames in display order. The reader seeks (to a keyframe taken
from the packet index) only when the next wanted frame lies in a later keyframe interval than
the one being decoded, so no interval is ever decoded twice and dense sampling decodes
sequentially. Packets that are not wanted are decoded only as far as references need:
non-reference frames are skipped, and on the way to a wanted keyframe that has not been fed
to the decoder yet, everything but keyframes is skipped (nothing before a keyframe in decode
order is displayed after it in a closed GOP, and earlier targets are already answered).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import chain

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from ._container import OpenVideo
from ._index import PacketIndex
from ._recover import StandIns

#: ``(wanted pts, pts of the frame used, upright RGB uint8 [H, W, 3])``
Answer = tuple[int, int, np.ndarray]


def read_wanted(
    video: OpenVideo,
    wanted: np.ndarray,
    *,
    size: tuple[int, int] | None,
    stats: dict[str, int],
) -> Iterator[Answer]:
    """Decode the frames whose timestamps are in ``wanted`` and yield them upright in RGB.

    Args:
        video: An open video.
        wanted: ``int64`` sorted unique presentation timestamps, all present in the index.
        size: Displayed output ``(width, height)``; ``None`` keeps the displayed size.
        stats: Counters updated in place: ``decoded`` frames, ``errors`` (packets that failed
            to decode), ``seeks``, ``lost`` (wanted frames that could not be decoded).

    Yields:
        One :data:`Answer` per wanted timestamp, in order. Where a wanted frame cannot be
        decoded, the latest decodable frame shown before it stands in, whatever else is
        wanted (see :mod:`._recover`); the next decoded frame if no earlier one decodes. The
        answer carries the stand-in's own timestamp.
    """
    decoder = _Decoder(video, wanted, size, stats)
    try:
        yield from decoder.run()
    finally:
        decoder.stand_ins.close()


class _Decoder:
    """State of one :func:`read_wanted` pass."""

    def __init__(
        self,
        video: OpenVideo,
        wanted: np.ndarray,
        size: tuple[int, int] | None,
        stats: dict[str, int],
    ) -> None:
        self.video = video
        self.queue = deque(int(p) for p in wanted)
        self.wanted = set(self.queue)
        self.keys = {int(k) for k in video.index.key_pts}
        self.size = size
        self.stats = stats
        self.cursor = _Cursor(video)
        self.scaler = VideoReformatter()  # one converter for the whole pass (set-up is costly)
        self.fed_key: int | None = None  # pts of the last keyframe packet sent to the decoder
        self.stand_ins = StandIns(video)
        self.closers = _closers(video.index, wanted)
        stats.setdefault("lost", 0)

    def run(self) -> Iterator[Answer]:
        index = self.video.index
        while self.queue:
            k = index.keyframe_of(self.queue[0])
            if self.cursor.key_pos is None or k > self.cursor.key_pos:
                self.cursor.seek(k)
                self.stats["seeks"] += 1
            for packet in self.cursor.packets():
                yield from self._feed(packet)
                at = self.cursor.key_pos
                if not self.queue or at is None or index.keyframe_of(self.queue[0]) > at:
                    break
            else:  # end of stream: what is left gets the last decoded frame
                yield from self._drain()

    def _feed(self, packet: av.Packet) -> Iterator[Answer]:
        pts = packet.pts
        if pts is not None and packet.is_keyframe:
            self.cursor.key_pos = max(self.cursor.key_pos or 0, self.video.index.keyframe_of(pts))
            self.fed_key = pts
        if packet.size:
            self.video.stream.codec_context.skip_frame = self._skip_level(pts)
        try:
            frames = packet.decode()
        except av.error.FFmpegError:
            self.stats["errors"] += 1
            return
        yield from self._take(frames)
        if pts in self.closers and packet.size:
            yield from self._close_interval()

    def _take(self, frames: list[av.VideoFrame]) -> Iterator[Answer]:
        for frame in frames:
            self.stats["decoded"] += 1
            yield from self._emit(frame)
            self.cursor.prev = frame

    def _close_interval(self) -> Iterator[Answer]:
        """Every wanted packet of this interval is fed: drain the decoder, answer what is left
        of the interval (frames that did not decode), and make the next target seek."""
        try:
            frames = self.video.stream.codec_context.decode(None)
        except av.error.FFmpegError:
            self.stats["errors"] += 1
            frames = []
        yield from self._take(frames)
        at = self.cursor.key_pos
        index, prev = self.video.index, self.cursor.prev
        while self.queue and at is not None and index.keyframe_of(self.queue[0]) <= at:
            t = self.queue.popleft()
            stand_in = self._stand_in(t, prev)
            if stand_in is None:  # nothing decodable at or before t
                raise av.error.InvalidDataError(0, "no frame could be decoded")
            yield t, int(stand_in.pts), self._rgb(stand_in)
        self.cursor.key_pos = None  # the decoder is drained: seek before feeding it again

    def _skip_level(self, pts: int | None) -> str:
        if pts in self.wanted:
            return "DEFAULT"
        head = self.queue[0] if self.queue else None
        heading_to_key = head in self.keys and (self.fed_key is None or head > self.fed_key)
        return "NONKEY" if heading_to_key else "NONREF"

    def _emit(self, frame: av.VideoFrame) -> Iterator[Answer]:
        """Answer every queued target that ``frame`` (or the frame before it) stands for."""
        pts = frame.pts
        if pts is None:
            return
        queue, prev = self.queue, self.cursor.prev
        while queue and pts > queue[0]:  # wanted frame was lost
            t = queue.popleft()
            stand_in = self._stand_in(t, prev) or frame
            yield t, int(stand_in.pts), self._rgb(stand_in)
        if queue and pts == queue[0]:
            yield queue.popleft(), int(pts), self._rgb(frame)

    def _drain(self) -> Iterator[Answer]:
        """End of stream: the targets still queued were not decoded."""
        self.cursor.key_pos = None
        prev = self.cursor.prev
        last: tuple[int, np.ndarray] | None = None
        while self.queue:
            t = self.queue.popleft()
            stand_in = self._stand_in(t, prev)
            if stand_in is None:  # nothing decodable at or before t
                raise av.error.InvalidDataError(0, "no frame could be decoded")
            if last is None or last[0] != stand_in.pts:
                last = (int(stand_in.pts), self._rgb(stand_in))
            yield t, last[0], last[1]

    def _stand_in(self, t: int, prev: av.VideoFrame | None) -> av.VideoFrame | None:
        """The latest decodable frame shown before lost target ``t`` (``None``: there is none).

        ``prev`` (the last frame this pass decoded) is the answer when it is the frame shown
        right before ``t``; otherwise skipped frames in between may decode, so ask
        :class:`StandIns`.
        """
        self.stats["lost"] += 1
        pts = self.video.index.pts
        i = int(np.searchsorted(pts, t))
        if prev is not None and i > 0 and prev.pts == pts[i - 1]:
            return prev
        return self.stand_ins.find(t) or prev

    def _rgb(self, frame: av.VideoFrame) -> np.ndarray:
        return to_rgb(frame, self.size, self.video.info.rotation, self.scaler)


def _closers(index: PacketIndex, wanted: np.ndarray) -> set[int]:
    """Per keyframe interval, the wanted timestamp whose packet comes last in decode order,
    for intervals after which the reader seeks (the next wanted interval is not the next one,
    or there is none); decoding simply runs on into an adjacent wanted interval."""
    if index.decode_pos is None or not len(wanted):
        return set()
    dpos = index.decode_pos[np.searchsorted(index.pts, wanted)]
    gop = np.searchsorted(index.key_pts, wanted, side="right")
    last: dict[int, tuple[int, int]] = {}
    for g, d, p in zip(gop.tolist(), dpos.tolist(), wanted.tolist(), strict=True):
        if g not in last or d > last[g][0]:
            last[g] = (d, p)
    return {p for g, (_, p) in last.items() if g + 1 not in last}


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


def to_rgb(
    frame: av.VideoFrame,
    size: tuple[int, int] | None,
    rotation: int,
    scaler: VideoReformatter | None = None,
) -> np.ndarray:
    """Scale and convert in FFmpeg's scaler (no full-size RGB copy), then rotate upright.

    Args:
        frame: Decoded frame in its coded orientation.
        size: Displayed ``(width, height)`` wanted, or ``None`` for the displayed size.
        rotation: Counter-clockwise display rotation in degrees (multiple of 90).
        scaler: A reformatter to reuse across frames (its converter set-up is cached).
    """
    quarter = rotation // 90 % 4
    if size is None:
        w, h = frame.width, frame.height
    else:
        w, h = size if quarter % 2 == 0 else (size[1], size[0])
    shrink = w < frame.width or h < frame.height
    scaler = scaler or VideoReformatter()
    out = scaler.reformat(
        frame, width=w, height=h, format="rgb24", interpolation="AREA" if shrink else "BILINEAR"
    )
    rgb = out.to_ndarray()
    return np.ascontiguousarray(np.rot90(rgb, quarter)) if quarter else rgb
