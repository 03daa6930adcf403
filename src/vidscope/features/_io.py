"""Atomic file writes: a crash leaves either the old file or the new one, never half of one.

Files are created with the mode any other file would get (``0666`` less the umask), not the
``0600`` of :func:`tempfile.mkstemp`, so a store written by one user is readable by the group
its umask allows. A run killed between creating a temporary file and renaming it leaves a
``.tmp-*`` file behind; :func:`remove_stale_temps` removes those at the next run (under the
store lock, so no live writer owns them).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

#: Prefix of every temporary file written here.
TMP_PREFIX = ".tmp-"


def file_mode() -> int:
    """``0o666`` less the process umask (the mode ``open(path, "w")`` would give)."""
    try:  # Linux >= 4.7 says it without changing it
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, fsync it, rename it onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=path.suffix, dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda f: f.write(data))


def npy_bytes(array: np.ndarray) -> bytes:
    """The ``.npy`` file content of ``array`` (no pickles)."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` atomically (no pickles)."""
    atomic_write_bytes(path, npy_bytes(array))


def atomic_write_json(path: Path, obj: object) -> None:
    """JSON with sorted keys and indentation, written atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def checksum(*chunks: bytes) -> str:
    """``"sha256:<hex>"`` of the concatenated ``chunks``."""
    h = hashlib.sha256()
    for c in chunks:
        h.update(c)
    return hex_sum(h)


def hex_sum(digest: Any) -> str:
    """``"sha256:<hex>"`` of a :mod:`hashlib` SHA-256 object (the manifest's form)."""
    return "sha256:" + digest.hexdigest()


def remove_stale_temps(root: Path) -> int:
    """Delete ``.tmp-*`` files under ``root`` left by killed runs; returns how many went.

    Call only while holding the store lock (no live writer then owns a temporary file).
    Files that cannot be removed (a read-only store) are left alone.
    """
    removed = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith(TMP_PREFIX):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(dirpath, name))
                    removed += 1
    return removed
