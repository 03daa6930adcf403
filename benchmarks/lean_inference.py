"""Lean inference: what ``vidscope predict`` and ``vidscope timeline`` cost, before and after
heads ran without torch (issue 14).

What it measures, each command in a fresh process (the CLI, as a user runs it):

* ``vidscope predict RUN STORE --out X.csv`` on a store of 150 ``[16, 1280]`` sequences, for
  an MLP run and a ``stats_xgboost`` run, three ways side by side:

  - ``before``: the code of commit ``2c7bc9a`` (the parent of "Heads run without torch at
    inference"), unpacked with ``git archive`` into ``_work/lean/before`` and put first on
    ``PYTHONPATH``: the torch path as it was;
  - ``torch``: today's code with ``VIDSCOPE_HEAD_RUNTIME=torch`` (neural heads in torch);
  - ``lean``: today's default (neural heads in ONNX Runtime, XGBoost natively, no torch).

  Wall time of the whole process (start-up included) and peak RSS: the sum of the resident
  memory of the process and all its descendants, sampled with psutil every 20 ms (so a peak
  shorter than that can be missed). Three rounds, interleaved; the median wall time and the
  largest peak are reported.

* ``vidscope timeline RUN long.mp4 --fps 1`` (the MLP run, today's default) on 1280x720 25 fps
  H.264 videos of FFmpeg's ``testsrc2`` (x264 ``ultrafast``, a keyframe every second; one
  60 s segment repeated with the concat demuxer, stream copy) of two lengths: peak RSS as
  above (extraction workers included) and wall time, once each.

The store's features are synthetic (not extracted): the store is a real vidscope store whose
key (``store.json``) is copied from a real EfficientNet-Lite0 extraction of one short clip,
with 150 rows of random non-negative ``[16, 1280]`` float32 features (two classes, shifted
means) written through :class:`vidscope.features.FeatureStore`. Reading, padding and scoring
cost the same as for extracted features. The runs are trained on that store (the MLP with its
ONNX export and check, as ``vidscope train`` does).

Prints one row per measurement and writes ``benchmarks/_work/lean_inference.json`` (updating
the parts it measured: ``--skip-predict`` keeps the predict figures there). Run::

    python benchmarks/lean_inference.py [--lengths 20,120] [--rounds 3] [--skip-timeline]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from _common import environment

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work" / "lean"
RESULTS = ROOT / "benchmarks" / "_work" / "lean_inference.json"
BEFORE = "2c7bc9a"
SEGMENT_S = 60
N, T, D = 150, 16, 1280


# ------------------------------------------------------------------------------- measuring
class TreePeak:
    """Largest summed RSS (MiB) of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        self.proc = psutil.Process(pid)
        self.every_s = every_s
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreePeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
            except psutil.Error:
                procs = []
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    total += p.memory_info().rss
            self.peak_mib = max(self.peak_mib, total / 2**20)
            self._stop.wait(self.every_s)


def measure(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall seconds and peak tree RSS (MiB) of one command; raises if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with TreePeak(proc.pid) as peak:
        _, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err.decode()[-2000:]}")
    return {"wall_s": round(wall, 2), "peak_mib": round(peak.peak_mib, 1)}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "import sys; from vidscope.cli import main; sys.exit(main())",
            *args]  # fmt: skip


def env_for(way: str) -> dict[str, str]:
    env = {**os.environ, "VIDSCOPE_CACHE": str(WORK / "cache")}
    env.pop("VIDSCOPE_HEAD_RUNTIME", None)
    if way == "before":
        env["PYTHONPATH"] = str(WORK / "before" / "src")
    if way == "torch":
        env["VIDSCOPE_HEAD_RUNTIME"] = "torch"
    return env


# ------------------------------------------------------------------------------- the inputs
def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def make_video(minutes: int) -> Path:
    """A ``minutes``-long 720p25 H.264 testsrc2 video (made once, then reused)."""
    folder = WORK / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"testsrc2_720p_{minutes}min.mp4"
    if path.exists():
        return path
    segment = folder / "segment_60s.mp4"
    if not segment.exists():
        src = f"testsrc2=size=1280x720:rate=25:duration={SEGMENT_S}"
        x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"]
        ffmpeg("-f", "lavfi", "-i", src, *x264, str(segment))
    listing = folder / f"list_{minutes}.txt"
    listing.write_text(f"file '{segment.name}'\n" * (minutes * 60 // SEGMENT_S))
    tmp = path.with_suffix(".part.mp4")
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(tmp))
    tmp.replace(path)
    listing.unlink()
    return path


def make_store() -> tuple[Path, Path]:
    """The 150-sequence store (synthetic features, a real Lite0 store key) and its labels."""
    from vidscope.features import ExtractConfig, FeatureStore, extract
    from vidscope.video import SamplingSpec

    store, labels = WORK / "store150", WORK / "labels150.csv"
    if (store / "manifest.parquet").exists() and labels.exists():
        return store, labels
    clip = WORK / "videos" / "clip_8s.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    if not clip.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=8", "-c:v",
               "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip))  # fmt: skip
    key_store = WORK / "key_store"
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", T))
    extract([str(clip)], key_store, cfg, progress=False)
    meta = json.loads((key_store / "store.json").read_text())
    rng = np.random.default_rng(0)
    fs = FeatureStore.create(store, meta)
    rows = []
    for i in range(N):
        vid, label = f"v{i:03d}", "event" if i % 2 else "normal"
        x = np.abs(rng.normal(0.3 * (i % 2), 1.0, (T, D))).astype(np.float32)
        rel = fs.write(vid, x, np.arange(T) * 0.5)
        fs.record({"video_id": vid, "path": f"{vid}.mp4", "status": "ok", "error": "",
                   "duration_s": 8.0, "fps": 25.0, "num_frames": 200, "width": 320,
                   "height": 240, "rotation": 0, "num_samples": T, "features": rel,
                   "seconds": 0.0})  # fmt: skip
        rows.append(f"{vid},{label}")
    fs.compact()
    labels.write_text("id,label\n" + "\n".join(rows) + "\n")
    return store, labels


def make_runs(store: Path, labels: Path) -> dict[str, Path]:
    runs = {}
    for head in ("mlp", "stats_xgboost"):
        out = WORK / f"run_{head}"
        if not (out / "config.json").exists():
            args = ["train", str(store), "--labels", str(labels), "--head", head,
                    "--out", str(out), "--split", "holdout", "--epochs", "10",
                    "--no-tensorboard"]  # fmt: skip
            subprocess.run(cli(*args), env=env_for("lean"), check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        runs[head] = out
    return runs


def unpack_before() -> None:
    target = WORK / "before"
    if (target / "src" / "vidscope").exists():
        return
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE, "src"],
                             check=True, capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


# ------------------------------------------------------------------------------- the runs
def bench_predict(runs: dict[str, Path], store: Path, rounds: int) -> list[dict[str, Any]]:
    """predict on the store: {head} x {before, torch, lean}, rounds interleaved."""
    samples: dict[tuple[str, str], list[dict[str, float]]] = {}
    for r in range(rounds):
        for head, run in runs.items():
            for way in ("before", "torch", "lean"):
                out = WORK / f"pred_{head}_{way}.csv"
                cmd = cli("predict", str(run), str(store), "--out", str(out), "--overwrite",
                          "--quiet")  # fmt: skip
                m = measure(cmd, env_for(way))
                samples.setdefault((head, way), []).append(m)
                print(f"  round {r + 1} {head:13s} {way:6s} {m['wall_s']:6.2f} s "
                      f"{m['peak_mib']:7.1f} MiB", flush=True)  # fmt: skip
    rows = []
    for (head, way), ms in samples.items():
        rows.append({"head": head, "way": way,
                     "wall_s": statistics.median(m["wall_s"] for m in ms),
                     "peak_mib": max(m["peak_mib"] for m in ms),
                     "rounds": ms})  # fmt: skip
    _check_same_scores(runs)
    return rows


def _check_same_scores(runs: dict[str, Path]) -> None:
    """The three ways must give the same scores (else the comparison means nothing)."""
    import pandas as pd

    for head in runs:
        ref = pd.read_csv(WORK / f"pred_{head}_before.csv")["score"].to_numpy()
        for way in ("torch", "lean"):
            got = pd.read_csv(WORK / f"pred_{head}_{way}.csv")["score"].to_numpy()
            assert np.abs(got - ref).max() <= 1e-5, (head, way, np.abs(got - ref).max())


def bench_timeline(run: Path, lengths: list[int]) -> list[dict[str, Any]]:
    rows = []
    for minutes in lengths:
        video = make_video(minutes)
        out = WORK / f"timeline_{minutes}min"
        shutil.rmtree(out, ignore_errors=True)  # else a rerun reuses the extracted features
        cmd = cli("timeline", str(run), str(video), "--out", str(out), "--fps", "1",
                  "--quiet", "--embed-limit", "0")  # fmt: skip
        m = measure(cmd, env_for("lean"))
        rows.append({"minutes": minutes, **m})
        print(f"  timeline {minutes:4d} min 720p --fps 1: {m['wall_s']:7.1f} s "
              f"{m['peak_mib']:7.1f} MiB", flush=True)  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--lengths", default="20,120", help="timeline video minutes")
    ap.add_argument("--skip-timeline", action="store_true")
    ap.add_argument("--skip-predict", action="store_true")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    unpack_before()
    store, labels = make_store()
    runs = make_runs(store, labels)
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result: dict[str, Any] = {**old, "started": started, "environment": environment()}
    if not args.skip_predict:
        print(f"predict on {N} x [{T}, {D}] (synthetic features, real store):", flush=True)
        result["predict"] = bench_predict(runs, store, args.rounds)
        print(f"{'head':14s} {'way':7s} {'wall s':>7s} {'peak MiB':>9s}")
        for row in result["predict"]:
            print(f"{row['head']:14s} {row['way']:7s} {row['wall_s']:7.2f} "
                  f"{row['peak_mib']:9.1f}")  # fmt: skip
    if not args.skip_timeline:
        print("timeline (mlp run, default settings, --fps 1):", flush=True)
        lengths = [int(x) for x in args.lengths.split(",")]
        rows = bench_timeline(runs["mlp"], lengths)
        kept = [r for r in old.get("timeline", []) if r["minutes"] not in lengths]
        result["timeline"] = sorted(kept + rows, key=lambda r: r["minutes"])
    result["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"-> {RESULTS}")


if __name__ == "__main__":
    main()
