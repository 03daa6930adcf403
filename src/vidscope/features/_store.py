"""The feature store on disk: ``store.json`` (its key), a Parquet manifest, one array per video.

Layout::

    STORE/store.json                  backbone identity, layout, sampling, seek mode, dtype, ...
    STORE/manifest.parquet            one row per video (see MANIFEST_COLUMNS)
    STORE/manifest.journal.jsonl      rows finished since the Parquet file was last written
    STORE/features/<video_id>.npy     [T, D] float16/float32
    STORE/features/<video_id>.t.npy   [T] float64 presentation times in seconds

Rows are appended to the journal as each video finishes (one line, flushed), and folded into
the Parquet file at the end of a run, so an interrupted run loses at most the videos in flight.
A run holds ``STORE/.lock`` (see :mod:`._lock`) from start to end, so two runs never interleave,
and folding adds to what is on disk rather than replacing it.

Each row records its arrays' size and SHA-256 (``bytes``, ``checksum``): a rerun re-extracts a
video whose file does not match, and :meth:`FeatureStore.load` refuses one, naming the file.
Features holding NaN or infinite values are never written and never returned.

Arrays are written as they come (:meth:`FeatureStore.begin`, :mod:`._writer`), never held
whole; the manifest is written without pandas or PyArrow (:mod:`._manifest_file`), so an
``extract`` run costs neither.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import StoreError
from ..types import FeatureSequence
from ._integrity import feature_problem, fix_hint, os_error, parse_npy, read_checked
from ._io import (
    atomic_write_bytes,
    atomic_write_json,
    hex_sum,
    npy_bytes,
    remove_stale_temps,
)
from ._lock import is_housekeeping, store_lock
from ._manifest_file import COLUMN_TYPES, JOURNAL, append_journal, read_manifest, write_rows
from ._writer import FeatureWriter

if TYPE_CHECKING:
    import pandas as pd

MANIFEST_COLUMNS = list(COLUMN_TYPES)
#: store.json fields that must match for two runs to share a store.
KEY_FIELDS = (
    "backbone",
    "layout",
    "sampling",
    "seek",
    "keyframe_tolerance_s",
    "keyframe_reach",
    "dtype",
    "image_fps",
    "backbone_options",
)
#: Key fields added later, and the value a store written before them implies.
KEY_DEFAULTS: dict[str, object] = {"backbone_options": {}}


class FeatureStore:
    """A folder of cached per-video features; see the module docstring for the layout.

    Open one with :func:`open_store` (read) or :func:`open_for_writing` (write, locked).
    """

    def __init__(self, root: str | os.PathLike[str], meta: dict[str, object]) -> None:
        self.root = Path(root)
        self.meta = meta
        self._rows: dict[str, dict[str, object]] | None = None
        self._recorded: dict[str, dict[str, object]] = {}  # rows this object appended
        self._sums: dict[str, tuple[str, int, str]] = {}  # id -> (features, bytes, checksum)

    # ---- creation and opening -------------------------------------------------------------
    @classmethod
    def create(cls, root: str | os.PathLike[str], meta: dict[str, object]) -> FeatureStore:
        """Open ``root`` for writing with key ``meta``; make it if new.

        Prefer :func:`open_for_writing`, which also takes the store lock.

        Raises:
            StoreError: if ``root`` is a file, holds something that is not a store, or holds a
                store made with another backbone, sampling, seek mode or dtype (never mixed).
        """
        root = Path(root)
        _check_out(root)
        path = root / "store.json"
        if path.exists():
            old = _read_json(path)
            diff = [k for k in KEY_FIELDS if _norm(_key(old, k)) != _norm(_key(meta, k))]
            if diff:
                from ._mismatch import mismatch_error  # words each difference, with its flag

                raise mismatch_error(root, old, meta)
            return cls(root, old)
        try:
            root.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, meta)
        except OSError as exc:
            raise os_error(path, exc) from None
        return cls(root, meta)

    # ---- manifest ---------------------------------------------------------------------------
    @property
    def rows(self) -> dict[str, dict[str, object]]:
        """Manifest rows by video id (Parquet rows overlaid with the journal)."""
        if self._rows is None:
            self._rows = self._read_rows()
        return self._rows

    def _read_rows(self) -> dict[str, dict[str, object]]:
        return read_manifest(self.root)  # type: ignore[return-value]

    def manifest(self) -> pd.DataFrame:
        """The manifest as a DataFrame, one row per video, sorted by id (imports pandas)."""
        import pandas as pd

        df = pd.DataFrame(list(self.rows.values()))
        if df.empty:
            return pd.DataFrame(columns=MANIFEST_COLUMNS)
        return df.sort_values("video_id", kind="stable").reset_index(drop=True)

    def record(self, row: dict[str, object]) -> None:
        """Append a finished video's manifest row to the journal (on a line of its own).

        The size and checksum of arrays written by :meth:`write` are filled in.

        Raises:
            StoreError: the journal cannot be written (disk full, read-only store).
        """
        row = {k: _plain(row.get(k)) for k in MANIFEST_COLUMNS}
        vid = str(row["video_id"])
        sums = self._sums.pop(vid, None)
        if sums and row.get("features") == sums[0] and row.get("status") in ("ok", "partial"):
            row["bytes"], row["checksum"] = sums[1], sums[2]
        path = self.root / JOURNAL
        try:
            append_journal(path, row)
        except OSError as exc:
            raise os_error(path, exc) from None
        self.rows[vid] = row
        self._recorded[vid] = row

    def compact(self) -> None:
        """Fold the journal into ``manifest.parquet`` (atomic), then drop the journal.

        Adds to what is on disk (rows written by anyone since this store was opened are
        kept) and does nothing when there is no journal and nothing was recorded, so an
        up-to-date read-only store is never written.

        Raises:
            StoreError: the manifest cannot be written (the journal then still holds the rows).
        """
        journal = self.root / JOURNAL
        if not self._recorded and not journal.exists():
            return
        self._rows = {**self._read_rows(), **self._recorded}
        rows = [self._rows[k] for k in sorted(self._rows)]
        target = self.root / "manifest.parquet"
        try:
            write_rows(target, rows, MANIFEST_COLUMNS)
            journal.unlink(missing_ok=True)
        except OSError as exc:
            if self._recorded:
                raise os_error(target, exc) from None
            # only an old journal to fold, on a store we cannot write: readers use the journal
        self._recorded = {}

    # ---- arrays -------------------------------------------------------------------------------
    def check(self, features: np.ndarray) -> str | None:
        """Why ``features`` cannot be stored as they are (after the cast to the store's dtype),
        or ``None`` when they can: not ``[T, D]``, no samples, NaN or infinite values."""
        with np.errstate(over="ignore"):  # values beyond float16 become inf: reported
            return feature_problem(np.asarray(features).astype(self._dtype(), copy=False))

    def write(self, video_id: str, features: np.ndarray, times_s: np.ndarray) -> str:
        """Save one video's ``[T, D]`` features and ``[T]`` times; returns the relative path.

        Raises:
            StoreError: the features fail :meth:`check`, or the files cannot be written.
        """
        features = np.asarray(features)
        if features.ndim != 2:
            raise StoreError(f"{video_id}: features not stored: {feature_problem(features)}")
        writer = self.begin(video_id, len(features), features.shape[1])
        try:
            writer.put_all(features)
        except OSError as exc:
            writer.abort()
            raise os_error(writer.path, exc) from None
        return self.finish(video_id, writer, times_s)

    def begin(self, video_id: str, num_samples: int, width: int | None = None) -> FeatureWriter:
        """Start writing one video's ``[num_samples, width]`` features (``width``: the store's
        by default) chunk by chunk; end with :meth:`finish` or ``writer.abort()``.

        Raises:
            StoreError: the file cannot be made (disk full, read-only store).
        """
        path = self.root / "features" / f"{video_id}.npy"
        width = self.num_features if width is None else width
        try:
            return FeatureWriter(path, num_samples, width, self._dtype())
        except OSError as exc:
            raise os_error(path, exc) from None

    def finish(self, video_id: str, writer: FeatureWriter, times_s: np.ndarray) -> str:
        """Put a fully written video's features in place, and its ``[T]`` times beside them;
        returns the features' path relative to the store (for its manifest row).

        Raises:
            StoreError: the features hold NaN/inf values or no samples (nothing is stored),
                or the files cannot be written.
        """
        problem = writer.problem()
        if problem:
            writer.abort()
            raise StoreError(f"{video_id}: features not stored: {problem}")
        times = npy_bytes(np.asarray(times_s, np.float64))
        digest = hashlib.sha256()  # of the features file, then the times file
        # the big file first: a run killed while writing it leaves the old pair intact
        path = writer.path
        try:
            size = writer.commit(digest)
            path = path.with_suffix(".t.npy")
            atomic_write_bytes(path, times)
        except OSError as exc:
            raise os_error(path, exc) from None
        digest.update(times)
        rel = writer.path.relative_to(self.root).as_posix()
        self._sums[video_id] = (rel, size, hex_sum(digest))
        return rel

    def _dtype(self) -> type:
        return np.float16 if self.meta.get("dtype") == "float16" else np.float32

    def ids(self, statuses: tuple[str, ...] = ("ok", "partial")) -> list[str]:
        """Ids of videos with features, in sorted order."""
        return sorted(k for k, r in self.rows.items() if r.get("status") in statuses)

    def verify(self, video_id: str) -> str | None:
        """What is wrong with a stored video's files (missing, size or checksum differs from
        the manifest), or ``None`` if they match. Rows without a checksum (stores written
        before checksums, ``.npy`` folders) need the file to exist and parse as an array."""
        row = self.rows.get(video_id) or {}
        if not row.get("features"):
            return "no features recorded"
        try:
            data, _times = read_checked(self.root, row, keep=False)  # hashed, not held
            if data is not None:  # no checksum to compare with: it must at least parse
                parse_npy(data, self.root / str(row["features"]))
        except StoreError as exc:
            return str(exc)
        return None

    def load(self, video_id: str) -> FeatureSequence:
        """Features and times of one video, checked against the manifest.

        Raises:
            StoreError: unknown id, a failed video, missing or damaged files (named), or
                features holding NaN or infinite values (named, with where they are).
        """
        row = self.rows.get(video_id)
        if row is None:
            raise StoreError(f"{self.root}: no video {video_id!r} in the manifest")
        if row.get("status") == "failed" or not row.get("features"):
            raise StoreError(
                f"{self.root}: video {video_id!r} failed to extract: {row.get('error')}"
            )
        path = self.root / str(row["features"])
        data, times_data = read_checked(self.root, row)
        assert data is not None  # read_checked keeps the bytes unless told not to
        feats = parse_npy(data, path)  # a view of the bytes read, not a copy
        times = (
            np.arange(len(feats), dtype=float)  # plain .npy folders hold no timestamps
            if times_data is None
            else parse_npy(times_data, path.with_suffix(".t.npy"))
        )
        bad = feature_problem(feats, allow_empty=True)
        if bad:
            raise StoreError(
                f"{path}: features of video {video_id!r} hold {bad}; they cannot be used. "
                + fix_hint(row)
            )
        try:
            return FeatureSequence(video_id, feats, times)
        except ValueError as exc:
            raise StoreError(f"{path}: {exc}. {fix_hint(row)}") from None

    def __iter__(self) -> Iterator[FeatureSequence]:
        for vid in self.ids():
            yield self.load(vid)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def num_features(self) -> int:
        """D of every array in the store."""
        return int(sum(w for _, w in self.meta.get("layout", [])))  # type: ignore[misc]


@contextlib.contextmanager
def open_for_writing(
    root: str | os.PathLike[str], meta: dict[str, object]
) -> Iterator[FeatureStore]:
    """Lock ``root``, open (or make) the store with key ``meta``, and fold the journal at the end.

    While the ``with`` block runs no other writer can enter (see :mod:`._lock`); temporary
    files left by killed runs are removed on entry. The manifest is written on exit only if
    something changed; if the block fails, the rows stay in the journal for the next run.

    Raises:
        StoreError: as :meth:`FeatureStore.create` and :func:`._lock.store_lock`.
    """
    root = Path(root)
    _check_out(root)
    with store_lock(root):
        store = FeatureStore.create(root, meta)
        remove_stale_temps(root)
        try:
            yield store
        except BaseException:
            with contextlib.suppress(StoreError):
                store.compact()
            raise
        store.compact()


def open_store(root: str | os.PathLike[str]) -> FeatureStore:
    """Open a feature store for reading: a vidscope store, or a folder of ``.npy`` arrays.

    A folder without ``store.json`` is read as ``root/split/class/*.npy`` (also
    ``root/class/*.npy`` and ``root/*.npy``), one ``[T, D]`` array per video.

    Raises:
        StoreError: if the folder is neither, or ``root`` is a file (said so).
    """
    root = Path(root)
    if (root / "store.json").exists():
        return FeatureStore(root, _read_json(root / "store.json"))
    if root.is_dir():
        from ._npy_folder import open_npy_folder

        return open_npy_folder(root)
    if root.is_file():
        csv = " (a CSV of labels goes to --labels)" if root.suffix.lower() == ".csv" else ""
        raise StoreError(
            f"{root} is a file, not a feature store: a store is the folder that `vidscope "
            f"extract VIDEOS --out STORE` writes{csv}"
        )
    raise StoreError(f"{root}: no such feature store (run `vidscope extract VIDEOS --out {root}`)")


def _read_json(path: Path) -> dict[str, object]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: unreadable store file ({exc})") from None


def _key(meta: dict, field: str) -> object:
    """``meta[field]``, or what a store written before ``field`` existed implies."""
    return meta.get(field, KEY_DEFAULTS.get(field))


def _norm(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_out(root: Path) -> None:
    """Refuse an ``--out`` that is a file, or a folder holding something other than a store."""
    if root.exists() and not root.is_dir():
        raise StoreError(f"--out {root} is a file, not a folder; give a folder for the store")
    if (
        root.is_dir()
        and not (root / "store.json").exists()
        and any(not is_housekeeping(p.name) for p in root.iterdir())
    ):
        raise StoreError(
            f"--out {root} exists and is not a vidscope feature store; pick a new folder"
        )
