"""One video's features written into the store as they are encoded, not held until the end.

A :class:`FeatureWriter` owns a temporary ``.npy`` file beside the video's final one, sized
for the whole ``[T, D]`` array from the start; each chunk of samples is cast to the store's
dtype and written at its rows' place (chunks may come in any order). Nothing of size ``T x D``
is held in memory, so a 2-hour video costs what a 2-minute one does. The values are checked
as they come (NaN, infinite); :meth:`FeatureWriter.commit` syncs the file, hashes it a block at
a time and renames it into place, and :meth:`FeatureWriter.abort` removes it. A run killed in
between leaves only the temporary file, which the next writer removes (see :mod:`._io`).

The finished file is byte for byte what ``np.save`` writes for the same array.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ._integrity import describe_nonfinite
from ._io import TMP_PREFIX, file_mode

#: Bytes read at a time when hashing a finished file.
HASH_BLOCK = 1 << 20


def npy_header_for(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    """The header ``np.save`` writes before a C-ordered array of ``shape`` and ``dtype``."""
    head = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, head)
    return buf.getvalue()


class FeatureWriter:
    """A ``[num_samples, width]`` array of ``dtype`` being written to ``path``.

    Args:
        path: The final file; a temporary one is made beside it.
        num_samples: ``T``.
        width: ``D``.
        dtype: The store's dtype; chunks are cast to it (float16 overflow becomes inf and is
            reported by :meth:`problem`).

    Raises:
        OSError: the temporary file cannot be made (no space, read-only store, ...).
    """

    def __init__(self, path: Path, num_samples: int, width: int, dtype: Any) -> None:
        self.path = path
        self.num_samples, self.width, self.dtype = num_samples, width, np.dtype(dtype)
        self.header = npy_header_for((num_samples, width), self.dtype)
        self.size = len(self.header) + num_samples * width * self.dtype.itemsize
        self._nan = np.zeros(num_samples, np.int64)  # [T] NaN values per sample
        self._inf = np.zeros(num_samples, np.int64)  # [T] infinite values per sample
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=path.suffix, dir=path.parent)
        self._fd: int | None = fd
        self._tmp = Path(tmp)
        try:
            os.fchmod(fd, file_mode())
            self._pwrite(self.header, 0)
            os.ftruncate(fd, self.size)  # unwritten rows read as zeros (a sparse file)
        except BaseException:
            self.abort()
            raise

    def put(self, indices: np.ndarray, features: np.ndarray) -> None:
        """Write ``features`` (``[n, D]``) as samples ``indices`` (``[n]``, any order).

        Raises:
            OSError: the file cannot be written (the caller reports it; call :meth:`abort`).
        """
        indices = np.asarray(indices, np.int64)
        with np.errstate(over="ignore"):
            rows = np.ascontiguousarray(features, dtype=self.dtype)  # [n, D]
        if rows.shape != (len(indices), self.width):
            raise ValueError(f"chunk of shape {rows.shape} for {len(indices)} samples of width "
                             f"{self.width}")  # fmt: skip
        finite = np.isfinite(rows)
        if not finite.all():
            nan = np.isnan(rows).sum(axis=1)
            self._nan[indices] = nan
            self._inf[indices] = (~finite).sum(axis=1) - nan
        else:
            self._nan[indices] = self._inf[indices] = 0
        row_bytes = self.width * self.dtype.itemsize
        breaks = np.flatnonzero(np.diff(indices) != 1) + 1  # runs of consecutive samples
        for run in np.split(np.arange(len(indices)), breaks):
            if len(run):
                block = rows[run[0] : run[-1] + 1]
                offset = len(self.header) + int(indices[run[0]]) * row_bytes
                self._pwrite(memoryview(block.reshape(-1).view(np.uint8)), offset)

    def put_all(self, features: np.ndarray, block: int = 1 << 20) -> None:
        """Write all ``[T, D]`` samples, about ``block`` values at a time (see :meth:`put`)."""
        step = max(1, block // max(1, self.width))
        for i in range(0, len(features), step):
            self.put(np.arange(i, min(i + step, len(features))), features[i : i + step])

    def problem(self) -> str | None:
        """Why the array cannot be stored (no samples, NaN or infinite values), or ``None``."""
        if self.num_samples == 0:
            return "no samples ([0, D] features)"
        bad = np.flatnonzero((self._nan > 0) | (self._inf > 0))
        if not len(bad):
            return None
        nan, inf = int(self._nan.sum()), int(self._inf.sum())
        return describe_nonfinite(nan, inf, bad, self.num_samples, self.dtype == np.float16)

    def commit(self, digest: Any = None) -> int:
        """Sync the file, feed its bytes to ``digest`` (a :mod:`hashlib` object) if given,
        rename it onto :attr:`path`; returns the file's size.

        Raises:
            OSError: syncing or renaming failed (the temporary file is removed).
        """
        assert self._fd is not None, "writer already closed"
        try:
            os.fsync(self._fd)
            for offset in range(0, self.size if digest is not None else 0, HASH_BLOCK):
                digest.update(os.pread(self._fd, min(HASH_BLOCK, self.size - offset), offset))
            os.close(self._fd)
            self._fd = None
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.size

    def abort(self) -> None:
        """Close and remove the temporary file (the final one, if any, is untouched)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        with contextlib.suppress(OSError):
            os.unlink(self._tmp)

    def _pwrite(self, data: bytes | memoryview, offset: int) -> None:
        assert self._fd is not None, "writer already closed"
        view = memoryview(data).cast("B")
        while len(view):
            n = os.pwrite(self._fd, view, offset)
            view, offset = view[n:], offset + n
