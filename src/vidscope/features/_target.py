"""The store an extraction run writes, and which inputs it already holds.

A rerun skips a video (it is *current*) when its manifest row is ``ok``/``partial``, its
feature files are intact (:meth:`FeatureStore.verify`: size and SHA-256 as recorded; for a
store at a URL, the features file exists there) and the input is the file that was extracted:

1. its ``fingerprint`` (``size:mtime_ns``) is the recorded one; or else
2. its ``content`` digest is the recorded one (:func:`content_digest`): the same bytes with
   a new timestamp, as after copying the videos to another disk, unpacking an archive again
   or downloading the dataset again (Colab copying it from Drive every session). The row is
   re-recorded with the new fingerprint and the new ``path`` (ids are paths relative to the
   input root, so a dataset moved to another folder keeps its ids), so the next rerun
   skips it by fingerprint alone; the run's report counts it in ``reused``.

Rows written before the ``content`` column existed have none: such a video is extracted
again once when its timestamp changes, as before. Image-frame folders and videos given as
URLs have no digest and are judged by fingerprint only (for a URL: size and modification
stamp). Both engines get this: the check runs in the driver before any engine starts.

For a store at a URL (``--out s3://...``) the re-recorded rows reach it with the manifest at
the end of the run; a run killed before then compares the digests again next time (reading
2 MiB per video, no extraction).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import StoreError
from ._fsspec import UrlInput, UrlStore, is_url, url_fingerprint
from ._inputs import VideoInput
from ._store import FeatureStore, open_for_writing

#: Bytes hashed at each end of a file by :func:`content_digest`.
CONTENT_EDGE_BYTES = 1 << 20


def fingerprint(path: Path | str) -> str | None:
    """``size:mtime_ns`` of a file (count and newest mtime for a frame folder; size and
    modification stamp for a URL), or ``None`` if it cannot be read."""
    if is_url(path):
        return url_fingerprint(str(path))
    path = Path(path)
    try:
        if path.is_dir():
            stats = [p.stat() for p in path.iterdir()]
            return f"dir{len(stats)}:{max((s.st_mtime_ns for s in stats), default=0)}"
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return None


def content_digest(path: Path | str) -> str | None:
    """A cheap digest of a local video file's bytes, independent of its name and timestamps.

    The first 16 hex digits of SHA-256 over the file's size (decimal ASCII and ``:``), its
    first MiB and its last MiB (:data:`CONTENT_EDGE_BYTES`); a file up to 2 MiB is hashed
    whole. A change that keeps the size and touches neither end (a few bytes patched in the
    middle of a large file) goes unnoticed; re-encoding, cutting, appending or replacing a
    video changes its size or its container's header or index at one end.

    Returns:
        The digest, or ``None`` for URLs, image-frame folders, anything but a regular file
        (a FIFO is never waited on) and unreadable files.
    """
    if is_url(path):
        return None
    try:  # non-blocking: opening a FIFO named like a video must not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # a frame folder, a FIFO, a device
        os.close(fd)
        return None
    with open(fd, "rb") as f:
        return _edges_digest(f, st.st_size)


def _edges_digest(f: BinaryIO, size: int) -> str | None:
    try:
        digest = hashlib.sha256(f"{size}:".encode())
        digest.update(f.read(CONTENT_EDGE_BYTES))
        if size > CONTENT_EDGE_BYTES:
            f.seek(max(CONTENT_EDGE_BYTES, size - CONTENT_EDGE_BYTES))
            digest.update(f.read(CONTENT_EDGE_BYTES))
    except OSError:
        return None
    return digest.hexdigest()[:16]


@dataclass
class StoreTarget:
    """The store being written, and its remote copy when ``out`` is a URL.

    Attributes:
        store: The (local or staging) store.
        remote: The store at the URL, when ``out`` is one.
        reused: Ids :meth:`is_current` kept by content digest (new timestamp, same bytes).
    """

    store: FeatureStore
    remote: UrlStore | None = None
    reused: list[str] = field(default_factory=list)

    def is_current(self, item: VideoInput | UrlInput) -> bool:
        """Whether ``item`` is in the store, unchanged, with intact feature files (see the
        module docstring); a video kept by content digest has its row re-recorded."""
        row = self.store.rows.get(item.video_id)
        if row is None or row.get("status") not in ("ok", "partial"):
            return False
        now = fingerprint(item.path)
        if row.get("fingerprint") != now:
            return now is not None and self._same_content(item, row, now)
        return self._intact(item.video_id, row)

    def _intact(self, video_id: str, row: dict[str, Any]) -> bool:
        if self.remote is not None:
            return self.remote.has(str(row.get("features") or ""))
        return self.store.verify(video_id) is None  # files match recorded size/checksum

    def _same_content(self, item: VideoInput | UrlInput, row: dict[str, Any], now: str) -> bool:
        recorded = row.get("content")
        if not recorded or content_digest(item.path) != recorded:
            return False
        if not self._intact(item.video_id, row):
            return False
        with contextlib.suppress(StoreError):  # a read-only store: compared again next run
            self.store.record({**row, "fingerprint": now, "path": str(item.path)})
        self.reused.append(item.video_id)
        return True


@contextlib.contextmanager
def open_target(out: str | os.PathLike[str], meta: dict[str, Any]) -> Iterator[StoreTarget]:
    """Lock and open the store ``out`` (a folder, or a URL staged in a local folder) with key
    ``meta``; for a URL, upload the manifest at the end (see :class:`._fsspec.UrlStore`).

    Raises:
        StoreError: as :func:`._store.open_for_writing`, or the URL cannot be read.
    """
    if not is_url(out):
        with open_for_writing(out, meta) as store:
            yield StoreTarget(store)
        return
    remote = UrlStore(str(out))
    try:
        with open_for_writing(remote.pull(), meta) as store:
            yield StoreTarget(store, remote)
        remote.finish()
    finally:
        remote.cleanup()
