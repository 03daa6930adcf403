"""The ``ensemble`` head: member heads on layout parts, mean probability, a normal run folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.errors import ConfigError, RunError
from vidscope.features import FeatureStore, open_store
from vidscope.metrics import choose_threshold
from vidscope.training import TrainConfig, load_run, train

OLD = Path(__file__).parent / "data" / "old_format"
#: Three parts: "a" and "b" each carry half of the signal, "flow" is noise.
LAYOUT = [("a", 6), ("b", 6), ("flow", 3)]
ENS = "stats_xgboost:n_estimators=20@a+flow,stats_xgboost:n_estimators=20@b"
NO_TORCH = (Path(__file__).parent / "test_lean.py").read_text().split('NO_TORCH = """')[1]
NO_TORCH = NO_TORCH.split('"""')[0]


def fused_store(
    root: Path, n: int = 40, seed: int = 0, layout=LAYOUT, backbone: str = "a+b+flow"
) -> tuple[Path, Path]:
    """A store whose layout is ``layout`` (a fused backbone ``backbone``) and its labels:
    class 1 shifts the first part on even videos and the second part on odd ones."""
    old = open_store(OLD / "store")
    d = sum(w for _, w in layout)
    meta = {**old.meta, "layout": [list(p) for p in layout]}
    meta["backbone"] = {**old.meta["backbone"], "name": backbone, "num_features": d}
    store = FeatureStore.create(root / "store", meta)
    rng = np.random.default_rng(seed)
    rows = []
    template = old.rows["v0"]
    (_, w0), (_, w1) = layout[0], layout[1]
    for i in range(n):
        vid, y = f"v{i:02d}", i % 4 >= 2
        x = rng.normal(size=(8, d)).astype(np.float32)
        if y:
            x[:, 0:w0] += 1.2 if i % 2 == 0 else 0.0
            x[:, w0 : w0 + w1] += 1.2 if i % 2 else 0.0
        rel = store.write(vid, x, np.arange(8) * 0.25)
        store.record({**template, "video_id": vid, "path": f"/x/{vid}.mp4", "features": rel,
                      "duration_s": 2.0})  # fmt: skip
        rows.append(f"{vid},{'fight' if y else 'calm'}")
    store.compact()
    (root / "labels.csv").write_text("id,label\n" + "\n".join(rows) + "\n")
    return root / "store", root / "labels.csv"


@pytest.fixture(scope="module")
def fused(tmp_path_factory) -> tuple[Path, Path]:
    return fused_store(tmp_path_factory.mktemp("ens"))


def config(**kw) -> TrainConfig:
    base = dict(head="ensemble", head_options={"members": ENS}, epochs=4, lr=0.01,
                tensorboard=False, split="holdout", val_fraction=0.4)  # fmt: skip
    return TrainConfig(**{**base, **kw})


def test_members_read_their_parts_and_the_run_scores_their_mean(tmp_path, fused):
    store, labels = fused
    res = train(store, labels, out=tmp_path / "run", config=config())
    run = load_run(tmp_path / "run")
    spec = json.loads((tmp_path / "run" / "config.json").read_text())
    assert spec["head"] == "ensemble" and spec["trainer"] == "ensemble"
    members = spec["head_config"]["members"]
    assert [m["columns"] for m in members] == [[[0, 6], [12, 15]], [[6, 12]]]
    assert [m["layout"] for m in members] == [[["a", 6], ["flow", 3]], [["b", 6]]]
    assert (tmp_path / "run" / "members" / "m0_stats_xgboost" / "model.xgb").is_dir()
    summary = json.loads((tmp_path / "run" / "ensemble.json").read_text())
    assert [m["member"] for m in summary["members"]] == ["stats_xgboost@a+flow", "stats_xgboost@b"]
    st = open_store(store)
    seqs = [st.load(v).features for v in st.ids()]
    got = run.scores(seqs)
    x = np.stack(seqs)  # every video has 8 samples: no padding
    parts = [np.concatenate([x[..., 0:6], x[..., 12:15]], -1), x[..., 6:12]]
    own = [m.model.predict_proba(p, np.ones(x.shape[:2], bool))[:, 1]
           for m, p in zip(run.members[0].model.members, parts, strict=True)]  # fmt: skip
    np.testing.assert_allclose(got, np.mean(own, axis=0), atol=1e-6)
    # the threshold was chosen on validation from the averaged scores
    val = pd.read_csv(tmp_path / "run" / "predictions.csv")
    y = (val["true"] == "fight").to_numpy().astype(int)
    assert run.threshold == pytest.approx(choose_threshold(y, val["score"].to_numpy(),
                                                           metric="balanced_accuracy"))  # fmt: skip
    assert res.report["roc_auc"] >= 0.75  # each member sees half of the signal; together all


def test_refit_refits_every_member_and_keeps_the_threshold(tmp_path, fused):
    store, labels = fused
    plain = train(store, labels, out=tmp_path / "a", config=config())
    refit = train(store, labels, out=tmp_path / "b", config=config(refit=True))
    assert refit.report == plain.report  # validation figures: the first fits'
    a, b = load_run(tmp_path / "a"), load_run(tmp_path / "b")
    assert a.threshold == b.threshold
    st = open_store(store)
    seqs = [st.load(v).features for v in st.ids()]
    for k in range(2):  # every member is another model now
        ma, mb = a.members[0].model.members[k], b.members[0].model.members[k]
        x = np.stack([ma.take(q) for q in seqs])
        mask = np.ones(x.shape[:2], bool)
        assert np.abs(ma.model.predict_proba(x, mask) - mb.model.predict_proba(x, mask)).max() > 0


def test_mixed_members_kfold_and_predict_without_torch(tmp_path, fused):
    """A neural and a tree member, k-fold: predict and evaluate run with torch unimportable."""
    store, labels = fused
    members = "mlp:hidden=8@a+b,stats_xgboost:n_estimators=20"
    cfg = config(head_options={"members": members}, split="kfold", folds=3)
    train(store, labels, out=tmp_path / "run", config=cfg)
    run = load_run(tmp_path / "run")
    assert len(run.members) == 3
    assert (tmp_path / "run" / "fold0" / "members" / "m0_mlp" / "model.onnx").is_file()
    expected = run.predict(store)
    out = tmp_path / "p.csv"
    _no_torch("predict", str(tmp_path / "run"), str(store), "--out", str(out), "--quiet")
    got = pd.read_csv(out)
    np.testing.assert_allclose(got["score"], expected["score"], atol=1e-5)
    _no_torch("evaluate", str(tmp_path / "run"), str(store), "--labels", str(labels),
              "--out", str(tmp_path / "e.json"))  # fmt: skip
    assert json.loads((tmp_path / "e.json").read_text())["roc_auc"] >= 0.5
    _no_torch("timeline", str(tmp_path / "run"), "--store", str(store), "--out",
              str(tmp_path / "tl"), "--quiet")  # fmt: skip
    assert (tmp_path / "tl" / "report.html").exists()


def test_export_refuses_an_ensemble_by_name(tmp_path, fused):
    from vidscope.pipelines import export

    store, labels = fused
    train(store, labels, out=tmp_path / "run", config=config())
    with pytest.raises(RunError, match=r"ensemble.*no ONNX form"):
        export(tmp_path / "run", tmp_path / "m.onnx", check=store, from_features=True)


@pytest.mark.parametrize(
    ("members", "match"),
    [
        ("stats_xgboost@efficientnet_lite2+flow", r"efficientnet_lite2.*parts: a \(6\), b \(6\)"),
        ("", "needs its members"),
        ("nosuchhead@a", "unknown --head 'nosuchhead'"),
        ("ensemble@a", "another ensemble"),
        ("mlp:hidden@a", "KEY=VALUE"),
        ("mlp@", "cannot read member"),
    ],
)
def test_bad_members_are_one_line_errors(tmp_path, fused, members, match):
    store, labels = fused
    with pytest.raises(ConfigError, match=match):
        train(store, labels, out=tmp_path / "r", config=config(head_options={"members": members}))


def test_json_members_and_a_damaged_config(tmp_path, fused):
    store, labels = fused
    members = json.dumps([{"head": "stats_xgboost", "parts": ["b"],
                           "options": {"n_estimators": 10}}])  # fmt: skip
    train(store, labels, out=tmp_path / "run", config=config(head_options={"members": members}))
    path = tmp_path / "run" / "config.json"
    spec = json.loads(path.read_text())
    assert spec["head_config"]["members"][0]["head_config"]["n_estimators"] == 10
    spec["head_config"]["members"][0]["columns"] = [[6, 99]]
    path.write_text(json.dumps(spec))
    with pytest.raises(RunError, match="do not fit D=15"):
        load_run(tmp_path / "run")


def _no_torch(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_multiclass_members_average_class_probabilities(tmp_path, fused):
    store, _ = fused
    rows = [f"v{i:02d},{('calm', 'fight', 'run')[i % 3]}" for i in range(40)]
    labels = tmp_path / "three.csv"
    labels.write_text("id,label\n" + "\n".join(rows) + "\n")
    members = "stats_xgboost:n_estimators=10@a,mean_linear@b+flow"
    train(store, labels, out=tmp_path / "run", config=config(head_options={"members": members}))
    df = load_run(tmp_path / "run").predict(store)
    probs = df[["score_calm", "score_fight", "score_run"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert set(df["label"]) <= {"calm", "fight", "run"}
