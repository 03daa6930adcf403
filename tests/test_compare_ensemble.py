"""``compare --ensemble K``: top-K heads per split chosen on validation only; a normal run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.cli import main
from vidscope.errors import ConfigError
from vidscope.features import open_store
from vidscope.metrics import choose_threshold, classification_report
from vidscope.training import TrainConfig, compare, load_run

from .test_ensemble import _no_torch, fused_store

HEADS = ["stats_xgboost", "mlp", "mean_linear"]
FOLDS = ["fold0", "fold1", "fold2"]


def config(**kw) -> TrainConfig:
    base = dict(epochs=4, lr=0.01, tensorboard=False, split="kfold", folds=3)
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def compared(tmp_path_factory) -> tuple[Path, Path, Path, list[dict]]:
    root = tmp_path_factory.mktemp("cmp_ens")
    store, labels = fused_store(root)
    rows = compare(store, labels, heads=HEADS, out=root / "cmp", config=config(), ensemble=2)
    return store, labels, root / "cmp", rows


def _metrics(cmp: Path, head: str, fold: str) -> dict:
    return json.loads((cmp / head / fold / "metrics.json").read_text())


def test_members_are_the_top_k_on_inner_val_never_on_the_held_out_fold(compared):
    _, _, cmp, rows = compared
    row = rows[-1]
    assert row["head"].startswith("ensemble(") and row["scope"] == "test"
    by_val, by_test = {}, {}
    for f in FOLDS:
        val = {h: _metrics(cmp, h, f)["val"]["roc_auc"] for h in HEADS}
        test = {h: _metrics(cmp, h, f)["test"]["roc_auc"] for h in HEADS}
        by_val[f] = sorted(HEADS, key=lambda h: (-val[h], HEADS.index(h)))[:2]
        by_test[f] = sorted(HEADS, key=lambda h: (-test[h], HEADS.index(h)))[:2]
    assert row["members"] == by_val
    # the check can fail: in some fold the held-out fold would have chosen other heads
    assert any(set(by_val[f]) != set(by_test[f]) for f in FOLDS), (by_val, by_test)
    spec = json.loads((cmp / "ensemble" / "config.json").read_text())
    chosen = {f: sorted(n.split("_", 1)[1] for n in names)
              for f, names in spec["head_config"]["fold_members"].items()}  # fmt: skip
    assert chosen == {f: sorted(v) for f, v in by_val.items()}
    sel = spec["extra"]["ensemble_selection"]
    assert sel["selected_on"] == "val" and len(sel["table"]) == len(HEADS) * len(FOLDS)


def test_each_fold_averages_its_members_with_the_threshold_from_averaged_val(compared):
    _, _, cmp, rows = compared
    for f, members in rows[-1]["members"].items():
        mine = cmp / "ensemble" / f
        for name in ("predictions.csv", "test_predictions.csv"):
            got = pd.read_csv(mine / name)
            parts = [pd.read_csv(cmp / h / f / name)["score"] for h in members]
            np.testing.assert_allclose(got["score"], np.mean(parts, axis=0), atol=1e-12)
        val = pd.read_csv(mine / "predictions.csv")
        y = (val["true"] == "fight").to_numpy().astype(int)
        thr = json.loads((mine / "member.json").read_text())["threshold"]
        assert thr == pytest.approx(choose_threshold(y, val["score"].to_numpy(),
                                                     metric="balanced_accuracy"))  # fmt: skip


def test_the_written_run_scores_what_the_leaderboard_scored(compared):
    store, _, cmp, rows = compared
    run = load_run(cmp / "ensemble")
    assert run.spec.head == "ensemble" and len(run.members) == len(FOLDS)
    st = open_store(store)
    aucs = []
    for k, f in enumerate(FOLDS):
        test = pd.read_csv(cmp / "ensemble" / f / "test_predictions.csv", dtype={"id": str})
        x = np.stack([st.load(v).features for v in test["id"]])  # 8 samples each: no padding
        member = run.members[k]
        assert sorted(m.head for m in member.model.members) == sorted(rows[-1]["members"][f])
        got = member.trainer.score_padded(member.model, x, np.ones(x.shape[:2], bool), True)
        np.testing.assert_allclose(got, test["score"], atol=1e-5)  # ONNX / numpy trees
        y = (test["true"] == "fight").to_numpy().astype(int)
        rep = classification_report(y, got, labels=["calm", "fight"], threshold=member.threshold)
        aucs.append(rep["roc_auc"])
    assert rows[-1]["roc_auc"] == pytest.approx(np.mean(aucs), abs=1e-6)
    board = json.loads((cmp / "leaderboard.json").read_text())
    assert board[-1]["head"] == rows[-1]["head"] and board[-1]["run"] == str(cmp / "ensemble")


def test_predict_and_evaluate_work_on_the_run(compared, tmp_path):
    store, labels, cmp, _ = compared
    out = tmp_path / "p.csv"
    assert main(["predict", str(cmp / "ensemble"), str(store), "--out", str(out), "--quiet"]) == 0
    got = pd.read_csv(out)
    expected = load_run(cmp / "ensemble").predict(store)
    np.testing.assert_allclose(got["score"], expected["score"], atol=1e-6)
    assert len(got) == 40 and set(got["label"]) <= {"calm", "fight"}
    lean = tmp_path / "lean.csv"  # neural members were exported: no torch needed
    _no_torch("predict", str(cmp / "ensemble"), str(store), "--out", str(lean), "--quiet")
    np.testing.assert_allclose(pd.read_csv(lean)["score"], expected["score"], atol=1e-6)
    report = tmp_path / "e.json"
    args = ["evaluate", str(cmp / "ensemble"), str(store), "--labels", str(labels)]
    assert main([*args, "--out", str(report)]) == 0
    assert json.loads(report.read_text())["roc_auc"] > 0.5
    tl = tmp_path / "tl"
    assert main(["timeline", str(cmp / "ensemble"), "--store", str(store), "--out", str(tl),
                 "--quiet"]) == 0  # fmt: skip
    assert (tl / "report.html").exists()


def test_holdout_cli_writes_one_member_set_and_prints_the_row(tmp_path, capsys):
    store, labels = fused_store(tmp_path)
    heads = "stats_xgboost,mean_linear"
    args = ["compare", str(store), "--labels", str(labels), "--heads", heads, "--ensemble",
            "--epochs", "3", "--out", str(tmp_path / "c"), "--no-tensorboard"]  # fmt: skip
    assert main(args) == 0
    assert "ensemble(" in capsys.readouterr().out
    spec = json.loads((tmp_path / "c" / "ensemble" / "config.json").read_text())
    assert spec["folds"] is None and spec["head_config"]["fold_members"] is None
    assert [m["head"] for m in spec["head_config"]["members"]] == ["stats_xgboost", "mean_linear"]
    assert load_run(tmp_path / "c" / "ensemble").predict(store)["score"].between(0, 1).all()


@pytest.mark.parametrize(
    ("heads", "k", "match"),
    [
        (["mlp", "stats_xgboost"], 1, "at least 2"),
        (["mlp", "stats_xgboost"], 3, r"only 2 head\(s\)"),
        (["mlp", "mlp"], 2, "lists a head twice"),
        (["mlp", "ensemble"], 2, "'ensemble' cannot be a candidate"),
        (["mlp", "videomae"], 2, "trains on raw clips"),
        (["mlp", "nosuchhead"], 2, "unknown --head 'nosuchhead'"),
    ],
)
def test_bad_ensemble_requests_fail_before_any_fit(tmp_path, heads, k, match):
    with pytest.raises(ConfigError, match=match):
        compare(tmp_path / "missing", heads=heads, out=tmp_path / "c", ensemble=k)
    assert not (tmp_path / "c").exists()


def test_cli_error_is_one_line(tmp_path, capsys):
    assert main(["compare", str(tmp_path), "--heads", "mlp", "--ensemble", "--out",
                 str(tmp_path / "c")]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--ensemble 2: only 1 head(s)" in err


def test_multiclass_ensemble_averages_class_probabilities(tmp_path):
    store, _ = fused_store(tmp_path)
    labels = tmp_path / "three.csv"
    rows = [f"v{i:02d},{('calm', 'fight', 'run')[i % 3]}" for i in range(40)]
    labels.write_text("id,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "c"
    board = compare(store, labels, heads=["stats_xgboost", "mean_linear"], out=out,
                    config=config(split="holdout", val_fraction=0.4), ensemble=2)  # fmt: skip
    assert board[-1]["f1_macro"] is not None
    df = load_run(out / "ensemble").predict(store)
    probs = df[["score_calm", "score_fight", "score_run"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    sel = json.loads((out / "ensemble" / "config.json").read_text())["extra"]
    assert sel["ensemble_selection"]["metric"] == "val_f1_macro"


def test_threshold_from_cv_uses_the_members_averaged_crossfit_scores(tmp_path):
    store, labels = fused_store(tmp_path)
    out = tmp_path / "c"
    cfg = config(split="holdout", val_fraction=0.4, threshold_from="cv", threshold_folds=3)
    cfg_heads = ["stats_xgboost", "mean_linear"]
    compare(store, labels, heads=cfg_heads, out=out, config=cfg, ensemble=2)
    frames = [pd.read_csv(out / h / "crossfit_predictions.csv") for h in cfg_heads]
    y = (frames[0]["true"] == "fight").to_numpy().astype(int)
    mean = np.mean([f["score"] for f in frames], axis=0)
    expected = choose_threshold(y, mean, metric="balanced_accuracy")
    assert load_run(out / "ensemble").threshold == pytest.approx(expected)
    val = pd.read_csv(out / "ensemble" / "predictions.csv")
    y_val = (val["true"] == "fight").to_numpy().astype(int)
    assert expected != choose_threshold(y_val, val["score"].to_numpy(), metric="balanced_accuracy")
    sel = json.loads((out / "ensemble" / "config.json").read_text())["extra"]["ensemble_selection"]
    assert sel["metric"] == "cv_roc_auc" and sel["selected_on"] == "cross-fitted train+val"
    aucs = {r["head"]: r["roc_auc"] for r in sel["table"]}
    for h, f in zip(cfg_heads, frames, strict=True):
        y_h = (f["true"] == "fight").to_numpy().astype(int)
        assert aucs[h] == pytest.approx(
            classification_report(y_h, f["score"].to_numpy(), labels=["calm", "fight"])["roc_auc"]
        )
