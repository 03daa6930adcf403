"""``emotion``: MTCNN face detector on a real clip, 10-d affect + face mask, no-face video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidscope.backbones import create_backbone
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.video import SamplingSpec

from .conftest import write_video

MMA = Path(__file__).resolve().parents[2] / "shared" / "media" / "real" / "mma_demo_skeleton.mp4"


@pytest.fixture(scope="module")
def emotion():
    return create_backbone("emotion", weights="random")


def _mma_frames(emotion, n: int = 6) -> np.ndarray:
    import av

    if not MMA.exists():
        pytest.skip(f"{MMA} not present")
    with av.open(str(MMA)) as box:
        frames = [f.to_ndarray(format="rgb24") for f in box.decode(video=0)]
    picked = np.stack([frames[i] for i in np.linspace(0, len(frames) - 1, n).astype(int)])
    return emotion.preprocess.fit(picked)


def test_detector_finds_both_fighters(emotion):
    frames = _mma_frames(emotion)
    counts = [len(emotion.detector.detect(f)) for f in frames]
    assert counts == [2] * len(frames), counts  # the two fighters, and nothing else


def test_emotion_extract_real_clip(tmp_path, emotion):
    if not MMA.exists():
        pytest.skip(f"{MMA} not present")
    cfg = ExtractConfig(backbone="emotion", weights="random", workers=1,
                        sampling=SamplingSpec("uniform", 4))  # fmt: skip
    assert extract([MMA], tmp_path / "store", cfg, backbone=emotion, progress=False).ok
    store = open_store(tmp_path / "store")
    assert store.meta["layout"] == [["emotion", 10], ["face_present", 1]]
    feats = store.load(MMA.stem).features.astype(np.float32)  # [4, 11]
    assert feats.shape == (4, 11)
    mask = feats[:, 10] > 0.5
    assert mask.sum() >= 3
    np.testing.assert_allclose(feats[mask, :8].sum(1), 1.0, atol=1e-2)


def test_emotion_no_face_video(tmp_path, emotion):
    from vidscope.backbones._emotion import face_mask

    ramp = np.linspace(0, 255, 160, dtype=np.uint8)[None, :, None]
    frames = np.repeat(np.broadcast_to(ramp, (120, 160, 3))[None], 10, 0).copy()
    frames[5:] = frames[5:, ::-1]
    write_video(tmp_path / "in" / "empty.mp4", frames)
    cfg = ExtractConfig(backbone="emotion", weights="random", workers=1,
                        sampling=SamplingSpec("uniform", 4))  # fmt: skip
    assert extract(tmp_path / "in", tmp_path / "store", cfg, backbone=emotion, progress=False).ok
    feats = open_store(tmp_path / "store").load("empty").features
    assert not face_mask(feats).any()
    assert not feats.any()


def test_emotion_deterministic_and_shape(emotion):
    frames = _mma_frames(emotion, n=2)
    a, b = emotion.encode(frames), emotion.encode(frames)
    assert a.shape == (2, 11) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
