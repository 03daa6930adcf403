"""One writer per feature store: an exclusive ``flock`` on ``STORE/.lock`` for a whole run.

The kernel drops the lock when its holder exits, however it exits (``SIGKILL`` included), so a
killed run never blocks the next one. A second writer waits up to :func:`lock_wait_s` seconds
and then stops with a message naming the store and the holder's process id.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from ..errors import StoreError
from ._io import TMP_PREFIX, file_mode

#: Name of the lock file inside the store.
LOCK_NAME = ".lock"
#: Default wait for another writer, seconds (``VIDSCOPE_LOCK_WAIT_S`` overrides it).
LOCK_WAIT_S = 10.0
#: Entries of a store folder that are not store content (ignored when telling a store
#: folder from someone else's folder).
HOUSEKEEPING = (LOCK_NAME,)


def lock_wait_s() -> float:
    """Seconds a second writer waits for the first (``$VIDSCOPE_LOCK_WAIT_S``, default 10)."""
    try:
        return max(0.0, float(os.environ.get("VIDSCOPE_LOCK_WAIT_S", LOCK_WAIT_S)))
    except ValueError:
        return LOCK_WAIT_S


def is_housekeeping(name: str) -> bool:
    """True for the lock file and temporary files (not content of a store)."""
    return name in HOUSEKEEPING or name.startswith(TMP_PREFIX)


@contextlib.contextmanager
def store_lock(root: str | os.PathLike[str], *, wait_s: float | None = None) -> Iterator[None]:
    """Hold the store's write lock for the ``with`` block; makes ``root`` if it is new.

    A store that cannot take a lock file because it is read-only is entered without one:
    nobody can write to it then, and a run that finds nothing to do succeeds.

    Raises:
        StoreError: ``root`` is a file, cannot be created, or another process held the lock
            for longer than ``wait_s`` seconds (default :func:`lock_wait_s`).
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise StoreError(f"--out {root} is a file, not a folder; give a folder for the store")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"--out {root}: cannot create the store folder ({exc.strerror})") from None
    fd = _open_lock_file(root / LOCK_NAME)
    if fd is None:
        yield
        return
    try:
        _acquire(fd, root, lock_wait_s() if wait_s is None else wait_s)
        with contextlib.suppress(OSError):  # say who holds it (not possible when read-only)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing drops the flock


def _open_lock_file(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise StoreError(f"{path}: cannot open the store lock ({exc.strerror})") from None
    try:  # read-only store: lock an existing file if there is one (flock needs no write access)
        return os.open(path, os.O_RDONLY)
    except OSError:
        return None


def _acquire(fd: int, root: Path, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
    try:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
    except OSError:
        holder = "?"
    raise StoreError(
        f"another vidscope extract is writing {root} (pid {holder}); waited {wait_s:g} s. "
        "Wait for it to finish and re-run, or choose another --out "
        "(VIDSCOPE_LOCK_WAIT_S sets how long to wait)"
    )
