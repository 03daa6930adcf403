"""Timelines end to end: clip-level and window-level runs, signals, event metrics, CLI."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from vidscope.cli import main
from vidscope.datasets import make_collisions
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.localize import (
    SegmentConfig,
    TimelineConfig,
    calibrate_timeline,
    plan_windows,
    read_calibration,
)
from vidscope.pipelines import evaluate_events, timeline
from vidscope.training import TrainConfig, WindowOptions, load_run, train
from vidscope.video import SamplingSpec

FAST = dict(epochs=25, patience=25, lr=1e-2, batch_size=8, tensorboard=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("tl")
    data = make_collisions(root / "data", n_videos=12, long_duration_s=22, n_long_events=2, seed=1)
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", 6))
    extract(data.videos_dir, root / "clips", cfg, progress=False)
    train(
        root / "clips",
        data.labels_csv,
        out=root / "run",
        config=TrainConfig(head="mean_linear", **FAST),
    )
    return root, data


def test_plan_follows_the_run(demo):
    root, _ = demo
    run = load_run(root / "run")
    plan = plan_windows(run.config, TimelineConfig())
    assert plan.window_s == pytest.approx(3.0)  # the clips last 3 s
    assert plan.fps == pytest.approx(2.0)  # 6 frames per 3 s clip
    assert plan.stride_s == pytest.approx(0.75)
    assert plan_windows(run.config, TimelineConfig(window_s=2, stride_s=1, fps=5)).fps == 5


def test_timeline_writes_curves_segments_plots_report(demo):
    root, data = demo
    out = root / "tl"
    (line,) = timeline(
        root / "run", data.long_video, out=out, annotations=data.long_events_csv, progress=False
    )
    assert line.duration_s == pytest.approx(22.0, abs=0.1)
    # the positive class "1" of the 0/1 target is named as the annotations name it
    assert len(line.truth) == 2 and line.classes == ["collision"]
    assert line.curve is not None and line.curve.shape == line.scores.shape
    scores = pd.read_csv(out / "long_000" / "scores.csv")
    assert list(scores.columns) == ["start_s", "end_s", "score_collision"]
    assert scores["end_s"].max() == pytest.approx(line.duration_s, abs=0.01)
    steps = np.diff(scores["start_s"])  # the last window is aligned to the video's end
    assert np.all(steps[:-1] == pytest.approx(0.75)) and 0 < steps[-1] <= 0.75
    segs = pd.read_csv(out / "long_000" / "segments.csv")
    assert list(segs.columns) == ["file_name", "start_time", "end_time", "label", "score"]
    assert (segs["end_time"] > segs["start_time"]).all()
    assert (out / "long_000" / "timeline.png").stat().st_size > 5000
    assert (out / "report.html").stat().st_size > 5000
    assert open_store(out / "features").meta["sampling"]["mode"] == "fps"


def test_signal_curve_without_a_run(demo):
    root, data = demo
    (line,) = timeline(
        None,
        data.long_video,
        out=root / "sig",
        progress=False,
        report=False,
        config=TimelineConfig(fps=2),
    )
    assert line.classes == ["change"] and line.scores.shape == (44, 1)
    assert line.scores[0, 0] == 0 and (line.scores >= 0).all()
    # the threshold is mean + 2 std of the smoothed curve, the one the plots draw
    curve = line.curve[:, 0].astype(float)
    assert line.threshold == pytest.approx(curve.mean() + 2 * curve.std(), rel=1e-5)
    assert all(s.score >= line.threshold - 1e-6 for s in line.segments)


def test_event_metrics_and_window_training(demo):
    root, data = demo
    store = root / "tl" / "features"
    if not store.exists():
        timeline(root / "run", data.long_video, out=root / "tl", progress=False)
    rep = evaluate_events(root / "run", store, data.long_events_csv)
    assert rep["segments"]["tious"][0] == pytest.approx(0.1) and len(rep["segments"]["map"]) == 7
    assert rep["frame_level"]["num_positive"] > 0
    win = WindowOptions(data.long_events_csv, window_s=1.0, overlap=0.5)
    result = train(
        store, out=root / "wrun", config=TrainConfig(head="mean_linear", **FAST), windows=win
    )
    cfg = json.loads((root / "wrun" / "config.json").read_text())
    assert cfg["window"] == {"window_s": 1.0, "stride_s": 0.5}
    assert cfg["classes"][0] == "normal" and result.report["num_samples"] > 0
    plan = plan_windows(cfg, TimelineConfig())
    assert (plan.window_s, plan.stride_s) == (1.0, 0.5)


def test_cli_timeline_with_signal(demo, capsys):
    root, data = demo
    args = [
        "timeline",
        str(data.long_video),
        "--signal",
        "change",
        "--fps",
        "2",
        "--out",
        str(root / "cli"),
        "--quiet",
        "--top-k",
        "3",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "long_000" in printed and "detected" in printed
    assert len(pd.read_csv(root / "cli" / "long_000" / "segments.csv")) <= 3
    assert main(["timeline", "--out", str(root / "x")]) == 2


def test_calibration_is_stored_in_the_run_and_used_by_default(demo, tmp_path):
    root, data = demo
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    store = root / "tl" / "features"
    if not store.exists():
        timeline(root / "run", data.long_video, out=root / "tl", progress=False)
    cal = calibrate_timeline(run, store, data.long_events_csv)
    saved = read_calibration(run)
    assert saved["segments"]["threshold"] == cal.segments.threshold
    assert cal.num_videos == 1 and cal.num_events == 2 and len(cal.f1) == 3
    kw = dict(store=store, annotations=data.long_events_csv, progress=False, report=False)
    (line,) = timeline(run, out=tmp_path / "a", **kw)
    assert line.threshold == pytest.approx(cal.segments.threshold)
    # flags the user gives win over the calibration; --no-calibration ignores it
    given = TimelineConfig(segments=SegmentConfig(threshold=0.123))
    (mine,) = timeline(run, out=tmp_path / "b", config=given, **kw)
    assert mine.threshold == 0.123
    (plain,) = timeline(run, out=tmp_path / "c", config=TimelineConfig(calibrated=False), **kw)
    assert plain.threshold == pytest.approx(load_run(run).threshold)


def test_cli_calibrate(demo, tmp_path, capsys):
    root, data = demo
    run = tmp_path / "run"
    shutil.copytree(root / "run", run)
    store = root / "tl" / "features"
    if not store.exists():
        timeline(root / "run", data.long_video, out=root / "tl", progress=False)
    base = ["timeline", str(run), "--annotations", str(data.long_events_csv), "--calibrate"]
    no_store = ["timeline", str(run), str(data.long_video), *base[2:], "--out", str(tmp_path)]
    assert main(no_store) == 2
    assert "--calibrate needs RUN, --annotations and --store" in capsys.readouterr().err
    out = tmp_path / "cal"
    assert main([*base, "--store", str(store), "--out", str(out), "--no-report", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "calibrated on 1 video(s), 2 event(s)" in printed and "timeline.json" in printed
    assert "2 event(s) are few to calibrate on" in printed and "optimistic" in printed
    saved = read_calibration(run)["segments"]
    segs = pd.read_csv(out / "long_000" / "segments.csv")
    assert saved["threshold"] <= segs["score"].min()  # the saved threshold made these segments
