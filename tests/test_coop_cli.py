"""coop end to end from the CLI on a store extracted with a clip backbone: train (the store's
weights digest finds the checkpoint), compare against other heads, predict raw videos."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from vidscope.cli import main

from ._clip_tiny import PLAIN, register_tiny, save_checkpoint
from .conftest import numbered_frames, write_video

pytest.importorskip("open_clip")


@pytest.fixture(scope="module")
def clip_store(tmp_path_factory: pytest.TempPathFactory):
    """12 tiny videos (two labels), their CSV, a checkpoint and the store extracted with it."""
    root = tmp_path_factory.mktemp("coop-cli")
    register_tiny(root / "configs")
    ckpt = str(save_checkpoint(PLAIN, root / "plain.safetensors", seed=5))
    rows = []
    for i in range(12):
        frames = numbered_frames(8, (64, 48), seed=i)
        write_video(root / "videos" / f"v{i:02d}.mp4", frames, fps=8)
        rows.append({"path": f"v{i:02d}.mp4", "label": ("fight", "calm")[i % 2]})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    code = main(["extract", str(root / "videos"), "--out", str(root / "store"), "--backbone",
                 f"clip:{PLAIN}", "--weights", ckpt, "--frames", "3", "--quiet"])  # fmt: skip
    assert code == 0
    return root, ckpt


def test_train_compare_predict_from_the_cli(clip_store, tmp_path, capsys):
    root, ckpt = clip_store
    store, labels = str(root / "store"), str(root / "labels.csv")
    run = tmp_path / "run"
    code = main(["train", store, "--labels", labels, "--head", "coop", "--out", str(run),
                 "--head-option", "n_ctx=2", "--head-option", "csc=true", "--epochs", "2",
                 "--no-tensorboard", "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["head"] == "coop" and cfg["head_config"]["csc"] is True
    assert cfg["head_config"]["class_text"] == cfg["classes"]
    # raw videos: extracted with the run's clip backbone (--weights), then scored by coop
    out = tmp_path / "pred.csv"
    code = main(["predict", str(run), str(root / "videos"), "--weights", ckpt, "--out",
                 str(out), "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    df = pd.read_csv(out)
    assert sorted(df["id"]) == [f"v{i:02d}" for i in range(12)]
    assert df["score"].between(0, 1).all()
    # the same scores as predicting the store the run was trained on
    code = main(["predict", str(run), store, "--out", str(tmp_path / "store.csv"), "--quiet"])
    assert code == 0
    same = pd.read_csv(tmp_path / "store.csv").set_index("id").loc[df["id"]]
    assert same["score"].to_numpy() == pytest.approx(df["score"].to_numpy(), abs=1e-4)
    # a timeline of one video, scored window by window with the coop run
    code = main(["timeline", str(run), str(root / "videos" / "v00.mp4"), "--out",
                 str(tmp_path / "tl"), "--weights", ckpt, "--no-report", "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    curve = pd.read_csv(next((tmp_path / "tl").rglob("scores.csv")))
    scores = curve.filter(like="score_").to_numpy()  # binary: the event class's score
    assert scores.size and ((scores >= 0) & (scores <= 1)).all()
    # the checkpoint forgotten (another machine, a moved file): a one-line error, then --weights
    index = Path(os.environ["VIDSCOPE_CACHE"]) / "clip_weights.json"
    known = index.read_text()
    index.write_text("{}")
    try:
        pred = ["predict", str(run), store, "--out", str(tmp_path / "again.csv"), "--quiet"]
        capsys.readouterr()
        assert main(pred) == 2
        assert "--weights PATH" in capsys.readouterr().err
        assert main([*pred, "--overwrite", "--weights", ckpt]) == 0
        assert main(["evaluate", str(run), store, "--labels", labels]) == 0
    finally:
        index.write_text(known)
    capsys.readouterr()
    code = main(["compare", store, "--labels", labels, "--heads", "coop,mlp,stats_xgboost",
                 "--out", str(tmp_path / "cmp"), "--epochs", "2", "--no-tensorboard",
                 "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert all(h in printed for h in ("coop", "mlp", "stats_xgboost"))


def test_features_of_no_clip_model_are_refused_in_one_line(tmp_path, capsys):
    for c in ("a", "b"):
        (tmp_path / "npy" / c).mkdir(parents=True)
        for i in range(3):
            np.save(tmp_path / "npy" / c / f"{i}.npy", np.ones((3, 4), np.float32) * i)
    code = main(["train", str(tmp_path / "npy"), "--head", "coop", "--out", str(tmp_path / "r"),
                 "--quiet"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "clip_model" in err and len(err.strip().splitlines()) <= 3
