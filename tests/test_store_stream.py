"""Streamed feature writes (issue 14, item 3): the ``.npy`` file and its checksum come from the
array's own memory, byte for byte what ``np.save`` wrote; a write killed half way leaves no torn
file in place; reading holds the file's bytes once."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from vidscope.features import FeatureStore, open_store
from vidscope.features._io import checksum, npy_bytes, write_npy

META = {"layout": [["x", 6]], "dtype": "float32"}


@pytest.mark.parametrize(
    "array",
    [
        np.random.default_rng(0).normal(size=(37, 6)).astype(np.float32),
        np.random.default_rng(1).normal(size=(5, 3)).astype(np.float16),
        np.zeros((0, 4), np.float32),
        np.arange(7.0),
        np.asfortranarray(np.random.default_rng(2).normal(size=(4, 3))),  # copied to C order
    ],
)
def test_streamed_npy_is_np_save_byte_for_byte(array: np.ndarray):
    import hashlib

    buf, digest = io.BytesIO(), hashlib.sha256()
    size = write_npy(buf, array, digest)
    assert buf.getvalue() == npy_bytes(np.ascontiguousarray(array))
    assert size == len(buf.getvalue())
    assert "sha256:" + digest.hexdigest() == checksum(buf.getvalue())


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_recorded_checksum_is_the_old_way_and_verifies(tmp_path: Path, dtype: str):
    store = FeatureStore.create(tmp_path / "s", {**META, "dtype": dtype})
    feats = np.random.default_rng(3).normal(size=(50, 6))
    times = np.arange(50) * 0.5
    rel = store.write("a/b", feats, times)
    store.record({"video_id": "a/b", "status": "ok", "features": rel, "fingerprint": "1:1"})
    store.compact()
    row = open_store(tmp_path / "s").rows["a/b"]
    stored = feats.astype(np.float16 if dtype == "float16" else np.float32)
    data, tdata = npy_bytes(stored), npy_bytes(times)
    assert (tmp_path / "s" / rel).read_bytes() == data
    assert row["bytes"] == len(data) and row["checksum"] == checksum(data, tdata)
    reopened = open_store(tmp_path / "s")
    assert reopened.verify("a/b") is None
    seq = reopened.load("a/b")
    np.testing.assert_array_equal(seq.features, stored)
    np.testing.assert_array_equal(seq.times_s, times)
    assert seq.features.flags.writeable and seq.times_s.flags.writeable
    seq.features[0, 0] = 1.0  # a writable array of its own, not the file


def test_write_and_load_hold_the_array_at_most_once(tmp_path: Path):
    """A 24 MiB [T, D] array: writing it allocates next to nothing besides it (it used to
    copy it twice: a cast and the .npy bytes); loading holds the file's bytes once."""
    store = FeatureStore.create(tmp_path / "s", {"layout": [["x", 1280]], "dtype": "float32"})
    feats = np.ones((4800, 1280), np.float32)
    size_mib = feats.nbytes / 2**20
    tracemalloc.start()
    try:
        rel = store.write("v", feats, np.arange(4800.0))
        write_peak = tracemalloc.get_traced_memory()[1] / 2**20
        store.record({"video_id": "v", "status": "ok", "features": rel, "fingerprint": "1:1"})
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0] / 2**20
        assert store.verify("v") is None
        verify_peak = tracemalloc.get_traced_memory()[1] / 2**20 - before
        tracemalloc.reset_peak()
        seq = store.load("v")
        load_peak = tracemalloc.get_traced_memory()[1] / 2**20 - before
    finally:
        tracemalloc.stop()
    assert write_peak < 4, f"write allocated {write_peak:.1f} MiB for a {size_mib:.0f} MiB array"
    assert verify_peak < 4, f"verify held {verify_peak:.1f} MiB"
    assert load_peak < size_mib + 4, f"load held {load_peak:.1f} MiB for {size_mib:.0f} MiB"
    assert seq.features.shape == (4800, 1280)


def test_write_killed_mid_file_leaves_the_old_file_and_no_torn_one(tmp_path: Path):
    """SIGKILL once a re-extracted video's array is in its temporary file, before the rename:
    the previous version stays in place, matching its manifest row; the next writer removes
    the temporary file."""
    root = tmp_path / "s"
    store = FeatureStore.create(root, META)
    old = np.full((40, 6), 1.0, np.float32)
    rel = store.write("v", old, np.arange(40.0))
    store.record({"video_id": "v", "status": "ok", "features": rel, "fingerprint": "1:1"})
    store.compact()
    code = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from vidscope.features import _store
        from vidscope.features._store import open_for_writing
        real = _store.atomic_save_npy

        class Dying:  # fed the header, then the array once it is written: die there,
            def update(self, data):  # before the file is synced and renamed
                if len(data) > 1000:
                    os.kill(os.getpid(), signal.SIGKILL)

        _store.atomic_save_npy = lambda path, array, digest: real(path, array, Dying())
        with open_for_writing({str(root)!r}, {META!r}) as store:
            store.write("v", np.full((4000, 6), 2.0, np.float32), np.arange(4000.0))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == -9, out.stderr
    temps = list((root / "features").glob(".tmp-*"))
    assert len(temps) == 1 and temps[0].stat().st_size > 0  # the torn one, beside the old
    reopened = open_store(root)
    assert reopened.verify("v") is None
    np.testing.assert_array_equal(reopened.load("v").features, old)
    from vidscope.features._store import open_for_writing

    with open_for_writing(root, META):
        assert not list(root.rglob(".tmp-*"))
