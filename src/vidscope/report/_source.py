"""Where the report's ``<video>`` gets its file: embedded as a data URI, linked, or missing."""

from __future__ import annotations

import base64
import math
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal
from urllib.parse import quote

from ..errors import InputError

_MIB = 1024 * 1024
_CHUNK = 3 * 1024 * 1024  # a multiple of 3 bytes, so base64 chunks concatenate cleanly

# Container types that mimetypes may not know; anything else falls back to mimetypes.
_MIME = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/mp4",  # browsers play QuickTime files holding H.264 as MP4
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".ogv": "video/ogg",
    ".avi": "video/x-msvideo",
}


@dataclass(frozen=True)
class VideoSource:
    """How one video reaches the page.

    Attributes:
        kind: ``embedded`` (base64 data URI inside the HTML), ``linked`` (relative URL from the
            report's folder) or ``missing`` (no path, or the file does not exist).
        path: The video file, resolved (``None`` when no path was given).
        href: URL for ``src`` when linked (already percent-encoded); empty otherwise.
        mime: Media type guessed from the file name.
        size_bytes: File size (0 when missing).
        note: One sentence for the page saying where the video comes from.
    """

    kind: Literal["embedded", "linked", "missing"]
    path: Path | None
    href: str
    mime: str
    size_bytes: int
    note: str


def video_mime(path: Path) -> str:
    """Media type of a video file from its extension (``video/mp4`` when unknown)."""
    ext = path.suffix.lower()
    return _MIME.get(ext) or mimetypes.guess_type(path.name)[0] or "video/mp4"


def choose_source(video_path: str | None, report_dir: Path, max_mb: float) -> VideoSource:
    """Embed the video when it is smaller than ``max_mb`` MiB, else link it relative to the report.

    Args:
        video_path: The timeline's video file (relative paths are taken from the working folder).
        report_dir: Folder the HTML file is written to.
        max_mb: Embedding limit in MiB (0 never embeds).

    Returns:
        The decision, with a human-readable note for the page.
    """
    if not video_path:
        return VideoSource("missing", None, "", "", 0, "No video file is known for this timeline.")
    path = Path(video_path).expanduser().resolve()
    if not path.is_file():
        note = f"Video file not found: {path}. The timeline below still works."
        return VideoSource("missing", path, "", "", 0, note)
    size = path.stat().st_size
    mime = video_mime(path)
    size_mb = size / _MIB
    if size < max_mb * _MIB:
        note = f"Video embedded in this page ({size_mb:.1f} MiB, from {path})."
        return VideoSource("embedded", path, "", mime, size, note)
    href = _relative_href(path, report_dir.resolve())
    note = (
        f"Video linked, not embedded ({size_mb:.1f} MiB is over the {max_mb:g} MiB limit): "
        f"the page plays {path} through the relative link {href}; keep it at that place "
        f"relative to this report, or re-run with --embed-limit {math.ceil(size_mb) + 1} (MiB) "
        "to embed it."
    )
    return VideoSource("linked", path, href, mime, size, note)


def _relative_href(path: Path, base: Path) -> str:
    """Percent-encoded URL of ``path`` relative to ``base`` (a ``file:`` URI across drives)."""
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # a different drive on Windows: no relative path exists
        return path.as_uri()
    return quote(Path(rel).as_posix(), safe="/")


def write_data_uri(out: IO[str], source: VideoSource) -> None:
    """Stream ``data:<mime>;base64,...`` for an embedded source into a text file, in chunks."""
    if source.kind != "embedded" or source.path is None:
        raise InputError(f"only an embedded video has a data URI, not a {source.kind} one")
    out.write(f"data:{source.mime};base64,")
    with source.path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            out.write(base64.b64encode(chunk).decode("ascii"))
