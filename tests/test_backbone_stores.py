"""Stores from every backbone family train with every head and predict from the run.

One small labelled set of real encoded videos (content moving left or right) is extracted
with each backbone's tiny or random-weights variant; every registered head then trains on
that store, and the run predicts the store back. What must hold: the run records the store's
layout, the head sees the backbone's width, predictions are finite probabilities for every
video. The motion-only stores must also learn the task (motion direction is the label).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.backbones import create_backbone
from vidscope.errors import StoreError
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.models import head_trainer, list_heads
from vidscope.training import TrainConfig, load_run, train
from vidscope.video import SamplingSpec

from .test_flow import clip
from .test_train import TINY as TINY_HEADS

TINY = "timm:test_efficientnet"
#: backbone name -> keyword arguments of ``create_backbone`` (random weights: no downloads).
BACKBONES = {
    TINY: {"weights": "random"},
    "flow": {},
    f"{TINY}+flow": {"weights": "random"},
    "clip:MobileCLIP2-S0": {"weights": "random"},
    "emotion": {"weights": "random", "work_size": 320},
}
N_PER_CLASS = 6
#: Heads that need one backbone family's features: (name prefix, tiny options).
ONLY_ON = {"coop": ("clip:", {"n_ctx": 2})}


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """12 clips (6 moving left, 6 right, different textures) and their label CSV."""
    root = tmp_path_factory.mktemp("moving")
    rows = []
    for i in range(2 * N_PER_CLASS):
        label = ("left", "right")[i % 2]
        step = (-3, 0) if label == "left" else (3, 0)
        clip(root, f"v{i:02d}.mp4", step, n=20, size=(160, 120))
        rows.append({"path": f"v{i:02d}.mp4", "label": label})
    csv = root / "labels.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return root, csv


@pytest.fixture(scope="module")
def stores(videos, tmp_path_factory) -> Callable[[str], Path]:
    """``stores(name)``: the store of ``videos`` for backbone ``name``, extracted once."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            backbone = create_backbone(name, **BACKBONES[name])
            out = tmp_path_factory.mktemp("store") / "s"
            cfg = ExtractConfig(backbone=name, workers=1, sampling=SamplingSpec("uniform", 4))
            report = extract(videos[0], out, cfg, backbone=backbone, progress=False)
            assert report.ok and not report.failed
            made[name] = out
        return made[name]

    return get


@pytest.mark.parametrize("name", list(BACKBONES))
@pytest.mark.parametrize(
    "head", sorted(h for h in list_heads() if head_trainer(h) in ("neural", "tree"))
)
def test_store_trains_with_every_head(tmp_path, videos, stores, name, head):
    if head in ONLY_ON and not name.startswith(ONLY_ON[head][0]):
        pytest.skip(f"{head} needs {ONLY_ON[head][0]} features")
    options = ONLY_ON[head][1] if head in ONLY_ON else TINY_HEADS[head]
    st = open_store(stores(name))
    cfg = TrainConfig(head=head, head_options=options, epochs=2, patience=2,
                      split="holdout", val_fraction=1 / 3, tensorboard=False)  # fmt: skip
    train(st, videos[1], out=tmp_path / "run", config=cfg)
    run = load_run(tmp_path / "run")
    assert run.config["num_features"] == st.num_features
    assert [tuple(p) for p in run.config["layout"]] == [tuple(p) for p in st.meta["layout"]]
    df = run.predict(st)
    assert sorted(df["id"]) == sorted(st.ids()) and set(df["label"]) <= {"left", "right"}
    scores = df.filter(like="score").to_numpy()
    assert np.isfinite(scores).all() and ((scores >= 0) & (scores <= 1)).all()


@pytest.mark.parametrize("name", ["flow", f"{TINY}+flow"])
def test_motion_stores_learn_the_direction(tmp_path, videos, stores, name):
    cfg = TrainConfig(head="mean_linear", epochs=60, patience=60, lr=3e-2, split="holdout",
                      val_fraction=1 / 3, tensorboard=False)  # fmt: skip
    result = train(stores(name), videos[1], out=tmp_path / "run", config=cfg)
    assert result.report["accuracy"] == 1.0, result.report


def test_features_of_another_backbone_setting_are_refused(tmp_path, videos, stores):
    """Same width, other settings (flow at 320 px instead of 160): a clear error, not scores."""
    wide = tmp_path / "flow320"
    cfg = ExtractConfig(backbone="flow", workers=1, sampling=SamplingSpec("uniform", 4))
    extract(videos[0], wide, cfg, backbone=create_backbone("flow", size=320), progress=False)
    train_cfg = TrainConfig(head="mean_linear", epochs=2, patience=2, split="holdout",
                            val_fraction=1 / 3, tensorboard=False)  # fmt: skip
    train(stores("flow"), videos[1], out=tmp_path / "run", config=train_cfg)
    run = load_run(tmp_path / "run")
    assert open_store(wide).num_features == run.config["num_features"]  # widths agree
    with pytest.raises(StoreError, match=r"trained on flow.*holds flow.*preprocess"):
        run.predict(open_store(wide))
    train(wide, videos[1], out=tmp_path / "run320", config=train_cfg)
    with pytest.raises(StoreError, match=r"backbone built here.*preprocess"):
        load_run(tmp_path / "run320").predict([str(videos[0] / "v00.mp4")])
    assert len(run.predict([str(videos[0] / "v00.mp4")])) == 1  # the matching one still works


def test_backbone_options_travel_from_store_to_run_to_prediction(tmp_path, videos):
    cfg = ExtractConfig(backbone="flow", backbone_options={"gap": 0.12}, workers=1,
                        sampling=SamplingSpec("uniform", 4))  # fmt: skip
    assert extract(videos[0], tmp_path / "s", cfg, progress=False).ok
    train_cfg = TrainConfig(head="mean_linear", epochs=2, patience=2, split="holdout",
                            val_fraction=1 / 3, tensorboard=False)  # fmt: skip
    train(tmp_path / "s", videos[1], out=tmp_path / "run", config=train_cfg)
    run = load_run(tmp_path / "run")
    assert run.config["backbone_options"] == {"gap": 0.12}
    clips = [str(videos[0] / f"v0{i}.mp4") for i in range(3)]
    from_videos = run.predict(clips)  # rebuilds flow with gap=0.12 (else: a clear error)
    from_store = run.predict(open_store(tmp_path / "s")).set_index("id").loc[from_videos["id"]]
    np.testing.assert_allclose(from_videos["score"], from_store["score"], rtol=1e-5)


def test_npy_folders_are_not_refused_either_way(tmp_path, videos, stores):
    """A plain .npy folder records no backbone: it is checked by width only."""
    st = open_store(stores("flow"))
    for vid in st.ids():
        (tmp_path / "npy").mkdir(exist_ok=True)
        np.save(tmp_path / "npy" / f"{vid}.npy", st.load(vid).features)
    cfg = TrainConfig(head="mean_linear", epochs=2, patience=2, split="holdout",
                      val_fraction=1 / 3, tensorboard=False)  # fmt: skip
    train(st, videos[1], out=tmp_path / "run", config=cfg)
    assert len(load_run(tmp_path / "run").predict(open_store(tmp_path / "npy"))) == len(st.ids())
    train(tmp_path / "npy", videos[1], out=tmp_path / "run_npy", config=cfg)
    assert len(load_run(tmp_path / "run_npy").predict(st)) == len(st.ids())


def test_backbone_options_are_part_of_the_store_key(tmp_path, videos):
    cfg = ExtractConfig(backbone="flow", workers=1, sampling=SamplingSpec("uniform", 2))
    extract(videos[0], tmp_path / "s", cfg, progress=False)
    other = ExtractConfig(backbone="flow", backbone_options={"gap": 0.2}, workers=1,
                          sampling=SamplingSpec("uniform", 2))  # fmt: skip
    with pytest.raises(StoreError, match=r"different settings.*backbone"):
        extract(videos[0], tmp_path / "s", other, progress=False)
    with pytest.raises(ValueError, match="--backbone-option weights: use --weights"):
        ExtractConfig(backbone_options={"weights": "x.pth"})
    with pytest.raises(ValueError, match="number of seconds"):
        create_backbone("flow", gap=".12x")


def test_fused_options_go_to_the_part_that_names_them():
    fused = create_backbone(f"{TINY}+flow", weights="random", gap=0.12)  # timm takes **kwargs
    assert [p.pair_gap_s for p in fused.parts] == [0.0, 0.12]
    assert fused.parts[0].identity()["weights"] == "random(seed=0)"
