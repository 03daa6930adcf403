"""Opening a container file with PyAV: clear errors, probing, and the packet index."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import av

from ..errors import VideoError
from ._index import PacketIndex, build_index
from ._types import VideoInfo


@dataclass
class OpenVideo:
    """An open container with its video stream, probe result and packet index."""

    container: av.container.InputContainer
    stream: av.video.VideoStream
    info: VideoInfo
    index: PacketIndex

    def close(self) -> None:
        """Release the file and decoder."""
        self.container.close()


def open_video(path: str | os.PathLike[str], *, threads: int = 0) -> OpenVideo:
    """Open ``path``, pick its first video stream, index its packets and probe it.

    Args:
        path: A video file PyAV/FFmpeg can read.
        threads: Decoder threads (0 = FFmpeg's choice of one per core).

    Raises:
        VideoError: with a specific reason for missing, empty, non-video, audio-only,
            truncated or otherwise unreadable files.
    """
    p = Path(path)
    if not p.exists():
        raise VideoError(p, "file not found")
    if p.is_file() and p.stat().st_size == 0:
        raise VideoError(p, "empty file (0 bytes)")
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise VideoError(p, _open_reason(p, exc)) from None
    try:
        return _open_stream(p, container, threads)
    except BaseException:
        container.close()
        raise


def _open_stream(p: Path, container: av.container.InputContainer, threads: int) -> OpenVideo:
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["no"]
        raise VideoError(p, f"no video stream (the file has {', '.join(kinds)} streams only)")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    ctx.thread_type = "AUTO"
    ctx.thread_count = threads
    try:
        index = build_index(container, stream)
    except ValueError as exc:
        raise VideoError(p, f"{exc}: the video stream holds no decodable data") from None
    container.seek(int(index.key_dts[0]), stream=stream, backward=True, any_frame=False)
    rotation = _rotation(container, stream)
    w, h = ctx.width, ctx.height
    if w <= 0 or h <= 0:
        raise VideoError(p, "video stream has no frame size (codec parameters missing)")
    if rotation in (90, 270):
        w, h = h, w
    duration = index.duration_s
    info = VideoInfo(
        path=str(p),
        duration_s=duration,
        fps=len(index.pts) / duration if duration > 0 else float(stream.average_rate or 0),
        num_frames=len(index.pts),
        width=w,
        height=h,
        rotation=rotation,
        codec=ctx.name,
        pix_fmt=ctx.pix_fmt or "",
        num_keyframes=len(index.shown_key_pts),
        declared_frames=max(int(stream.frames or 0) - index.discarded, 0),
    )
    container.seek(int(index.key_dts[0]), stream=stream, backward=True, any_frame=False)
    return OpenVideo(container, stream, info, index)


def _rotation(container: av.container.InputContainer, stream: av.video.VideoStream) -> int:
    """Counter-clockwise display rotation in degrees, read from the first decoded frame."""
    try:
        frame = next(container.decode(stream))
    except (StopIteration, av.error.FFmpegError):
        return 0
    finally:
        stream.codec_context.flush_buffers()
    return round((frame.rotation or 0) / 90.0) % 4 * 90


def _open_reason(p: Path, exc: av.error.FFmpegError) -> str:
    head = p.read_bytes()[:64] if p.is_file() else b""
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "not a video: the file holds plain text"
    if p.suffix.lower() in (".mp4", ".mov", ".m4v") and b"ftyp" in head and b"moov" not in head:
        return (
            "unreadable container: the file is truncated or damaged before its index "
            f"(moov atom) — re-download or re-encode it ({exc.strerror})"
        )
    return f"unreadable container or unsupported format ({exc.strerror})"
