"""Labels, splits, training every head, resume, evaluate/predict/compare, CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from vidscope.cli import main
from vidscope.data import LabelError, make_splits, read_labels
from vidscope.features import open_store
from vidscope.pipelines import evaluate
from vidscope.training import TrainConfig, load_run, train

TINY = {
    "mean_linear": {},
    "mlp": {"hidden": 16},
    "lstm": {"hidden": 8},
    "conv1d": {"channels": 8},
    "transformer": {"d_model": 16, "heads": 2, "layers": 1, "ff": 32},
    "stats_xgboost": {"n_estimators": 30},
}
FAST = dict(epochs=30, patience=30, lr=1e-2, batch_size=16, tensorboard=False)


def make_npy_store(root: Path, n: int = 60, d: int = 12, classes=("calm", "fight"), seed=0):
    """``root/<class>/<id>.npy`` with a class signal in the mean of the first dims."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        c = i % len(classes)
        t = int(rng.integers(3, 9))
        x = rng.normal(0, 1, (t, d)).astype(np.float32)
        x[:, c] += 2.5  # separable in the mean
        (root / classes[c]).mkdir(parents=True, exist_ok=True)
        np.save(root / classes[c] / f"{i:05d}.npy", x)
    return root


@pytest.fixture
def store2(tmp_path):
    return make_npy_store(tmp_path / "s2")


# ------------------------------------------------------------------ labels and splits
def test_kaggle_layout_with_zero_padded_ids(tmp_path, store2):
    st = open_store(store2)
    ids = st.ids()
    csv = tmp_path / "train.csv"
    rows = [
        f"{int(v.split('/')[1])},{'' if i % 2 == 0 else 1.5},{''},{i % 2}"
        for i, v in enumerate(ids)
    ]
    csv.write_text("id,time_of_event,time_of_alert,target\n" + "\n".join(rows) + "\n")
    labels = read_labels(ids, csv)
    assert labels.classes == ["0", "1"] and labels.ids == ids
    assert list(labels.y[:4]) == [0, 1, 0, 1]
    assert np.isnan(labels.event_s[0]) and labels.event_s[1] == 1.5


def test_label_errors_name_rows(tmp_path, store2):
    ids = open_store(store2).ids()
    bad = tmp_path / "bad.csv"
    bad.write_text("id,label\n00000,a\nnope.mp4,b\n00001,b\n")
    with pytest.raises(LabelError, match=r"line 3: 'nope.mp4'"):
        read_labels(ids, bad)
    bad.write_text("id,label\n00000,a\n00001,b\n00002,b\n")
    with pytest.raises(LabelError, match=r"'a'.*single example"):
        read_labels(ids, bad)
    bad.write_text("video,y2\n00000,a\n")
    with pytest.raises(LabelError, match=r"no label column.*--label-column"):
        read_labels(ids, bad)
    with pytest.raises(LabelError, match="file not found"):
        read_labels(ids, tmp_path / "missing.csv")
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(LabelError):
        read_labels(ids, bad)


def test_folder_labels_and_given_split(tmp_path):
    root = tmp_path / "npy"
    for split in ("train", "val"):
        make_npy_store(root / split, n=8, seed=len(split))
    st = open_store(root)
    labels = read_labels(st.ids(), None, manifest=st.manifest())
    assert labels.classes == ["calm", "fight"] and set(labels.split) == {"train", "val"}
    (only,) = make_splits(labels)
    assert only.name == "given" and len(only.train) == 8 and len(only.val) == 8


def test_grouped_folds_never_share_a_group(tmp_path, store2):
    ids = open_store(store2).ids()
    csv = tmp_path / "l.csv"
    csv.write_text(
        "path,label,source_group\n"
        + "\n".join(f"{v}.mp4,{v.split('/')[0]},{i // 4}" for i, v in enumerate(ids))
        + "\n"
    )
    labels = read_labels(ids, csv)
    folds = make_splits(labels, mode="kfold", folds=5, seed=1)
    assert len(folds) == 5
    seen = np.concatenate([f.test for f in folds])  # held-out folds partition the videos
    assert sorted(seen) == list(range(len(ids)))
    for f in folds:
        parts = [set(labels.groups[p]) for p in (f.train, f.val, f.test)]
        assert all(parts) and not parts[0] & parts[1] and not (parts[0] | parts[1]) & parts[2]
        assert len(f.train) + len(f.val) + len(f.test) == len(ids)
    # --no-inner-val: the held-out fold is the validation part, nothing is left for test
    plain = make_splits(labels, mode="kfold", folds=5, seed=1, inner_val=False)
    assert sorted(np.concatenate([f.val for f in plain])) == list(range(len(ids)))
    assert all(len(f.test) == 0 for f in plain)
    assert [f.test.tolist() for f in folds] == [f.val.tolist() for f in plain]


def test_inner_split_stays_grouped_with_few_groups(tmp_path, store2):
    ids = open_store(store2).ids()
    csv = tmp_path / "l.csv"
    groups = [i % 6 for i in range(len(ids))]  # 6 groups: 4-5 left inside each outer fold
    csv.write_text(
        "path,label,source_group\n"
        + "\n".join(f"{v}.mp4,{v.split('/')[0]},{g}" for v, g in zip(ids, groups, strict=True))
        + "\n"
    )
    labels = read_labels(ids, csv)
    for f in make_splits(labels, mode="kfold", folds=5, seed=0):
        assert not set(labels.groups[f.train]) & set(labels.groups[f.val])
    assert not any("inner" in n for n in labels.notes)
    # a holdout with fewer sources than 1 / --val-fraction stays grouped (it used to drop
    # the groups, so validation shared sources with training)
    few = read_labels(ids, csv)
    few.groups = np.array([str(i % 3) for i in range(len(ids))], dtype=object)
    few.notes = []
    (h,) = make_splits(few, mode="holdout", val_fraction=0.2, seed=0)
    assert not set(few.groups[h.train]) & set(few.groups[h.val]) and len(h.val)
    assert any("only 3 source groups" in n for n in few.notes)
    # ... but never with a side missing a class: the grouped part that keeps both whole
    y = few.y
    mixed = np.arange(len(ids)) % 5 == 0
    assert set(y[mixed]) == {0, 1}
    few.groups = np.where(mixed, "M", np.where(y == 1, "F", "C")).astype(object)
    few.notes = []
    for seed in range(4):
        (h,) = make_splits(few, mode="holdout", val_fraction=0.2, seed=seed)
        assert set(few.groups[h.val]) == {"M"} and set(y[h.val]) == set(y[h.train]) == {0, 1}
    few.groups = np.where(y == 1, "F", "C").astype(object)  # sources = classes: no grouping
    few.notes = []
    (h,) = make_splits(few, mode="holdout", val_fraction=0.2, seed=0)
    assert set(y[h.val]) == {0, 1} and any("split without groups" in n for n in few.notes)


def test_holdout_is_stratified(store2):
    st = open_store(store2)
    labels = read_labels(st.ids(), None, manifest=st.manifest())
    (s,) = make_splits(labels, mode="holdout", val_fraction=0.2, seed=3)
    assert len(s.val) == 12 and np.bincount(labels.y[s.val]).tolist() == [6, 6]


# ------------------------------------------------------------------ training
@pytest.mark.parametrize("head", list(TINY))
def test_every_head_learns_a_separable_task(tmp_path, store2, head):
    cfg = TrainConfig(head=head, head_options=TINY[head], **FAST)
    result = train(store2, out=tmp_path / "run", config=cfg)
    assert result.report["accuracy"] >= 0.9, result.report
    run = load_run(tmp_path / "run")
    st = open_store(store2)
    df = run.predict(st)
    assert list(df.columns) == ["id", "score", "label"] and len(df) == 60
    saved = pd.read_csv(tmp_path / "run" / "predictions.csv")
    ours = df.set_index("id").loc[saved["id"], "score"].to_numpy()
    np.testing.assert_allclose(ours, saved["score"].to_numpy(), rtol=1e-5, atol=1e-6)
    assert (tmp_path / "run" / "confusion_matrix.png").stat().st_size > 1000


def test_report_matches_sklearn_on_saved_predictions(tmp_path, store2):
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    result = train(store2, out=tmp_path / "run", config=TrainConfig(head="mean_linear", **FAST))
    pred = pd.read_csv(tmp_path / "run" / "predictions.csv")
    y = (pred["true"] == "fight").astype(int)
    assert result.report["accuracy"] == pytest.approx(accuracy_score(pred["true"], pred["pred"]))
    assert result.report["f1"] == pytest.approx(f1_score(y, pred["pred"] == "fight"))
    assert result.report["roc_auc"] == pytest.approx(roc_auc_score(y, pred["score"]))


def test_resume_continues_exactly(tmp_path, store2):
    cfg = TrainConfig(
        head="mlp",
        head_options={"hidden": 16},
        epochs=8,
        patience=50,
        batch_size=8,
        tensorboard=False,
    )
    train(store2, out=tmp_path / "straight", config=cfg)

    class StopAt3:  # a user callback: runs after the checkpoint of each epoch
        def on_epoch_end(self, ctx, row):
            if row["epoch"] == 3:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(store2, out=tmp_path / "cut", config=cfg, callbacks=[StopAt3()])
    last = json.loads((tmp_path / "cut" / "checkpoints" / "last.json").read_text())
    assert last["epoch"] == 4
    train(store2, out=tmp_path / "cut", config=cfg, resume=True)
    from safetensors.torch import load_file

    a = load_file(str(tmp_path / "straight" / "checkpoints" / "last.safetensors"))
    b = load_file(str(tmp_path / "cut" / "checkpoints" / "last.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    ma = json.loads((tmp_path / "straight" / "metrics.json").read_text())["val"]
    mb = json.loads((tmp_path / "cut" / "metrics.json").read_text())["val"]
    assert ma["roc_auc"] == mb["roc_auc"] and ma["accuracy"] == mb["accuracy"]
    # resuming on other splits would score videos the checkpoints were selected on
    with pytest.raises(ValueError, match="other train/val/test videos"):
        train(store2, out=tmp_path / "cut", config=replace(cfg, seed=1), resume=True)


def test_multiclass_kfold_and_evaluate(tmp_path):
    root = make_npy_store(tmp_path / "s3", n=60, classes=("a", "b", "c"))
    cfg = TrainConfig(head="mean_linear", split="kfold", folds=3, **FAST)
    result = train(root, out=tmp_path / "run", config=cfg)
    assert result.report["num_folds"] == 3 and result.report["accuracy"] > 0.9
    assert "accuracy_std" in result.report and result.scope == "test"
    # the quoted figures are the held-out folds' (every video scored once, by the fold that
    # never saw it), not the inner validation splits that picked the epoch
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["scope"] == "test" and metrics["test"]["accuracy"] == result.report["accuracy"]
    oof = pd.read_csv(tmp_path / "run" / "oof_predictions.csv", dtype={"id": str})
    assert sorted(oof["id"]) == sorted(open_store(root).ids())
    for i, split in enumerate(result.splits):
        part = oof[oof["fold"] == f"fold{i}"]
        assert (part["true"] == part["pred"]).mean() == pytest.approx(split.test_report["accuracy"])
    run = load_run(tmp_path / "run")
    assert len(run.members) == 3 and run.classes == ["a", "b", "c"]
    df = run.predict(open_store(root))
    assert list(df.columns) == ["id", "label", "score_a", "score_b", "score_c"]
    np.testing.assert_allclose(df[["score_a", "score_b", "score_c"]].sum(axis=1), 1.0, rtol=1e-5)
    rep = evaluate(run, root)
    assert rep["accuracy"] > 0.9 and len(rep["confusion_matrix"]) == 3


def test_dimension_mismatch_is_clear(tmp_path, store2):
    train(store2, out=tmp_path / "run", config=TrainConfig(head="mean_linear", **FAST))
    other = make_npy_store(tmp_path / "wide", n=6, d=20)
    with pytest.raises(Exception, match=r"width \[20\].*D=12"):
        load_run(tmp_path / "run").predict(open_store(other))


# ------------------------------------------------------------------ videos end to end
def test_predict_on_videos_equals_predict_on_their_store(tmp_path, make_video):
    from vidscope.features import ExtractConfig, extract
    from vidscope.video import SamplingSpec

    for i in range(12):
        cls = "a" if i % 2 else "b"
        make_video(f"v/{cls}/{i:02d}.mp4", 12, size=(64, 48), seed=100 + i % 2)
    cfg = ExtractConfig(
        backbone="timm:test_efficientnet", weights="random", sampling=SamplingSpec("uniform", 3)
    )
    extract(tmp_path / "v", tmp_path / "store", cfg, progress=False)
    train(tmp_path / "store", out=tmp_path / "run", config=TrainConfig(head="mean_linear", **FAST))
    run = load_run(tmp_path / "run")
    from_store = run.predict(tmp_path / "store").set_index("id")
    from_videos = run.predict(tmp_path / "v", weights="random").set_index("id")
    assert sorted(from_videos.index) == sorted(from_store.index)
    np.testing.assert_allclose(
        from_videos.loc[from_store.index, "score"], from_store["score"], rtol=1e-5, atol=1e-6
    )


def test_cli_train_evaluate_predict_compare(tmp_path, store2, capsys):
    run = str(tmp_path / "run")
    common = ["--epochs", "20", "--lr", "0.01", "--no-tensorboard", "--quiet"]
    assert (
        main(
            [
                "train",
                str(store2),
                "--out",
                run,
                "--head",
                "mlp",
                "--head-option",
                "hidden=16",
                *common[:-1],
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "run saved to" in out and "accuracy" in out
    assert "event (positive) class" in out
    quiet = ["train", str(store2), "--out", run, "--overwrite", "--head", "mean_linear", *common]
    assert main(quiet) == 0 and capsys.readouterr().out == ""  # --quiet prints nothing
    assert main([*quiet[:4], *quiet[5:]]) == 2  # an existing run is not silently replaced
    assert "--overwrite" in capsys.readouterr().err
    assert main([*quiet[:-1], "--head", "mlp", "--head-option", "hidden=16"]) == 0
    assert main(["evaluate", run, str(store2), "--out", str(tmp_path / "ev.json")]) == 0
    ev = json.loads((tmp_path / "ev.json").read_text())
    assert ev["accuracy"] > 0.75 and ev == evaluate(run, store2)
    assert main(["predict", run, str(store2), "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    assert pd.read_csv(tmp_path / "p.csv").columns.tolist() == ["id", "score", "label"]
    assert (
        main(
            [
                "compare",
                str(store2),
                "--heads",
                "mean_linear,stats_xgboost",
                "--out",
                str(tmp_path / "cmp"),
                *common,
            ]
        )
        == 0
    )
    board = json.loads((tmp_path / "cmp" / "leaderboard.json").read_text())
    assert [r["head"] for r in board] == ["mean_linear", "stats_xgboost"]
    assert main(["train", str(store2), "--out", run, "--head", "nope", "--quiet"]) == 2
    assert "unknown --head 'nope'" in capsys.readouterr().err


def test_positive_class_choice(tmp_path, store2):
    st = open_store(store2)
    default = read_labels(st.ids(), None, manifest=st.manifest())
    flipped = read_labels(st.ids(), None, manifest=st.manifest(), positive_class="calm")
    assert default.classes == ["calm", "fight"] and flipped.classes == ["fight", "calm"]
    np.testing.assert_array_equal(flipped.y, 1 - default.y)
    with pytest.raises(LabelError, match="--positive-class 'nope'"):
        read_labels(st.ids(), None, manifest=st.manifest(), positive_class="nope")
    args = [
        "train",
        str(store2),
        "--out",
        str(tmp_path / "r"),
        "--head",
        "mean_linear",
        "--positive-class",
        "calm",
        "--epochs",
        "3",
        "--no-tensorboard",
        "--quiet",
    ]
    assert main(args) == 0
    assert load_run(tmp_path / "r").classes == ["fight", "calm"]
