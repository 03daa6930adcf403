"""Test-time flip: ``--backbone-option tta=hflip`` (frame and mirror image, features pooled)."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from vidscope.backbones import create_backbone
from vidscope.backbones._base import resize_frames
from vidscope.backbones._flip import FlipBackbone
from vidscope.backbones._tiles import TiledBackbone
from vidscope.features import extract, open_store, store_key
from vidscope.features._engine import backbone_from_config
from vidscope.video import SamplingSpec

from .conftest import REAL

CLIP = REAL / "mma_demo.mp4"


@pytest.fixture(scope="module")
def lite0():
    return create_backbone("efficientnet_lite0", runtime="torch")


@pytest.fixture(scope="module")
def real_frames() -> np.ndarray:
    """``uint8 [6, 224, 224, 3]``: frames of a real clip, squashed to the network's input."""
    if not CLIP.exists():
        pytest.skip(f"{CLIP} is missing (../shared/media/real)")
    with av.open(str(CLIP)) as src:
        frames = list(itertools.islice(src.decode(video=0), 0, 60, 10))
    return resize_frames(np.stack([f.to_ndarray(format="rgb24") for f in frames]), (224, 224))


def write_lossless(path: Path, frames: np.ndarray, fps: int = 10) -> Path:
    """Frames as a lossless RGB (FFV1, bgr0) video, so decoding gives back the same pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "bgr0"
        for img in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_flip_pools_the_frame_and_its_mirror(lite0, real_frames):
    x = real_frames[:3]
    plain = lite0.encode(x)
    mirrored = lite0.encode(np.ascontiguousarray(x[:, :, ::-1]))
    assert np.all(cosine(plain, mirrored) < 0.999)  # the mirror image is not the same input
    mean = FlipBackbone(lite0, tta="hflip").encode(x)
    assert mean.shape == plain.shape and mean.dtype == np.float32
    np.testing.assert_allclose(mean, (plain + mirrored) / 2, rtol=1e-4, atol=1e-5)
    top = FlipBackbone(lite0, tta="hflip", pool="max").encode(x)
    np.testing.assert_allclose(top, np.maximum(plain, mirrored), rtol=1e-4, atol=1e-5)


def test_mirrored_real_frames_give_the_same_features(lite0, real_frames):
    flip = FlipBackbone(lite0, tta="hflip")
    a = flip.encode(real_frames)
    b = flip.encode(np.ascontiguousarray(real_frames[:, :, ::-1]))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_options_reach_the_appearance_part_only():
    flip = create_backbone("efficientnet_lite0", tta="hflip", runtime="torch")
    assert isinstance(flip, FlipBackbone) and flip.num_features == 1280
    assert flip.identity()["tta"] == "hflip" and flip.identity()["tta_pool"] == "mean"
    fused = create_backbone("efficientnet_lite0+flow", tta="hflip", tta_pool="max",
                            runtime="torch")  # fmt: skip
    assert fused.layout == [("efficientnet_lite0", 1280), ("flow", 10)]
    assert isinstance(fused.parts[0], FlipBackbone) and fused.parts[0].pool == "max"
    assert not isinstance(fused.parts[1], FlipBackbone)
    both = create_backbone("efficientnet_lite0", tta="hflip", tiles="2x2", runtime="torch")
    assert isinstance(both, FlipBackbone) and isinstance(both.inner, TiledBackbone)
    assert both.preprocess.input_size == (448, 448) and both.num_features == 2560
    with pytest.raises(ValueError, match="tta_pool needs tta"):
        create_backbone("efficientnet_lite0", tta_pool="max", runtime="torch")
    with pytest.raises(ValueError, match="tta='vflip'"):
        create_backbone("efficientnet_lite0", tta="vflip", runtime="torch")
    with pytest.raises(ValueError, match="tta_pool='sum'"):
        create_backbone("efficientnet_lite0", tta="hflip", tta_pool="sum", runtime="torch")
    with pytest.raises(ValueError, match=r"--backbone 'flow' does not take --tta"):
        create_backbone("flow", tta="hflip")


def test_mirrored_video_extracts_to_the_same_features_and_key_rebuilds(tmp_path, real_frames):
    """A real clip and its mirror image, stored losslessly at the input size (so decoding adds
    no resampling): with the flip their features agree to float tolerance, without it they
    do not; the option is in the store and ``extract_config()`` rebuilds the same backbone."""
    write_lossless(tmp_path / "v" / "orig.mkv", real_frames)
    write_lossless(tmp_path / "v" / "mirror.mkv", np.ascontiguousarray(real_frames[:, :, ::-1]))
    sampling = SamplingSpec("uniform", 4)
    common = {"sampling": sampling, "progress": False, "runtime": "torch"}
    extract(tmp_path / "v", tmp_path / "plain", **common)
    extract(tmp_path / "v", tmp_path / "flip", backbone_options={"tta": "hflip"}, **common)
    plain, flip = open_store(tmp_path / "plain"), open_store(tmp_path / "flip")
    a, b = flip.load("orig").features, flip.load("mirror").features
    assert a.shape == (4, 1280)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    pa, pb = plain.load("orig").features, plain.load("mirror").features
    assert np.all(cosine(pa, pb) < 0.999)  # without the flip the mirror changes the features
    key = store_key(flip)
    assert key.backbone_options == {"tta": "hflip"}
    assert key.backbone["tta"] == "hflip" and key.layout == (("efficientnet_lite0", 1280),)
    assert store_key(plain).differences(key)  # its own store, never mixed with plain features
    cfg = key.extract_config(runtime="torch")
    assert cfg.backbone_options == {"tta": "hflip"}
    rebuilt = backbone_from_config(cfg)
    assert isinstance(rebuilt, FlipBackbone)
    assert rebuilt.identity() == flip.meta["backbone"]
