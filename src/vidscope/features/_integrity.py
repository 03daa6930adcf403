"""Checks on stored features: their values, and their files against the manifest's record."""

from __future__ import annotations

import errno
import io
from pathlib import Path

import numpy as np

from ..errors import StoreError
from ._io import checksum


def feature_problem(features: np.ndarray, *, allow_empty: bool = False) -> str | None:
    """Why ``features`` are unusable, in words, or ``None``: not ``[T, D]``, ``[0, D]`` (unless
    ``allow_empty``), or NaN / infinite values (counted, with the first sample holding one)."""
    if features.ndim != 2:
        return f"an array of shape {features.shape}, not [T, D]"
    if len(features) == 0:
        return None if allow_empty else "no samples ([0, D] features)"
    finite = np.isfinite(features)
    if finite.all():
        return None
    nan = int(np.isnan(features).sum())
    inf = int((~finite).sum()) - nan
    what = " and ".join(t for t in (nan and f"{nan} NaN", inf and f"{inf} infinite") if t)
    rows = np.flatnonzero(~finite.all(axis=1))
    note = " (float16 holds at most 65504)" if inf and features.dtype == np.float16 else ""
    return (
        f"{what} value(s){note} in {len(rows)} of {len(features)} samples "
        f"(first at sample {rows[0]})"
    )


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


def read_checked(root: Path, row: dict) -> tuple[bytes, bytes | None]:
    """The bytes of a row's features and times files, checked against its size and checksum.

    Raises:
        StoreError: a file is missing or unreadable, or does not match the manifest.
    """
    path = root / str(row["features"])
    times_path = path.with_suffix(".t.npy")
    try:
        data = path.read_bytes()
        times = times_path.read_bytes() if times_path.exists() else None
    except FileNotFoundError:
        raise StoreError(f"{path}: features file is missing; {fix_hint(row)}") from None
    except OSError as exc:
        raise StoreError(f"{path}: unreadable ({exc.strerror}); {fix_hint(row)}") from None
    want_size, want_sum = row.get("bytes"), row.get("checksum")
    if _given(want_size) and len(data) != int(want_size):  # type: ignore[arg-type]
        raise StoreError(
            f"{path}: {len(data)} bytes, the manifest recorded {int(want_size)} "  # type: ignore[arg-type]
            f"(damaged or replaced); {fix_hint(row)}"
        )
    if _given(want_sum) and checksum(data, times or b"") != want_sum:
        raise StoreError(
            f"{path}: contents differ from the manifest's checksum (damaged or replaced); "
            + fix_hint(row)
        )
    return data, times


def parse_npy(data: bytes, path: Path) -> np.ndarray:
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise StoreError(f"{path}: not a readable .npy array ({exc})") from None


def fix_hint(row: dict) -> str:
    if row.get("checksum") is None and row.get("fingerprint") is None:  # a plain .npy folder
        return "fix or remove that file"
    return "re-run `vidscope extract` with the same videos and --out to extract it again"


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value))
