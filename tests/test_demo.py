"""`vidscope demo` end to end, in-process, on a small generated dataset."""

from __future__ import annotations

import json

import pandas as pd

from vidscope.cli import main
from vidscope.features import open_store


def test_demo_generates_and_extracts(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-videos", "6", "--frames", "4"]) == 0
    printed = capsys.readouterr().out
    assert "6 videos: 6 ok, 0 partial, 0 failed" in printed
    labels = pd.read_csv(out / "data" / "labels.csv", dtype={"id": str})
    store = open_store(out / "store")
    assert store.ids() == sorted(f"{i}" for i in labels["id"])
    assert store.meta["backbone"]["name"] == "efficientnet_lite0"
    assert store.load(store.ids()[0]).features.shape == (4, 1280)
    assert (out / "data" / "long" / "long_000.mp4").exists()
    assert "run saved to" in printed and (out / "run" / "model.safetensors").exists()
    metrics = json.loads((out / "run" / "metrics.json").read_text())["val"]
    assert metrics["num_samples"] == 2 and 0 <= metrics["accuracy"] <= 1
    assert "timeline of the long video" in printed and "true" in printed
    assert (out / "timeline" / "report.html").exists()
    assert (out / "timeline" / "long_000" / "segments.csv").exists()
