"""The ``flow`` motion backbone, frame pairs in the reader, and fused backbones end to end."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from vidscope.backbones import Preprocess, create_backbone, list_backbones
from vidscope.backbones._flow import FLOW_LAYOUT
from vidscope.cli import main
from vidscope.errors import StoreError
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.video import SamplingSpec, VideoReader

from .conftest import numbered_frames, write_video

SIZE = (320, 240)  # (w, h) of the synthetic clips
#: Direction -> ((dx, dy) unit step in image coordinates, histogram bin it must fill).
DIRECTIONS = {"right": ((1, 0), 0), "down": ((0, 1), 2), "left": ((-1, 0), 4), "up": ((0, -1), 6)}
TINY = "timm:test_efficientnet"


@pytest.fixture(scope="module")
def flow():
    return create_backbone("flow")


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random RGB texture ``[h, w, 3]`` (blobs a few pixels wide: trackable)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // 4, w // 4, 3), dtype=np.uint8)
    return cv2.GaussianBlur(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 1)


def translating(n: int, step: tuple[int, int], size=SIZE, seed: int = 0) -> np.ndarray:
    """``[n, h, w, 3]`` frames whose content moves ``step`` = (dx, dy) pixels per frame."""
    w, h = size
    m = (abs(step[0]) + abs(step[1])) * n + 4
    canvas = texture(h + 2 * m, w + 2 * m, seed)
    rows = [m - step[1] * t for t in range(n)]
    cols = [m - step[0] * t for t in range(n)]
    return np.stack([canvas[y : y + h, x : x + w] for y, x in zip(rows, cols, strict=True)])


def clip(tmp_path: Path, name: str, step=(4, 0), *, n=30, fps=25, size=SIZE) -> Path:
    return write_video(tmp_path / name, translating(n, step, size), fps=fps)


def pair_features(path: Path, times, flow) -> tuple[np.ndarray, np.ndarray]:
    """``[T, 10]`` flow features at ``times`` (read as the extractor reads them) and ``dt_s``."""
    with VideoReader(path) as reader:
        size = flow.preprocess.decode_size(reader.info.width, reader.info.height)
        first, after = reader.read_pairs(np.asarray(times, float), size=size)
    dt = after.times_s - first.times_s
    return flow.encode_pairs(first.frames, after.frames, dt), dt


def test_flow_is_registered_and_needs_no_weights(flow):
    assert "flow" in list_backbones()
    assert flow.num_features == len(FLOW_LAYOUT) == 10 and flow.layout == [("flow", 10)]
    assert flow.needs_next_frame and flow.runtime == "opencv" and flow.parts == [flow]
    ident = flow.identity()
    assert ident["name"] == "flow" and ident["weights"] is None
    assert ident["unit"] == "frame widths per second"
    with pytest.raises(ValueError, match="does not take --weights"):
        create_backbone("flow", weights="some.pth")
    with pytest.raises(ValueError, match="encode_pairs"):
        flow.encode(np.zeros((1, 120, 160, 3), np.uint8))
    empty = np.zeros((0, 120, 160, 3), np.uint8)
    assert flow.encode_pairs(empty, empty, np.zeros(0)).shape == (0, 10)


def test_keep_aspect_preprocess_scales_the_long_side():
    pre = Preprocess(input_size=(160, 160), resize="keep_aspect")
    assert pre.decode_size(340, 256) == (160, 120) and pre.decode_size(256, 340) == (120, 160)
    frames = np.zeros((2, 224, 224, 3), np.uint8)  # e.g. decoded squashed for another part
    assert pre.prepare(frames, 1920, 1080).shape == (2, 90, 160, 3)
    assert pre.fit(np.zeros((1, 48, 64, 3), np.uint8)).shape == (1, 120, 160, 3)


@pytest.mark.parametrize("direction", sorted(DIRECTIONS))
def test_translation_gives_direction_and_speed(tmp_path, flow, direction):
    (dx, dy), expected_bin = DIRECTIONS[direction]
    path = clip(tmp_path, f"{direction}.mp4", (4 * dx, 4 * dy))
    feats, dt = pair_features(path, [0.2, 0.5, 0.8], flow)
    np.testing.assert_allclose(dt, 1 / 25, atol=1e-6)
    speed = 4 * 25 / SIZE[0]  # px/frame * frames/s / width = frame widths per second
    np.testing.assert_allclose(feats[:, 0], speed, rtol=0.1)
    np.testing.assert_allclose(feats[:, 1], speed, rtol=0.2)
    hist = feats[:, 2:]
    np.testing.assert_allclose(hist.sum(1), 1, atol=1e-5)
    assert (hist.argmax(1) == expected_bin).all() and (hist[:, expected_bin] > 0.8).all()


def test_speed_unit_is_independent_of_frame_rate_and_resolution(tmp_path, flow):
    slow, _ = pair_features(clip(tmp_path, "25.mp4", fps=25), [0.4], flow)
    fast, dt = pair_features(clip(tmp_path, "50.mp4", fps=50), [0.2], flow)
    assert dt[0] == pytest.approx(1 / 50)
    assert slow[0, 0] == pytest.approx(4 * 25 / 320, rel=0.1)
    assert fast[0, 0] == pytest.approx(4 * 50 / 320, rel=0.1)  # same px/frame, twice the rate
    small, _ = pair_features(clip(tmp_path, "small.mp4", (2, 0), size=(160, 120)), [0.4], flow)
    assert small[0, 0] == pytest.approx(slow[0, 0], rel=0.1)  # half the size, half the px


def test_still_video_gives_near_zero_motion(tmp_path, flow):
    rng = np.random.default_rng(1)
    still = np.repeat(texture(SIZE[1], SIZE[0])[None], 30, axis=0).astype(np.int16)
    still += rng.integers(-2, 3, still.shape, dtype=np.int16)  # sensor noise
    path = write_video(tmp_path / "still.mp4", np.clip(still, 0, 255).astype(np.uint8))
    feats, _ = pair_features(path, [0.1, 0.5, 1.0], flow)
    assert (feats[:, 0] < 0.01).all() and (feats[:, 1] < 0.02).all()  # moving: 0.31
    assert not feats[:, 2:].any()  # no direction histogram of noise
    last, dt = pair_features(path, [10.0], flow)  # last frame: paired with itself
    assert dt[0] == 0 and not last.any()


def test_flow_is_deterministic(tmp_path, flow):
    path = clip(tmp_path, "det.mp4", (3, 2))
    first, _ = pair_features(path, [0.2, 0.6], flow)
    again, _ = pair_features(path, [0.2, 0.6], flow)
    fresh, _ = pair_features(path, [0.2, 0.6], create_backbone("flow", threads=1))
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, fresh)


def test_pairs_are_the_next_frames_decoded_once(make_video):
    path = make_video("n.mp4", 50, gop=10)
    with VideoReader(path) as reader:
        times = np.array([1.0, 0.3, 1.98, 0.31])  # any order, repeats, the last frame
        first, after = reader.read_pairs(times)
        np.testing.assert_allclose(first.times_s, [1.0, 0.28, 1.96, 0.28])
        np.testing.assert_allclose(after.times_s, [1.04, 0.32, 1.96, 0.32])
        again = reader.read(after.times_s)
        np.testing.assert_array_equal(after.frames, again.frames)
    with VideoReader(path) as reader:  # every frame sampled: each decoded exactly once
        first, after = reader.read_pairs(np.arange(50) / 25)
        assert reader.stats["decoded"] == 50
        np.testing.assert_array_equal(after.frames[:-1], first.frames[1:])


def test_image_folder_pairs_use_the_next_image(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    for i, img in enumerate(numbered_frames(5)):
        Image.fromarray(img).save(folder / f"{i + 1:05d}.png")
    with VideoReader(folder, image_fps=10) as reader:
        first, after = reader.read_pairs(np.array([0.0, 0.25, 0.45]))
        np.testing.assert_allclose(first.times_s, [0.0, 0.2, 0.4])
        np.testing.assert_allclose(after.times_s, [0.1, 0.3, 0.4])
        np.testing.assert_array_equal(after.frames[0], reader.read(np.array([0.1])).frames[0])
        np.testing.assert_array_equal(after.frames[2], first.frames[2])


def test_pairs_with_a_gap_use_the_frame_shown_that_much_later(make_video, tmp_path):
    path = make_video("n.mp4", 50, gop=10)
    with VideoReader(path) as reader:
        times = np.array([1.0, 0.3, 1.9, 0.31, 0.0])  # any order, repeats, runs past the end
        first, after = reader.read_pairs(times, gap_s=0.12)
        np.testing.assert_allclose(first.times_s, [1.0, 0.28, 1.88, 0.28, 0.0])
        np.testing.assert_allclose(after.times_s, [1.12, 0.40, 1.96, 0.40, 0.12])
        np.testing.assert_array_equal(after.frames, reader.read(after.times_s).frames)
        np.testing.assert_array_equal(first.frames, reader.read(first.times_s).frames)
    with VideoReader(path) as reader:
        nearest = reader.read_pairs(np.array([0.3]), gap_s=0.001)[1]  # never the frame itself
        np.testing.assert_allclose(nearest.times_s, 0.32)
        with pytest.raises(ValueError, match="gap"):
            reader.read_pairs(np.array([0.3]), gap_s=-1)
    folder = tmp_path / "seq"
    folder.mkdir()
    for i, img in enumerate(numbered_frames(8)):
        Image.fromarray(img).save(folder / f"{i + 1:05d}.png")
    with VideoReader(folder, image_fps=10) as reader:
        first, after = reader.read_pairs(np.array([0.0, 0.25, 0.65]), gap_s=0.3)
        np.testing.assert_allclose(after.times_s - first.times_s, [0.3, 0.3, 0.1])  # end: 0.7


def test_flow_gap_keeps_the_speed_unit_and_is_a_setting_of_the_store(tmp_path):
    clip(tmp_path / "in", "right.mp4", (2, 0), n=100)
    base = ["extract", str(tmp_path / "in"), "--frames", "4", "--backbone", "flow",
            "--quiet", "--workers", "1"]  # fmt: skip
    assert main([*base, "--out", str(tmp_path / "next")]) == 0
    assert main([*base, "--out", str(tmp_path / "gap"), "--backbone-option", "gap=0.12"]) == 0
    near, far = open_store(tmp_path / "next"), open_store(tmp_path / "gap")
    assert far.meta["backbone_options"] == {"gap": 0.12}
    assert far.meta["backbone"]["pair_gap_s"] == 0.12 and "pair_gap_s" not in near.meta["backbone"]
    # 3 frames apart instead of 1, the same speed in frame widths per second
    np.testing.assert_allclose(far.load("right").features[:, 0], 2 * 25 / 320, rtol=0.1)
    np.testing.assert_allclose(near.load("right").features[:, 0], 2 * 25 / 320, rtol=0.1)
    with pytest.raises(ValueError, match="between 0 and 2"):
        create_backbone("flow", gap=5)


def test_cli_extract_flow_with_sparse_sampling(tmp_path):
    clip(tmp_path / "in", "right.mp4", (4, 0), n=100)
    args = ["extract", str(tmp_path / "in"), "--out", str(tmp_path / "s"), "--frames", "4",
            "--backbone", "flow", "--quiet", "--workers", "1"]  # fmt: skip
    assert main(args) == 0
    store = open_store(tmp_path / "s")
    assert store.meta["layout"] == [["flow", 10]] and store.meta["runtime"] == "opencv"
    seq = store.load("right")
    assert seq.features.shape == (4, 10)
    np.testing.assert_allclose(seq.times_s, [0.48, 1.48, 2.48, 3.48])  # frames shown at 0.5+k
    np.testing.assert_allclose(seq.features[:, 0], 4 * 25 / 320, rtol=0.1)  # real motion
    assert (seq.features[:, 2] > 0.8).all()  # moving right


def test_extract_fused_backbone_end_to_end(tmp_path):
    clip(tmp_path / "in", "right.mp4", (4, 0), n=100)
    cfg = ExtractConfig(backbone=f"{TINY}+flow", weights="random", workers=1,
                        sampling=SamplingSpec("uniform", 4))  # fmt: skip
    assert extract(tmp_path / "in", tmp_path / "fused", cfg, progress=False).ok
    fused = open_store(tmp_path / "fused")
    width = create_backbone(TINY, weights="random").num_features
    assert fused.meta["layout"] == [[TINY, width], ["flow", 10]]
    assert fused.meta["runtime"] == "onnx+opencv"
    seq = fused.load("right")
    assert seq.features.shape == (4, width + 10) == (4, fused.num_features)
    np.testing.assert_allclose(seq.times_s, [0.48, 1.48, 2.48, 3.48])
    np.testing.assert_allclose(seq.features[:, width], 4 * 25 / 320, rtol=0.1)
    plain_cfg = ExtractConfig(backbone=TINY, weights="random", workers=1,
                              sampling=SamplingSpec("uniform", 4))  # fmt: skip
    extract(tmp_path / "in", tmp_path / "plain", plain_cfg, progress=False)
    plain = open_store(tmp_path / "plain").load("right")
    np.testing.assert_allclose(seq.features[:, :width], plain.features, rtol=1e-4, atol=1e-4)
    with pytest.raises(StoreError, match="different settings"):  # same first part, other key
        extract(tmp_path / "in", tmp_path / "fused", plain_cfg, progress=False)
    with pytest.raises(StoreError, match="different settings"):
        extract(tmp_path / "in", tmp_path / "plain", cfg, progress=False)


def test_fusion_routes_options_and_names_unknown_parts(tmp_path):
    with pytest.raises(ValueError, match=r"unknown part 'nope'.*efficientnet_lite0.*flow"):
        create_backbone("flow+nope")
    with pytest.raises(ValueError, match="empty part"):
        create_backbone("flow+")
    with pytest.raises(ValueError, match="once"):
        create_backbone("flow+flow")
    fused = create_backbone(f"flow+{TINY}", weights="random", runtime="torch")  # weights: TINY
    assert [p.name for p in fused.parts] == ["flow", TINY] and fused.runtime == "opencv+torch"
    assert fused.identity()["weights"] == fused.parts[1].identity()["weights"]
    assert [i["name"] for i in fused.identity()["parts"]] == ["flow", TINY]
    frames = translating(2, (4, 0))
    got = fused.encode_pairs(frames[:1], frames[1:], np.array([0.04]))
    want_flow = fused.parts[0].encode_pairs(frames[:1], frames[1:], np.array([0.04]))
    want_tiny = fused.parts[1].encode(fused.parts[1].preprocess.fit(frames[:1]))
    np.testing.assert_allclose(got, np.concatenate([want_flow, want_tiny], 1), rtol=1e-5)
