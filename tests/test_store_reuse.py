"""A store survives its videos being copied, unpacked or downloaded again: a rerun keeps every
video whose bytes are the same (content digest) although its timestamp changed, records the
new path and timestamp, and re-extracts a video whose bytes changed."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from vidscope.features import ExtractConfig, extract, open_store
from vidscope.features._manifest_file import read_rows, write_rows
from vidscope.features._store import MANIFEST_COLUMNS
from vidscope.features._target import CONTENT_EDGE_BYTES, content_digest
from vidscope.video import SamplingSpec

CFG = ExtractConfig(sampling=SamplingSpec("uniform", 4), workers=1)
IDS = ["cls0/v0", "cls0/v2", "cls1/v1"]


@pytest.fixture(scope="module")
def backbone():
    from vidscope.backbones import create_backbone

    return create_backbone("timm:test_efficientnet", weights="random")


@pytest.fixture
def videos(make_video) -> Path:
    for i in range(3):
        make_video(f"vids/cls{i % 2}/v{i}.mp4", 20 + 5 * i, seed=i)
    return make_video("vids/cls0/v0.mp4", 20, seed=0).parents[1]


def _copy_with_new_mtimes(src: Path, dst: Path, shift_s: int = 5000) -> Path:
    """Copy a folder the way a re-download does: same bytes, every file a new mtime."""
    shutil.copytree(src, dst)  # copy2 keeps mtimes: move them on explicitly
    for f in dst.rglob("*.mp4"):
        t = f.stat().st_mtime_ns + shift_s * 10**9
        os.utime(f, ns=(t, t))
    return dst


def _fingerprint(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _patch(path: Path, offset: int, old: bytes, new: bytes) -> None:
    """Replace ``old`` at ``offset`` by ``new`` (same length: the size stays the same)."""
    data = bytearray(path.read_bytes())
    offset = offset if offset >= 0 else len(data) + offset
    assert data[offset : offset + len(old)] == old, bytes(data[offset : offset + 16])
    data[offset : offset + len(old)] = new
    size = path.stat().st_size
    path.write_bytes(bytes(data))
    assert path.stat().st_size == size


def test_copied_videos_are_kept_and_their_rows_follow_the_copy(videos, tmp_path, backbone):
    out = tmp_path / "store"
    first = extract(videos, out, CFG, backbone=backbone, progress=False)
    assert sorted(first.done) == IDS
    before = {vid: open_store(out).load(vid).features.copy() for vid in IDS}
    assert all(len(str(r["content"])) == 16 for r in open_store(out).rows.values())

    moved = _copy_with_new_mtimes(videos, tmp_path / "elsewhere" / "vids")
    second = extract(moved, out, CFG, backbone=backbone, progress=False)
    assert second.done == [] and not second.partial and not second.failed
    assert sorted(second.skipped) == IDS and sorted(second.reused) == IDS
    assert "3 videos had new timestamps but the same content: kept" in " ".join(second.notes)
    store = open_store(out)  # read back from disk: the manifest was folded with the new rows
    assert not (out / "manifest.journal.jsonl").exists()
    for vid in IDS:
        row, path = store.rows[vid], moved / f"{vid}.mp4"
        assert row["path"] == str(path) and row["fingerprint"] == _fingerprint(path)
        assert row["content"] == content_digest(path)
        np.testing.assert_array_equal(store.load(vid).features, before[vid])

    manifest = out / "manifest.parquet"
    stamp = manifest.stat().st_mtime_ns
    third = extract(moved, out, CFG, backbone=backbone, progress=False)
    assert sorted(third.skipped) == IDS and third.reused == [] and third.done == []
    assert not any("same content" in n for n in third.notes)
    assert manifest.stat().st_mtime_ns == stamp  # a plain skip: nothing rewritten


def test_same_size_but_changed_bytes_are_extracted_again(videos, tmp_path, backbone):
    out = tmp_path / "store"
    extract(videos, out, CFG, backbone=backbone, progress=False)
    moved = _copy_with_new_mtimes(videos, tmp_path / "copy")
    # both edits keep the file a valid video of the same size
    _patch(moved / "cls1/v1.mp4", -1, b"2", b"3")  # last byte: the muxer's version string
    _patch(moved / "cls0/v2.mp4", 36, b"free", b"skip")  # an ignorable atom near the start
    again = extract(moved, out, CFG, backbone=backbone, progress=False)
    assert sorted(again.done) == ["cls0/v2", "cls1/v1"]
    assert again.skipped == ["cls0/v0"] and again.reused == ["cls0/v0"]
    rows = open_store(out).rows
    assert rows["cls1/v1"]["content"] == content_digest(moved / "cls1/v1.mp4")
    assert rows["cls1/v1"]["path"] == str(moved / "cls1/v1.mp4")


def test_manifest_from_before_the_content_column_extracts_once(videos, tmp_path, backbone):
    out = tmp_path / "store"
    extract(videos, out, CFG, backbone=backbone, progress=False)
    manifest = out / "manifest.parquet"
    old_columns = [c for c in MANIFEST_COLUMNS if c != "content"]
    write_rows(manifest, read_rows(manifest), old_columns)  # as an older vidscope wrote it
    assert "content" not in read_rows(manifest)[0]
    moved = _copy_with_new_mtimes(videos, tmp_path / "copy")
    again = extract(moved, out, CFG, backbone=backbone, progress=False)
    assert sorted(again.done) == IDS and again.reused == [] and again.skipped == []
    assert all(r["content"] for r in open_store(out).rows.values())  # recorded this time
    moved_again = _copy_with_new_mtimes(moved, tmp_path / "copy2")
    last = extract(moved_again, out, CFG, backbone=backbone, progress=False)
    assert sorted(last.reused) == IDS and last.done == []


def test_kept_video_with_damaged_features_is_extracted_again(videos, tmp_path, backbone):
    out = tmp_path / "store"
    extract(videos, out, CFG, backbone=backbone, progress=False)
    (out / "features" / "cls0" / "v0.npy").write_bytes(b"\x93NUMPY garbage")
    moved = _copy_with_new_mtimes(videos, tmp_path / "copy")
    again = extract(moved, out, CFG, backbone=backbone, progress=False)
    assert again.done == ["cls0/v0"] and sorted(again.reused) == ["cls0/v2", "cls1/v1"]


def test_store_at_a_url_keeps_copied_videos(videos, tmp_path, backbone):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    url = "memory://reuse-out/store"
    first = extract(videos, url, CFG, backbone=backbone, progress=False)
    assert sorted(first.done) == IDS
    moved = _copy_with_new_mtimes(videos, tmp_path / "copy")
    again = extract(moved, url, CFG, backbone=backbone, progress=False)
    assert sorted(again.reused) == IDS and again.done == []
    third = extract(moved, url, CFG, backbone=backbone, progress=False)  # rows reached the URL
    assert sorted(third.skipped) == IDS and third.reused == [] and third.done == []
    pulled = tmp_path / "pulled"
    fs.get("/reuse-out/store", str(pulled), recursive=True)
    assert open_store(pulled).rows["cls1/v1"]["path"] == str(moved / "cls1/v1.mp4")
    fs.rm("/reuse-out", recursive=True)


def test_content_digest_rule(tmp_path):
    """Size + first MiB + last MiB: independent of name and mtime; a middle byte of a large
    file is not read (the documented price of reading 2 MiB per file)."""
    rng = np.random.default_rng(0)
    big = tmp_path / "big.bin"
    big.write_bytes(rng.integers(0, 256, 3 * CONTENT_EDGE_BYTES, dtype=np.uint8).tobytes())
    digest = content_digest(big)
    assert digest is not None and len(digest) == 16 and int(digest, 16) >= 0
    copy = tmp_path / "other" / "name.bin"
    copy.parent.mkdir()
    shutil.copyfile(big, copy)
    os.utime(copy, ns=(1, 1))
    assert content_digest(copy) == digest
    for offset, changed in ((0, True), (-1, True), (CONTENT_EDGE_BYTES + 5, False)):
        data = bytearray(big.read_bytes())
        data[offset] ^= 0xFF
        copy.write_bytes(bytes(data))
        assert (content_digest(copy) != digest) is changed, offset
    copy.write_bytes(big.read_bytes() + b"\0")  # one byte longer
    assert content_digest(copy) != digest
    assert content_digest(tmp_path) is None and content_digest(tmp_path / "missing") is None
    assert content_digest("memory://x/y.mp4") is None


def test_content_digest_never_waits_on_a_fifo(tmp_path):
    """A FIFO named like a video (a hung source) gives no digest at once, never blocks."""
    fifo = tmp_path / "hangs.mp4"
    os.mkfifo(fifo)
    result: list[str | None] = []
    worker = threading.Thread(target=lambda: result.append(content_digest(fifo)), daemon=True)
    worker.start()
    worker.join(5)
    assert not worker.is_alive() and result == [None]
