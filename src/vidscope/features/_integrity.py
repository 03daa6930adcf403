"""Checks on stored features: their values, and their files against the manifest's record."""

from __future__ import annotations

import errno
import hashlib
import io
import os
from pathlib import Path

import numpy as np

from ..errors import StoreError
from ._io import hex_sum


def feature_problem(features: np.ndarray, *, allow_empty: bool = False) -> str | None:
    """Why ``features`` are unusable, in words, or ``None``: not ``[T, D]``, ``[0, D]`` (unless
    ``allow_empty``), or NaN / infinite values (counted, with the first sample holding one)."""
    if features.ndim != 2:
        return f"an array of shape {features.shape}, not [T, D]"
    if len(features) == 0:
        return None if allow_empty else "no samples ([0, D] features)"
    if _all_finite(features):
        return None
    finite = np.isfinite(features)
    nan = int(np.isnan(features).sum())
    rows = np.flatnonzero(~finite.all(axis=1))
    inf = int((~finite).sum()) - nan
    return describe_nonfinite(nan, inf, rows, len(features), features.dtype == np.float16)


def describe_nonfinite(nan: int, inf: int, rows: np.ndarray, total: int, half: bool) -> str:
    """In words: ``nan`` NaN and ``inf`` infinite values in samples ``rows`` (sorted) of
    ``total``; ``half``: the features are float16 (whose overflow is infinite)."""
    what = " and ".join(t for t in (nan and f"{nan} NaN", inf and f"{inf} infinite") if t)
    note = " (float16 holds at most 65504)" if inf and half else ""
    return f"{what} value(s){note} in {len(rows)} of {total} samples (first at sample {rows[0]})"


def _all_finite(features: np.ndarray, block: int = 1 << 20) -> bool:
    """``np.isfinite(features).all()``, a block of about ``block`` values at a time (the
    boolean mask of a 2-hour video's features is itself 9 MiB)."""
    rows = max(1, block // max(1, features.shape[1]))
    return all(np.isfinite(features[i : i + rows]).all() for i in range(0, len(features), rows))


def os_error(path: Path, exc: OSError) -> StoreError:
    """A one-line StoreError for an OS error while writing ``path``."""
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = (
            "no space for it (disk full or a file size limit): free space and re-run the "
            "same command to resume"
        )
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "the store is not writable: fix its permissions or choose another --out"
    else:
        hint = "re-run the same command to resume"
    return StoreError(f"cannot write {path}: {why}; {hint} (finished videos are kept)")


def read_checked(
    root: Path, row: dict, *, keep: bool = True
) -> tuple[bytearray | None, bytearray | None]:
    """The bytes of a row's features and times files, checked against its size and checksum.

    The features file is read once, into a ``bytearray`` that :func:`parse_npy` turns into an
    array without copying. With ``keep=False`` and a recorded checksum the file is only hashed,
    a block at a time, and ``None`` is returned in its place (nothing of its size is held).

    Raises:
        StoreError: a file is missing or unreadable, or does not match the manifest.
    """
    path = root / str(row["features"])
    times_path = path.with_suffix(".t.npy")
    want_size, want_sum = row.get("bytes"), row.get("checksum")
    try:
        times = bytearray(times_path.read_bytes()) if times_path.exists() else None
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if _given(want_size) and size != int(want_size):  # type: ignore[arg-type]
                raise StoreError(
                    f"{path}: {size} bytes, the manifest recorded {int(want_size)} "  # type: ignore[arg-type]
                    f"(damaged or replaced); {fix_hint(row)}"
                )
            if keep or not _given(want_sum):
                data: bytearray | None = bytearray(size)
                del data[f.readinto(data) :]  # a file cut short meanwhile reads as what is there
                digest = hashlib.sha256(data) if _given(want_sum) else None
            else:
                data, digest = None, hashlib.sha256()
                while block := f.read(1 << 20):  # hashlib.file_digest needs Python 3.11
                    digest.update(block)
    except FileNotFoundError:
        raise StoreError(f"{path}: features file is missing; {fix_hint(row)}") from None
    except OSError as exc:
        raise StoreError(f"{path}: unreadable ({exc.strerror}); {fix_hint(row)}") from None
    if digest is not None:
        digest.update(times or b"")
        if hex_sum(digest) != want_sum:
            raise StoreError(
                f"{path}: contents differ from the manifest's checksum (damaged or replaced); "
                + fix_hint(row)
            )
    return data, times


def parse_npy(data: bytes | bytearray, path: Path) -> np.ndarray:
    """The array a ``.npy`` file's bytes hold (never a pickle).

    From a ``bytearray`` the array is a writable view of it, not a copy.

    Raises:
        StoreError: not a ``.npy`` array (named by ``path``).
    """
    try:
        return _npy_view(data)
    except (ValueError, OSError, EOFError) as exc:
        raise StoreError(f"{path}: not a readable .npy array ({exc})") from None


def _npy_view(data: bytes | bytearray) -> np.ndarray:
    fmt = np.lib.format
    head = io.BytesIO(bytes(data[: 1 << 16]))
    version = fmt.read_magic(head)
    if version not in ((1, 0), (2, 0)):  # 3.0: structured dtypes with unicode names
        return np.load(io.BytesIO(data), allow_pickle=False)
    read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, fortran_order, dtype = read_header(head)
    if dtype.hasobject:
        raise ValueError("object arrays are not read (they would need a pickle)")
    count = int(np.prod(shape, dtype=np.int64))
    offset, need = head.tell(), count * dtype.itemsize
    if len(data) - offset < need:
        raise EOFError(f"the header says {need} bytes of data, the file holds {len(data) - offset}")
    array = np.frombuffer(data, dtype, count, offset)
    return array.reshape(shape[::-1]).T if fortran_order else array.reshape(shape)


def fix_hint(row: dict) -> str:
    if row.get("checksum") is None and row.get("fingerprint") is None:  # a plain .npy folder
        return "fix or remove that file"
    return "re-run `vidscope extract` with the same videos and --out to extract it again"


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))
