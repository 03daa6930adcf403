"""The extraction Engine seam: registry, typed events, fsspec URLs, progress within a video,
SIGTERM. (Ray itself is exercised in test_ray.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from vidscope.errors import ConfigError
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.features._engine import (
    EngineSetup,
    FeatureChunk,
    VideoDone,
    VideoStarted,
    VideoTask,
    create_engine,
    engine_names,
)
from vidscope.features._progress import Progress
from vidscope.video import SamplingSpec

from .conftest import EDGE, numbered_frames, write_video

CFG = ExtractConfig(
    backbone="timm:test_efficientnet",
    weights="random",
    sampling=SamplingSpec("uniform", 4),
    workers=1,
)


@pytest.fixture(scope="module")
def tiny_backbone():
    from vidscope.backbones import create_backbone

    return create_backbone("timm:test_efficientnet", weights="random")


def test_engines_are_found_by_file_and_unknown_ones_are_named(tiny_backbone):
    assert {"local", "ray"} <= set(engine_names())
    with pytest.raises(ConfigError, match=r"--engine must be one of local, ray, got 'spark'"):
        ExtractConfig(engine="spark")
    cfg = ExtractConfig()
    cfg.engine = "spark"  # set after validation: the registry still refuses it
    with pytest.raises(ConfigError, match=r"--engine 'spark': no such engine; choose from .*local"):
        create_engine(EngineSetup(cfg, tiny_backbone))


def test_ray_engine_without_ray_names_the_extra(monkeypatch, tiny_backbone):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    setup = EngineSetup(ExtractConfig(engine="ray"), tiny_backbone)
    with pytest.raises(ConfigError, match=r"pip install 'vidscope\[ray\]'"):
        create_engine(setup)


def test_local_engine_streams_typed_events(tmp_path, tiny_backbone):
    """Each video: VideoStarted, chunks covering every sample once, then VideoDone."""
    a = write_video(tmp_path / "a.mp4", numbered_frames(30))
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", 10), batch_size=4, workers=1)
    with create_engine(EngineSetup(cfg, tiny_backbone)) as engine:
        events = list(engine.run([VideoTask(7, "a", str(a))]))
    assert isinstance(events[0], VideoStarted) and events[0].num_samples == 10
    chunks = [e for e in events if isinstance(e, FeatureChunk)]
    assert [len(c.indices) for c in chunks] == [4, 4, 2]  # chunks of --batch-size samples
    assert sorted(np.concatenate([c.indices for c in chunks])) == list(range(10))
    assert all(c.features.shape[1] == tiny_backbone.num_features for c in chunks)
    assert isinstance(events[-1], VideoDone) and {e.key for e in events} == {7}


def test_progress_counts_samples_within_a_video(tmp_path, monkeypatch, tiny_backbone):
    """A single video reports its samples (and video time) as chunks arrive, not only at the end."""
    path = write_video(tmp_path / "v" / "long.mp4", numbered_frames(100))
    calls: list[tuple[str, int, float]] = []
    started: list[tuple[str, int, float | None]] = []
    monkeypatch.setattr(Progress, "samples", lambda self, v, n, t: calls.append((v, n, t)))
    orig = Progress.video_started
    monkeypatch.setattr(
        Progress,
        "video_started",
        lambda self, v, n, d: (started.append((v, n, d)), orig(self, v, n, d)),
    )
    cfg = ExtractConfig(sampling=SamplingSpec("fps", 5), batch_size=3, workers=1)
    extract(path.parent, tmp_path / "s", cfg, backbone=tiny_backbone, progress=True)
    assert started == [("long", 20, pytest.approx(4.0))]
    assert sum(n for _, n, _ in calls) == 20 and len(calls) == 7  # 7 chunks of <= 3 samples
    times = [t for _, _, t in calls]
    assert times == sorted(times) and times[-1] == pytest.approx(3.8)


def test_progress_bar_shows_samples_and_video_seconds():
    bar = Progress(1, enabled=True)
    with bar:
        bar.video_started("long", 3000, 600.0)
        bar.samples("long", 1200, 239.8)
        assert bar._bar is not None
        task = bar._bar.tasks[1]
        assert (task.completed, task.total, task.visible) == (1200, 3000, True)
        assert task.fields["rate"] == "240/600 video-s"
        bar.advance("long", "ok", None)
        assert not bar._bar.tasks[1].visible and bar._bar.tasks[0].completed == 1


def test_memory_urls_in_and_out_with_the_local_engine(tmp_path, tiny_backbone):
    """Videos read from memory:// and a store written to memory:// equal a local run."""
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    for name, seed in (("x/a.mp4", 0), ("b.mp4", 1)):
        path = write_video(tmp_path / "in" / name, numbered_frames(20, seed=seed))
        fs.pipe(f"/engine-in/{name}", path.read_bytes())
    fs.pipe("/engine-in/bad.mp4", b"not a video at all, just text\n")
    (tmp_path / "in" / "bad.mp4").write_bytes(b"not a video at all, just text\n")
    local = extract(tmp_path / "in", tmp_path / "s", CFG, backbone=tiny_backbone, progress=False)
    remote = extract("memory://engine-in", "memory://engine-out/s", CFG, progress=False)
    assert sorted(remote.done) == sorted(local.done) == ["b", "x/a"]
    assert remote.failed.keys() == local.failed.keys() == {"bad"}
    assert fs.exists("/engine-out/s/store.json") and fs.exists("/engine-out/s/manifest.parquet")
    assert not fs.exists("/engine-out/s/manifest.rows")  # folded into the manifest at the end
    pulled = tmp_path / "pulled"
    fs.get("/engine-out/s", str(pulled), recursive=True)
    a, b = open_store(tmp_path / "s"), open_store(pulled)
    assert a.ids() == b.ids() and b.rows["bad"]["error"] == a.rows["bad"]["error"]
    for vid in a.ids():
        np.testing.assert_array_equal(a.load(vid).times_s, b.load(vid).times_s)
        np.testing.assert_allclose(a.load(vid).features, b.load(vid).features, atol=1e-5)
    again = extract("memory://engine-in", "memory://engine-out/s", CFG, progress=False)
    assert sorted(again.skipped) == ["b", "x/a"] and not again.done


def test_sigterm_stops_quietly_and_says_resume(tmp_path):
    """SIGTERM to the whole process group: no traceback, the resume hint, the store usable."""
    video = EDGE / "long_10min_64x48.mp4"
    if not video.exists():
        pytest.skip("shared edge media absent")
    store = tmp_path / "s"
    cmd = [sys.executable, "-m", "vidscope.cli", "extract", str(video), "--out", str(store),
           "--fps", "5", "--backbone", "timm:test_efficientnet", "--weights", "random",
           "--quiet"]  # fmt: skip
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True)
    import psutil

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not psutil.Process(proc.pid).children():
        time.sleep(0.2)  # wait for the decode worker: the run is under way
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert "to resume" in err and proc.returncode == 130
    assert (store / "store.json").exists()


def test_an_engine_registered_elsewhere_is_used_by_extract(tmp_path, tiny_backbone):
    """Adding an engine is registering a factory: extract() streams its events into the store."""
    from vidscope.features import register_engine
    from vidscope.features._engine_local import LocalEngine

    seen: list[str] = []

    @register_engine("counting")
    class CountingEngine(LocalEngine):
        def run(self, tasks):
            for event in super().run(tasks):
                seen.append(type(event).__name__)
                yield event

    write_video(tmp_path / "in" / "a.mp4", numbered_frames(20))
    cfg = ExtractConfig(engine="counting", sampling=SamplingSpec("uniform", 3), workers=1)
    report = extract(tmp_path / "in", tmp_path / "s", cfg, backbone=tiny_backbone, progress=False)
    assert report.done == ["a"] and open_store(tmp_path / "s").load("a").num_samples == 3
    assert seen == ["VideoStarted", "FeatureChunk", "VideoDone"]
