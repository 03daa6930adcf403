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


def test_keyframe_default_snaps_within_half_spacing(video, tmp_path, tiny_backbone) -> None:
    sampling = SamplingSpec("uniform", 3)  # 1, 3, 5 s: windows of 1 s reach the keyframes
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
