"""Extraction under misuse and faults (issue 15), end to end: damaged arrays are re-extracted,
an up-to-date store is not rewritten (read-only included), same-stem inputs both extracted,
NaN-producing weights give failed rows, OS errors reach the CLI as one line."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.cli import main
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.video import SamplingSpec

CFG = ExtractConfig(sampling=SamplingSpec("uniform", 4), workers=1)
CLI = ["--frames", "4", "--backbone", "timm:test_efficientnet", "--weights", "random", "--quiet"]


@pytest.fixture(scope="module")
def backbone():
    from vidscope.backbones import create_backbone

    return create_backbone("timm:test_efficientnet", weights="random")


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small tmpfs at ``path`` (skips the test where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def test_rerun_repairs_damaged_arrays_and_leaves_a_current_store_alone(
    tmp_path: Path, make_video, backbone
):
    for i in range(3):
        make_video(f"v/c{i}.mp4", 20, seed=i)
    out = tmp_path / "s"
    extract(tmp_path / "v", out, CFG, backbone=backbone, progress=False)
    clean = open_store(out).load("c1").features
    manifest = out / "manifest.parquet"
    before = _stat(manifest)
    (out / "features" / ".tmp-killed.npy").write_bytes(b"half an array")
    again = extract(tmp_path / "v", out, CFG, backbone=backbone, progress=False)
    assert sorted(again.skipped) == ["c0", "c1", "c2"] and again.done == []
    assert _stat(manifest) == before  # nothing changed: the manifest is not rewritten
    assert not list(out.rglob(".tmp-*"))  # a killed run's temporary file is gone
    (out / "features" / "c1.npy").write_bytes(b"\x93NUMPY garbage")
    third = extract(tmp_path / "v", out, CFG, backbone=backbone, progress=False)
    assert third.done == ["c1"] and sorted(third.skipped) == ["c0", "c2"]
    np.testing.assert_array_equal(open_store(out).load("c1").features, clean)


def test_up_to_date_store_on_a_read_only_filesystem(tmp_path: Path, make_video, backbone):
    make_video("v/a.mp4", 20)
    with tmpfs(tmp_path / "ro", "8m") as mnt:
        extract(tmp_path / "v", mnt / "s", CFG, backbone=backbone, progress=False)
        store = open_store(mnt / "s")
        store.record(dict(store.rows["a"]))  # a journal row left unfolded (a killed run)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        again = extract(tmp_path / "v", mnt / "s", CFG, backbone=backbone, progress=False)
        assert again.skipped == ["a"] and again.ok
        assert open_store(mnt / "s").load("a").num_samples == 4


def test_same_stem_inputs_are_both_extracted_and_said(tmp_path: Path, make_video, capsys):
    make_video("v/mma_test.mp4", 20)
    make_video("v/mma_test.mkv", 30, seed=1)
    make_video("v/other.mp4", 20, seed=2)
    args = ["extract", str(tmp_path / "v"), "--out", str(tmp_path / "s"), *CLI]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3 videos: 3 ok" in out and "stored as 'mma_test.mkv'" in out
    store = open_store(tmp_path / "s")
    assert store.ids() == ["mma_test.mkv", "mma_test.mp4", "other"]
    assert store.rows["mma_test.mkv"]["num_frames"] == 30
    assert main(args) == 0  # same ids on the rerun: nothing to do
    assert "3 already done" in capsys.readouterr().out


def test_nan_producing_weights_give_failed_rows_naming_the_values(tmp_path: Path, make_video):
    """Real weights with a NaN batch-norm scale: every output is NaN, nothing is stored."""
    from safetensors.torch import save_file

    from vidscope.backbones import create_backbone

    good = create_backbone("timm:test_efficientnet", weights="random", runtime="torch")
    state = {
        k.removeprefix("features.model."): v.clone().contiguous()
        for k, v in good.module.state_dict().items()  # type: ignore[attr-defined]
    }
    state["bn1.weight"][:] = float("nan")
    save_file(state, str(tmp_path / "nan.safetensors"))
    bad = create_backbone(
        "timm:test_efficientnet", weights=str(tmp_path / "nan.safetensors"), runtime="torch"
    )
    make_video("v/a.mp4", 20)
    report = extract(tmp_path / "v", tmp_path / "s", CFG, backbone=bad, progress=False)
    assert report.done == [] and "features not stored" in report.failed["a"]
    assert "NaN value(s) in 4 of 4 samples (first at sample 0)" in report.failed["a"]
    row = pd.read_parquet(tmp_path / "s" / "manifest.parquet").iloc[0]
    assert row["status"] == "failed" and not list((tmp_path / "s").rglob("a.npy"))


def test_os_errors_reach_the_cli_as_one_line(tmp_path: Path, make_video, capsys):
    for i in range(6):
        make_video(f"v/c{i}.mp4", 20, seed=i)
    (tmp_path / "afile").write_text("not a folder")
    assert main(["extract", str(tmp_path / "v"), "--out", str(tmp_path / "afile"), *CLI]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "afile is a file, not a folder" in err
    with tmpfs(tmp_path / "full", "48k") as mnt:  # 12 pages; one video takes 4 (8 x 256 floats)
        args = ["extract", str(tmp_path / "v"), "--out", str(mnt / "s"), "--frames", "8", *CLI[2:]]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert "No space left on device" in err and "free space and re-run" in err
        assert "Traceback" not in err
        kept = open_store(mnt / "s").ids()
        assert not list((mnt / "s").rglob(".tmp-*"))
        for v in kept:  # what was finished before the disk filled is intact
            assert open_store(mnt / "s").load(v).num_samples == 8
        assert 1 <= len(kept) < 6


def test_a_killed_decode_worker_costs_at_most_its_video(tmp_path: Path, make_video):
    """SIGKILL of a decode worker mid-run: the run goes on (no "Broken pipe" stop), exit 0."""
    for i in range(10):
        make_video(f"v/c{i}.mp4", 40, seed=i)
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "vidscope.cli", "extract", str(tmp_path / "v"), "--out", str(out),
           "--workers", "2", *CLI]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = out / "manifest.journal.jsonl"
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if journal.exists() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.02)
    kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    workers = [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()
               and b"resource_tracker" not in Path(f"/proc/{k}/cmdline").read_bytes()]  # fmt: skip
    assert workers, "no decode worker found (the run ended before the kill)"
    os.kill(int(workers[0]), signal.SIGKILL)
    _out, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    store = open_store(out)
    assert len(store.ids()) >= 9 and len(store.rows) == 10
