"""Feature store: key checks, resume, journal, atomicity, float16, plain .npy folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.errors import StoreError
from vidscope.features import ExtractConfig, FeatureStore, extract, open_store
from vidscope.video import SamplingSpec

CFG = ExtractConfig(sampling=SamplingSpec("uniform", 4), workers=1)


@pytest.fixture(scope="module")
def backbone():
    from vidscope.backbones import create_backbone

    return create_backbone("timm:test_efficientnet", weights="random")


@pytest.fixture
def videos(make_video) -> Path:
    for i in range(3):
        make_video(f"vids/cls{i % 2}/v{i}.mp4", 20 + 5 * i, seed=i)
    return make_video("vids/cls0/v0.mp4", 20, seed=0).parents[1]


def test_extract_writes_layout(videos: Path, tmp_path: Path, backbone):
    out = tmp_path / "store"
    report = extract(videos, out, CFG, backbone=backbone, progress=False)
    assert sorted(report.done) == ["cls0/v0", "cls0/v2", "cls1/v1"] and report.ok
    meta = json.loads((out / "store.json").read_text())
    assert meta["sampling"] == {"mode": "uniform", "value": 4, "max_frames": None}
    assert meta["layout"] == [["timm:test_efficientnet", backbone.num_features]]
    assert not (out / "manifest.journal.jsonl").exists()  # folded into the Parquet file
    df = pd.read_parquet(out / "manifest.parquet")
    assert set(df["status"]) == {"ok"} and list(df["num_samples"]) == [4, 4, 4]
    seq = open_store(out).load("cls1/v1")
    assert seq.features.shape == (4, backbone.num_features) and seq.features.dtype == np.float32
    np.testing.assert_allclose(seq.times_s, [0.12, 0.36, 0.6, 0.84])  # 25 frames at 25 fps
    assert (out / "features/cls1/v1.npy").exists() and (out / "features/cls1/v1.t.npy").exists()


def test_rerun_skips_and_changed_file_is_redone(videos: Path, tmp_path: Path, backbone, make_video):
    out = tmp_path / "store"
    extract(videos, out, CFG, backbone=backbone, progress=False)
    again = extract(videos, out, CFG, backbone=backbone, progress=False)
    assert again.done == [] and sorted(again.skipped) == ["cls0/v0", "cls0/v2", "cls1/v1"]
    make_video("vids/cls1/v1.mp4", 40, seed=9)  # same name, new content
    third = extract(videos, out, CFG, backbone=backbone, progress=False)
    assert third.done == ["cls1/v1"]
    assert open_store(out).rows["cls1/v1"]["num_frames"] == 40


def test_different_settings_never_mix(videos: Path, tmp_path: Path, backbone):
    out = tmp_path / "store"
    extract(videos, out, CFG, backbone=backbone, progress=False)
    other = ExtractConfig(sampling=SamplingSpec("uniform", 8), workers=1)
    with pytest.raises(StoreError, match=r"has 4 frames uniform, this run asks 8 .*never mixed"):
        extract(videos, out, other, backbone=backbone, progress=False)
    with pytest.raises(StoreError, match="dtype"):
        extract(videos, out, CFG, backbone=backbone, progress=False, dtype="float16")


def test_float16_storage(videos: Path, tmp_path: Path, backbone):
    out = tmp_path / "store16"
    extract(videos, out, CFG, backbone=backbone, progress=False, dtype="float16")
    a = open_store(out).load("cls0/v0").features
    assert a.dtype == np.float16
    b = extract(videos, tmp_path / "s32", CFG, backbone=backbone, progress=False)
    np.testing.assert_allclose(
        a, open_store(b.store).load("cls0/v0").features, rtol=2e-3, atol=2e-3
    )


def test_out_folder_that_is_not_a_store_is_refused(videos: Path, tmp_path: Path, backbone):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not a vidscope feature store"):
        extract(videos, tmp_path / "busy", CFG, backbone=backbone, progress=False)


def test_journal_survives_a_torn_line(tmp_path: Path):
    store = FeatureStore.create(tmp_path / "s", {"layout": [["x", 3]], "dtype": "float32"})
    rel = store.write("a", np.ones((2, 3)), np.array([0.0, 1.0]))
    store.record({"video_id": "a", "status": "ok", "features": rel})
    with open(tmp_path / "s" / "manifest.journal.jsonl", "a") as f:
        f.write('{"video_id": "b", "sta')  # a run killed mid-write
    reopened = open_store(tmp_path / "s")
    assert reopened.ids() == ["a"]
    np.testing.assert_array_equal(reopened.load("a").features, np.ones((2, 3)))
    with pytest.raises(StoreError, match="no video 'zzz'"):
        reopened.load("zzz")


def test_npy_folder_opens_as_store(tmp_path: Path):
    root = tmp_path / "npy"
    for split, cls, name, t in [
        ("train", "fight", "a", 5),
        ("train", "calm", "b", 7),
        ("val", "fight", "c", 3),
    ]:
        (root / split / cls).mkdir(parents=True, exist_ok=True)
        np.save(root / split / cls / f"{name}.npy", np.full((t, 6), t, np.float32))
    store = open_store(root)
    assert store.ids() == ["train/calm/b", "train/fight/a", "val/fight/c"]
    assert store.num_features == 6
    df = store.manifest().set_index("video_id")
    assert df.loc["val/fight/c", "split"] == "val" and df.loc["train/calm/b", "label"] == "calm"
    seq = store.load("train/calm/b")
    assert seq.features.shape == (7, 6) and list(seq.times_s) == list(range(7))
    np.save(root / "val" / "fight" / "d.npy", np.zeros((3, 5), np.float32))
    with pytest.raises(StoreError, match="different feature widths"):
        open_store(root)


def test_npy_folder_rejects_non_2d(tmp_path: Path):
    (tmp_path / "n").mkdir()
    np.save(tmp_path / "n" / "x.npy", np.zeros(4))
    with pytest.raises(StoreError, match=r"expected a \[T, D\] array"):
        open_store(tmp_path / "n")
    with pytest.raises(StoreError, match="no such feature store"):
        open_store(tmp_path / "missing")


def test_interrupted_run_resumes(tmp_path: Path, make_video):
    """Kill `vidscope extract` mid-way (SIGKILL), rerun: finished videos are kept, rest done."""
    for i in range(12):
        make_video(f"many/v{i:02d}.mp4", 150, size=(160, 120), seed=i)
    out = tmp_path / "store"
    cmd = [sys.executable, "-m", "vidscope.cli", "extract", str(tmp_path / "many"), "--out",
           str(out), "--frames", "6", "--backbone", "timm:test_efficientnet", "--weights",
           "random", "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    journal = out / "manifest.journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {json.loads(line)["video_id"] for line in journal.read_text().splitlines()}
    assert 3 <= len(done_before) < 12
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(done_before)} already done" in rerun.stdout
    store = open_store(out)
    assert store.ids() == [f"v{i:02d}" for i in range(12)]
    assert all(store.load(v).features.shape[0] == 6 for v in store.ids())
    assert not list(out.rglob(".tmp-*"))  # no half-written files left visible
