"""The ``linear_probe`` head: pooled, standardised features into a logistic regression whose
strength is chosen by a grouped inner cross-validation; saved as JSON, scored with numpy."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from vidscope.errors import InputError
from vidscope.features import open_store
from vidscope.models import LinearProbe, create_head, head_trainer
from vidscope.training import TrainConfig, load_run, train

from .test_ensemble import NO_TORCH, fused_store


def sequences(n: int = 60, d: int = 5, seed: int = 0, classes: int = 2):
    """Ragged sequences whose mean carries the class in dims 0..classes-1, plus labels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    xs = []
    for i in range(n):
        x = rng.normal(size=(int(rng.integers(3, 9)), d))
        x[:, y[i] % d] += 1.0
        xs.append(x.astype(np.float32))
    return xs, y


def test_scores_equal_sklearn_on_the_pooled_standardised_features():
    xs, y = sequences()
    probe = LinearProbe(C=0.3).fit(xs, y)
    pooled = np.stack([x.mean(0) for x in xs]).astype(np.float64)
    z = (pooled - pooled.mean(0)) / pooled.std(0)
    ref = LogisticRegression(C=0.3, max_iter=3000, class_weight="balanced").fit(z, y)
    np.testing.assert_allclose(probe.predict_proba(xs), ref.predict_proba(z), atol=1e-6)
    np.testing.assert_allclose(probe.decision_function(xs), ref.decision_function(z), atol=1e-6)
    assert probe.C_ == 0.3 and probe.cv_scores_ == {}  # a given C skips the search


def test_padding_does_not_change_the_pooled_features():
    xs, y = sequences()
    probe = LinearProbe(pooling="mean_std", C=1.0).fit(xs, y)
    width = max(len(x) for x in xs)
    pad = np.zeros((len(xs), width, xs[0].shape[1]), np.float32)
    mask = np.zeros((len(xs), width), bool)
    for i, x in enumerate(xs):
        pad[i, : len(x)], mask[i, : len(x)] = x + 0, True
    pad[~mask] = 1e3  # whatever sits in the padding is ignored
    np.testing.assert_allclose(probe.predict_proba(pad, mask), probe.predict_proba(xs), atol=1e-9)
    assert probe.coef_.shape == (1, 10)  # mean and std of 5 dims


def test_the_inner_search_never_splits_a_group_and_picks_by_held_out_auc():
    xs, y = sequences(n=48)
    groups = np.repeat(np.arange(12), 4)
    probe = LinearProbe(Cs="0.001,0.1,10")
    codes = y.astype(int)
    folds = probe._inner_folds(codes, groups)
    assert len(folds) == 4
    for train_idx, held in folds:
        assert not set(groups[train_idx]) & set(groups[held])
    probe.fit(xs, y, groups=groups)
    assert set(probe.cv_scores_) == {"0.001", "0.1", "10.0"}
    best = max((0.001, 0.1, 10.0), key=lambda c: probe.cv_scores_[repr(c)])
    assert best == probe.C_
    assert probe.cv_scores_[repr(probe.C_)] > 0.8  # the signal is there


def test_multiclass_probabilities_and_saved_model_reload_exactly(tmp_path):
    xs, y = sequences(n=60, classes=3)
    names = np.array(["a", "b", "c"])[y]
    probe = LinearProbe().fit(xs, names)
    p = probe.predict_proba(xs)
    assert p.shape == (60, 3) and np.allclose(p.sum(1), 1)
    assert (probe.predict(xs) == names).mean() > 0.8
    assert probe.cv_scores_  # chosen by inner CV (log-loss for three classes)
    path = probe.save(tmp_path / "m" / "linear.json")
    back = LinearProbe.load(path)
    np.testing.assert_array_equal(back.predict_proba(xs), p)
    assert back.classes_.tolist() == ["a", "b", "c"] and back.C_ == probe.C_


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pooling": "max"}, "pooling"),
        ({"C": 0}, "C must be > 0"),
        ({"Cs": "0.1,x"}, "Cs must be numbers"),
        ({"Cs": "0.1,-1"}, "positive"),
        ({"cv": 1}, "cv must be"),
        ({"class_weight": "auto"}, "class_weight"),
    ],
)
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(InputError, match=match):
        LinearProbe(**kwargs)


def test_bad_data_is_refused(tmp_path):
    xs, y = sequences()
    with pytest.raises(InputError, match="two classes"):
        LinearProbe().fit(xs, np.zeros(len(xs)))
    bad = [x.copy() for x in xs]
    bad[3][1, 2] = np.nan
    with pytest.raises(InputError, match="NaN"):
        LinearProbe().fit(bad, y)
    probe = LinearProbe(C=1.0).fit(xs, y)
    with pytest.raises(InputError, match="7 wide but the model was trained on 5"):
        probe.predict_proba([np.zeros((4, 7), np.float32)])
    with pytest.raises(InputError, match="not fitted"):
        LinearProbe().predict_proba(xs)
    (tmp_path / "junk.json").write_text(json.dumps({"params": {}}))
    with pytest.raises(InputError, match="not a saved linear_probe"):
        LinearProbe.load(tmp_path / "junk.json")
    head = create_head("linear_probe", num_features=9, num_outputs=1)
    with pytest.raises(InputError, match="built for 9 features"):
        head.fit(xs, y)


def test_train_refit_cv_threshold_and_predict_without_torch_or_sklearn(tmp_path):
    """``--head linear_probe`` through ``train`` (grouped labels, refit, cross-fitted threshold);
    the run scores with numpy only."""
    assert head_trainer("linear_probe") == "linear"
    store, labels = fused_store(tmp_path, n=40)
    lab = pd.read_csv(labels)
    lab["source_group"] = [f"g{i // 2}" for i in range(len(lab))]
    lab.to_csv(labels, index=False)
    cfg = TrainConfig(head="linear_probe", tensorboard=False, split="holdout", val_fraction=0.3,
                      refit=True, threshold_from="cv", threshold="logistic")  # fmt: skip
    res = train(store, labels, out=tmp_path / "run", config=cfg)
    spec = json.loads((tmp_path / "run" / "config.json").read_text())
    assert spec["trainer"] == "linear" and spec["head"] == "linear_probe"
    assert (tmp_path / "run" / "linear.json").is_file()
    assert res.report["roc_auc"] >= 0.75
    run = load_run(tmp_path / "run")
    st = open_store(store)
    seqs = [st.load(v).features for v in st.ids()]
    expected = run.predict(store)
    np.testing.assert_allclose(expected["score"], run.scores(seqs), atol=1e-9)
    out = tmp_path / "p.csv"
    no_sklearn = NO_TORCH.replace(
        'name == "torch" or name.startswith("torch.")',
        'name.split(".")[0] in ("torch", "sklearn", "xgboost")',
    )
    args = ["predict", str(tmp_path / "run"), str(store), "--out", str(out), "--quiet"]
    proc = subprocess.run([sys.executable, "-c", no_sklearn, *args], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(pd.read_csv(out)["score"], expected["score"], atol=1e-9)


def test_a_linear_member_of_an_ensemble_reads_its_parts(tmp_path):
    store, labels = fused_store(tmp_path, n=40)
    members = "stats_xgboost:n_estimators=20@a+flow,linear_probe@b+flow"
    cfg = TrainConfig(head="ensemble", head_options={"members": members}, tensorboard=False,
                      split="holdout", val_fraction=0.4, refit=True)  # fmt: skip
    train(store, labels, out=tmp_path / "run", config=cfg)
    assert (tmp_path / "run" / "members" / "m1_linear_probe" / "linear.json").is_file()
    run = load_run(tmp_path / "run")
    probe = run.members[0].model.members[1]
    assert probe.model.n_features_in_ == 9  # part b (6) + flow (3)
    st = open_store(store)
    x = np.stack([st.load(v).features for v in st.ids()])
    mine = probe.model.predict_proba(np.concatenate([x[..., 6:12], x[..., 12:15]], -1))[:, 1]
    tree = run.members[0].model.members[0]
    other = tree.model.predict_proba(np.concatenate([x[..., 0:6], x[..., 12:15]], -1))[:, 1]
    np.testing.assert_allclose(run.scores(list(x)), (mine + other) / 2, atol=1e-6)


@pytest.mark.parametrize("pooling", ["mean", "mean_std"])
def test_export_from_features_matches_the_run(tmp_path, pooling):
    """A linear probe has an ONNX form: ``export --from-features`` checks it against the run."""
    import onnxruntime as ort

    from vidscope.cli import main

    store, labels = fused_store(tmp_path, n=24)
    cfg = TrainConfig(head="linear_probe", head_options={"pooling": pooling}, tensorboard=False,
                      split="kfold", folds=2)  # fmt: skip
    train(store, labels, out=tmp_path / "run", config=cfg)
    out = tmp_path / "head.onnx"
    assert main(["export", str(tmp_path / "run"), str(out), "--check", str(store),
                 "--from-features"]) == 0  # fmt: skip
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["members"] == 2 and meta["check"]["max_abs_diff"] <= 1e-4
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    run = load_run(tmp_path / "run")
    x = open_store(store).load("v03").features
    for t in (1, 5, len(x)):
        (got,) = session.run(None, {"features": x[:t]})
        assert got[1] == pytest.approx(float(run.scores([x[:t]])[0]), abs=1e-5)


def test_compare_ranks_it_and_its_ensemble_run_predicts(tmp_path, capsys):
    """``compare`` trains it beside a tree (it is in the default head list), and
    ``--ensemble`` reuses its fitted model as a member of a normal run."""
    from vidscope.cli import main
    from vidscope.cli._train import DEFAULT_HEADS

    assert "linear_probe" in DEFAULT_HEADS.split(",")
    store, labels = fused_store(tmp_path)
    args = ["compare", str(store), "--labels", str(labels), "--heads",
            "linear_probe,stats_xgboost", "--ensemble", "--out", str(tmp_path / "c"),
            "--no-tensorboard", "--quiet"]  # fmt: skip
    assert main(args) == 0
    board = json.loads((tmp_path / "c" / "leaderboard.json").read_text())
    assert {r["head"] for r in board} >= {"linear_probe", "stats_xgboost"}
    spec = json.loads((tmp_path / "c" / "ensemble" / "config.json").read_text())
    assert {m["head"] for m in spec["head_config"]["members"]} == {"linear_probe", "stats_xgboost"}
    run = load_run(tmp_path / "c" / "ensemble")
    assert any(isinstance(m.model, LinearProbe) for m in run.members[0].model.members)
    assert run.predict(store)["score"].between(0, 1).all()
    assert "ensemble(" in capsys.readouterr().out  # the leaderboard names the new row


def test_tiny_or_lopsided_training_sets_still_fit():
    """Too few videos of a class, or groups that hold one class each, leave no usable inner
    fold: the middle strength is taken instead of failing."""
    xs, y = sequences(n=12)
    y = np.array([1] + [0] * 11)
    probe = LinearProbe().fit(xs, y)
    assert probe.C_ == 0.03 and probe.cv_scores_ == {}
    y = np.arange(12) % 2
    groups = y.copy()  # each group holds one class: no inner fold trains on both
    probe = LinearProbe().fit(xs, y, groups=groups)
    assert probe.C_ == 0.03 and probe.predict_proba(xs).shape == (12, 2)


def test_review_edges_padding_classes_flat_dims_and_cs_order():
    """NaN in padding is ignored (numpy and torch forms), a class count other than the head's
    is refused, a dimension flat below float32 precision is not blown up, Cs are sorted."""
    import torch

    xs, y = sequences()
    width = max(len(x) for x in xs)
    pad = np.full((len(xs), width, 5), np.nan, np.float32)
    mask = np.zeros((len(xs), width), bool)
    for i, x in enumerate(xs):
        pad[i, : len(x)], mask[i, : len(x)] = x, True
    for pooling in ("mean", "mean_std"):
        probe = LinearProbe(pooling=pooling, C=1.0).fit(pad, y, mask=mask)
        want = LinearProbe(pooling=pooling, C=1.0).fit(xs, y).predict_proba(xs)
        np.testing.assert_allclose(probe.predict_proba(pad, mask), want, atol=1e-9)
        with torch.no_grad():
            got = probe.torch_module()(torch.from_numpy(pad), torch.from_numpy(mask))
        np.testing.assert_allclose(got[:, 0].numpy(), probe.decision_function(pad, mask),
                                   atol=1e-4)  # fmt: skip
    head = create_head("linear_probe", num_features=5, num_outputs=3)
    with pytest.raises(InputError, match="num_outputs=3 but the labels have 2 classes"):
        head.fit(xs, y)
    flat = [np.concatenate([x, 1.0 + 1e-8 * np.random.default_rng(i).normal(size=(len(x), 1))],
                           axis=1).astype(np.float32) for i, x in enumerate(xs)]  # fmt: skip
    probe = LinearProbe(C=1.0).fit(flat, y)
    assert probe.scale_[-1] == 1.0  # left unscaled: float32 noise is not a signal
    with torch.no_grad():
        t = probe.torch_module()(torch.from_numpy(np.stack([f[:3] for f in flat])),
                                 torch.ones(len(flat), 3, dtype=torch.bool))  # fmt: skip
    np.testing.assert_allclose(t[:, 0].numpy(),
                               probe.decision_function(np.stack([f[:3] for f in flat])),
                               atol=1e-4)  # fmt: skip
    assert LinearProbe(Cs="1,0.001,0.1")._cs() == (0.001, 0.1, 1.0)
