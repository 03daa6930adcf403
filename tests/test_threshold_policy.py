"""``--threshold-from cv``: the binary threshold chosen on cross-fitted scores of train + val.

The store is a real :class:`FeatureStore` of 48 videos from 12 source groups (two fights, two
calm videos each) whose features carry the class plus a per-group offset, so grouping matters.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.cli import main
from vidscope.data import make_splits, pad
from vidscope.errors import ConfigError
from vidscope.features import FeatureStore, open_store
from vidscope.metrics import choose_threshold
from vidscope.models import create_head
from vidscope.training import LabelOptions, TrainConfig, load_data, load_run, train

OLD = Path(__file__).parent / "data" / "old_format"
LAYOUT = [("a", 6), ("flow", 4)]
TREE = {"n_estimators": 20}


def grouped_store(root: Path, *, scramble: set[str] = frozenset(), classes: int = 2) -> Path:
    """Write ``root/store`` and ``root/labels.csv`` (columns id, label, group); the videos in
    ``scramble`` get other features (everything else is identical for the same ``root``)."""
    old = open_store(OLD / "store")
    d = sum(w for _, w in LAYOUT)
    meta = {**old.meta, "layout": [list(p) for p in LAYOUT]}
    meta["backbone"] = {**old.meta["backbone"], "name": "a+flow", "num_features": d}
    store = FeatureStore.create(root / "store", meta)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(48):
        vid, group, y = f"v{i:02d}", f"g{i // 4:02d}", i % 4 >= 2
        x = rng.normal(size=(8, d)).astype(np.float32) + rng.normal() * 0.8  # group-ish offset
        x[:, :3] += 0.9 if y else 0.0
        if vid in scramble:
            x = -3.0 * x[::-1] + 5.0
        rel = store.write(vid, x, np.arange(8) * 0.25)
        store.record({**old.rows["v0"], "video_id": vid, "path": f"/x/{vid}.mp4",
                      "features": rel, "duration_s": 2.0})  # fmt: skip
        label = ("fight" if y else "calm") if classes == 2 else f"c{i % classes}"
        rows.append(f"{vid},{label},{group}")
    store.compact()
    (root / "labels.csv").write_text("id,label,group\n" + "\n".join(rows) + "\n")
    return root / "store"


def labels(root: Path) -> LabelOptions:
    return LabelOptions(labels=root / "labels.csv", group_column="group")


def tree_config(**kw) -> TrainConfig:
    base = dict(head="stats_xgboost", head_options=dict(TREE), tensorboard=False,
                threshold_from="cv")  # fmt: skip
    return TrainConfig(**{**base, **kw})


def test_inner_folds_never_straddle_a_group_and_cover_train_and_val_once(tmp_path):
    from vidscope.training._crossfit import crossfit_splits

    _, data = load_data(grouped_store(tmp_path), labels(tmp_path), allow_missing=False)
    outer = make_splits(data.labels, mode="kfold", folds=4, seed=1)[0]
    idx = np.concatenate([outer.train, outer.val])
    parts, notes = crossfit_splits(data.labels, idx, 5, seed=1)
    assert len(parts) == 5 and notes == []
    groups = data.labels.groups
    for p in parts:
        assert not set(groups[p.train]) & set(groups[p.val])
        assert sorted(np.concatenate([p.train, p.val])) == sorted(idx)
        assert not set(p.train) & set(outer.test) and not set(p.val) & set(outer.test)
    assert sorted(np.concatenate([p.val for p in parts]).tolist()) == sorted(idx.tolist())
    few = idx[np.isin(groups[idx], np.unique(groups[idx])[:3])]  # 3 groups left: 3 folds
    parts, _ = crossfit_splits(data.labels, few, 5, seed=1)
    assert len(parts) == 3
    assert all(not set(groups[p.train]) & set(groups[p.val]) for p in parts)


def test_threshold_equals_a_hand_cross_fit(tmp_path):
    from sklearn.model_selection import StratifiedGroupKFold

    store = grouped_store(tmp_path)
    cfg = tree_config(split="holdout", val_fraction=0.25, threshold_folds=4, seed=3)
    train(store, labels(tmp_path), out=tmp_path / "run", config=cfg)
    run_dir = tmp_path / "run"
    _, data = load_data(store, labels(tmp_path), allow_missing=False)
    pos = {v: i for i, v in enumerate(data.labels.ids)}
    parts = json.loads((run_dir / "split.json").read_text())
    idx = np.concatenate([np.sort([pos[v] for v in parts[k]]) for k in ("train", "val")])
    y, g = data.labels.y[idx], data.labels.groups[idx]
    oof = np.full(len(idx), np.nan)
    folds = StratifiedGroupKFold(n_splits=4, shuffle=True, random_state=3)
    for tr, va in folds.split(np.zeros(len(idx)), y, g):
        model = create_head("stats_xgboost", num_features=10, num_outputs=1, layout=LAYOUT,
                            random_state=3, **TREE)  # fmt: skip
        x, mask = pad([data.features[i] for i in idx[tr]])
        model.fit(x, y[tr], mask=mask)
        x, mask = pad([data.features[i] for i in idx[va]])
        oof[va] = model.predict_proba(x, mask)[:, 1]
    expected = choose_threshold(y, oof, metric="balanced_accuracy")
    saved = pd.read_csv(run_dir / "crossfit_predictions.csv")
    assert saved["id"].tolist() == [data.labels.ids[i] for i in idx]
    np.testing.assert_allclose(saved["score"], oof, atol=1e-6)
    choice = json.loads((run_dir / "member.json").read_text())["threshold_choice"]
    assert choice["from"] == "cv" and choice["folds"] == 4 and choice["num_videos"] == len(idx)
    assert choice["value"] == pytest.approx(expected)
    assert load_run(run_dir).threshold == pytest.approx(expected)
    spec = json.loads((run_dir / "config.json").read_text())["train"]
    assert spec["threshold_from"] == "cv" and spec["threshold_folds"] == 4
    # --threshold-from val on the same run picks on the 12 validation videos instead
    val = train(store, labels(tmp_path), out=tmp_path / "val",
                config=tree_config(split="holdout", val_fraction=0.25, seed=3,
                                   threshold_from="val"))  # fmt: skip
    assert json.loads((tmp_path / "val" / "member.json").read_text())["threshold_choice"] == {
        "rule": "balanced_accuracy", "from": "val", "value": load_run(tmp_path / "val").threshold,
        "num_videos": len(parts["val"]),
    }  # fmt: skip
    assert val.splits[0].model is not None


def test_held_out_clips_cannot_move_the_threshold(tmp_path):
    cfg = tree_config(split="kfold", folds=3, refit=True)
    store_a = grouped_store(tmp_path / "a")
    train(store_a, labels(tmp_path / "a"), out=tmp_path / "run_a", config=cfg)
    test_ids = json.loads((tmp_path / "run_a" / "fold0" / "split.json").read_text())["test"]
    assert test_ids
    store_b = grouped_store(tmp_path / "b", scramble=set(test_ids))  # only fold 0's test clips
    train(store_b, labels(tmp_path / "b"), out=tmp_path / "run_b", config=cfg)
    a, b = tmp_path / "run_a" / "fold0", tmp_path / "run_b" / "fold0"
    ta, tb = (json.loads((r / "metrics.json").read_text())["threshold"] for r in (a, b))
    assert ta["value"] == tb["value"]
    pd.testing.assert_frame_equal(pd.read_csv(a / "crossfit_predictions.csv"),
                                  pd.read_csv(b / "crossfit_predictions.csv"))  # fmt: skip
    assert not set(pd.read_csv(a / "crossfit_predictions.csv")["id"]) & set(test_ids)
    sa, sb = (pd.read_csv(r / "test_predictions.csv")["score"] for r in (a, b))
    assert np.abs(sa - sb).max() > 1e-3  # the held-out clips really changed
    # the cross-fit is the same with or without --refit (it never sees the refit)
    train(store_a, labels(tmp_path / "a"), out=tmp_path / "plain",
          config=tree_config(split="kfold", folds=3))  # fmt: skip
    plain = json.loads((tmp_path / "plain" / "fold0" / "metrics.json").read_text())
    assert plain["threshold"]["value"] == ta["value"]


@pytest.mark.parametrize(
    "head, options",
    [
        ("mean_linear", {}),
        ("ensemble", {"members": "stats_xgboost:n_estimators=20@a+flow,mean_linear@a"}),
    ],
)
def test_neural_and_ensemble_heads_cross_fit(tmp_path, head, options):
    store = grouped_store(tmp_path)
    cfg = TrainConfig(head=head, head_options=options, epochs=4, lr=0.01, tensorboard=False,
                      split="holdout", val_fraction=0.25, threshold_from="cv",
                      threshold_folds=3)  # fmt: skip
    res = train(store, labels(tmp_path), out=tmp_path / "run", config=cfg)
    saved = pd.read_csv(tmp_path / "run" / "crossfit_predictions.csv")
    parts = json.loads((tmp_path / "run" / "split.json").read_text())
    assert saved["id"].tolist() == parts["train"] + parts["val"]
    assert sorted(saved["fold"].unique()) == [0, 1, 2] and saved["score"].notna().all()
    y = (saved["true"] == "fight").to_numpy().astype(int)
    expected = choose_threshold(y, saved["score"].to_numpy(), metric="balanced_accuracy")
    assert load_run(tmp_path / "run").threshold == pytest.approx(expected)
    assert res.splits[0].report["threshold"] == pytest.approx(expected)


def test_bad_values_are_errors_that_name_the_flag(tmp_path):
    with pytest.raises(ConfigError, match="--threshold-from must be val or cv"):
        TrainConfig(threshold_from="test")
    with pytest.raises(ConfigError, match="--threshold-folds must be >= 2"):
        TrainConfig(threshold_folds=1)
    with pytest.raises(ConfigError, match="--threshold fixed"):
        TrainConfig(threshold_from="cv", threshold="fixed")
    multi = grouped_store(tmp_path / "multi", classes=3)
    with pytest.raises(ConfigError, match="two classes"):
        train(multi, labels(tmp_path / "multi"), out=tmp_path / "m", config=tree_config())
    assert not (tmp_path / "m" / "model.xgb").exists()  # refused before any fitting
    store = grouped_store(tmp_path / "cli")
    args = ["train", str(store), "--labels", str(tmp_path / "cli" / "labels.csv"), "--group-column",
            "group", "--head", "stats_xgboost", "--quiet", "--no-tensorboard"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "c1"), "--threshold-from", "cv",
                 "--threshold-folds", "1"]) == 2  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "c2"), "--threshold-from", "cv",
                 "--threshold-folds", "3", "--head-option", "n_estimators=20"]) == 0  # fmt: skip
    assert json.loads((tmp_path / "c2" / "metrics.json").read_text())["val"]["threshold"] == (
        pytest.approx(load_run(tmp_path / "c2").threshold)
    )
    spec = json.loads((tmp_path / "c2" / "config.json").read_text())["train"]
    assert (spec["threshold_from"], spec["threshold_folds"]) == ("cv", 3)


def test_logistic_rule_is_the_balanced_logistic_crossing():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30), np.ones(20)].astype(int)
    margin = rng.normal(size=50) + 1.6 * y - 0.3
    s = 1 / (1 + np.exp(-margin))
    got = choose_threshold(y, s, metric="logistic")
    z = np.log(s / (1 - s))[:, None]
    fit = LogisticRegression(C=1e6, class_weight="balanced").fit(z, y)
    expected = 1 / (1 + np.exp(fit.intercept_[0] / fit.coef_[0, 0]))
    assert got == pytest.approx(expected, abs=0.01)
    assert abs(got - choose_threshold(y, s, metric="balanced_accuracy")) < 0.3
    # raw scores (not in [0, 1]) are fitted as they are: the same crossing on the logit scale
    assert choose_threshold(y, np.log(s / (1 - s)), metric="logistic") == pytest.approx(
        np.log(got / (1 - got)), abs=1e-6
    )
    # separated classes: a finite crossing between them
    sep = np.r_[np.linspace(0.1, 0.3, 30), np.linspace(0.6, 0.9, 20)]
    assert 0.3 < choose_threshold(y, sep, metric="logistic") < 0.6
    # scores that rank the classes backwards: the balanced-accuracy rule instead
    assert choose_threshold(y, 1 - s, metric="logistic") == choose_threshold(
        y, 1 - s, metric="balanced_accuracy"
    )
    with pytest.raises(ValueError, match="logistic"):
        choose_threshold(y, s, metric="logit")


def test_cross_fitted_logistic_threshold_in_a_run(tmp_path):
    store = grouped_store(tmp_path)
    cfg = tree_config(split="holdout", val_fraction=0.25, threshold="logistic", refit=True)
    train(store, labels(tmp_path), out=tmp_path / "run", config=cfg)
    saved = pd.read_csv(tmp_path / "run" / "crossfit_predictions.csv")
    y = (saved["true"] == "fight").to_numpy().astype(int)
    expected = choose_threshold(y, saved["score"].to_numpy(), metric="logistic")
    assert load_run(tmp_path / "run").threshold == pytest.approx(expected)
    choice = json.loads((tmp_path / "run" / "member.json").read_text())["threshold_choice"]
    assert (choice["rule"], choice["from"], choice["folds"]) == ("logistic", "cv", 5)


def test_cli_says_how_the_threshold_was_chosen(tmp_path, capsys):
    store = grouped_store(tmp_path / "p")
    args = ["train", str(store), "--labels", str(tmp_path / "p" / "labels.csv"), "--group-column",
            "group", "--head", "stats_xgboost", "--no-tensorboard",
            "--head-option", "n_estimators=20"]  # fmt: skip
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "v")]) == 0
    run = load_run(tmp_path / "v")
    val = len(json.loads((tmp_path / "v" / "split.json").read_text())["val"])
    out = capsys.readouterr().out
    assert f"decision threshold {run.threshold:.3f} (balanced_accuracy on validation scores " \
        f"of {val} videos)" in " ".join(out.split())  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "c"), "--threshold-from", "cv",
                 "--threshold", "logistic", "--split", "kfold", "--folds", "3"]) == 0  # fmt: skip
    out = " ".join(capsys.readouterr().out.split())
    assert "over 3 folds (logistic on cross-fitted train + validation scores of" in out
