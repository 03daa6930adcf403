"""Motion focus at extraction: ``--backbone-option focus=motion`` (global view + moving crop)."""

from __future__ import annotations

import numpy as np
import pytest

from vidscope.backbones import create_backbone
from vidscope.backbones._base import resize_frames
from vidscope.backbones._focus import NOISE_LEVEL, FocusBackbone, focus_boxes
from vidscope.errors import InputError
from vidscope.features import extract, open_store
from vidscope.video import SamplingSpec

from .conftest import write_video


@pytest.fixture(scope="module")
def lite0():
    return create_backbone("efficientnet_lite0", runtime="torch")


def scene(n: int = 3, size: int = 448, seed: int = 0) -> np.ndarray:
    """Smooth random backgrounds (blocks of 32 px), ``uint8 [n, size, size, 3]``."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (n, size // 32, size // 32, 3), dtype=np.uint8)
    return np.stack([np.kron(f, np.ones((32, 32, 1), np.uint8)) for f in small])


def test_the_crop_goes_where_the_picture_moves():
    a = scene()
    b = a.copy()
    # something moves in a different place in each frame: bottom right, top left, middle left
    spots = [(330, 360), (20, 30), (200, 10)]
    for i, (y, x) in enumerate(spots):
        b[i, y : y + 60, x : x + 60] = 255 - b[i, y : y + 60, x : x + 60]
    boxes = focus_boxes(a, b, (224, 224))
    for (y0, x0), (y, x) in zip(boxes, spots, strict=True):
        assert 0 <= y0 <= 448 - 224 and 0 <= x0 <= 448 - 224
        assert y0 <= y and y + 60 <= y0 + 224 + 8  # the moving patch is inside the crop
        assert x0 <= x and x + 60 <= x0 + 224 + 8
    assert boxes[0].tolist() != boxes[1].tolist()


def test_still_or_noisy_frames_get_the_centre():
    a = scene(n=2)
    rng = np.random.default_rng(3)
    noise = rng.integers(-int(NOISE_LEVEL) // 2, int(NOISE_LEVEL) // 2 + 1, a.shape)
    b = np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)  # compression-like noise only
    for partner in (a, b):
        assert focus_boxes(a, partner, (224, 224)).tolist() == [[112, 112], [112, 112]]
    # a non-square frame: the centre of each axis
    assert focus_boxes(a[:, :300], a[:, :300], (150, 224)).tolist() == [[75, 112]] * 2


def test_views_are_the_squashed_frame_and_the_moving_crop(lite0):
    focused = FocusBackbone(lite0)
    assert focused.preprocess.input_size == (448, 448) and focused.num_features == 2560
    assert focused.needs_next_frame
    a = scene(n=2)
    b = a.copy()
    b[:, 300:380, 320:400] = 0
    v = focused.views(a, b)
    assert v.shape == (2, 2, 224, 224, 3)
    np.testing.assert_array_equal(v[0], resize_frames(a, (224, 224)))
    (y, x) = focus_boxes(a, b, (224, 224))[0]
    np.testing.assert_array_equal(v[1, 0], a[0, y : y + 224, x : x + 224])
    with pytest.raises(InputError, match="448x448"):
        focused.views(a[:, :224], b[:, :224])


def test_features_are_the_backbones_own_on_each_view(lite0):
    focused = FocusBackbone(lite0)
    a = scene(n=2, seed=5)
    b = a.copy()
    b[:, 10:90, 10:90] = 255
    feats = focused.encode_pairs(a, b, np.full(2, 0.04))
    assert feats.shape == (2, 2560) and feats.dtype == np.float32
    whole = lite0.encode(resize_frames(a, (224, 224)))
    y, x = focus_boxes(a, b, (224, 224))[1]
    crop = lite0.encode(np.ascontiguousarray(a[1:, y : y + 224, x : x + 224]))
    np.testing.assert_allclose(feats[:, :1280], whole, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(feats[1:, 1280:], crop, rtol=1e-4, atol=1e-4)
    with pytest.raises(InputError, match="needs frame pairs"):
        focused.encode(a)


def test_options_reach_the_backbone_and_fused_parts():
    focused = create_backbone("efficientnet_lite0", focus="motion", focus_zoom=3, runtime="torch")
    assert isinstance(focused, FocusBackbone) and focused.preprocess.input_size == (672, 672)
    ident = focused.identity()
    assert ident["focus"] == "motion" and ident["focus_zoom"] == 3.0
    assert ident["num_features"] == 2560
    fused = create_backbone("efficientnet_lite0+flow", focus="motion", runtime="torch")
    assert fused.layout == [("efficientnet_lite0", 2560), ("flow", 10)]
    assert fused.needs_next_frame
    flipped = create_backbone("efficientnet_lite0", focus="motion", tta="hflip", runtime="torch")
    assert flipped.identity()["tta"] == "hflip"  # each view is flipped inside the focus
    with pytest.raises(InputError, match="focus_zoom needs focus"):
        create_backbone("efficientnet_lite0", focus_zoom=2, runtime="torch")
    with pytest.raises(InputError, match="known rules"):
        create_backbone("efficientnet_lite0", focus="faces", runtime="torch")
    for bad in ("1", "9", "wide"):
        with pytest.raises(InputError, match="focus_zoom="):
            create_backbone("efficientnet_lite0", focus="motion", focus_zoom=bad, runtime="torch")
    with pytest.raises(InputError, match="cannot be combined"):
        create_backbone("efficientnet_lite0", focus="motion", tiles="2x2", runtime="torch")
    with pytest.raises(ValueError, match=r"--backbone 'flow' does not take --focus"):
        create_backbone("flow", focus="motion")


def test_extract_with_focus_is_its_own_store(tmp_path):
    rng = np.random.default_rng(1)
    clip = np.repeat(rng.integers(30, 220, (1, 96, 128, 3), np.uint8), 12, axis=0)
    for i in range(12):  # a bright square crossing the right half
        clip[i, 50:80, 64 + 4 * i : 94 + 4 * i] = 255
    video = write_video(tmp_path / "v" / "a.mp4", clip)
    sampling = SamplingSpec("uniform", 3)
    extract(video, tmp_path / "plain", sampling=sampling, progress=False, runtime="torch")
    extract(video, tmp_path / "focus", sampling=sampling, progress=False, runtime="torch",
            backbone_options={"focus": "motion"})  # fmt: skip
    plain, focused = open_store(tmp_path / "plain"), open_store(tmp_path / "focus")
    assert focused.meta["layout"] == [["efficientnet_lite0", 2560]]
    assert focused.meta["backbone"]["focus"] == "motion"
    a, b = plain.load("a").features, focused.load("a").features
    assert b.shape == (3, 2560) and np.isfinite(b).all()
    # the global view is the frame decoded at 448 px then squashed to 224: close to decoding
    # at 224 directly, not equal; the crop (a quarter of the picture) is another view
    cos = (a * b[:, :1280]).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b[:, :1280], axis=1)
    assert np.all(cos > 0.95)
    assert not np.allclose(b[:, :1280], b[:, 1280:], atol=1e-3)
