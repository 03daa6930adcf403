"""``flow``'s "where is the motion" grid (``--backbone-option grid=G``)."""

from __future__ import annotations

import numpy as np
import pytest

from vidscope.backbones import create_backbone
from vidscope.backbones._flow import FLOW_LAYOUT, grid_features, grid_layout
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.video import SamplingSpec

from .test_flow import clip

H, W = 90, 160  # working size of a 16:9 frame


def field_with(cell: tuple[int, int], values: np.ndarray, grid: int = 3) -> np.ndarray:
    """A still ``[H, W, 2]`` flow field except ``values`` in one cell of a ``grid`` x ``grid``."""
    f = np.zeros((H, W, 2), np.float32)
    ch, cw = H // grid, W // grid
    r, c = cell
    f[r * ch : (r + 1) * ch, c * cw : (c + 1) * cw] = values
    return f


def test_one_moving_cell_is_ranked_first_with_its_speed_and_no_entropy():
    f = field_with((0, 0), np.array([5.0, 0.0], np.float32))  # 5 px right per frame
    g = grid_features(f, 0.04, 3).reshape(9, 3)
    speed = 5.0 / (W * 0.04)  # frame widths per second
    assert g[0, 0] == pytest.approx(speed) and g[0, 1] == pytest.approx(speed)
    assert g[0, 2] == pytest.approx(0.0, abs=1e-6)  # one direction: entropy 0
    assert np.all(g[1:] == 0)  # the still cells


def test_chaotic_motion_has_high_direction_entropy():
    rng = np.random.default_rng(0)
    ch, cw = H // 3, W // 3
    g = grid_features(field_with((2, 1), rng.normal(0, 4, (ch, cw, 2))), 0.04, 3).reshape(9, 3)
    assert g[0, 2] > 0.95  # every direction alike
    assert g[0, 1] > g[0, 0] > 0  # p90 above the mean


def test_cells_are_ranked_so_position_does_not_matter():
    step = np.array([0.0, 3.0], np.float32)
    corner = grid_features(field_with((0, 0), step), 0.04, 3)
    other = grid_features(field_with((2, 1), step), 0.04, 3)
    np.testing.assert_allclose(corner, other, rtol=1e-6)
    fast = grid_features(field_with((1, 1), 2 * step), 0.04, 3)
    assert fast[0] == pytest.approx(2 * corner[0])


def test_backbone_layout_identity_and_errors():
    plain, gridded = create_backbone("flow"), create_backbone("flow", grid=3)
    assert gridded.num_features == 10 + 27 and gridded.layout == [("flow", 37)]
    assert gridded.identity()["features"] == [*FLOW_LAYOUT, *grid_layout(3)]
    assert gridded.identity()["grid"] == 3 and "grid" not in plain.identity()  # old keys valid
    for bad in (-1, 9, "x"):
        with pytest.raises(ValueError, match="flow grid"):
            create_backbone("flow", grid=bad)


def test_extract_with_grid_keeps_the_global_features_and_adds_the_cells(tmp_path):
    video = clip(tmp_path, "right.mp4", step=(4, 0), n=20)
    cfg = ExtractConfig(backbone="flow", sampling=SamplingSpec("uniform", 4))
    extract(video, tmp_path / "plain", cfg, progress=False)
    extract(video, tmp_path / "grid", cfg, progress=False, backbone_options={"grid": 2})
    plain, grid = open_store(tmp_path / "plain"), open_store(tmp_path / "grid")
    assert grid.meta["layout"] == [["flow", 22]] and grid.meta["backbone_options"] == {"grid": 2}
    a, b = plain.load("right").features, grid.load("right").features
    np.testing.assert_allclose(b[:, :10], a, rtol=1e-5, atol=1e-6)
    cells = b[:-1, 10:].reshape(-1, 4, 3)  # last sample is paired with itself: all 0
    # whole picture translates: every cell moves about as fast as the frame, one direction
    np.testing.assert_allclose(cells[:, :, 0], np.broadcast_to(a[:-1, :1], (3, 4)), rtol=0.15)
    assert np.all(cells[:, :, 2] < 0.3)


def test_cli_extract_with_grid_and_the_backbones_listing(tmp_path, capsys):
    from vidscope.cli import main

    video = clip(tmp_path, "up.mp4", step=(0, -3), n=12)
    code = main(["extract", str(video), "--out", str(tmp_path / "s"), "--backbone", "flow",
                 "--backbone-option", "grid=2", "--frames", "3"])  # fmt: skip
    assert code == 0
    store = open_store(tmp_path / "s")
    assert store.meta["layout"] == [["flow", 22]] and store.load("up").features.shape == (3, 22)
    capsys.readouterr()
    assert main(["backbones"]) == 0
    listing = capsys.readouterr().out
    assert "efficientnet_lite2" in listing and "grid=0" in listing and "tiles=None" in listing
