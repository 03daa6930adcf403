"""Peak memory of ``extract --fps 1`` on long 720p videos: flat in length, and what moves it.

What it measures: peak resident memory (RSS) of a whole ``vidscope.features.extract`` run, in a
fresh Python process, counting that process and every process it starts (decode workers and
their helpers): each process's own high-water mark (``VmHWM``), sampled every 0.1 s, summed.
Summing high-water marks over-counts a little (they need not peak at the same moment), so the
figure is an upper bound. The backbone (EfficientNet-Lite0, ONNX Runtime on CPU) is exported
to the ONNX cache beforehand, so the measured process never imports torch: it is what
``vidscope extract`` costs once the backbone is cached.

The videos: 1280x720 25 fps H.264 made from FFmpeg's ``testsrc2`` (x264 ``ultrafast``, a
keyframe every second), one 60 s segment encoded once and repeated with the concat demuxer and
stream copy, so a 2-hour video costs seconds to make. With a keyframe every second, ``--fps 1``
samples fall on keyframes and decoding costs one frame per sample; that keeps the run short
and does not change what memory is held (one decoder, one chunk of frames at a time).

Runs, each in its own process:

* ``extract --fps 1`` with the default settings on 20 min and 2 h videos (``--quick``: one of
  12 min): is the peak flat in video length?
* ``extract --fps 1`` on a 2 min video with ONNX Runtime's CPU memory arena on and off, at
  ``--batch-size`` 8, 32 (default) and 128: what moves the peak (same code, so the length
  does not matter here; the long runs above show it);
* ONNX Runtime alone on the cached model (no vidscope imported): 32-frame batches run in
  calls of 4, 8 and 32 frames (``MAX_FRAMES_PER_RUN`` in ``backbones/_onnx.py``), arena on
  and off, and with ONNX Runtime's memory pattern planning (``enable_mem_pattern``, on by
  default) off at 4 and 8 frames: peak RSS of the process and CPU milliseconds per frame
  (thread spinning off while
  measuring, so CPU time is work done, not waiting; the best of 6 rounds), which tells
  whether memory is bought with speed even on a busy machine, where wall time says little.

Prints one row per run and writes ``benchmarks/_work/memory.json``. Run::

    python benchmarks/memory.py [--quick] [--skip-long] [--long-only]

(``--long-only``: just the default-settings runs on the long videos, 20 min and 2 h.)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import environment

WORK = Path(__file__).resolve().parent / "_work"
VIDEOS = WORK / "memory_videos"
RESULTS = WORK / "memory.json"  # --encode-only: memory_encode.json; --long-only: memory_long.json
SEGMENT_S = 60


# ---------------------------------------------------------------------------------- the videos
def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


def make_video(minutes: int) -> Path:
    """A ``minutes``-long 720p25 H.264 video (made once, then reused)."""
    VIDEOS.mkdir(parents=True, exist_ok=True)
    path = VIDEOS / f"testsrc2_720p_{minutes}min.mp4"
    if path.exists():
        return path
    segment = VIDEOS / "segment_60s.mp4"
    if not segment.exists():
        source = f"testsrc2=size=1280x720:rate=25:duration={SEGMENT_S}"
        x264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"]
        _ffmpeg("-f", "lavfi", "-i", source, *x264, str(segment))
    listing = VIDEOS / f"list_{minutes}.txt"
    listing.write_text(f"file '{segment.name}'\n" * (minutes * 60 // SEGMENT_S))
    tmp = path.with_suffix(".part.mp4")
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(tmp))
    tmp.replace(path)
    listing.unlink()
    return path


# ------------------------------------------------------------------------------ memory sampling
def _hwm_mib(pid: int) -> float:
    """Peak RSS (``VmHWM``) of a process in MiB; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return 0.0


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, their children, ...)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in os.listdir(f"/proc/{p}/task") if os.path.isdir(f"/proc/{p}/task") else []:
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


class TreePeak:
    """Largest ``VmHWM`` seen for this process and each of its descendants, while running."""

    def __enter__(self) -> TreePeak:
        self.peaks: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.1):
            self._sample(me)

    def _sample(self, me: int) -> None:
        for pid in [me, *_descendants(me)]:
            role = _role(pid, me)
            if role in ("", "?") and pid in self.names:  # exiting (a zombie has no command
                continue  # line, nor VmHWM): keep what it was and its peak
            if self.names.get(pid) != role:  # new, or it exec'd: a started worker is a copy of
                self.names[pid] = role  # this process until it execs, and its VmHWM then
                self.peaks[pid] = 0.0  # is this process's; only the new program's counts
            self.peaks[pid] = max(self.peaks[pid], _hwm_mib(pid))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(os.getpid())

    @property
    def main_mib(self) -> float:
        return self.peaks.get(os.getpid(), 0.0)

    @property
    def total_mib(self) -> float:
        return sum(self.peaks.values())

    def by_role(self) -> dict[str, float]:
        """Peak MiB per kind of process (main, decode worker, resource tracker, ...)."""
        out: dict[str, float] = {}
        for pid, mib in self.peaks.items():
            out[self.names.get(pid, "?")] = out.get(self.names.get(pid, "?"), 0.0) + mib
        return out


def _role(pid: int, me: int) -> str:
    """What a process is, from its command line."""
    if pid == me:
        return "main"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"
    if "resource_tracker" in cmd:
        return "resource tracker"
    if "spawn_main" in cmd or "multiprocessing" in cmd:
        return "decode worker"
    return "copy of main (before exec)" if "--child" in cmd else cmd[:60]


# ------------------------------------------------------------------------------- one run (child)
def child_main(spec: dict[str, Any]) -> dict[str, Any]:
    """One ``extract --fps 1`` run in this fresh process; peak RSS of it and its workers."""
    if spec.get("encode_only"):
        return encode_main(spec)
    from vidscope.backbones import create_backbone
    from vidscope.features import ExtractConfig, extract
    from vidscope.video import SamplingSpec

    start = time.perf_counter()
    model = create_backbone("efficientnet_lite0")
    if spec["arena"] is not None:  # the replaced session's memory is not the run's
        _set_arena(model, spec["arena"])
        _reset_hwm()
    with TreePeak() as peak:
        cfg = ExtractConfig(sampling=SamplingSpec("fps", 1.0), batch_size=spec["batch_size"])
        with tempfile.TemporaryDirectory(dir=WORK) as tmp:
            report = extract([spec["video"]], Path(tmp) / "s", cfg, backbone=model, progress=False)
        seconds = time.perf_counter() - start
    if report.failed or len(report.done) != 1:
        raise RuntimeError(f"extract failed: {report.failed}")
    return {
        "peak_rss_mib": peak.total_mib,
        "main_mib": peak.main_mib,
        "other_processes_mib": peak.total_mib - peak.main_mib,
        "processes": len(peak.peaks),
        "by_role_mib": peak.by_role(),
        "seconds": seconds,
        "torch_imported": "torch" in sys.modules,
        "arena_in_session": _arena_of(model),
    }


def encode_main(spec: dict[str, Any]) -> dict[str, Any]:
    """ONNX Runtime alone on the cached Lite0 model: peak RSS and CPU ms per frame for 32-frame
    batches run in calls of ``per_run`` frames (what ``OnnxBackbone.encode`` does)."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(
        spec["model_path"],
        _options(spec["arena"], spinning=False, mem_pattern=spec.get("mem_pattern", True)),
        ["CPUExecutionProvider"],
    )
    x = np.random.default_rng(0).integers(0, 256, (32, 224, 224, 3), dtype=np.uint8)
    step = spec["per_run"]

    def encode() -> None:
        for i in range(0, len(x), step):
            session.run(None, {"frames": x[i : i + step]})

    encode()
    cpu = []
    for _ in range(6):
        c = time.process_time()
        encode()
        cpu.append((time.process_time() - c) * 1000 / len(x))
    return {"peak_rss_mib": _hwm_mib(os.getpid()), "cpu_ms_per_frame": min(cpu), "cpu_all": cpu}


def _reset_hwm() -> None:
    """Collect garbage, then restart this process's ``VmHWM`` from its current RSS."""
    import gc

    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _options(arena: bool, *, spinning: bool = True, mem_pattern: bool = True) -> Any:
    """ONNX Runtime session options as vidscope sets them, with the arena on or off (and,
    for the backbone-alone runs, ONNX Runtime's memory pattern planning on or off)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = os.cpu_count() or 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.enable_cpu_mem_arena = arena
    opts.enable_mem_pattern = mem_pattern
    if not spinning:
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def _set_arena(model: Any, arena: bool) -> None:
    """Rebuild the backbone's ONNX Runtime session with the CPU memory arena on or off."""
    import onnxruntime as ort

    model.session = ort.InferenceSession(
        str(model.path), _options(arena), providers=["CPUExecutionProvider"]
    )


def _arena_of(model: Any) -> bool | None:
    session = getattr(model, "session", None)
    return None if session is None else bool(session.get_session_options().enable_cpu_mem_arena)


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """One measurement in a fresh interpreter, with when it started and the machine's load."""
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        spec_path, out = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({**spec, "out": str(out)}))
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        subprocess.run([sys.executable, __file__, "--child", str(spec_path)], check=True, env=env)
        result = json.loads(out.read_text())
    load = max(load, os.getloadavg()[0])
    return {**spec, **result, "started_utc": started, "load_average_max": round(load, 1)}


# ------------------------------------------------------------------------------------ the report
def _row(r: dict[str, Any]) -> str:
    arena = {True: "on", False: "off", None: "default"}[r["arena"]]
    return (
        f"  {r['minutes']:>4} min  --batch-size {r['batch_size']:>3}  arena {arena:<7}"
        f"  peak {r['peak_rss_mib']:6.0f} MiB (main {r['main_mib']:4.0f} + others "
        f"{r['other_processes_mib']:4.0f}: {_roles(r)})  {r['seconds']:6.1f} s"
        f"  [{r['started_utc']}, load {r['load_average_max']}]"
    )


def _roles(r: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in r["by_role_mib"].items() if k != "main")


def measure_extract(
    videos: dict[int, Path],
    variant_minutes: int | None,
    rows: list[dict[str, Any]],
    save: Callable[[], None],
) -> list[dict[str, Any]]:
    """Arena x batch size on the shortest video (unless ``variant_minutes`` is None), then
    default settings on the longer ones; ``rows`` gets each result as it comes (the caller
    saves it)."""
    plan = [(variant_minutes, b, a) for b in (8, 32, 128) for a in (True, False)]
    plan = plan if variant_minutes is not None else []
    plan += [(m, 32, None) for m in sorted(videos) if m != variant_minutes]
    print("extract --fps 1 (peak RSS of the run and all its processes; wall time):")
    for minutes, batch, arena in plan:
        spec = {"video": str(videos[minutes]), "batch_size": batch, "arena": arena}
        r = {**run_child(spec), "minutes": minutes}
        rows.append(r)
        print(_row(r), flush=True)
        save()
    return rows


def measure_encode(model_path: str) -> list[dict[str, Any]]:
    """The backbone alone: frames per ONNX Runtime call x arena (memory pattern on, ONNX
    Runtime's default), then the memory pattern off with the arena on."""
    rows = []
    print("backbone alone, 32-frame batches (peak RSS of the process; CPU ms per frame):")
    plan = [(n, arena, True) for n in (4, 8, 32) for arena in (True, False)]
    plan += [(n, True, False) for n in (4, 8)]
    for per_run, arena, pattern in plan:
        spec = {"model_path": model_path, "per_run": per_run, "arena": arena}
        r = run_child({**spec, "mem_pattern": pattern, "encode_only": True})
        rows.append(r)
        print(
            f"  {per_run:>2} frames per call  arena {'on' if arena else 'off':<3}"
            f"  memory pattern {'on' if pattern else 'off':<3}"
            f"  peak {r['peak_rss_mib']:5.0f} MiB  CPU {r['cpu_ms_per_frame']:5.1f} ms/frame",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Make (or reuse) the videos, run every measurement, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="12 min instead of 20 min and 2 h")
    parser.add_argument("--skip-long", action="store_true", help="no 2 h video (20 min only)")
    parser.add_argument("--encode-only", action="store_true", help="only the backbone alone")
    parser.add_argument(
        "--long-only", action="store_true", help="only the default runs on the long videos"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        spec = json.loads(args.child.read_text())
        Path(spec["out"]).write_text(json.dumps(child_main(spec)))
        return 0
    long_runs = [12] if args.quick else [20, 120]
    lengths = [*([] if args.long_only else [2]), *(long_runs[:1] if args.skip_long else long_runs)]
    WORK.mkdir(parents=True, exist_ok=True)
    from vidscope.backbones import create_backbone

    model = create_backbone("efficientnet_lite0")  # export now, not in a measured run
    started = time.perf_counter()
    videos = {m: make_video(m) for m in lengths}
    print(f"videos ready in {time.perf_counter() - started:.0f} s: {sorted(videos)} min")
    import av
    import onnxruntime

    report: dict[str, Any] = {"environment": environment(av, onnxruntime), "extract": []}
    report["long_only"] = args.long_only
    report["encode"] = [] if args.long_only else measure_encode(str(model.path))
    if not args.encode_only:
        variants = None if args.long_only else 2
        measure_extract(videos, variants, report["extract"], lambda: _save(report))
    print(f"wrote {_save(report)}")
    return 0


def _save(report: dict[str, Any]) -> Path:
    """Write ``report`` (``--encode-only``: memory_encode.json; ``--long-only``:
    memory_long.json; else memory.json); returns the path."""
    name = "memory_long.json" if report["long_only"] else "memory.json"
    path = RESULTS.with_name(name if report["extract"] else "memory_encode.json")
    path.write_text(json.dumps(report, indent=2))
    return path


if __name__ == "__main__":
    sys.exit(main())
