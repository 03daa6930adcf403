"""Packet index of a video stream: every frame's presentation time and the keyframes.

Built by demuxing (reading packets without decoding them), which costs a small fraction
of decoding. It tells the sampler, before any decoding, exactly which frame is shown at a
requested time and which keyframe to seek to for it.

Packets an edit list marks for discard (``ffmpeg -ss ... -c copy`` cuts keep the GOP before
the cut point and hide it) are decoded but never shown: they are not frames of the video, but
a discarded keyframe is still where decoding of the first shown frames must start.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class PacketIndex:
    """Presentation times of a stream's frames, in stream time-base units.

    Attributes:
        pts: ``int64 [N]`` sorted, unique presentation timestamps of all readable frames.
        key_pts: ``int64 [K]`` sorted presentation timestamps of keyframes (K >= 1), including
            discarded ones (decoded, not shown) that shown frames depend on.
        key_dts: ``int64 [K]`` decode timestamps of the same keyframes (what seeking uses).
        time_base: Seconds per timestamp unit.
        end_pts: Timestamp at which the last frame stops being shown.
        damage: Why the index is incomplete (demux error, corrupt packets), or ``None``.
        discarded: Packets the container marks for discard (decoded only as references).
        decode_pos: ``int64 [N]`` position of each frame of ``pts`` in decode (demux) order:
            reaching a frame costs decoding the references fed before it, so within a keyframe
            interval a smaller position is cheaper to reach (``--seek keyframe`` uses this).
    """

    pts: np.ndarray
    key_pts: np.ndarray
    key_dts: np.ndarray
    time_base: Fraction
    end_pts: int
    damage: str | None = None
    discarded: int = 0
    decode_pos: np.ndarray | None = None

    @property
    def shown_key_pts(self) -> np.ndarray:
        """``int64`` timestamps of the keyframes that are shown (what keyframe seeking may
        snap to); discarded keyframes are left out."""
        return self.key_pts[np.isin(self.key_pts, self.pts)]

    @property
    def origin(self) -> int:
        """Timestamp of the first displayed frame; time 0 s."""
        return int(self.pts[0])

    @property
    def duration_s(self) -> float:
        """Seconds from the first frame's display to the end of the last frame."""
        return float((self.end_pts - self.origin) * self.time_base)

    def to_seconds(self, pts: np.ndarray) -> np.ndarray:
        """Timestamps (units) to seconds from the first frame (``float64``)."""
        return (np.asarray(pts, dtype=np.float64) - self.origin) * float(self.time_base)

    def to_pts(self, seconds: np.ndarray) -> np.ndarray:
        """Seconds from the first frame to the timestamp unit at or before it (``int64``).

        Rounds down (a frame that starts after ``t`` is not on screen at ``t``), with a
        tolerance of 1e-6 unit for times that are exact in seconds but not in binary.
        """
        units = np.asarray(seconds, dtype=np.float64) / float(self.time_base)
        return np.floor(units + 1e-6).astype(np.int64) + self.origin

    def shown_at(self, seconds: np.ndarray) -> np.ndarray:
        """Timestamp of the frame on screen at each time: the last frame starting at or before it.

        Times before the first frame map to the first frame.
        """
        t = self.to_pts(seconds)
        i = np.searchsorted(self.pts, t, side="right") - 1
        return self.pts[np.clip(i, 0, len(self.pts) - 1)]

    def keyframe_of(self, pts: int) -> int:
        """Position in ``key_pts`` of the keyframe to decode from to reach frame ``pts``."""
        return max(int(np.searchsorted(self.key_pts, pts, side="right")) - 1, 0)


def build_index(
    container: av.container.InputContainer, stream: av.video.VideoStream
) -> PacketIndex:
    """Demux the whole stream once and index its packets.

    Raises:
        ValueError: if the stream has no packet with a timestamp (nothing decodable).
    """
    rows = array("q")  # pts, dts, keyframe, duration, shown; 8 bytes each (2 h at 25 fps: 7 MB)
    damage = None
    corrupt = 0
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            if packet.is_corrupt:
                corrupt += 1
                continue
            dts = packet.dts if packet.dts is not None else packet.pts
            shown = not packet.is_discard
            rows.extend((packet.pts, dts, packet.is_keyframe, packet.duration or 0, shown))
    except av.error.FFmpegError as exc:  # truncated or damaged container: keep what was read
        count = int(np.frombuffer(rows, np.int64)[4::5].sum())
        damage = f"container stops being readable after {count} frames ({exc.strerror})"
    if corrupt and damage is None:
        damage = f"{corrupt} corrupt packet(s) (file cut short or damaged)"
    table = np.frombuffer(rows, np.int64).reshape(-1, 5)
    if not table[:, 4].any():
        raise InputError("no readable video frames")
    return _assemble(table.copy(), stream, damage)


def _assemble(rows: np.ndarray, stream: av.video.VideoStream, damage: str | None) -> PacketIndex:
    """Index from ``int64 [P, 5]`` packet rows (pts, dts, keyframe, duration, shown)."""
    shown = rows[:, 4].astype(bool)
    pts, dur = rows[shown, 0], rows[shown, 3]
    order = np.argsort(pts, kind="stable")
    spts = pts[order]
    keep = np.concatenate([[True], np.diff(spts) > 0])  # duplicate pts: keep the first
    spts = spts[keep]
    decode_pos = np.flatnonzero(shown)[order][keep]
    key = rows[:, 2].astype(bool)
    if not key.any():  # some streams flag nothing: treat the first packet as the keyframe
        key[0] = True
    kpos = np.flatnonzero(key)
    korder = np.argsort(rows[kpos, 0], kind="stable")
    key_pts, key_dts = rows[kpos, 0][korder], rows[kpos, 1][korder]
    last = int(order[-1])
    gap = int(spts[-1] - spts[-2]) if len(spts) > 1 else 0
    step = max(int(dur[last]), gap) or _frame_step(spts, stream)
    return PacketIndex(
        pts=spts.astype(np.int64),
        key_pts=key_pts.astype(np.int64),
        key_dts=key_dts.astype(np.int64),
        time_base=stream.time_base,
        end_pts=int(spts[-1]) + step,
        damage=damage,
        discarded=int((~shown).sum()),
        decode_pos=decode_pos.astype(np.int64),
    )


def _frame_step(spts: np.ndarray, stream: av.video.VideoStream) -> int:
    """Display duration of the last frame when the container does not say it."""
    if len(spts) > 1:
        return int(np.median(np.diff(spts[-16:])))
    rate = stream.average_rate or stream.guessed_rate or 25
    return max(1, round(1 / (float(rate) * float(stream.time_base))))
