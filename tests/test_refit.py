"""Training options on learnable features: --refit (the final model is fitted again on
train + validation; threshold and validation figures come from the first fit) and --mixup."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.features import open_store
from vidscope.training import TrainConfig, load_run, train

OLD = Path(__file__).parent / "data" / "old_format"


@pytest.fixture
def separable(tmp_path) -> Path:
    """The old-format store with its arrays replaced by noisy, learnable features."""
    store = tmp_path / "store"
    shutil.copytree(OLD / "store", store)
    labels = pd.read_csv(OLD / "labels.csv")
    rng = np.random.default_rng(0)
    for vid, label in zip(labels["id"], labels["label"], strict=True):
        x = rng.normal(size=(8, 10)).astype(np.float32) + (0.8 if label == "fight" else -0.8)
        np.save(store / "features" / f"{vid}.npy", x)
    return store


@pytest.mark.parametrize("head", ["stats_xgboost", "mean_linear"])
def test_refit_keeps_threshold_and_changes_the_model(tmp_path, separable, head):
    base = dict(head=head, epochs=8, lr=0.01, tensorboard=False, split="holdout",
                val_fraction=0.5)  # fmt: skip
    labels = OLD / "labels.csv"
    plain = train(separable, labels, out=tmp_path / "a", config=TrainConfig(**base))
    refit = train(separable, labels, out=tmp_path / "b", config=TrainConfig(**base, refit=True))
    assert refit.report == plain.report  # validation figures: the first fit's
    a, b = load_run(tmp_path / "a"), load_run(tmp_path / "b")
    assert a.threshold == b.threshold
    assert json.loads((tmp_path / "b" / "config.json").read_text())["train"]["refit"] is True
    st = open_store(separable)
    seqs = [st.load(v).features for v in st.ids()]
    assert np.abs(a.scores(seqs) - b.scores(seqs)).max() > 1e-3  # another model: more data


def test_mixup_trains_on_mixed_batches(tmp_path, separable):
    base = dict(head="mean_linear", epochs=6, lr=0.01, tensorboard=False, split="holdout",
                val_fraction=0.5)  # fmt: skip
    labels = OLD / "labels.csv"
    plain = train(separable, labels, out=tmp_path / "a", config=TrainConfig(**base))
    mixed = train(separable, labels, out=tmp_path / "b", config=TrainConfig(**base, mixup=0.4))
    losses = [[row["loss"] for row in r.splits[0].fit.history] for r in (plain, mixed)]
    assert losses[0] != losses[1]  # the batches really were mixed
    assert mixed.report["roc_auc"] >= 0.75  # and the head still learns the task
    with pytest.raises(ValueError, match="--mixup"):
        TrainConfig(mixup=-1)
