"""Labels and event segments of a session, saved atomically to the CSVs ``vidscope train`` reads.

``labels.csv`` is ``path,label`` (one row per labelled video) and ``annotations.csv`` is
``file_name,start_time,end_time,label`` (one row per segment, times in seconds): exactly
what ``vidscope train --labels`` / ``--annotations`` read. Every change rewrites the file
through a temporary file and a rename, so a crash or a closed tab loses nothing.

The page sends its actions numbered per page load (``client``, ``seq``); an action whose
number was already applied is ignored, so a resent batch never duplicates a label and,
because a client's actions are applied strictly in order, none is dropped.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..errors import InputError, VidscopeError
from ._videos import VideoItem

OWNED_FILE = "owned.json"


class LabelFileError(InputError):
    """A labels/annotations file that the session must not touch or cannot read."""


class ActionError(VidscopeError):
    """A request whose action, video id, label or times are not acceptable.

    Attributes:
        applied: The highest action number of the client applied before this one.
    """

    applied = 0


class LabelState:
    """Labels and segments of the session's videos, persisted on every change.

    Args:
        videos: The session's videos.
        classes: The allowed labels (``--classes``).
        labels_path: ``labels.csv`` to write.
        annotations_path: ``annotations.csv`` to write, or ``None`` (segments kept in memory
            only, and the page hides segment marking).
        segment_label: Label written for every segment.
        cache: Session folder; records which label files this tool created.
        force: Take over existing label files this tool did not create.

    Raises:
        LabelFileError: an existing file was not created here (and ``force`` is off), or it
            has rows this session cannot keep (unknown class).
    """

    def __init__(
        self,
        videos: list[VideoItem],
        classes: list[str],
        labels_path: Path,
        annotations_path: Path | None,
        *,
        segment_label: str,
        cache: Path,
        force: bool = False,
    ) -> None:
        self.videos = videos
        self.classes = list(classes)
        self.labels_path = labels_path
        self.annotations_path = annotations_path
        self.segment_label = segment_label
        self._owned_path = cache / OWNED_FILE
        self._lock = threading.Lock()
        self._by_name = {v.name: v.index for v in videos}
        self.labels: dict[int, str] = {}
        self.segments: dict[int, list[tuple[float, float]]] = {}
        self._foreign_labels: list[tuple[str, str]] = []  # rows of videos not in this session
        self._foreign_segments: list[list[str]] = []
        self._history: list[tuple[str, int, Any]] = []
        self._applied: dict[str, int] = {}
        self.version = 0
        owned = self._owned()
        for path in (labels_path, annotations_path):
            foreign = path is not None and path.exists() and str(path.resolve()) not in owned
            if foreign and not force:
                raise LabelFileError(
                    f"{path} exists and was not written by vidscope label; pass --force to "
                    "take it over (its rows are kept and rewritten), or choose another file"
                )
        self._load_labels()
        self._load_segments()

    # ------------------------------------------------------------------ reading back

    def _load_labels(self) -> None:
        if not self.labels_path.exists():
            return
        for line, row in _rows(self.labels_path, ("path", "label")):
            name, label = row["path"], row["label"]
            if label not in self.classes:
                raise LabelFileError(
                    f"{self.labels_path}, line {line}: label {label!r} is not one of --classes "
                    f"{','.join(self.classes)}; add it to --classes or fix the file"
                )
            if name in self._by_name:
                self.labels[self._by_name[name]] = label
            else:
                self._foreign_labels.append((name, label))

    def _load_segments(self) -> None:
        path = self.annotations_path
        if path is None or not path.exists():
            return
        cols = ("file_name", "start_time", "end_time", "label")
        for line, row in _rows(path, cols):
            name = row["file_name"]
            if name not in self._by_name:
                self._foreign_segments.append([row[c] for c in cols])
                continue
            try:
                seg = (float(row["start_time"]), float(row["end_time"]))
            except ValueError:
                raise LabelFileError(f"{path}, line {line}: unreadable times") from None
            self.segments.setdefault(self._by_name[name], []).append(seg)

    # ------------------------------------------------------------------ changing

    def apply(self, client: str, actions: list[dict[str, Any]]) -> int:
        """Apply a client's numbered actions in order, skipping those already applied.

        Actions: ``{"seq", "type": "label", "video", "label"}``, ``{"seq", "type":
        "segments", "video", "segments": [[start_s, end_s], ...]}``, ``{"seq", "type":
        "undo"}`` (reverts the last label or segments change).

        Returns:
            The highest ``seq`` applied for ``client`` so far.

        Raises:
            ActionError: a malformed action; earlier actions of the batch stay applied.
        """
        with self._lock:
            done = self._applied.get(client, 0)
            changed = False
            try:
                for action in actions:
                    seq = _int(action.get("seq"), "seq")
                    if seq <= done:
                        continue
                    if seq != done + 1:
                        raise ActionError(f"action {seq} arrived before action {done + 1}")
                    self._apply_one(action)
                    done = self._applied[client] = seq
                    changed = True
            except ActionError as exc:
                exc.applied = done
                raise
            finally:
                if changed:
                    self.version += 1
                    self._save()
            return done

    def _apply_one(self, action: dict[str, Any]) -> None:
        kind = action.get("type")
        if kind == "undo":
            self._undo()
            return
        video = self._video(action.get("video"))
        if kind == "label":
            label = action.get("label")
            if label not in self.classes:
                raise ActionError(f"label {label!r} is not one of {', '.join(self.classes)}")
            self._history.append(("label", video, self.labels.get(video)))
            self.labels[video] = str(label)
        elif kind == "segments":
            segs = _segments(action.get("segments"))
            self._history.append(("segments", video, self.segments.get(video, [])))
            self.segments[video] = segs
        else:
            raise ActionError(f"unknown action type {kind!r}")

    def _undo(self) -> None:
        if not self._history:
            return
        kind, video, before = self._history.pop()
        store: dict[int, Any] = self.labels if kind == "label" else self.segments
        if before is None or before == []:
            store.pop(video, None)
        else:
            store[video] = before

    def _video(self, value: object) -> int:
        idx = _int(value, "video")
        if not 0 <= idx < len(self.videos):
            raise ActionError(f"no video with id {idx}")
        return idx

    # ------------------------------------------------------------------ writing

    def _save(self) -> None:
        names = [v.name for v in self.videos]
        rows = [(names[i], self.labels[i]) for i in sorted(self.labels)] + self._foreign_labels
        self._write(self.labels_path, ["path", "label"], [list(r) for r in rows])
        if self.annotations_path is not None:
            seg_rows = [
                [names[i], f"{s:.6f}", f"{e:.6f}", self.segment_label]
                for i in sorted(self.segments)
                for s, e in sorted(self.segments[i])
            ]
            header = ["file_name", "start_time", "end_time", "label"]
            self._write(self.annotations_path, header, seg_rows + self._foreign_segments)

    def _write(self, path: Path, header: list[str], rows: list[list[str]]) -> None:
        key = str(path.resolve())
        owned = self._owned()
        if key not in owned:
            _atomic_write(self._owned_path, json.dumps(sorted(owned | {key}), indent=1))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        _atomic_write(path, buf.getvalue())

    def _owned(self) -> set[str]:
        try:
            return set(json.loads(self._owned_path.read_text()))
        except (FileNotFoundError, ValueError):
            return set()

    def snapshot(self) -> dict[str, Any]:
        """``{"labels": {id: label}, "segments": {id: [[s, e], ...]}, "version"}`` for the page."""
        with self._lock:
            return {
                "labels": {str(k): v for k, v in self.labels.items()},
                "segments": {str(k): [list(s) for s in v] for k, v in self.segments.items()},
                "history": len(self._history),
                "version": self.version,
            }


def _rows(path: Path, needed: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in needed if c not in (reader.fieldnames or [])]
            if missing:
                raise LabelFileError(
                    f"{path}: no column(s) {', '.join(missing)}; this file was not written by "
                    "vidscope label (choose another file)"
                )
            return [(n, row) for n, row in enumerate(reader, start=2)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LabelFileError(f"{path}: not a readable CSV ({exc})") from None


def _segments(value: object) -> list[tuple[float, float]]:
    if not isinstance(value, list) or len(value) > 10_000:
        raise ActionError("segments must be a list of [start_s, end_s]")
    out = []
    for seg in value:
        ok = isinstance(seg, list) and len(seg) == 2
        if not ok or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in seg):
            raise ActionError("each segment must be [start_s, end_s] in seconds")
        s, e = (float(x) for x in seg)
        if not (0 <= s < e < 1e7):
            raise ActionError(f"segment [{s}, {e}] must have 0 <= start < end")
        out.append((round(s, 6), round(e, 6)))
    return sorted(out)


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError(f"{what} must be an integer, got {value!r}")
    return value


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
