"""Extraction over real edge-case media, bad input handling, inputs, per-file timeout."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vidscope.cli import main
from vidscope.errors import VidscopeError
from vidscope.features import ExtractConfig, extract, open_store, resolve_videos
from vidscope.video import SamplingSpec

from .conftest import EDGE


@pytest.fixture(scope="module")
def tiny_backbone():
    from vidscope.backbones import create_backbone

    return create_backbone("timm:test_efficientnet", weights="random")


@pytest.fixture(scope="module")
def edge_store(tmp_path_factory, edge_expected, tiny_backbone):
    out = tmp_path_factory.mktemp("edge") / "store"
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", 16), image_fps=10, timeout_s=60)
    report = extract(EDGE, out, cfg, backbone=tiny_backbone, progress=False)
    return report, open_store(out)


def _vid(name: str) -> str:
    return name.rstrip("/").rsplit(".", 1)[0] if not name.endswith("/") else name.rstrip("/")


def test_every_edge_file_is_accounted_for(edge_store, edge_expected):
    report, store = edge_store
    ids = {_vid(n) for n in edge_expected}
    assert ids == set(store.rows), "every expected file gets exactly one manifest row"
    for name, exp in edge_expected.items():
        row = store.rows[_vid(name)]
        want = {"ok": {"ok"}, "partial": {"partial", "failed"}, "error": {"failed"}}[exp["status"]]
        assert row["status"] in want, (name, row["status"], row["error"])
        if row["status"] != "ok":
            assert row["error"] and len(str(row["error"])) > 10, name
    assert set(report.failed) == {n for n, r in store.rows.items() if r["status"] == "failed"}


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("zero_bytes.mp4", "empty file"),
        ("not_a_video.mp4", "plain text"),
        ("audio_only.mp4", "no video stream"),
        ("truncated_moov_at_end.mp4", "moov"),
    ],
)
def test_error_files_have_specific_reasons(edge_store, name, phrase):
    _, store = edge_store
    row = store.rows[_vid(name)]
    assert row["status"] == "failed" and phrase in row["error"]


def test_ok_files_match_expected_metadata(edge_store, edge_expected):
    _, store = edge_store
    for name, exp in edge_expected.items():
        if exp["status"] != "ok":
            continue
        row = store.rows[_vid(name)]
        assert row["num_frames"] == exp["frames"], name
        assert (row["width"], row["height"]) == (exp["width"], exp["height"]), name
        if "duration_s" in exp:
            assert abs(row["duration_s"] - exp["duration_s"]) <= 1.0 / (row["fps"] or 25), name
        assert row["rotation"] == exp.get("rotation", 0), name
        seq = store.load(_vid(name))
        assert seq.features.shape == (16, store.num_features) and np.isfinite(seq.features).all()
        assert np.all(np.diff(seq.times_s) >= 0) and seq.times_s[-1] <= row["duration_s"]


def test_partial_files_keep_the_readable_part(edge_store, edge_expected):
    _, store = edge_store
    for name, exp in edge_expected.items():
        if exp["status"] == "partial":
            row = store.rows[_vid(name)]
            assert row["status"] == "partial", (name, row["error"])
            seq = store.load(_vid(name))
            assert seq.num_samples == 16
            if "cut" in exp["why"]:  # only the head is readable: nothing sampled past it
                assert seq.times_s.max() < exp["decodable_frames"] / 25 + 0.05, name
            else:  # damage in the middle: the frames around it are still used
                assert seq.times_s.max() > 3.5 and len(np.unique(seq.times_s)) >= 14, name


def test_vfr_timestamps_are_even_in_time(edge_store):
    _, store = edge_store
    t = store.load("vfr_30then5fps").times_s
    ideal = (np.arange(16) + 0.5) * 4.0 / 16
    assert np.abs(t - ideal).max() <= 0.2 + 1e-9  # within one 5 fps frame of the ideal time
    assert (t >= 2.0).sum() >= 7  # half of the samples in the last 2 s (10 of 70 frames)


def test_long_video_memory_is_bounded(tmp_path, tiny_backbone):
    """3,000 frames of a 10-minute video stream through in chunks; none are all held at once."""
    import tracemalloc

    path = EDGE / "long_10min_64x48.mp4"
    if not path.exists():
        pytest.skip("shared edge media absent")
    cfg = ExtractConfig(sampling=SamplingSpec("fps", 5), batch_size=64)
    tracemalloc.start()
    try:
        report = extract([path], tmp_path / "s", cfg, backbone=tiny_backbone, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.done == ["long_10min_64x48"]
    seq = open_store(tmp_path / "s").load("long_10min_64x48")
    assert seq.num_samples == 3000 and abs(seq.times_s[-1] - 599.8) < 1e-6
    all_frames = 3000 * 160 * 160 * 3
    assert peak < all_frames / 8, f"peak {peak / 2**20:.0f} MiB of Python/numpy memory"


def test_hung_decoder_is_abandoned_and_batch_goes_on(tmp_path, make_video, tiny_backbone):
    """A FIFO named .mp4 blocks the demuxer forever: the file times out, the rest is done."""
    folder = tmp_path / "mixed"
    make_video("mixed/a.mp4", 20)
    make_video("mixed/c.mp4", 20, seed=3)
    os.mkfifo(folder / "b_hangs.mp4")
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", 2), timeout_s=3)
    report = extract(folder, tmp_path / "s", cfg, backbone=tiny_backbone, progress=False)
    assert sorted(report.done) == ["a", "c"]
    assert "no progress for 3 s" in report.failed["b_hangs"]


def test_list_and_csv_inputs(tmp_path, make_video, tiny_backbone):
    make_video("in/x/one.mp4", 10)
    make_video("in/two.mp4", 10, seed=1)
    (tmp_path / "in" / "list.txt").write_text("# videos\nx/one.mp4\n\ntwo.mp4\n")
    (tmp_path / "in" / "list.csv").write_text("video_path,label\nx/one.mp4,a\ntwo.mp4,b\n")
    ids = [v.video_id for v in resolve_videos(tmp_path / "in" / "list.txt")]
    assert ids == ["x/one", "two"]
    ids = [v.video_id for v in resolve_videos(tmp_path / "in" / "list.csv")]
    assert ids == ["x/one", "two"]
    with pytest.raises(VidscopeError, match=r"no path column.*video_path, label"):
        resolve_videos(tmp_path / "in" / "list.csv", path_column="nope")
    with pytest.raises(VidscopeError, match="no such file or folder"):
        resolve_videos(tmp_path / "absent")


def test_cli_strict_mode_and_summary(tmp_path, make_video, capsys):
    make_video("v/good.mp4", 10)
    (tmp_path / "v" / "bad.mp4").write_bytes(b"")
    args = ["extract", str(tmp_path / "v"), "--out", str(tmp_path / "s"), "--frames", "2",
            "--backbone", "timm:test_efficientnet", "--weights", "random", "--quiet"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 videos: 1 ok, 0 partial, 1 failed" in out and "empty file" in out
    assert main([*args, "--strict"]) == 1
    assert main(["info", str(tmp_path / "s")]) == 0
    info = capsys.readouterr().out
    assert "2: 1 ok, 0 partial, 1 failed" in info and "timm:test_efficientnet" in info


def test_cli_reports_bad_flags_clearly(tmp_path, capsys):
    assert main(["extract", str(tmp_path), "--out", str(tmp_path / "s"), "--batch-size", "0"]) == 2
    assert "--batch-size must be >= 1" in capsys.readouterr().err
