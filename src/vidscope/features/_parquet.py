"""A minimal Parquet writer in plain Python, for the store's manifest.

``import pyarrow`` adds about 25 MiB to the resident memory of an ``extract`` run (its shared
libraries are mostly paged in by the write), at the very end of the run, on top of everything
the backbone holds; the manifest is a few hundred rows of strings and numbers. So it is written
here: one row group, one uncompressed data page per column, ``PLAIN`` values, nullable columns
with ``RLE``/bit-packed definition levels, and the file metadata in Thrift's compact protocol
(https://github.com/apache/parquet-format, ``parquet.thrift``). Readers are PyArrow (or pandas
through it), which check every file in tests.

Column kinds: ``"str"`` (``BYTE_ARRAY``, UTF-8 ``STRING``), ``"int"`` (``INT64``), ``"float"``
(``DOUBLE``); every column is ``OPTIONAL`` (``None`` is a null).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

# parquet.thrift enums
_TYPES = {"int": 2, "float": 5, "str": 6}  # Type: INT64, DOUBLE, BYTE_ARRAY
_OPTIONAL, _UTF8, _PLAIN, _RLE, _UNCOMPRESSED, _DATA_PAGE = 1, 0, 0, 3, 0, 0
# Thrift compact protocol field types
_I32, _I64, _BINARY, _LIST, _STRUCT = 5, 6, 8, 9, 12
_MAGIC = b"PAR1"


def parquet_bytes(columns: Sequence[tuple[str, str, Sequence[object]]]) -> bytes:
    """A Parquet file holding ``columns``: ``(name, kind, values)`` each, all of one length.

    Raises:
        ValueError: an unknown kind, or columns of different lengths.
    """
    num_rows = len(columns[0][2]) if columns else 0
    if any(len(values) != num_rows for _, _, values in columns):
        raise ValueError("columns of different lengths")
    if any(kind not in _TYPES for _, kind, _ in columns):
        raise ValueError(f"unknown column kind in {[kind for _, kind, _ in columns]}")
    out = bytearray(_MAGIC)
    groups = []
    if num_rows:  # else no row group, no pages: the schema alone
        chunks = [_column_chunk(out, name, kind, values) for name, kind, values in columns]
        groups.append(
            _struct(
                (1, _LIST, (_STRUCT, [c for c, _ in chunks])),
                (2, _I64, sum(size for _, size in chunks)),
                (3, _I64, num_rows),
            )
        )
    schema = [_struct((4, _BINARY, b"schema"), (5, _I32, len(columns)))]
    for name, kind, _ in columns:
        fields = [(1, _I32, _TYPES[kind]), (3, _I32, _OPTIONAL), (4, _BINARY, name.encode())]
        if kind == "str":
            fields += [(6, _I32, _UTF8), (10, _STRUCT, _struct((1, _STRUCT, _struct())))]
        schema.append(_struct(*fields))
    footer = _struct(
        (1, _I32, 1),
        (2, _LIST, (_STRUCT, schema)),
        (3, _I64, num_rows),
        (4, _LIST, (_STRUCT, groups)),
        (6, _BINARY, b"vidscope"),
    )
    out += footer + struct.pack("<I", len(footer)) + _MAGIC
    return bytes(out)


def _column_chunk(
    out: bytearray, name: str, kind: str, values: Sequence[object]
) -> tuple[bytes, int]:
    """Append one column's data page to ``out``; returns its ``ColumnChunk`` and size."""
    page = _page(kind, values)
    header = _struct(
        (1, _I32, _DATA_PAGE),
        (2, _I32, len(page)),
        (3, _I32, len(page)),
        (5, _STRUCT, _struct((1, _I32, len(values)), (2, _I32, _PLAIN), (3, _I32, _RLE),
                             (4, _I32, _RLE))),
    )  # fmt: skip
    offset, size = len(out), len(header) + len(page)
    out += header + page
    meta = _struct(
        (1, _I32, _TYPES[kind]),
        (2, _LIST, (_I32, [_PLAIN, _RLE])),
        (3, _LIST, (_BINARY, [name.encode()])),
        (4, _I32, _UNCOMPRESSED),
        (5, _I64, len(values)),
        (6, _I64, size),
        (7, _I64, size),
        (9, _I64, offset),
    )
    return _struct((2, _I64, offset), (3, _STRUCT, meta)), size


def _page(kind: str, values: Sequence[object]) -> bytes:
    """A data page's body: definition levels (4-byte length, then bit-packed), then the
    non-null values, ``PLAIN``."""
    present = np.array([v is not None for v in values], dtype=bool)
    groups = (len(values) + 7) // 8
    levels = _varint(groups << 1 | 1) + np.packbits(present, bitorder="little").tobytes()
    kept = [v for v in values if v is not None]
    if kind == "str":
        blobs = [str(v).encode() for v in kept]
        data = b"".join(struct.pack("<I", len(b)) + b for b in blobs)
    else:
        data = np.asarray(kept, dtype="<i8" if kind == "int" else "<f8").tobytes()
    return struct.pack("<I", len(levels)) + levels + data


# ---- Thrift compact protocol ----------------------------------------------------------------
def _struct(*fields: tuple[int, int, object]) -> bytes:
    """A struct: ``(field id, type, value)`` fields in increasing id order, then a stop byte.
    A struct or list value is given already encoded (struct) or as ``(element type, items)``."""
    out, last = bytearray(), 0
    for fid, ftype, value in fields:
        delta = fid - last
        out += bytes([delta << 4 | ftype]) if 0 < delta <= 15 else bytes([ftype]) + _zigzag(fid)
        last = fid
        out += _value(ftype, value)
    return bytes(out + b"\x00")


def _value(ftype: int, value: object) -> bytes:
    if ftype in (_I32, _I64):
        return _zigzag(int(value))  # type: ignore[call-overload]
    if ftype == _BINARY:
        return _varint(len(value)) + value  # type: ignore[arg-type, operator]
    if ftype == _STRUCT:
        return value  # type: ignore[return-value]
    if ftype == _LIST:
        etype, items = value  # type: ignore[misc]
        head = bytes([len(items) << 4 | etype]) if len(items) < 15 else (
            bytes([0xF0 | etype]) + _varint(len(items)))  # fmt: skip
        return head + b"".join(_value(etype, item) for item in items)
    raise ValueError(f"unsupported Thrift type {ftype}")


def _zigzag(n: int) -> bytes:
    return _varint((n << 1) ^ (n >> 63))


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)
