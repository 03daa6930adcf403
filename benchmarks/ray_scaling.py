"""Extraction throughput of the local engine and of the Ray engine with 1 and 2 workers, and
the per-video costs the capacity model in ``benchmarks/README.md`` is built from.

All on the same videos, in one run: the first ``--videos`` clips of
``../shared/data/fight-surv-dev`` (real surveillance footage, sorted by name), 16 frames
uniformly, the bundled EfficientNet-Lite0 (ONNX Runtime), float32 store.

1. Per-video costs, one video at a time in this process: decode + sample + prepare CPU-s
   (``VideoReader.iter_frames`` at the backbone's input size, 1 decoder thread), encode CPU-s
   (``backbone.encode`` on the 16 frames), store write (``.npy`` arrays + journal row: bytes
   and ms per video).
2. ``extract(..., engine="local")``: 1 decode worker with 2 threads (the default here).
3. A local Ray cluster (``ray.init(num_cpus=2)``; its start-up is timed apart), then
   ``extract(..., engine="ray", workers=W)`` for W = 1, 2 (each actor reserves 1 CPU and
   decodes with 1 thread). Each Ray run also extracts 1 video into its own store first: its
   wall time is the fixed cost of a run (actors start, each builds and loads the backbone),
   and the steady rate is ``(N - 1) / (wall_N - wall_1)``.

Before each timed run the script waits (``--max-wait`` s at most in all) for other processes
to leave the CPUs idle, and it records the share of the CPUs they took during the run.
Prints a table and writes ``benchmarks/_work/ray_scaling.json``.

Run::

    nice -n 10 python benchmarks/ray_scaling.py [--videos 24] [--max-wait 60]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import QuietGate, cpu_seconds, environment, foreign_share, machine_busy_seconds

WORK = Path(__file__).resolve().parent / "_work"
RESULTS = WORK / "ray_scaling.json"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fight-surv-dev"
FRAMES = 16


def clips(n: int) -> list[Path]:
    """The first ``n`` clips of fight-surv-dev, by name."""
    found = sorted(p for p in DATA.rglob("*") if p.suffix.lower() in (".mp4", ".avi", ".mpg"))
    if len(found) < n:
        raise SystemExit(f"need {n} videos under {DATA}, found {len(found)}")
    return found[:n]


def per_video_costs(videos: list[Path], backbone: Any) -> dict[str, float]:
    """Mean decode CPU-s, encode CPU-s, store bytes and write ms per video (one process)."""
    from vidscope.features import ExtractConfig
    from vidscope.features._extract import AssembledVideo, StoreTarget, save_video, store_meta
    from vidscope.features._inputs import VideoInput
    from vidscope.features._store import FeatureStore
    from vidscope.video import SamplingSpec, VideoReader

    cfg = ExtractConfig(sampling=SamplingSpec("uniform", FRAMES))
    decode, encode, write, nbytes = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore.create(Path(tmp) / "s", store_meta(cfg, backbone))
        for path in videos:
            c0 = time.process_time()
            with VideoReader(path, threads=1) as reader:
                times = cfg.sampling.times(reader.info.duration_s)
                w, h = reader.info.width, reader.info.height
                size = backbone.preprocess.decode_size(w, h)
                batches = list(reader.iter_frames(times, size=size, chunk_size=FRAMES))
                frames = np.concatenate(
                    [backbone.preprocess.prepare(b.frames, w, h) for b in batches]
                )
            c1 = time.process_time()
            feats = backbone.encode(frames)
            c2 = time.process_time()
            times_s = np.concatenate([b.times_s for b in batches])
            video = AssembledVideo(VideoInput(path.stem, path), features=feats, times_s=times_s)
            t0 = time.perf_counter()
            save_video(StoreTarget(store), video)
            write.append(time.perf_counter() - t0)
            decode.append(c1 - c0)
            encode.append(c2 - c1)
            nbytes.append(
                sum(f.stat().st_size for f in (Path(tmp) / "s" / "features").glob(f"{path.stem}.*"))
            )
    return {
        "decode_cpu_s": float(np.mean(decode)),
        "encode_cpu_s": float(np.mean(encode)),
        "write_ms": 1000 * float(np.mean(write)),
        "store_bytes": float(np.mean(nbytes)),
    }


def timed_extract(videos: list[Path], gate: QuietGate, **config: Any) -> dict[str, float]:
    """Wall time, videos/s, CPU-s of this process and the foreign CPU share of one run."""
    from vidscope.features import ExtractConfig, extract
    from vidscope.video import SamplingSpec

    cfg = ExtractConfig(sampling=SamplingSpec("uniform", FRAMES), **config)
    out = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    gate.wait()
    busy, own, t0 = machine_busy_seconds(), cpu_seconds(), time.perf_counter()
    report = extract(videos, out / "s", cfg, progress=False)
    wall = time.perf_counter() - t0
    shutil.rmtree(out, ignore_errors=True)
    assert not report.failed, report.failed
    return {
        "videos": len(videos),
        "wall_s": wall,
        "videos_per_s": len(videos) / wall,
        "foreign_cpu_share": foreign_share(busy, own, wall),
    }


def ray_runs(videos: list[Path], gate: QuietGate) -> dict[str, Any]:
    """Cluster start-up, then 1- and N-video runs with 1 and 2 workers."""
    import ray

    os.environ.setdefault("RAY_raylet_start_wait_time_s", "120")  # a busy machine starts slowly
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    out: dict[str, Any] = {"cluster_start_s": time.perf_counter() - t0}
    try:
        for workers in (1, 2):
            one = timed_extract(videos[:1], gate, engine="ray", workers=workers)
            many = timed_extract(videos, gate, engine="ray", workers=workers)
            steady = (len(videos) - 1) / max(many["wall_s"] - one["wall_s"], 1e-9)
            out[f"ray_{workers}"] = {
                **many,
                "fixed_s": one["wall_s"],
                "steady_videos_per_s": steady,
            }
    finally:
        ray.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--max-wait", type=float, default=60.0)
    args = parser.parse_args()
    import onnxruntime
    import ray

    from vidscope.backbones import create_backbone

    videos = clips(args.videos)
    gate = QuietGate(args.max_wait)
    backbone = create_backbone("efficientnet_lite0")
    result: dict[str, Any] = {"env": environment(ray, onnxruntime), "frames": FRAMES}
    result["costs"] = per_video_costs(videos, backbone)
    one = timed_extract(videos[:1], gate, engine="local")
    many = timed_extract(videos, gate, engine="local")
    steady = (len(videos) - 1) / max(many["wall_s"] - one["wall_s"], 1e-9)
    result["local"] = {**many, "fixed_s": one["wall_s"], "steady_videos_per_s": steady}
    result.update(ray_runs(videos, gate))
    WORK.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print_table(result)


def print_table(result: dict[str, Any]) -> None:
    """The figures, one line per engine."""
    c = result["costs"]
    print(f"per video ({result['frames']} frames): decode {c['decode_cpu_s']:.3f} CPU-s, "
          f"encode {c['encode_cpu_s']:.3f} CPU-s, store {c['store_bytes'] / 1024:.0f} KiB "
          f"written in {c['write_ms']:.1f} ms")  # fmt: skip
    print(f"Ray cluster start-up: {result['cluster_start_s']:.1f} s")
    print(f"{'engine':<10} {'videos':>6} {'wall s':>7} {'videos/s':>9} {'fixed s':>8} "
          f"{'steady v/s':>10} {'foreign CPU':>11}")  # fmt: skip
    for name in ("local", "ray_1", "ray_2"):
        r = result[name]
        print(f"{name:<10} {r['videos']:>6} {r['wall_s']:>7.1f} {r['videos_per_s']:>9.2f} "
              f"{r['fixed_s']:>8.1f} {r['steady_videos_per_s']:>10.2f} "
              f"{r['foreign_cpu_share']:>10.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
