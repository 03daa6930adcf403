"""fsspec URLs (``s3://``, ``gs://``, ``file://``, ``memory://``) for inputs and the store.

Credentials come from the usual environment of each filesystem (``AWS_*``, ``GOOGLE_*``,
``~/.aws``...), never from flags, and URLs are shown as given (without query strings).

- Inputs: a URL of a folder (searched recursively), of a ``.txt`` list, or of one video, or a
  list of URLs. Workers copy each video to a local temporary file before decoding (PyAV needs
  seekable local input for a timestamp index), so only features travel back.
- ``memory://`` lives inside one process: the driver reads such a video and ships its bytes
  with the task (meant for tests; real clusters use object storage).
- The store: :class:`UrlStore` keeps a local staging copy of the store's small files, runs the
  normal :class:`FeatureStore` on it, and uploads each finished video (its two arrays and its
  manifest row, as one small object) as soon as it is saved, so an interrupted run loses only
  the videos in flight; :meth:`UrlStore.finish` uploads the compacted manifest.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import InputError, StoreError
from ._inputs import VIDEO_SUFFIXES, path_column

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
#: Filesystems whose files only the process that wrote them can see.
PROCESS_LOCAL = ("memory",)
#: Folder of per-video manifest rows uploaded as videos finish (folded in by ``finish``).
ROWS_DIR = "manifest.rows"


def is_url(value: object) -> bool:
    """True for ``scheme://...`` strings (``file://`` included)."""
    return isinstance(value, str) and bool(_URL.match(value))


def _fs(url: str) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs
    except ImportError:  # pragma: no cover - fsspec comes with the ray extra
        raise InputError(
            f"{url}: URLs need fsspec: pip install 'vidscope[ray]' (or fsspec and the "
            "filesystem's package, e.g. s3fs)"
        ) from None
    try:
        return url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise InputError(f"{url}: cannot open this URL ({exc})") from None


@dataclass(frozen=True)
class UrlInput:
    """One video given by URL: its store id (relative path, no extension) and its URL."""

    video_id: str
    path: str


def resolve_urls(source: str | Sequence[str], *, path_column: str | None = None) -> list[UrlInput]:
    """Expand a folder URL (recursively), a ``.txt``/``.csv`` list URL, one URL, or a list.

    Raises:
        InputError: nothing found at the URL, or a list without a path column.
    """
    if not isinstance(source, str):
        return _relative(list(source))
    fs, path = _fs(source)
    suffix = PurePosixPath(path).suffix.lower()
    if fs.isdir(path):
        found = [
            p for p in sorted(fs.find(path)) if PurePosixPath(p).suffix.lower() in VIDEO_SUFFIXES
        ]
        return [
            UrlInput(PurePosixPath(p).relative_to(path).with_suffix("").as_posix(), _unstrip(fs, p))
            for p in found
        ]
    if not fs.exists(path):
        raise InputError(f"VIDEOS {source}: no such file or folder")
    if suffix in (".txt", ".csv"):
        text = fs.cat_file(path).decode("utf-8-sig")
        names = _list_names(text, suffix, path_column, source)
        parent = PurePosixPath(path).parent
        return _relative([n if is_url(n) else _unstrip(fs, str(parent / n)) for n in names])
    return [UrlInput(PurePosixPath(path).stem, source)]


def _unstrip(fs: Any, path: str) -> str:
    return fs.unstrip_protocol(path)


def _list_names(text: str, suffix: str, column: str | None, where: str) -> list[str]:
    if suffix == ".txt":
        lines = (ln.strip() for ln in text.splitlines())
        return [s for s in lines if s and not s.startswith("#")]
    reader = csv.DictReader(io.StringIO(text))
    fields = reader.fieldnames or []
    col = path_column(fields, column, where)
    return [(row.get(col) or "").strip() for row in reader if (row.get(col) or "").strip()]


def _relative(urls: list[str]) -> list[UrlInput]:
    if not urls:
        return []
    paths = [PurePosixPath(_fs(u)[1]) for u in urls]
    base = PurePosixPath(os.path.commonpath([str(p.parent) for p in paths]))
    return [
        UrlInput(p.relative_to(base).with_suffix("").as_posix(), u)
        for p, u in zip(paths, urls, strict=True)
    ]


def url_fingerprint(url: str) -> str | None:
    """``size:modified`` of a URL's object (``None`` if it cannot be read)."""
    try:
        fs, path = _fs(url)
        info = fs.info(path)
    except (OSError, InputError):
        return None
    stamp = next(
        (info[k] for k in ("mtime", "LastModified", "updated", "ETag", "created") if info.get(k)),
        "",
    )
    return f"{info.get('size')}:{stamp}"


def _protocols(fs: Any) -> tuple[str, ...]:
    return (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)


def is_process_local(path: str) -> bool:
    """True for URLs whose files other processes cannot see (``memory://``)."""
    return is_url(path) and bool(set(_protocols(_fs(path)[0])) & set(PROCESS_LOCAL))


def shipped_bytes(source: str) -> bytes | None:
    """The bytes of ``source`` if workers cannot read it themselves (``memory://``), else None."""
    if not is_process_local(source):
        return None
    fs, path = _fs(source)
    return fs.cat_file(path)


@contextlib.contextmanager
def local_copy(path: str, data: bytes | None = None) -> Iterator[str]:
    """A local path holding the video at ``path``: itself, or a temporary copy of a URL.

    Args:
        path: Local path or URL.
        data: The file's bytes, if the caller already has them (``memory://``).
    """
    if data is None and not is_url(path):
        yield path
        return
    fs, remote = (None, path) if data is not None else _fs(path)
    if fs is not None and "file" in _protocols(fs):
        yield remote
        return
    fd, tmp = tempfile.mkstemp(prefix="vidscope-", suffix=PurePosixPath(remote).suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            if data is not None:
                f.write(data)
            else:
                with fs.open(remote, "rb") as src:
                    shutil.copyfileobj(src, f, 1 << 22)
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


class UrlStore:
    """A feature store at a URL, written through a local staging folder (see module doc).

    Args:
        url: The store's URL (``s3://bucket/store``, ``memory://store``...).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = _fs(url)
        self.local = Path(tempfile.mkdtemp(prefix="vidscope-store-"))

    def _remote(self, rel: str) -> str:
        return str(PurePosixPath(self.root) / rel)

    def pull(self) -> Path:
        """Copy ``store.json``, the manifest and uploaded rows into the staging folder."""
        try:
            if self.fs.exists(self._remote("store.json")):
                for name in ("store.json", "manifest.parquet"):
                    if self.fs.exists(self._remote(name)):
                        self.fs.get_file(self._remote(name), str(self.local / name))
                self._pull_rows()
        except OSError as exc:
            raise StoreError(f"--out {self.url}: cannot read the store ({exc})") from None
        return self.local

    def _pull_rows(self) -> None:
        rows_dir = self._remote(ROWS_DIR)
        if not self.fs.exists(rows_dir):
            return
        lines = [self.fs.cat_file(p).decode() for p in sorted(self.fs.find(rows_dir))]
        with open(self.local / "manifest.journal.jsonl", "a", encoding="utf-8") as f:
            f.writelines(line.rstrip("\n") + "\n" for line in lines)

    def has(self, rel: str) -> bool:
        """Whether the store at the URL holds file ``rel``."""
        return bool(rel) and self.fs.exists(self._remote(rel))

    def push_video(self, row: dict[str, Any]) -> None:
        """Upload one saved video: its arrays (if any), then its manifest row."""
        rel = row.get("features")
        if rel:
            for name in (str(rel), str(Path(str(rel)).with_suffix(".t.npy"))):
                self.fs.put_file(str(self.local / name), self._remote(name))
        key = re.sub(r"[^A-Za-z0-9._-]", "_", str(row["video_id"]))
        self.fs.pipe_file(
            self._remote(f"{ROWS_DIR}/{key}.json"), json.dumps(row, default=str).encode()
        )

    def finish(self) -> None:
        """Upload ``store.json`` and the compacted manifest, then drop the uploaded rows."""
        for name in ("store.json", "manifest.parquet"):
            if (self.local / name).exists():
                self.fs.put_file(str(self.local / name), self._remote(name))
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._remote(ROWS_DIR), recursive=True)

    def cleanup(self) -> None:
        """Remove the staging folder."""
        shutil.rmtree(self.local, ignore_errors=True)
