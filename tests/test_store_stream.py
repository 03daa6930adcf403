"""Streamed feature writes (issue 14, item 3): the ``.npy`` file and its checksum come from the
array's own memory, byte for byte what ``np.save`` wrote; a write killed half way leaves no torn
file in place; reading holds the file's bytes once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from vidscope.features import FeatureStore, open_store
from vidscope.features._io import checksum, npy_bytes
from vidscope.features._writer import FeatureWriter

META = {"layout": [["x", 6]], "dtype": "float32"}


@pytest.mark.parametrize(
    ("array", "dtype"),
    [
        (np.random.default_rng(0).normal(size=(37, 6)), np.float32),
        (np.random.default_rng(1).normal(size=(5, 3)), np.float16),
        (np.zeros((0, 4)), np.float32),
        (np.random.default_rng(2).normal(size=(64, 1)), np.float64),
    ],
)
def test_chunks_in_any_order_make_np_save_bytes(tmp_path: Path, array: np.ndarray, dtype):
    """Chunks written out of order, one twice: the file is np.save's, byte for byte, and
    the digest fed at commit is that of the file."""
    import hashlib

    writer = FeatureWriter(tmp_path / "f" / "v.npy", len(array), array.shape[1], dtype)
    order = np.random.default_rng(4).permutation(len(array))
    for part in [*np.array_split(order, 5), order[:3]]:
        writer.put(part, array[part])
    assert writer.problem() == (None if len(array) else "no samples ([0, D] features)")
    digest = hashlib.sha256()
    size = writer.commit(digest)
    data = (tmp_path / "f" / "v.npy").read_bytes()
    assert data == npy_bytes(array.astype(dtype)) and size == len(data)
    assert "sha256:" + digest.hexdigest() == checksum(data)
    assert [p.name for p in (tmp_path / "f").iterdir()] == ["v.npy"]  # no temporary left


def test_nan_and_overflow_are_counted_across_chunks(tmp_path: Path):
    writer = FeatureWriter(tmp_path / "v.npy", 10, 4, np.float16)
    x = np.ones((10, 4))
    x[7, :2] = np.nan
    x[3, 1] = 1e6  # beyond float16
    writer.put(np.arange(5), x[:5])
    writer.put(np.arange(5, 10), x[5:])
    want = "2 NaN and 1 infinite value(s) (float16 holds at most 65504) in 2 of 10 samples"
    assert writer.problem() == want + " (first at sample 3)"
    writer.put(np.array([3]), np.ones((1, 4)))  # the sample redone: its values replace
    assert writer.problem() == "2 NaN value(s) in 1 of 10 samples (first at sample 7)"
    writer.abort()
    assert not list(tmp_path.iterdir())


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


def test_run_killed_mid_video_leaves_the_old_file_and_no_torn_one(tmp_path: Path):
    """SIGKILL while a re-extracted video's chunks are being written: the previous version
    stays in place, matching its manifest row; the next writer removes the temporary file."""
    root = tmp_path / "s"
    store = FeatureStore.create(root, META)
    old = np.full((40, 6), 1.0, np.float32)
    rel = store.write("v", old, np.arange(40.0))
    store.record({"video_id": "v", "status": "ok", "features": rel, "fingerprint": "1:1"})
    store.compact()
    code = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from vidscope.features._store import open_for_writing
        with open_for_writing({str(root)!r}, {META!r}) as store:
            writer = store.begin("v", 4000)
            writer.put(np.arange(2000), np.full((2000, 6), 2.0))
            os.kill(os.getpid(), signal.SIGKILL)
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


def _events(key: int, num_samples: int, width: int, chunk: int = 32, bad: int | None = None):
    """What an engine sends for one video: started, chunks of features (in reverse order of
    chunks, as an engine may), done."""
    from vidscope.features._engine import FeatureChunk, VideoDone, VideoStarted

    yield VideoStarted(key, {"duration_s": num_samples / 25.0}, num_samples)
    for start in reversed(range(0, num_samples, chunk)):
        idx = np.arange(start, min(start + chunk, num_samples))
        feats = np.tile(idx[:, None].astype(np.float32), (1, width))  # [n, D], row i holds i
        if bad is not None and bad in idx:
            feats[bad - start, 0] = np.nan
        yield FeatureChunk(key, idx, idx / 25.0, feats)
    yield VideoDone(key, (), {"decoded": num_samples})


def _sink(tmp_path: Path, names: list[str], width: int):
    from vidscope.features._extract import ExtractReport, StoreTarget, _Sink
    from vidscope.features._inputs import VideoInput
    from vidscope.features._progress import Progress

    store = FeatureStore.create(tmp_path / "s", {"layout": [["x", width]], "dtype": "float32"})
    items = [VideoInput(n, tmp_path / f"{n}.mp4") for n in names]
    report = ExtractReport(store=tmp_path / "s")
    return store, report, _Sink(StoreTarget(store), items, report, Progress(1, enabled=False))


def test_a_long_video_is_written_as_it_comes_not_held(tmp_path: Path):
    """The driver's side of a 2-hour video at 1 fps and D=1280 (35 MiB of float32): chunks go
    to the file as they arrive, so the process never holds anything of size T x D."""
    num, width = 7200, 1280
    store, report, sink = _sink(tmp_path, ["long"], width)
    tracemalloc.start()
    try:
        for event in _events(0, num, width):
            sink.handle(event)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert report.done == ["long"], report.failed
    assert peak < 6, f"held {peak:.1f} MiB for {num * width * 4 / 2**20:.0f} MiB of features"
    seq = store.load("long")
    np.testing.assert_array_equal(seq.features[:, 0], np.arange(num, dtype=np.float32))
    np.testing.assert_array_equal(seq.times_s, np.arange(num) / 25.0)
    assert store.rows["long"]["num_samples"] == num and store.verify("long") is None


def test_a_video_failing_midway_leaves_no_file(tmp_path: Path):
    from vidscope.features._engine import FeatureChunk, VideoFailed

    store, report, sink = _sink(tmp_path, ["nan", "cut", "open"], 8)
    for event in _events(0, 100, 8, bad=40):  # NaN in one sample: recorded as failed
        sink.handle(event)
    events = list(_events(1, 100, 8))
    for event in events[:2]:  # started, one chunk, then the decoder gives up
        sink.handle(event)
    sink.handle(VideoFailed(1, "decoder crashed"))
    for event in _events(2, 100, 8):
        if not isinstance(event, FeatureChunk) or event.indices[0] < 64:
            sink.handle(event)  # a chunk never arrives: unfilled samples
    assert "1 NaN value(s) in 1 of 100 samples (first at sample 40)" in report.failed["nan"]
    assert report.failed["cut"] == "decoder crashed"
    assert report.failed["open"] == "36 samples could not be decoded"
    assert store.ids() == [] and sorted(store.rows) == ["cut", "nan", "open"]
    assert not list((tmp_path / "s" / "features").iterdir())
    sink.handle(events[0])  # a video in flight when the run stops: its file goes
    sink.abort()
    assert not list((tmp_path / "s" / "features").iterdir())
