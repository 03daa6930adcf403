"""The manifest files: ``manifest.parquet`` and the journal of rows finished since it was
written.

The store never imports pandas (``import pandas`` costs about 100 MiB of resident memory,
which every ``extract`` run would pay), and writes the Parquet file without PyArrow
(:mod:`._parquet`; PyArrow would add about 25 MiB at the end of a run). PyArrow reads it,
imported only when a manifest file is read.

Each column has a fixed type (:data:`COLUMN_TYPES`); a missing value is a null. Files written
by earlier versions (through pandas) read the same: an integer column holding a missing value
was stored there as floats (``16.0``) and missing floats as nulls or NaN; both come back as
``int`` and ``None``. A column the file lacks (written before it existed) reads as ``None``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ._io import atomic_write_bytes
from ._parquet import parquet_bytes

#: Rows finished since ``manifest.parquet`` was last written, one JSON object a line.
JOURNAL = "manifest.journal.jsonl"
#: Column name -> "str" | "int" | "float", in the manifest's order; others are written as strings.
COLUMN_TYPES: dict[str, str] = {
    "video_id": "str", "path": "str", "status": "str", "error": "str", "duration_s": "float",
    "fps": "float", "num_frames": "int", "width": "int", "height": "int", "rotation": "int",
    "num_samples": "int", "fingerprint": "str", "features": "str", "seconds": "float",
    "decoded_frames": "int", "bytes": "int", "checksum": "str", "max_displacement_s": "float",
    "distinct_frames": "int", "content": "str",
}  # fmt: skip


def read_manifest(root: Path) -> dict[str, dict[str, Any]]:
    """A store's manifest rows by video id: ``manifest.parquet`` overlaid with the journal.

    Raises:
        StoreError: the Parquet file is unreadable (says how to rebuild it).
    """
    rows: dict[str, dict[str, Any]] = {}
    parquet = root / "manifest.parquet"
    if parquet.exists():
        try:
            records = read_rows(parquet)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise StoreError(
                f"{parquet}: unreadable manifest ({type(exc).__name__}: {exc}); the arrays "
                "are intact: delete the manifest and re-run extract to rebuild it"
            ) from None
        rows.update((str(rec["video_id"]), rec) for rec in records)
    journal = root / JOURNAL
    if journal.exists():
        for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:  # torn line of a killed run: that video is redone
                continue
            if isinstance(rec, dict) and rec.get("video_id") is not None:
                rows[str(rec["video_id"])] = rec
    return rows


def append_journal(path: Path, row: dict[str, Any]) -> None:
    """Append ``row`` to the journal as one JSON line, synced to disk.

    Raises:
        OSError: the journal cannot be written.
    """
    line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
    with open(path, "a+b") as f:
        end = f.seek(0, os.SEEK_END)
        if end and os.pread(f.fileno(), 1, end - 1) != b"\n":
            line = b"\n" + line  # a killed run tore the last line: start a fresh one
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a manifest file as plain dicts (Python scalars, ``None`` for missing).

    Raises:
        Exception: whatever PyArrow raises for a missing or damaged file (several types).
    """
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as f:  # not pq.read_table: its dataset layer imports pandas
        rows = f.read().to_pylist()
    return [{k: _value(COLUMN_TYPES.get(k), v) for k, v in row.items()} for row in rows]


def write_rows(path: Path, rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` as a Parquet file with exactly ``columns``, in order, atomically
    (through :mod:`._parquet`: no PyArrow imported).

    Raises:
        OSError: the file cannot be written (the old one, if any, is left as it was).
    """
    rows = list(rows)
    table = []
    for col in columns:
        kind = COLUMN_TYPES.get(col, "str")
        values = [_value(kind, r.get(col)) for r in rows]
        if kind == "int" and any(isinstance(v, float) for v in values):
            kind = "float"  # a non-integral value: keep it rather than truncate it
        table.append((col, kind, values))
    atomic_write_bytes(path, parquet_bytes(table))


def _value(kind: str | None, value: object) -> object:
    """``value`` as the column's type would hold it; NaN and ``None`` become ``None``."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # a numpy scalar
        value = value.item()  # type: ignore[union-attr]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "int":
        if isinstance(value, int):
            return int(value)
        as_float = float(value)  # type: ignore[arg-type]
        return int(as_float) if as_float.is_integer() else as_float
    if kind == "float":
        return float(value)  # type: ignore[arg-type]
    if kind == "str":
        return str(value)
    return value
