"""The feature store on disk: ``store.json`` (its key), a Parquet manifest, one array per video.

Layout::

    STORE/store.json                  backbone identity, layout, sampling, seek mode, dtype, ...
    STORE/manifest.parquet            one row per video (see MANIFEST_COLUMNS)
    STORE/manifest.journal.jsonl      rows finished since the Parquet file was last written
    STORE/features/<video_id>.npy     [T, D] float16/float32
    STORE/features/<video_id>.t.npy   [T] float64 presentation times in seconds

Rows are appended to the journal as each video finishes (one line, flushed), and folded into
the Parquet file at the end of a run, so an interrupted run loses at most the videos in flight.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import StoreError
from ._io import atomic_save_npy, atomic_write_bytes, atomic_write_json
from ..types import FeatureSequence

MANIFEST_COLUMNS = [
    "video_id", "path", "status", "error", "duration_s", "fps", "num_frames", "width", "height",
    "rotation", "num_samples", "fingerprint", "features", "seconds", "decoded_frames",
]  # fmt: skip
#: store.json fields that must match for two runs to share a store.
KEY_FIELDS = (
    "backbone",
    "layout",
    "sampling",
    "seek",
    "keyframe_tolerance_s",
    "dtype",
    "image_fps",
    "backbone_options",
)
#: Key fields added later, and the value a store written before them implies.
KEY_DEFAULTS: dict[str, object] = {"backbone_options": {}}


class FeatureStore:
    """A folder of cached per-video features; see the module docstring for the layout.

    Open one with :func:`open_store` (read) or :meth:`FeatureStore.create` (write).
    """

    def __init__(self, root: str | os.PathLike[str], meta: dict[str, object]) -> None:
        self.root = Path(root)
        self.meta = meta
        self._rows: dict[str, dict[str, object]] | None = None

    # ---- creation and opening -------------------------------------------------------------
    @classmethod
    def create(cls, root: str | os.PathLike[str], meta: dict[str, object]) -> FeatureStore:
        """Open ``root`` for writing with key ``meta``; make it if new.

        Raises:
            StoreError: if ``root`` already holds a store made with another backbone,
                sampling, seek mode or dtype (they are never mixed).
        """
        root = Path(root)
        path = root / "store.json"
        if path.exists():
            old = _read_json(path)
            diff = [k for k in KEY_FIELDS if _norm(_key(old, k)) != _norm(_key(meta, k))]
            if diff:
                lines = "; ".join(
                    f"{k}: store has {old.get(k)!r}, asked {meta.get(k)!r}" for k in diff
                )
                raise StoreError(
                    f"{root} was made with different settings ({lines}). Features from different "
                    "settings are never mixed: choose another --out, or delete the store."
                )
            return cls(root, old)
        if root.exists() and any(root.iterdir()):
            raise StoreError(
                f"--out {root} exists and is not a vidscope feature store; pick a new folder"
            )
        root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, meta)
        return cls(root, meta)

    # ---- manifest ---------------------------------------------------------------------------
    @property
    def rows(self) -> dict[str, dict[str, object]]:
        """Manifest rows by video id (Parquet rows overlaid with the journal)."""
        if self._rows is None:
            self._rows = self._read_rows()
        return self._rows

    def _read_rows(self) -> dict[str, dict[str, object]]:
        rows: dict[str, dict[str, object]] = {}
        parquet = self.root / "manifest.parquet"
        if parquet.exists():
            for rec in pd.read_parquet(parquet).to_dict("records"):
                rows[str(rec["video_id"])] = rec
        journal = self.root / "manifest.journal.jsonl"
        if journal.exists():
            for line in journal.read_text(encoding="utf-8").splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # torn last line of a killed run
                    continue
                rows[str(rec["video_id"])] = rec
        return rows

    def manifest(self) -> pd.DataFrame:
        """The manifest as a DataFrame, one row per video, sorted by id."""
        df = pd.DataFrame(list(self.rows.values()))
        if df.empty:
            return pd.DataFrame(columns=MANIFEST_COLUMNS)
        return df.sort_values("video_id", kind="stable").reset_index(drop=True)

    def record(self, row: dict[str, object]) -> None:
        """Append a finished video's manifest row to the journal."""
        row = {k: _plain(row.get(k)) for k in MANIFEST_COLUMNS}
        with open(self.root / "manifest.journal.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self.rows[str(row["video_id"])] = row

    def compact(self) -> None:
        """Fold the journal into ``manifest.parquet`` (atomic), then drop the journal."""
        df = self.manifest()
        for col in MANIFEST_COLUMNS:
            if col not in df:
                df[col] = None
        buf = df[MANIFEST_COLUMNS].to_parquet(index=False)
        atomic_write_bytes(self.root / "manifest.parquet", buf)
        (self.root / "manifest.journal.jsonl").unlink(missing_ok=True)

    # ---- arrays -------------------------------------------------------------------------------
    def write(self, video_id: str, features: np.ndarray, times_s: np.ndarray) -> str:
        """Save one video's ``[T, D]`` features and ``[T]`` times; returns the relative path."""
        rel = Path("features") / f"{video_id}.npy"
        dtype = np.float16 if self.meta.get("dtype") == "float16" else np.float32
        atomic_save_npy(self.root / rel.with_suffix(".t.npy"), np.asarray(times_s, np.float64))
        atomic_save_npy(self.root / rel, np.asarray(features).astype(dtype))
        return rel.as_posix()

    def ids(self, statuses: tuple[str, ...] = ("ok", "partial")) -> list[str]:
        """Ids of videos with features, in sorted order."""
        return sorted(k for k, r in self.rows.items() if r.get("status") in statuses)

    def load(self, video_id: str) -> FeatureSequence:
        """Features and times of one video.

        Raises:
            StoreError: unknown id, a failed video, or missing files.
        """
        row = self.rows.get(video_id)
        if row is None:
            raise StoreError(f"{self.root}: no video {video_id!r} in the manifest")
        if row.get("status") == "failed" or not row.get("features"):
            raise StoreError(
                f"{self.root}: video {video_id!r} failed to extract: {row.get('error')}"
            )
        path = self.root / str(row["features"])
        times_path = path.with_suffix(".t.npy")
        if not path.exists():
            raise StoreError(f"{self.root}: features file {path} is missing; re-run extract")
        feats = np.load(path, allow_pickle=False)
        times = np.load(times_path) if times_path.exists() else np.arange(len(feats), dtype=float)
        return FeatureSequence(video_id, feats, times)

    def __iter__(self) -> Iterator[FeatureSequence]:
        for vid in self.ids():
            yield self.load(vid)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def num_features(self) -> int:
        """D of every array in the store."""
        return int(sum(w for _, w in self.meta.get("layout", [])))  # type: ignore[misc]


def open_store(root: str | os.PathLike[str]) -> FeatureStore:
    """Open a feature store for reading: a vidscope store, or a folder of ``.npy`` arrays.

    A folder without ``store.json`` is read as ``root/split/class/*.npy`` (also
    ``root/class/*.npy`` and ``root/*.npy``), one ``[T, D]`` array per video.

    Raises:
        StoreError: if the folder is neither.
    """
    root = Path(root)
    if (root / "store.json").exists():
        return FeatureStore(root, _read_json(root / "store.json"))
    if root.is_dir():
        from ._npy_folder import open_npy_folder

        return open_npy_folder(root)
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
