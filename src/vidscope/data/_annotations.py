"""Event annotations (start/end times per video) from CSV files, matched to store ids.

Accepted files::

    file_name,start_time,end_time[,label][,group]  one CSV, any number of rows per video
    FOLDER/<class>_timestamp.csv                    one CSV per class, the class from the file name

An optional ``group`` (or ``source_group``) column names each video's source (camera, site,
the clips a composed video was made of): window-level training keeps a group's windows on one
side of every split (:func:`read_annotation_groups`).

Times are ``HH:MM:SS``, ``MM:SS`` or seconds, decimals allowed (``01:02:03.5``, ``2:03``,
``12.25``). Overlapping or touching segments of one label in one video are merged.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..types import Segment
from ._labels import GROUP_COLUMNS, ID_COLUMNS, LabelError, _key, _unique

START_COLUMNS = ("start_time", "start", "start_s", "t_start", "onset", "begin")
END_COLUMNS = ("end_time", "end", "end_s", "t_end", "offset", "stop")
EVENT_LABEL_COLUMNS = ("label", "class", "category", "event_label", "event")
CLASS_FILE_SUFFIX = "_timestamp.csv"
#: Annotations may end this far past the video's duration (rounding in annotation tools).
DURATION_TOLERANCE_S = 0.05
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_TIME = re.compile(rf"^(?:(?:(\d+):)?(\d+):)?({_NUMBER})$")


def parse_time(text: str | float) -> float:
    """Seconds from ``HH:MM:SS``, ``MM:SS`` or plain seconds; decimals in the last part only.

    Minutes and seconds below an hour/minute part must be below 60 (``1:75`` is an error);
    the leading part may be any size (``75:00`` is 75 minutes).

    Raises:
        ValueError: empty, negative, non-finite or otherwise unparseable text.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if not math.isfinite(text) or text < 0:
            raise InputError(f"time must be a finite number >= 0, got {text!r}")
        return float(text)
    match = _TIME.match(str(text).strip())
    if match is None:
        raise InputError(f"unreadable time {text!r} (use HH:MM:SS, MM:SS or seconds, e.g. 1:02.5)")
    hours, minutes, seconds = match.groups()
    sec = float(seconds)
    if minutes is not None and sec >= 60:
        raise InputError(f"unreadable time {text!r}: seconds must be below 60")
    if hours is not None and int(minutes) >= 60:
        raise InputError(f"unreadable time {text!r}: minutes must be below 60")
    return int(hours or 0) * 3600.0 + int(minutes or 0) * 60.0 + sec


def read_annotations(
    path_or_folder: str | os.PathLike[str],
    *,
    video_ids: list[str] | None = None,
    durations_s: dict[str, float] | None = None,
    label: str | None = None,
) -> dict[str, list[Segment]]:
    """Event segments per video from an annotation CSV or a folder of per-class CSVs.

    A segment's label is, in order: ``label`` when given (this turns multi-class annotations
    into one event class), the row's label column, the class of a ``<class>_timestamp.csv``
    file, else ``"event"``. A row with a file name and both times empty lists a video
    without events.

    Args:
        path_or_folder: A CSV (columns ``file_name,start_time,end_time`` and optionally
            ``label``) or a folder of ``<class>_timestamp.csv`` files.
        video_ids: Store ids to match file names to (exact id, id without extension, then by
            base name or number, as :func:`read_labels` does). ``None`` keys the result by
            the file name without its video extension.
        durations_s: Video durations; segments may end at most 0.05 s past them (and are then
            clipped to the duration).
        label: One label for every segment, overriding the files' labels.

    Returns:
        Segments sorted by start for every annotated video, and an empty list for each of
        ``video_ids`` without annotations (a normal video).

    Raises:
        LabelError: a missing file, missing columns, or bad rows (unknown file, unreadable
            time, end not after start, past the video's end), each named as ``file:line``.
    """
    files = _annotation_files(Path(path_or_folder))
    index = _IdIndex(video_ids)
    rows: list[_Row] = []
    errors: list[str] = []
    for path, file_class in files:
        rows += _read_rows(path, file_class, index, durations_s or {}, errors)
    if errors:
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise LabelError(f"{len(errors)} bad annotation row(s): " + "; ".join(errors[:10]) + more)
    out: dict[str, list[Segment]] = {v: [] for v in video_ids or []}
    for row in rows:
        out.setdefault(row.video_id, [])
        if row.segment is not None:
            out[row.video_id].append(_relabel(row.segment, label))
    return {v: merge_segments(segs) for v, segs in out.items()}


def read_annotation_groups(
    path_or_folder: str | os.PathLike[str],
    *,
    video_ids: list[str] | None = None,
    group_column: str | None = None,
) -> dict[str, str]:
    """Each annotated video's source group, from the annotation files' group column
    (``group_column``, else the first of ``source_group``, ``group`` or ``groups``); empty when
    no file has one.

    Rows without a group value, and videos the files do not list, have no entry (callers
    group such a video by itself). Read after :func:`read_annotations` has checked the rows.

    Raises:
        LabelError: a video given two different groups, naming both and the file; a file
            without the named ``group_column``.
    """
    index = _IdIndex(video_ids)
    wanted = (group_column.strip().lower(),) if group_column else GROUP_COLUMNS
    out: dict[str, str] = {}
    errors: list[str] = []
    for path, _ in _annotation_files(Path(path_or_folder)):
        try:
            with open(path, newline="", encoding="utf-8-sig") as f:
                reader = csv.DictReader(f, skipinitialspace=True)
                lower = {str(c).strip().lower(): c for c in reader.fieldnames or []}
                file_col = next((lower[c] for c in ID_COLUMNS if c in lower), None)
                group_col = next((lower[c] for c in wanted if c in lower), None)
                if group_column and file_col is not None and group_col is None:
                    raise LabelError(
                        f"--annotations {path}: no column {group_column!r} (--group-column); "
                        f"columns: {', '.join(map(str, reader.fieldnames or []))}"
                    )
                if file_col is None or group_col is None:
                    continue
                for rec in reader:
                    name = (rec.get(file_col) or "").strip()
                    group = (rec.get(group_col) or "").strip()
                    video_id = index.find(name) if name else None
                    if video_id is None or not group:
                        continue
                    if out.setdefault(video_id, group) != group:
                        errors.append(
                            f"{path}:{reader.line_num}: {video_id} has groups "
                            f"{out[video_id]!r} and {group!r}"
                        )
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise LabelError(f"--annotations {path}: not a readable CSV ({exc})") from None
    if errors:
        raise LabelError(
            f"{len(errors)} video(s) in more than one source group: " + "; ".join(errors[:5])
        )
    return out


def merge_segments(segments: Iterable[Segment]) -> list[Segment]:
    """Merge overlapping or touching segments of the same label; sorted by start, then label.

    A merged segment keeps the highest score of its parts (NaN for ground truth).
    """
    out: list[Segment] = []
    open_by_label: dict[str, int] = {}
    for seg in sorted(segments, key=lambda s: (s.start_s, s.end_s)):
        i = open_by_label.get(seg.label)
        if i is not None and seg.start_s <= out[i].end_s:
            prev = out[i]
            score = max(prev.score, seg.score) if not math.isnan(prev.score) else seg.score
            out[i] = Segment(prev.start_s, max(prev.end_s, seg.end_s), prev.label, score)
        else:
            open_by_label[seg.label] = len(out)
            out.append(seg)
    return sorted(out, key=lambda s: (s.start_s, s.label))


@dataclass(frozen=True)
class _Row:
    video_id: str
    segment: Segment | None  # None: the video is listed without events


class _IdIndex:
    """File name -> store id, the way :func:`read_labels` matches ids."""

    def __init__(self, video_ids: list[str] | None) -> None:
        self.free = video_ids is None
        self.exact = {s: s for s in video_ids or []}
        self.by_name: dict[str, list[str]] = {}
        self.by_num: dict[int, list[str]] = {}
        for s in video_ids or []:
            base = s.rsplit("/", 1)[-1]
            self.by_name.setdefault(base, []).append(s)
            if base.isdigit():
                self.by_num.setdefault(int(base), []).append(s)

    def find(self, value: str) -> str | None:
        k = _key(value)
        if self.free:
            return k or None
        hit = self.exact.get(k) or _unique(self.by_name.get(k.rsplit("/", 1)[-1]))
        if hit is None and k.isdigit():
            hit = _unique(self.by_num.get(int(k)))
        return hit


def _annotation_files(path: Path) -> list[tuple[Path, str | None]]:
    """``(csv, class from its name or None)`` for a file or a folder of per-class files."""
    if path.is_dir():
        files = sorted(path.glob(f"*{CLASS_FILE_SUFFIX}"))
        if not files:
            raise LabelError(
                f"--annotations {path}: a folder must hold <class>{CLASS_FILE_SUFFIX} files; "
                "none found"
            )
        return [(f, _class_of(f)) for f in files]
    if not path.is_file():
        raise LabelError(f"--annotations {path}: no such file or folder")
    return [(path, _class_of(path))]


def _class_of(path: Path) -> str | None:
    name = path.name
    if name.lower().endswith(CLASS_FILE_SUFFIX) and len(name) > len(CLASS_FILE_SUFFIX):
        return name[: -len(CLASS_FILE_SUFFIX)]
    return None


def _read_rows(
    path: Path,
    file_class: str | None,
    index: _IdIndex,
    durations_s: dict[str, float],
    errors: list[str],
) -> list[_Row]:
    """The rows of one CSV; bad rows are added to ``errors`` as ``file:line: why``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f, skipinitialspace=True)
            cols = _columns(path, reader.fieldnames)
            rows = []
            for rec in reader:
                where = f"{path}:{reader.line_num}"
                try:
                    rows.append(_parse_row(rec, cols, file_class, index, durations_s))
                except (LabelError, ValueError) as exc:
                    errors.append(f"{where}: {exc}")
            return rows
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelError(f"--annotations {path}: not a readable CSV ({exc})") from None


def _columns(path: Path, fieldnames: list[str] | None) -> dict[str, str | None]:
    if not fieldnames:
        raise LabelError(f"--annotations {path}: empty file (expected file_name,start_time,...)")
    lower = {str(c).strip().lower(): c for c in fieldnames}
    found = {
        what: next((lower[c] for c in names if c in lower), None)
        for what, names in (
            ("file", ID_COLUMNS),
            ("start", START_COLUMNS),
            ("end", END_COLUMNS),
            ("label", EVENT_LABEL_COLUMNS),
        )
    }
    missing = [w for w in ("file", "start", "end") if found[w] is None]
    if missing:
        raise LabelError(
            f"--annotations {path}: no {'/'.join(missing)} column (need file_name, start_time, "
            f"end_time; columns: {', '.join(map(str, fieldnames))})"
        )
    return found


def _parse_row(
    rec: dict[str, str | None],
    cols: dict[str, str | None],
    file_class: str | None,
    index: _IdIndex,
    durations_s: dict[str, float],
) -> _Row:
    get = lambda what: "" if cols[what] is None else (rec.get(cols[what]) or "").strip()  # noqa: E731
    name = get("file")
    video_id = index.find(name) if name else None
    if video_id is None:
        raise LabelError(f"file {name!r} matches no video" if name else "empty file name")
    start_text, end_text = get("start"), get("end")
    if not start_text and not end_text:
        return _Row(video_id, None)
    start_s, end_s = parse_time(start_text), parse_time(end_text)
    if end_s <= start_s:
        raise LabelError(f"end_time {end_text} is not after start_time {start_text}")
    duration = durations_s.get(video_id)
    if duration is not None and math.isfinite(duration):
        if end_s > duration + DURATION_TOLERANCE_S or start_s >= duration:
            raise LabelError(
                f"{start_text}-{end_text} goes past the end of {video_id} ({duration:.3f} s)"
            )
        end_s = min(end_s, duration)
    label = get("label") or file_class or "event"
    return _Row(video_id, Segment(start_s, end_s, label))


def _relabel(seg: Segment, label: str | None) -> Segment:
    return seg if label is None else Segment(seg.start_s, seg.end_s, label, seg.score)
