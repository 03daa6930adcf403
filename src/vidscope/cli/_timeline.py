"""``timeline``: score videos over time (curves, segments, plots, the HTML report)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import ConfigError
from ._calibrate import print_calibration
from ._common import command
from ._print import print_matches, print_segments

#: flag dest -> SegmentConfig field; a flag not given keeps the library (or calibrated) value.
_SEGMENT_FLAGS = {
    "smooth": "smooth",
    "smooth_window": "smooth_s",
    "threshold": "threshold",
    "hysteresis": "hysteresis",
    "min_duration": "min_duration_s",
    "merge_gap": "merge_gap_s",
    "nms": "nms_iou",
    "top_k": "top_k",
    "refine": "refine",
}


def add_parser(sub: Any) -> dict[str, Any]:
    """Register ``timeline``."""
    p = command(sub, "timeline", "score videos over time: curves, segments, HTML report")
    p.add_argument("inputs", nargs="*", help="RUN VIDEO... (or only VIDEO... with --signal)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--signal", help="no run: change, norm or dim:<k> of the features")
    p.add_argument("--store", help="reuse features from this store (made with --fps)")
    p.add_argument("--annotations", help="ground-truth events CSV (file_name,start_time,end_time)")
    p.add_argument("--window", type=float, help="window seconds (default: as trained)")
    p.add_argument("--stride", type=float, help="stride seconds (default: window / 4)")
    p.add_argument("--fps", type=float, help="feature rate (default: as trained)")
    add_segment_options(p)
    p.add_argument(
        "--embed-limit",
        type=float,
        default=50.0,
        help="MiB: smaller videos are embedded in report.html, larger ones linked",
    )
    p.add_argument("--match-tiou", type=float, default=0.5, help="tIoU for the found-events line")
    p.add_argument(
        "--backbone", default="efficientnet_lite0", help="backbone for --signal (a run has its own)"
    )
    p.add_argument("--weights", help="backbone weights file")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return {"timeline": cmd_timeline}


def add_segment_options(p: argparse.ArgumentParser) -> None:
    """Curve-to-segment flags; a flag not given keeps the run's calibrated or default value."""
    p.add_argument(
        "--smooth", choices=["none", "mean", "median"], help="smoothing filter (default mean)"
    )
    p.add_argument(
        "--smooth-window", type=float, help="smoothing seconds (default: 3 curve samples)"
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="event level of the smoothed curve (default: the run's calibrated or validation "
        "threshold; without a run, mean + 2 std)",
    )
    p.add_argument(
        "--hysteresis",
        type=float,
        help="fraction in [0, 1]: an event ends below threshold - h * (threshold - median) "
        "(default 0.25)",
    )
    p.add_argument(
        "--min-duration", type=float, help="drop shorter segments, seconds (default: 1 sample)"
    )
    p.add_argument(
        "--merge-gap", type=float, help="merge segments closer than this, seconds (default 1.0)"
    )
    p.add_argument("--nms", type=float, help="tIoU for non-maximum suppression (default 0.5)")
    p.add_argument("--top-k", type=int, help="keep the k best segments per video and label")
    p.add_argument(
        "--refine", choices=["none", "half_max"], help="segment ends at the curve's half maximum"
    )
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="first choose threshold, smoothing, hysteresis and --refine for the best segment F1 "
        "on --annotations of these videos (--store) and save them in RUN/timeline.json, the "
        "default of later timelines; use videos the run did not train on (with clip labels "
        "only: `vidscope calibrate RUN STORE --labels LABELS`)",
    )
    p.add_argument(
        "--no-calibration",
        action="store_true",
        help="ignore the run's timeline calibration for settings not given",
    )


def cmd_timeline(args: argparse.Namespace) -> int:
    from ..localize import SegmentConfig, TimelineConfig
    from ..pipelines import timeline

    seg_kw = {
        f: getattr(args, d) for d, f in _SEGMENT_FLAGS.items() if getattr(args, d) is not None
    }
    cfg = TimelineConfig(
        window_s=args.window,
        stride_s=args.stride,
        fps=args.fps,
        signal=args.signal,
        segments=SegmentConfig(**seg_kw),
        calibrated=not args.no_calibration,
        embed_limit_mb=args.embed_limit,
    )
    if args.signal:
        run, videos = None, args.inputs
    else:
        run, videos = (args.inputs[0] if args.inputs else None), args.inputs[1:]
    if args.signal is None and run is None:
        raise ConfigError("give RUN and VIDEO..., or VIDEO... with --signal")
    if not videos and not args.store:
        raise ConfigError(_no_videos(run, args.signal))
    if args.calibrate:
        _calibrate(args, run, cfg)
    lines = timeline(
        run,
        None if not videos else (videos[0] if len(videos) == 1 else videos),
        out=args.out,
        config=cfg,
        store=args.store,
        annotations=args.annotations,
        backbone=args.backbone,
        weights=args.weights,
        report=not args.no_report,
        progress=not args.quiet,
    )
    console = Console()
    print_segments(lines, console)
    print_matches(lines, console, min_tiou=args.match_tiou)
    if not lines:
        console.print(
            "[yellow]no video could be scored[/]: none has features (failures are listed above)",
            highlight=False,
        )
        return 1
    report = Path(args.out) / "report.html"
    where = f"; report {report}" if not args.no_report and report.exists() else ""
    console.print(f"{len(lines)} timeline(s) written to {args.out}{where}", highlight=False)
    return 0


def _no_videos(run: str | None, signal: str | None) -> str:
    """What to say when nothing is given to score: a lone input that is not a run was
    probably meant as the video (the run forgotten)."""
    if signal is None and run is not None and not (Path(run) / "config.json").exists():
        return (
            f"{run} was read as the RUN but is not a vidscope run (no config.json): give "
            f"RUN VIDEO..., or --signal change VIDEO... to draw a curve without a run"
        )
    return "give VIDEO... to score, or --store with their features"


def _calibrate(args: argparse.Namespace, run: str | None, cfg: Any) -> None:
    """``--calibrate``: fit the run's timeline settings on annotated stored videos."""
    from ..localize import calibrate_timeline

    if run is None or not args.annotations or not args.store:
        raise ConfigError(
            "--calibrate needs RUN, --annotations and --store (features of the annotated "
            "videos, e.g. from `vidscope extract VIDEOS --out STORE --fps F`)"
        )
    cal = calibrate_timeline(run, args.store, args.annotations, config=cfg)
    print_calibration(cal, run, Console())
