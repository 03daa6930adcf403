"""Low-resolution H.264 proxies of videos the browser cannot play, made on demand with PyAV.

The proxy keeps every frame's presentation time exactly (from :class:`vidscope.VideoReader`,
in a 1/90000 s time base, without B-frames so no edit list shifts the timeline): a frame the
page steps to in the proxy is the frame the extractor samples at that time in the source.
Frames come out upright (rotation applied) and 8-bit 4:2:0, which every browser plays.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from fractions import Fraction
from pathlib import Path

import av

from ..video import VideoReader

PROXY_VERSION = 1
#: Proxies are at most this tall (and 2 x as wide); enough to label by eye, fast to encode.
PROXY_HEIGHT = 360
TIME_BASE = Fraction(1, 90_000)


class ProxyCache:
    """Proxies under ``folder``, one per source file version (path, size, mtime).

    Args:
        folder: Cache folder (created on first use), kept beside the labels file.
        height: Largest proxy height in pixels.
    """

    def __init__(self, folder: Path, *, height: int = PROXY_HEIGHT) -> None:
        self.folder = folder
        self.height = height
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path_for(self, source: Path) -> Path:
        """Where the proxy of ``source`` is (or will be) cached."""
        st = source.stat()
        key = f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{self.height}|{PROXY_VERSION}"
        return self.folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".mp4")

    def get(self, source: Path, width: int, height: int) -> Path:
        """The proxy of ``source`` (displayed size ``width`` x ``height``), made if missing.

        Concurrent calls for one file make it once; the file appears atomically.

        Raises:
            VidscopeError: the source cannot be decoded at all.
        """
        out = self.path_for(source)
        with self._guard:
            lock = self._locks.setdefault(out.name, threading.Lock())
        with lock:
            if not out.exists():
                self.folder.mkdir(parents=True, exist_ok=True)
                make_proxy(source, out, proxy_size(width, height, self.height))
        return out


def proxy_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    """Even ``(width, height)`` no taller than ``max_height`` nor wider than twice that."""
    scale = min(1.0, max_height / max(height, 1), 2 * max_height / max(width, 1))
    w = max(2, round(width * scale / 2) * 2)
    h = max(2, round(height * scale / 2) * 2)
    return w, h


def make_proxy(source: Path, out: Path, size: tuple[int, int]) -> int:
    """Encode every readable frame of ``source`` at ``size`` into the H.264 MP4 ``out``.

    Returns:
        Frames written. Frames of a damaged stretch that repeat an earlier frame are left
        out, so each written frame keeps the timestamp it has in the source.
    """
    fd, tmp = tempfile.mkstemp(suffix=".mp4", dir=out.parent, prefix=".proxy-")
    os.close(fd)
    written = 0
    try:
        with (
            VideoReader(source) as reader,
            av.open(tmp, "w", format="mp4", options={"movflags": "+faststart"}) as container,
        ):
            stream = container.add_stream("libx264", rate=max(1, round(reader.info.fps or 25)))
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            stream.options = {"crf": "26", "preset": "veryfast", "bf": "0", "g": "25"}
            last = -1
            for batch in reader.iter_frames(reader.frame_times_s(), size=size, chunk_size=16):
                for rgb, t in zip(batch.frames, batch.times_s, strict=True):
                    pts = round(float(t) / TIME_BASE)
                    if pts <= last:
                        continue
                    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                    frame.pts, frame.time_base, last = pts, TIME_BASE, pts
                    container.mux(stream.encode(frame))
                    written += 1
            container.mux(stream.encode())
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return written
