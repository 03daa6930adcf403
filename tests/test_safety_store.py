"""Store safety under misuse and faults (issue 15): lock, additive manifest, torn journal,
NaN/inf and empty features, checksums, stale temporary files, file modes, OS errors."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from vidscope.data import read_labels
from vidscope.data._sequences import load_sequences, scorable_sequences
from vidscope.errors import StoreError
from vidscope.features import FeatureStore, open_store, resolve_videos
from vidscope.features._lock import store_lock
from vidscope.features._store import JOURNAL, open_for_writing
from vidscope.video import SamplingSpec

META = {"layout": [["x", 3]], "dtype": "float32"}


def _put(store: FeatureStore, vid: str, features: np.ndarray) -> None:
    rel = store.write(vid, features, np.arange(len(features), dtype=float))
    store.record({"video_id": vid, "status": "ok", "features": rel, "fingerprint": "1:1"})


def _hold_lock(root: Path) -> subprocess.Popen:
    """A separate process that takes the store lock and sleeps (a running extract)."""
    code = textwrap.dedent(f"""
        import sys, time
        from vidscope.features._lock import store_lock
        with store_lock({str(root)!r}):
            print("locked", flush=True)
            time.sleep(300)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


# ---- item 1: one writer at a time, additive manifest ------------------------------------------
def test_second_writer_is_refused_by_name_and_a_killed_holder_frees_the_lock(tmp_path: Path):
    root = tmp_path / "s"
    holder = _hold_lock(root)
    try:
        t0 = time.monotonic()
        busy = rf"another vidscope extract is writing .*s \(pid {holder.pid}\)"
        with pytest.raises(StoreError, match=busy), store_lock(root, wait_s=0.5):
            pass
        assert time.monotonic() - t0 >= 0.5  # it waited before giving up
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with store_lock(root, wait_s=0):  # the kernel released the killed holder's lock
        pass


def test_manifest_fold_adds_to_what_is_on_disk(tmp_path: Path):
    """Two writers that both opened the store before either finished keep all rows."""
    a = FeatureStore.create(tmp_path / "s", META)
    b = FeatureStore.create(tmp_path / "s", META)
    assert a.rows == {} and b.rows == {}
    _put(a, "a1", np.ones((2, 3)))
    _put(a, "a2", np.ones((2, 3)))
    _put(b, "b1", np.zeros((2, 3)))
    a.compact()
    b.compact()
    assert open_store(tmp_path / "s").ids() == ["a1", "a2", "b1"]


# ---- item 9: torn journal line ------------------------------------------------------------------
def test_torn_journal_line_does_not_swallow_the_next_row(tmp_path: Path):
    store = FeatureStore.create(tmp_path / "s", META)
    _put(store, "a", np.ones((2, 3)))
    with open(tmp_path / "s" / JOURNAL, "a") as f:
        f.write('{"video_id": "killed", "sta')  # a run killed mid-write
    reopened = FeatureStore.create(tmp_path / "s", META)
    _put(reopened, "b", np.full((2, 3), 2.0))
    with open(tmp_path / "s" / JOURNAL, "a") as f:
        f.write('{"status": "ok"}\n["not a row"]\n')  # rows without video_id
    again = open_store(tmp_path / "s")
    assert again.ids() == ["a", "b"]
    np.testing.assert_array_equal(again.load("b").features, np.full((2, 3), 2.0))


# ---- items 3 and 4: NaN/inf and [0, D] features -----------------------------------------------
def test_nan_inf_and_empty_features_are_never_written(tmp_path: Path):
    store = FeatureStore.create(tmp_path / "s", META)
    bad = np.ones((4, 3))
    bad[2, 1], bad[3, 0] = np.nan, np.inf
    assert store.check(bad) == "1 NaN and 1 infinite value(s) in 2 of 4 samples (first at sample 2)"
    with pytest.raises(StoreError, match=r"clip7: features not stored: 1 NaN and 1 infinite"):
        store.write("clip7", bad, np.arange(4.0))
    assert "no samples" in store.check(np.zeros((0, 3)))
    half = FeatureStore.create(tmp_path / "h", {**META, "dtype": "float16"})
    assert "float16 holds at most 65504" in half.check(np.full((2, 3), 1e6))
    assert not list((tmp_path / "s").rglob("*.npy"))


def test_nan_and_empty_arrays_are_named_when_loaded(tmp_path: Path):
    root = tmp_path / "npy"
    for c in ("fight", "calm"):
        (root / c).mkdir(parents=True)
        np.save(root / c / "good.npy", np.ones((4, 3), np.float32))
    nan = np.ones((5, 3), np.float32)
    nan[3] = np.nan
    np.save(root / "fight" / "bad.npy", nan)
    np.save(root / "calm" / "empty.npy", np.zeros((0, 3), np.float32))
    store = open_store(root)
    found = "hold 3 NaN value\\(s\\) in 1 of 5 samples \\(first at sample 3\\)"
    with pytest.raises(StoreError, match=rf"fight/bad\.npy: features of video 'fight/bad' {found}"):
        store.load("fight/bad")
    labels = read_labels(store.ids(), manifest=store.manifest())
    with pytest.raises(StoreError, match=r"fight/bad"):
        load_sequences(store, labels)
    ok_labels = labels.subset(np.array([i for i, v in enumerate(labels.ids) if v != "fight/bad"]))
    with pytest.raises(StoreError, match=r"1 labelled video\(s\) have no samples.*calm/empty"):
        load_sequences(store, ok_labels)
    data = load_sequences(store, ok_labels, allow_missing=True)
    assert data.labels.ids == ["calm/good", "fight/good"]
    assert any("no samples" in n for n in data.labels.notes)
    seqs, reasons = scorable_sequences(store)
    assert [s.video_id for s in seqs] == ["calm/good", "fight/good"]
    assert "NaN" in reasons["fight/bad"] and "no samples" in reasons["calm/empty"]


# ---- item 5: sizes and checksums ---------------------------------------------------------------
def test_damaged_arrays_are_detected_and_named(tmp_path: Path):
    store = FeatureStore.create(tmp_path / "s", META)
    for v in ("a", "b", "c"):
        _put(store, v, np.arange(12.0).reshape(4, 3))
    store.compact()
    store = open_store(tmp_path / "s")
    row = store.rows["a"]
    assert row["bytes"] == (tmp_path / "s" / "features/a.npy").stat().st_size
    assert str(row["checksum"]).startswith("sha256:")
    (tmp_path / "s" / "features/a.npy").write_bytes(b"garbage, not an array")
    flipped = bytearray((tmp_path / "s" / "features/b.npy").read_bytes())
    flipped[-1] ^= 1  # same size, one bit changed
    (tmp_path / "s" / "features/b.npy").write_bytes(bytes(flipped))
    with pytest.raises(StoreError, match=r"features/a\.npy: 21 bytes, the manifest recorded"):
        store.load("a")
    with pytest.raises(StoreError, match=r"features/b\.npy: contents differ from the manifest"):
        store.load("b")
    assert store.verify("a") and store.verify("b") and store.verify("c") is None
    (tmp_path / "s" / "features/c.npy").unlink()
    assert "missing" in str(store.verify("c"))


def test_garbage_npy_without_checksum_names_the_file(tmp_path: Path):
    store = FeatureStore.create(tmp_path / "s", META)
    _put(store, "a", np.ones((2, 3)))
    store.rows["a"].update(bytes=None, checksum=None)  # a store written before checksums
    np.save(tmp_path / "s" / "features/a.npy", np.array([{"x": 1}], dtype=object), True)
    with pytest.raises(StoreError, match=r"features/a\.npy: not a readable \.npy array"):
        store.load("a")


# ---- item 13: stale temporary files, file modes ------------------------------------------------
def test_stale_temp_files_are_removed_and_files_get_the_umask_mode(tmp_path: Path):
    old = os.umask(0o022)
    try:
        with open_for_writing(tmp_path / "s", META) as store:
            _put(store, "a", np.ones((2, 3)))
        (tmp_path / "s" / "features" / ".tmp-abc123.npy").write_bytes(b"half")
        (tmp_path / "s" / ".tmp-xyz.parquet").write_bytes(b"half")
        with open_for_writing(tmp_path / "s", META):
            assert not list((tmp_path / "s").rglob(".tmp-*"))
    finally:
        os.umask(old)
    for name in ("store.json", "manifest.parquet", "features/a.npy", "features/a.t.npy"):
        mode = stat.S_IMODE((tmp_path / "s" / name).stat().st_mode)
        assert mode == 0o644, f"{name}: {oct(mode)}"


def test_sampling_flags_given_as_zero_are_errors():
    with pytest.raises(ValueError, match=r"--frames must be >= 1, got 0"):
        SamplingSpec.from_flags(frames=0)
    with pytest.raises(ValueError, match=r"--max-frames must be >= 1, got 0"):
        SamplingSpec.from_flags(max_frames=0)
    with pytest.raises(ValueError, match=r"--max-frames caps --fps or --every"):
        SamplingSpec.from_flags(frames=8, max_frames=4)
    assert SamplingSpec.from_flags() == SamplingSpec("uniform", 16)
    assert SamplingSpec.from_flags(fps=2, max_frames=5) == SamplingSpec("fps", 2, 5)


# ---- item 10: OS errors ----------------------------------------------------------------------
def test_out_that_is_a_file_is_one_clear_error(tmp_path: Path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match=r"--out .*f is a file, not a folder"):
        open_for_writing(tmp_path / "f", META).__enter__()


def test_full_disk_is_a_store_error_and_the_store_stays_usable(tmp_path: Path):
    """A writer under a 64 KiB file-size limit (a full disk for this process) fails with a
    one-line StoreError; what it finished before is intact and loadable."""
    code = textwrap.dedent(f"""
        import resource, signal
        import numpy as np
        from vidscope.errors import StoreError
        from vidscope.features._store import open_for_writing
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
        try:
            with open_for_writing({str(tmp_path / "s")!r}, {META!r}) as store:
                for n in range(1, 40):
                    x = np.ones((n * 400, 3))
                    rel = store.write(f"v{{n:02d}}", x, np.arange(n * 400.0))
                    store.record({{"video_id": f"v{{n:02d}}", "status": "ok", "features": rel}})
        except StoreError as exc:
            print("ERROR", exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERROR cannot write ") and "File too large" in out.stdout
    assert len(out.stdout.strip().splitlines()) == 1 and "finished videos are kept" in out.stdout
    store = open_store(tmp_path / "s")
    assert 5 <= len(store.ids()) < 39
    for v in store.ids():
        n = int(v[1:])
        np.testing.assert_array_equal(store.load(v).features, np.ones((n * 400, 3)))
    assert not list((tmp_path / "s").rglob(".tmp-*"))


# ---- item 14: inputs with one name and two extensions ----------------------------------------
def test_same_stem_inputs_get_distinct_stable_ids_and_labels_match(tmp_path: Path):
    for name in ("mma_test.avi", "mma_test.mp4", "other.mp4", "sub/mma_test.mp4", "x.mp4"):
        (tmp_path / "v" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "v" / name).write_bytes(b"")
    items = resolve_videos(tmp_path / "v")
    ids = sorted(i.video_id for i in items)
    assert ids == ["mma_test.avi", "mma_test.mp4", "other", "sub/mma_test", "x"]
    assert [i.video_id for i in resolve_videos(tmp_path / "v")] == [i.video_id for i in items]
    notes = [i.note for i in items if i.note]
    assert len(notes) == 2 and all("another input is also named 'mma_test'" in n for n in notes)
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label\nv/mma_test.avi,fight\nmma_test.mp4,calm\nother.mp4,calm\nx,fight\n")
    labels = read_labels([*ids[:3], "x"], csv)
    names = [labels.classes[y] for y in labels.y]
    assert dict(zip(labels.ids, names, strict=True)) == {
        "mma_test.avi": "fight",
        "mma_test.mp4": "calm",
        "other": "calm",
        "x": "fight",
    }
