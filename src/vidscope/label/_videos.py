"""The labelling session's video list: ids, CSV names, what the browser can play, frame times.

The server only ever serves a video by its position in this list; the list is fixed when
the session starts, and a file reached through a symlink that leaves the videos folder is
listed with an error and never served.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..features import resolve_videos
from ..video import VideoReader

#: Containers, codecs and pixel formats Chromium plays itself; anything else gets a proxy.
NATIVE_SUFFIXES = frozenset({".mp4", ".m4v", ".webm"})
NATIVE_CODECS = frozenset({"h264", "vp8", "vp9", "av1"})
NATIVE_PIX_FMTS = frozenset({"yuv420p", "yuvj420p"})


@dataclass
class VideoItem:
    """One video of the session.

    Attributes:
        index: Position in the list: the only id the page and the server use.
        video_id: Store id (path relative to the videos root, no extension), as
            ``vidscope extract`` names it.
        name: The value written to ``labels.csv``/``annotations.csv`` (``video_id`` plus the
            file's extension), matched by ``vidscope train`` to the store id.
        path: The file (or image-frame folder).
        error: Why it cannot be shown (unreadable, outside the folder), or ``None``.
    """

    index: int
    video_id: str
    name: str
    path: Path
    error: str | None = None
    _info: dict[str, object] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def info(self) -> dict[str, object]:
        """Duration, size, codec, whether the browser plays the file, and every frame's time.

        ``times_s`` count from the first frame (as the extractor's do); ``start_s`` is that
        frame's time in the file's own timeline, which a browser's ``currentTime`` uses.

        Probed once (demuxing only, no decoding) with :class:`vidscope.VideoReader`; a file
        that cannot be read gets ``error`` set instead of raising.
        """
        with self._lock:
            if self._info is None:
                self._info = self._probe()
            return self._info

    def _probe(self) -> dict[str, object]:
        if self.error is not None:
            return {"error": self.error}
        try:
            with VideoReader(self.path) as reader:
                times = reader.frame_times_s()
                start_s = reader.start_s
                i = reader.info
                damage = list(reader.damage)
        except Exception as exc:  # any reader failure is this video's, not the server's
            self.error = _reason(exc)
            return {"error": self.error}
        if len(times) == 0:
            self.error = "no readable frames"
            return {"error": self.error}
        native = (
            self.path.suffix.lower() in NATIVE_SUFFIXES
            and i.codec in NATIVE_CODECS
            and i.pix_fmt in NATIVE_PIX_FMTS
            and i.rotation == 0
        )
        return {
            "duration_s": float(i.duration_s),
            "fps": float(i.fps),
            "width": int(i.width),
            "height": int(i.height),
            "codec": i.codec,
            "pix_fmt": i.pix_fmt,
            "rotation": int(i.rotation),
            "native": bool(native),
            "times_s": np.round(times, 6).tolist(),
            "start_s": float(start_s),
            "damage": damage,
        }


def list_videos(source: str | os.PathLike[str] | list[str]) -> list[VideoItem]:
    """The session's videos, in the order ``vidscope extract`` would list them.

    Args:
        source: A folder (searched recursively), a ``.txt``/``.csv`` list, or one file.

    Raises:
        VidscopeError: nothing found, or two files with one id.
    """
    items = resolve_videos(source)
    root = Path(source).resolve() if isinstance(source, (str, os.PathLike)) else None
    out = []
    for n, item in enumerate(items):
        suffix = "" if item.path.is_dir() else item.path.suffix
        error = None
        if root is not None and root.is_dir() and not _inside(item.path, root):
            error = "a symlink that points outside the videos folder: not served"
        out.append(VideoItem(n, item.video_id, item.video_id + suffix, item.path, error))
    return out


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc)
