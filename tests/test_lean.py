"""Lean inference: neural heads exported to ONNX and checked; predict, evaluate and timeline
run with torch unimportable (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import numbered_frames, write_video
from vidscope.features import ExtractConfig, extract
from vidscope.training import TrainConfig, load_run, train
from vidscope.video import SamplingSpec

NO_TORCH = """
import sys

class NoTorch:  # a finder that refuses torch, as on a machine without it installed
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, NoTorch())
from vidscope.cli import main
code = main(sys.argv[1:])
assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch imported"
sys.exit(code)
"""
NEURAL = ["mean_linear", "mlp", "lstm", "conv1d", "transformer"]


@pytest.fixture(scope="module")
def flow_store(tmp_path_factory) -> tuple[Path, Path]:
    """Ten clips (two motion classes) as a flow store at 4 fps, and their labels."""
    root = tmp_path_factory.mktemp("lean")
    rows = []
    for i in range(10):
        frames = numbered_frames(30, (64, 48), seed=i)
        if i % 2:  # class b: the picture slides right every frame
            frames = np.stack([np.roll(f, 4 * k, axis=1) for k, f in enumerate(frames)])
        write_video(root / "videos" / f"c{i}.mp4", frames, fps=10, gop=10)
        rows.append(f"c{i},{'b' if i % 2 else 'a'}")
    (root / "labels.csv").write_text("id,label\n" + "\n".join(rows) + "\n")
    cfg = ExtractConfig(backbone="flow", sampling=SamplingSpec("fps", 4.0), workers=1)
    extract(root / "videos", root / "store", cfg, progress=False)
    return root / "store", root / "labels.csv"


@pytest.mark.parametrize("head", NEURAL)
def test_every_neural_head_exports_within_tolerance(tmp_path, flow_store, head):
    store, labels = flow_store
    cfg = TrainConfig(head=head, epochs=2, tensorboard=False, split="holdout", val_fraction=0.4)
    train(store, labels, out=tmp_path / head, config=cfg)
    check = json.loads((tmp_path / head / "model.onnx.json").read_text())
    assert check["ok"], check
    assert check["max_abs_diff"] <= 1e-5 and check["sequences"] >= 4
    run = load_run(tmp_path / head)
    assert type(run.members[0].model).__name__ == "OnnxHead"


def test_predict_evaluate_timeline_without_torch(tmp_path, flow_store):
    store, labels = flow_store
    runs = {}
    for head in ("mlp", "stats_xgboost"):
        cfg = TrainConfig(head=head, epochs=3, tensorboard=False, split="holdout", val_fraction=0.4)
        train(store, labels, out=tmp_path / head, config=cfg)
        runs[head] = tmp_path / head
    for head, run in runs.items():
        expected = load_run(run).predict(store)  # in this process (torch loaded)
        out = tmp_path / f"{head}.csv"
        _no_torch("predict", str(run), str(store), "--out", str(out), "--quiet")
        got = pd.read_csv(out)
        assert got["id"].tolist() == expected["id"].tolist()
        np.testing.assert_allclose(got["score"], expected["score"], atol=1e-6)
        _no_torch(
            "evaluate",
            str(run),
            str(store),
            "--labels",
            str(labels),
            "--out",
            str(tmp_path / f"{head}.json"),
        )
        assert json.loads((tmp_path / f"{head}.json").read_text())["accuracy"] >= 0.0
        _no_torch(
            "timeline",
            str(run),
            "--store",
            str(store),
            "--out",
            str(tmp_path / f"tl_{head}"),
            "--quiet",
        )
        assert (tmp_path / f"tl_{head}" / "report.html").exists()


def _no_torch(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


NO_XGBOOST = NO_TORCH.replace(
    'name == "torch" or name.startswith("torch.")',
    'name.split(".")[0] in {"torch", "xgboost", "sklearn", "scipy", "pandas"}',
).replace(
    'assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch imported"',
    'assert not {m.split(".")[0] for m in sys.modules} & {"torch", "xgboost", "sklearn", '
    '"scipy", "pandas"}, "a heavy library was imported"',
)


def test_tree_runs_predict_with_numpy_alone(tmp_path, flow_store):
    """A stats_xgboost run predicts from the CLI with XGBoost, scikit-learn, SciPy, pandas
    and torch unimportable, to the scores XGBoost gives."""
    store, labels = flow_store
    cfg = TrainConfig(head="stats_xgboost", tensorboard=False, split="holdout", val_fraction=0.4)
    train(store, labels, out=tmp_path / "run", config=cfg)
    assert type(load_run(tmp_path / "run").members[0].model).__name__ == "TreeScorer"
    out = tmp_path / "lean.csv"
    proc = subprocess.run(
        [sys.executable, "-c", NO_XGBOOST, "predict", str(tmp_path / "run"), str(store),
         "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    import os

    os.environ["VIDSCOPE_HEAD_RUNTIME"] = "xgboost"
    try:
        run = load_run(tmp_path / "run")
        assert type(run.members[0].model).__name__ == "StatsXGBoost"
        expected = run.predict(store)
    finally:
        del os.environ["VIDSCOPE_HEAD_RUNTIME"]
    got = pd.read_csv(out)
    assert got["id"].tolist() == expected["id"].tolist()
    np.testing.assert_allclose(got["score"], expected["score"], atol=1e-6)
