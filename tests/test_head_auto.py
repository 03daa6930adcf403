"""``train --head auto``: the head chosen by cross-validation on each split's training part."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import vidscope.training._auto as auto_mod
from vidscope.cli import main
from vidscope.errors import ConfigError
from vidscope.training import TrainConfig, load_data, load_run, splits_for, train, train_auto
from vidscope.training._select import INNER_FOLDS, inner_cv, inner_splits

from .test_ensemble import fused_store

CANDIDATES = "stats_xgboost,mean_linear"


def config(**kw) -> TrainConfig:
    base = dict(epochs=3, lr=0.01, tensorboard=False, split="kfold", folds=3,
                head_options={"candidates": CANDIDATES})  # fmt: skip
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def fused(tmp_path_factory) -> tuple[Path, Path]:
    return fused_store(tmp_path_factory.mktemp("auto"), n=48)


def test_inner_folds_cut_only_the_training_part(fused):
    store, labels = fused
    _, data = load_data(store, labels, allow_missing=False)
    for split in splits_for(data, config()):
        inner = inner_splits(data, split, config())
        assert len(inner) == INNER_FOLDS
        train_part = set(split.train.tolist())
        for s in inner:
            used = set(s.train.tolist()) | set(s.val.tolist()) | set(s.test.tolist())
            assert used <= train_part and not used & set(split.val.tolist())
            assert not used & set(split.test.tolist())
        held = sorted(i for s in inner for i in s.test.tolist())
        assert held == sorted(train_part)  # each training video is held out once


def test_holdout_run_is_a_normal_run_of_the_chosen_head(tmp_path, fused):
    store, labels = fused
    cfg = config(split="holdout")
    seen = []
    train_auto(store, labels, out=tmp_path / "auto", config=cfg, on_select=seen.append)
    spec = json.loads((tmp_path / "auto" / "config.json").read_text())
    sel = spec["extra"]["auto"]
    table = sel["table"]
    assert seen[0]["table"] == table and sel["candidates"] == CANDIDATES.split(",")
    best = max(table, key=lambda r: r["mean"])  # ties: the earlier candidate (max keeps it)
    assert [r["candidate"] for r in table if r["chosen"]] == [best["candidate"]]
    assert spec["head"] == best["candidate"] and spec["train"]["head_options"] == {}
    assert all(len(r["folds"]) == INNER_FOLDS and r["metric"] == "roc_auc" for r in table)
    # the chosen head trained on the split exactly as `train --head <it>` trains it
    plain = replace_head(cfg, best["candidate"])
    train(store, labels, out=tmp_path / "plain", config=plain)
    got = load_run(tmp_path / "auto").predict(store)["score"]
    np.testing.assert_allclose(got, load_run(tmp_path / "plain").predict(store)["score"])


def replace_head(cfg: TrainConfig, head: str) -> TrainConfig:
    from dataclasses import replace

    return replace(cfg, head=head, head_options={})


def test_folds_that_choose_differently_make_an_ensemble_run(tmp_path, fused, monkeypatch):
    """Make fold1 choose another head than fold0 (the cross-validations are real)."""
    store, labels = fused
    first: list[str] = []

    def flipped(data, split, cfg, candidates):
        rows = inner_cv(data, split, cfg, candidates)
        pick = next(r["candidate"] for r in rows if r["chosen"])
        if split.name == "fold1" and pick == first[0]:
            for r in rows:
                r["chosen"] = not r["chosen"]
        first.append(pick)
        return rows

    monkeypatch.setattr(auto_mod, "inner_cv", flipped)
    res = train_auto(store, labels, out=tmp_path / "run", config=config())
    spec = json.loads((tmp_path / "run" / "config.json").read_text())
    chosen = spec["extra"]["auto"]["chosen"]
    assert chosen["fold0"] != chosen["fold1"] and spec["head"] == "ensemble"
    per_fold = spec["head_config"]["fold_members"]
    assert {f: [n.split("_", 1)[1] for n in v] for f, v in per_fold.items()} == {
        f: [h] for f, h in chosen.items()
    }
    assert not (tmp_path / "run" / "_auto_fits").exists() and res.scope == "test"
    run = load_run(tmp_path / "run")
    assert [m.model.members[0].head for m in run.members] == list(chosen.values())
    out = tmp_path / "p.csv"
    assert main(["predict", str(tmp_path / "run"), str(store), "--out", str(out), "--quiet"]) == 0
    np.testing.assert_allclose(pd.read_csv(out)["score"], run.predict(store)["score"], atol=1e-6)


def test_cli_prints_the_selection_and_records_it(tmp_path, fused, capsys):
    store, labels = fused
    args = ["train", str(store), "--labels", str(labels), "--head", "auto", "--head-option",
            f"candidates={CANDIDATES}", "--epochs", "3", "--out", str(tmp_path / "r"),
            "--no-tensorboard"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "--head auto" in out and "inner-CV roc_auc" in out and "mean_linear" in out
    assert "auto" in json.loads((tmp_path / "r" / "config.json").read_text())["extra"]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"hidden": 8}, "--head-option hidden would go to every candidate"),
        ({"candidates": "mlp"}, "at least two heads"),
        ({"candidates": "mlp,ensemble"}, "'ensemble' cannot be a candidate"),
        ({"candidates": "mlp,videomae"}, "trains on raw clips"),
        ({"candidates": "mlp,nope"}, "unknown --head 'nope'"),
    ],
)
def test_bad_candidates_fail_before_any_fit(tmp_path, options, match):
    with pytest.raises(ConfigError, match=match):
        train_auto(tmp_path / "missing", out=tmp_path / "r", config=config(head_options=options))
    assert not (tmp_path / "r").exists()


def test_too_few_training_videos_is_a_config_error(tmp_path):
    store, labels = fused_store(tmp_path, n=4)
    with pytest.raises(ConfigError, match="too few for a 3-fold"):
        train_auto(store, labels, out=tmp_path / "r", config=config(split="holdout"))


@pytest.mark.parametrize(
    ("extra", "match"), [(["--resume"], "--resume with --head auto"), (["--preset", "fast"], "")]
)
def test_cli_refuses_resume_and_preset(tmp_path, capsys, extra, match):
    args = ["train", str(tmp_path), "--head", "auto", "--out", str(tmp_path / "r"), *extra]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--head auto" in err and match in err


def test_train_with_head_auto_dispatches_to_the_selection(tmp_path, fused):
    """``train(head="auto")`` in Python is ``train_auto``: same choice, same scores."""
    store, labels = fused
    cfg = config(split="holdout")
    train(store, labels, out=tmp_path / "via_train", config=replace_head(cfg, "auto"),
          head_options={"candidates": CANDIDATES})  # fmt: skip
    train_auto(store, labels, out=tmp_path / "direct", config=cfg)
    a, b = (json.loads((tmp_path / d / "config.json").read_text()) for d in ("via_train", "direct"))
    assert a["head"] == b["head"]
    for ra, rb in zip(a["extra"]["auto"]["table"], b["extra"]["auto"]["table"], strict=True):
        assert {**ra, "seconds": 0} == {**rb, "seconds": 0}  # all but the wall time
    np.testing.assert_allclose(
        load_run(tmp_path / "via_train").predict(store)["score"],
        load_run(tmp_path / "direct").predict(store)["score"],
    )
    with pytest.raises(ConfigError, match="resume"):
        train(store, labels, out=tmp_path / "r", config=cfg, head="auto", resume=True)
