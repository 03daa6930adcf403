"""Spatial views at extraction: ``--backbone-option tiles=2x2`` (global view + tiles)."""

from __future__ import annotations

import numpy as np
import pytest

from vidscope.backbones import create_backbone
from vidscope.backbones._base import resize_frames
from vidscope.backbones._tiles import TiledBackbone, parse_tiles
from vidscope.features import extract, open_store
from vidscope.video import SamplingSpec

from .conftest import write_video


@pytest.fixture(scope="module")
def lite0():
    return create_backbone("efficientnet_lite0", runtime="torch")


def frames(n: int = 2, h: int = 448, w: int = 448, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, h // 16, w // 16, 3), dtype=np.uint8)
    return np.stack([np.kron(f, np.ones((16, 16, 1), np.uint8)) for f in small])


@pytest.mark.parametrize(
    ("text", "grid"),
    [("2x2", (2, 2)), ("2X3", (2, 3)), ("3", (3, 3)), (2, (2, 2)), ("1x2", (1, 2))],
)
def test_parse_tiles(text, grid):
    assert parse_tiles(text) == grid


@pytest.mark.parametrize("bad", ["1x1", "5x5", "two", "2x", 0])
def test_parse_tiles_rejects_with_the_flag(bad):
    with pytest.raises(ValueError, match="--backbone-option tiles="):
        parse_tiles(bad)


def test_views_are_the_squashed_frame_and_the_tiles_at_full_resolution(lite0):
    tiled = TiledBackbone(lite0, tiles="2x2", pool="concat")
    assert tiled.preprocess.input_size == (448, 448) and tiled.num_features == 5 * 1280
    x = frames()
    v = tiled.views(x)
    assert v.shape == (5, 2, 224, 224, 3)
    np.testing.assert_array_equal(v[0], resize_frames(x, (224, 224)))
    np.testing.assert_array_equal(v[2], x[:, :224, 224:])  # tile (0, 1): top right
    np.testing.assert_array_equal(v[3], x[:, 224:, :224])  # tile (1, 0): bottom left
    with pytest.raises(ValueError, match="448x448"):
        tiled.views(x[:, :224])


def test_pools_combine_the_backbones_own_features(lite0):
    x = frames()
    concat = TiledBackbone(lite0, tiles="2x2", pool="concat").encode(x)  # [N, 5D]
    whole = lite0.encode(resize_frames(x, (224, 224)))
    corner = lite0.encode(np.ascontiguousarray(x[:, 224:, 224:]))
    np.testing.assert_allclose(concat[:, :1280], whole, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(concat[:, 4 * 1280 :], corner, rtol=1e-4, atol=1e-4)
    tiles = concat[:, 1280:].reshape(2, 4, 1280)
    pooled = TiledBackbone(lite0, tiles="2x2", pool="max").encode(x)
    np.testing.assert_allclose(pooled[:, 1280:], tiles.max(axis=1), rtol=1e-4, atol=1e-4)
    both = TiledBackbone(lite0, tiles="2x2", pool="mean_max").encode(x)
    assert both.shape == (2, 3 * 1280)
    np.testing.assert_allclose(both[:, 1280:2560], tiles.mean(axis=1), rtol=1e-4, atol=1e-4)


def test_options_reach_the_backbone_and_fused_parts():
    tiled = create_backbone("efficientnet_lite0", tiles="2x2", runtime="torch")
    assert isinstance(tiled, TiledBackbone) and tiled.num_features == 2560  # default pool: max
    assert tiled.identity()["tiles"] == [2, 2] and tiled.identity()["tile_pool"] == "max"
    fused = create_backbone("efficientnet_lite0+flow", tiles="1x2", tile_pool="concat",
                            runtime="torch")  # fmt: skip
    assert fused.layout == [("efficientnet_lite0", 3 * 1280), ("flow", 10)]
    with pytest.raises(ValueError, match="tile_pool needs tiles"):
        create_backbone("efficientnet_lite0", tile_pool="concat", runtime="torch")
    with pytest.raises(ValueError, match="known pools"):
        create_backbone("efficientnet_lite0", tiles="2x2", tile_pool="sum", runtime="torch")
    with pytest.raises(ValueError, match=r"--backbone 'flow' does not take --tiles"):
        create_backbone("flow", tiles="2x2")


def test_extract_with_tiles_is_its_own_store(tmp_path):
    rng = np.random.default_rng(1)
    video = write_video(tmp_path / "v" / "a.mp4", rng.integers(0, 256, (10, 96, 128, 3), np.uint8))
    sampling = SamplingSpec("uniform", 3)
    extract(video, tmp_path / "plain", sampling=sampling, progress=False, runtime="torch")
    extract(video, tmp_path / "tiled", sampling=sampling, progress=False, runtime="torch",
            backbone_options={"tiles": "2x2"})  # fmt: skip
    plain, tiled = open_store(tmp_path / "plain"), open_store(tmp_path / "tiled")
    assert tiled.meta["layout"] == [["efficientnet_lite0", 2560]]
    assert tiled.meta["backbone"]["tiles"] == [2, 2]
    a, b = plain.load("a").features, tiled.load("a").features
    assert b.shape == (3, 2560)
    # the global view is the frame decoded at 448 px then squashed to 224: close to decoding
    # at 224 directly (both INTER_AREA-like), not equal
    cos = (a * b[:, :1280]).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b[:, :1280], axis=1)
    assert np.all(cos > 0.95)
