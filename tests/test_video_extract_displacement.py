"""``extract`` records how far the reader moved each video's samples (``max_displacement_s``)
and ``--seek keyframe``'s default tolerance follows the sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidscope.features import ExtractConfig, extract, open_store
from vidscope.video import SamplingSpec

from ._video_helpers import encode, pattern


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """150 frames at 25 fps (6 s), keyframes at exactly 0, 2 and 4 s."""
    path = tmp_path_factory.mktemp("disp") / "gop50.mp4"
    return encode(path, [pattern(i) for i in range(150)], gop=50)


@pytest.fixture(scope="module")
def tiny_backbone():
    from vidscope.backbones import create_backbone

    return create_backbone("timm:test_efficientnet", weights="random")


def _run(video: Path, out: Path, backbone: object, **cfg: object) -> tuple[dict, np.ndarray]:
    report = extract([video], out, ExtractConfig(**cfg), backbone=backbone, progress=False)
    assert report.done == ["gop50"], report.failed
    store = open_store(out)
    row = store.manifest().set_index("video_id").loc["gop50"].to_dict()
    return row, store.load("gop50").times_s


def test_default_tolerance_is_none_and_validated() -> None:
    assert ExtractConfig().keyframe_tolerance_s is None
    with pytest.raises(ValueError, match="--keyframe-tolerance"):
        ExtractConfig(keyframe_tolerance_s=-1.0)


def test_keyframe_default_snaps_within_reach(video, tmp_path, tiny_backbone) -> None:
    sampling = SamplingSpec("uniform", 3)  # 1, 3, 5 s: windows of 2 s reach the keyframes
    row, times = _run(video, tmp_path / "kf", tiny_backbone, sampling=sampling, seek="keyframe")
    np.testing.assert_allclose(times, [0.0, 2.0, 4.0], atol=1e-9)
    assert row["max_displacement_s"] == pytest.approx(1.0)
    assert row["decoded_frames"] == 3


def test_exact_displacement_is_under_a_frame(video, tmp_path, tiny_backbone) -> None:
    sampling = SamplingSpec("uniform", 4)  # 0.75 2.25 3.75 5.25 s: frames start 0.01 s before
    row, times = _run(video, tmp_path / "ex", tiny_backbone, sampling=sampling)
    np.testing.assert_allclose(times, [0.72, 2.24, 3.72, 5.24], atol=1e-9)
    assert row["max_displacement_s"] == pytest.approx(0.03)


def test_explicit_tolerance_still_applies(video, tmp_path, tiny_backbone) -> None:
    sampling = SamplingSpec("uniform", 3)
    row, times = _run(
        video,
        tmp_path / "tol",
        tiny_backbone,
        sampling=sampling,
        seek="keyframe",
        keyframe_tolerance_s=0.5,
    )
    # no keyframe within 0.5 s of 1, 3, 5 s: each moves earlier, to the frame within 0.5 s that
    # is cheapest to decode, and the manifest records the largest move
    moved = times - np.array([1.0, 3.0, 5.0])
    assert np.all(moved >= -0.5 - 1e-9) and np.all(moved < 0)
    assert row["max_displacement_s"] == pytest.approx(np.abs(moved).max())


def test_default_reach_is_recorded_and_shared_frames_encoded_once(
    video, tmp_path, tiny_backbone, monkeypatch
) -> None:
    """Uniform 4 (0.75 ... 5.25 s) reach their neighbours: 3.75 and 5.25 share key 4. The key
    records the reach, and the shared frame goes through the backbone once."""
    calls: list[int] = []
    encode = tiny_backbone.encode
    monkeypatch.setattr(tiny_backbone, "encode", lambda f: calls.append(len(f)) or encode(f))
    sampling = SamplingSpec("uniform", 4)
    row, times = _run(video, tmp_path / "r", tiny_backbone, sampling=sampling, seek="keyframe")
    np.testing.assert_allclose(times, [0.0, 2.0, 4.0, 4.0], atol=1e-9)
    assert sum(calls) == 3  # four rows, three distinct frames
    assert row["decoded_frames"] == 3 and row["max_displacement_s"] == pytest.approx(1.25)
    assert row["distinct_frames"] == 3
    store = open_store(tmp_path / "r")
    feats = store.load("gop50").features
    np.testing.assert_array_equal(feats[2], feats[3])
    assert store.meta["keyframe_reach"] == 1.0 and store.meta["keyframe_tolerance_s"] is None
    halfway = tmp_path / "h"
    _, times = _run(
        video, halfway, tiny_backbone, sampling=sampling, seek="keyframe", keyframe_reach=0.5
    )
    np.testing.assert_allclose(times, [0.0, 2.0, 4.0, 4.52], atol=1e-9)
    assert open_store(halfway).meta["keyframe_reach"] == 0.5
    _, _ = _run(video, tmp_path / "e", tiny_backbone, sampling=sampling)
    assert open_store(tmp_path / "e").meta["keyframe_reach"] is None  # exact: not used


def test_keys_written_before_the_reach_imply_halfway() -> None:
    from vidscope.features import StoreKey

    old = {"backbone": {"name": "efficientnet_lite0"}, "seek": "keyframe", "key_version": 2}
    key = StoreKey.from_json(old)
    assert key.keyframe_reach == 0.5
    cfg = key.extract_config()
    assert cfg.keyframe_reach == 0.5 and cfg.keyframe_tolerance_s is None
    new = StoreKey.from_json({**old, "keyframe_reach": 1.0})
    assert new.keyframe_reach == 1.0 and new.extract_config().keyframe_reach == 1.0
    assert any("keyframe_reach" in d for d in key.differences(new))
    exact = StoreKey.from_json({"backbone": {"name": "x"}, "seek": "exact"})
    assert exact.keyframe_reach is None
    fixed = StoreKey.from_json({**old, "keyframe_tolerance_s": 0.5})
    assert fixed.keyframe_reach is None and fixed.extract_config().keyframe_tolerance_s == 0.5


@pytest.mark.parametrize(
    ("flag", "field", "value"),
    [
        ("0.5x", "keyframe_reach", 0.5),
        ("2X", "keyframe_reach", 2.0),
        ("0.7", "keyframe_tolerance_s", 0.7),
    ],
)
def test_cli_tolerance_takes_seconds_or_a_multiple_of_the_spacing(
    flag: str, field: str, value: float
) -> None:
    import argparse

    from vidscope.cli._common import add_extract_options, extract_config

    p = argparse.ArgumentParser()
    add_extract_options(p)
    cfg = extract_config(p.parse_args(["--seek", "keyframe", "--keyframe-tolerance", flag]))
    assert getattr(cfg, field) == value


def test_cli_tolerance_errors_are_one_line(capsys, tmp_path) -> None:
    from vidscope.cli import main

    with pytest.raises(SystemExit) as exc:
        main(
            ["extract", str(tmp_path), "--out", str(tmp_path / "s"), "--keyframe-tolerance", "abc"]
        )
    assert exc.value.code == 2
    assert "neither seconds" in capsys.readouterr().err
    assert (
        main(
            [
                "extract",
                str(tmp_path),
                "--out",
                str(tmp_path / "s"),
                "--seek",
                "keyframe",
                "--keyframe-tolerance",
                "0x",
            ]
        )
        == 2
    )
    assert "must be > 0" in capsys.readouterr().err


def test_the_report_says_how_many_samples_share_a_frame(video, tmp_path, tiny_backbone) -> None:
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", 4), seek="keyframe")
    report = extract([video], tmp_path / "s", cfg, backbone=tiny_backbone, progress=False)
    assert (report.samples, report.shared) == (4, 1)
    assert any("1 of 4 samples" in n and "0.5x" in n for n in report.notes)
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", 4), seek="keyframe", keyframe_reach=0.5)
    report = extract([video], tmp_path / "h", cfg, backbone=tiny_backbone, progress=False)
    assert (report.samples, report.shared) == (4, 0) and not report.notes
    cfg = ExtractConfig(sampling=SamplingSpec("fps", 50))  # twice the video's 25 fps
    report = extract([video], tmp_path / "d", cfg, backbone=tiny_backbone, progress=False)
    assert report.shared == report.samples - 150
    assert any("denser than the videos' frames" in n for n in report.notes)


def test_info_shows_the_reach_distinct_frames_and_largest_move(
    video, tmp_path, tiny_backbone, capsys, monkeypatch
) -> None:
    from vidscope.cli import main

    monkeypatch.setenv("COLUMNS", "200")  # one table line per row

    _run(video, tmp_path / "k", tiny_backbone, sampling=SamplingSpec("uniform", 4), seek="keyframe")
    capsys.readouterr()
    assert main(["info", str(tmp_path / "k")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "seek keyframe (reach 1x the spacing)" in out
    assert "4 frames encoded, 3 of them distinct; moved at most 1.25 s" in out
