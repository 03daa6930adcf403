"""Turning the user's VIDEOS argument (folder, list file, CSV, paths) into (id, path) pairs."""

from __future__ import annotations

import csv
import difflib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, VidscopeError
from ..video import IMAGE_SUFFIXES

VIDEO_SUFFIXES = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".avi",
        ".mkv",
        ".webm",
        ".ts",
        ".mts",
        ".m2ts",
        ".mpg",
        ".mpeg",
        ".wmv",
        ".flv",
        ".3gp",
        ".ogv",
        ".gif",
    ]
)
PATH_COLUMNS = ("path", "video", "video_path", "file", "file_name", "filename", "id")


@dataclass(frozen=True)
class VideoInput:
    """One video to extract: its store id and where it is.

    Attributes:
        video_id: Path relative to the input root without the extension; with the extension
            (``clip.avi``) when another input has the same path and another extension.
        path: The file (or image-frame folder).
        note: Why the id is not the plain one (for the run's summary), else ``None``.
    """

    video_id: str
    path: Path
    note: str | None = None


def resolve_videos(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    path_column: str | None = None,
) -> list[VideoInput]:
    """Expand a folder (recursively), a ``.txt`` list, a ``.csv`` or explicit paths.

    Image-frame folders (a folder holding image files and no videos) count as one video.
    Paths in list files and CSVs are relative to the file's folder.

    Inputs that differ only in their extension get ids that keep it (see
    :func:`distinct_ids`).

    Raises:
        VidscopeError: nothing found, a missing list/CSV column, or one file listed twice.
    """
    if isinstance(source, (str, os.PathLike)):
        src = Path(source)
        if src.is_dir():
            items = _from_folder(src)
        elif src.suffix.lower() == ".csv":
            items = _relative(_from_csv(src, path_column))
        elif src.suffix.lower() in (".txt", ".lst", ".list"):
            items = _relative(_from_list(src))
        elif src.exists():
            items = [VideoInput(src.stem, src)]
        else:
            raise VidscopeError(f"VIDEOS {src}: no such file or folder")
    else:
        items = _relative([Path(p) for p in source])
    if not items:
        raise VidscopeError(f"no videos found in {source}")
    items = distinct_ids(items)
    dup = [k for k, n in Counter(i.video_id for i in items).items() if n > 1]
    if dup:
        raise VidscopeError(
            f"two inputs map to the same video id: {', '.join(dup[:5])}; list each file once"
        )
    return items


def distinct_ids(items: list[VideoInput]) -> list[VideoInput]:
    """Give inputs that share an id (``a.avi`` and ``a.mp4``) ids that keep their extension.

    The rule depends only on the set of inputs, so every rerun over the same files gives the
    same ids; inputs whose id is unique keep the plain one. A labels CSV naming the file with
    its extension matches the longer id.
    """
    counts = Counter(i.video_id for i in items)
    out = []
    for i in items:
        if counts[i.video_id] > 1 and i.path.suffix and not i.path.is_dir():
            vid = i.video_id + i.path.suffix
            note = f"{i.path}: stored as {vid!r} (another input is also named {i.video_id!r})"
            out.append(VideoInput(vid, i.path, note))
        else:
            out.append(i)
    return out


def _from_folder(root: Path) -> list[VideoInput]:
    items: list[VideoInput] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        here = Path(dirpath)
        videos = [f for f in sorted(filenames) if Path(f).suffix.lower() in VIDEO_SUFFIXES]
        images = [f for f in filenames if Path(f).suffix.lower() in IMAGE_SUFFIXES]
        if here != root and not videos and len(images) >= 2:
            items.append(VideoInput(here.relative_to(root).as_posix(), here))
            continue
        for f in videos:
            p = here / f
            items.append(VideoInput(p.relative_to(root).with_suffix("").as_posix(), p))
    return items


def _from_list(path: Path) -> list[Path]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [path.parent / s for s in (ln.strip() for ln in lines) if s and not s.startswith("#")]


def path_column(fields: Sequence[str], column: str | None, where: str) -> str:
    """The CSV column holding video paths: ``column`` (``--path-column``) or the first of
    :data:`PATH_COLUMNS` among ``fields``.

    Raises:
        InputError: naming ``where``: ``column`` is not in the CSV (with the closest name and
            the CSV's columns), or no column was given and none of :data:`PATH_COLUMNS` is there.
    """
    if column is not None:
        if column in fields:
            return column
        close = difflib.get_close_matches(column, list(fields), n=1)
        raise InputError(
            f"{where}: no path column {column!r} in the CSV, as --path-column asks ("
            + (f"did you mean {close[0]!r}? " if close else "")
            + f"its columns: {', '.join(fields) or 'none, no header'})"
        )
    col = next((c for c in PATH_COLUMNS if c in fields), None)
    if col is None:
        raise InputError(
            f"{where}: no path column (looked for {', '.join(PATH_COLUMNS)}; "
            f"the CSV has {', '.join(fields) or 'no header'}); pass --path-column"
        )
    return col


def _from_csv(path: Path, column: str | None) -> list[Path]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        col = path_column(fields, column, str(path))
        out = []
        for n, row in enumerate(reader, start=2):
            value = (row.get(col) or "").strip()
            if not value:
                raise VidscopeError(f"{path}, line {n}: empty {col!r}")
            out.append(path.parent / value)
        return out


def _relative(paths: list[Path]) -> list[VideoInput]:
    if not paths:
        return []
    # the folder resolved, the entry's own name kept: a listed link's id is its own name, not
    # its target's, and one file reached through a linked folder and its real one is caught
    resolved = [Path(os.path.realpath(p.parent)) / p.name for p in paths]
    base = Path(os.path.commonpath([p.parent for p in resolved]))
    return [
        VideoInput(
            r.relative_to(base).with_suffix("" if not r.is_dir() else r.suffix).as_posix(), p
        )
        for r, p in zip(resolved, paths, strict=True)
    ]
