"""CLI body of ``vidscope timeline``."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from rich.console import Console
from rich.table import Table


def add_timeline_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``timeline``."""
    p = sub.add_parser("timeline", help="score videos over time: curves, segments, HTML report")
    p.add_argument("inputs", nargs="*", help="RUN VIDEO... (or only VIDEO... with --signal)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--signal", help="no run: change, norm or dim:<k> of the features")
    p.add_argument("--store", help="reuse features from this store (made with --fps)")
    p.add_argument("--annotations", help="ground-truth events CSV (file_name,start_time,end_time)")
    p.add_argument("--window", type=float, help="window seconds (default: as trained)")
    p.add_argument("--stride", type=float, help="stride seconds (default: window / 4)")
    p.add_argument("--fps", type=float, help="feature rate (default: as trained)")
    p.add_argument("--smooth", choices=["none", "mean", "median"], default="mean")
    p.add_argument("--smooth-window", type=float, default=1.0, help="seconds")
    p.add_argument("--threshold", type=float, help="default: the run's validation threshold")
    p.add_argument("--hysteresis", type=float, default=0.1)
    p.add_argument("--min-duration", type=float, default=0.5, help="seconds")
    p.add_argument("--merge-gap", type=float, default=1.0, help="seconds")
    p.add_argument("--nms", type=float, default=0.5, help="tIoU for non-maximum suppression")
    p.add_argument("--top-k", type=int, help="keep the k best segments per video and label")
    p.add_argument("--backbone", default="efficientnet_lite0", help="backbone for --signal")
    p.add_argument("--weights", help="backbone weights file")
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument("--quiet", action="store_true")


def cmd_timeline(args: argparse.Namespace) -> int:
    from .localize import SegmentConfig, TimelineConfig, timeline

    seg = SegmentConfig(
        smooth=args.smooth,
        smooth_s=args.smooth_window,
        threshold=args.threshold,
        hysteresis=args.hysteresis,
        min_duration_s=args.min_duration,
        merge_gap_s=args.merge_gap,
        nms_iou=args.nms,
        top_k=args.top_k,
    )
    cfg = TimelineConfig(
        window_s=args.window, stride_s=args.stride, fps=args.fps, signal=args.signal, segments=seg
    )
    if args.signal:
        run, videos = None, args.inputs
    else:
        run, videos = (args.inputs[0] if args.inputs else None), args.inputs[1:]
    if args.signal is None and run is None:
        raise ValueError("give RUN and VIDEO..., or VIDEO... with --signal")
    if not videos and not args.store:
        raise ValueError("give VIDEO... to score, or --store with their features")
    lines = timeline(
        run,
        _videos(videos),
        out=args.out,
        config=cfg,
        store=args.store,
        annotations=args.annotations,
        backbone=args.backbone,
        weights=args.weights,
        report=not args.no_report,
        progress=not args.quiet,
    )
    print_segments(lines, Console())
    return 0


def _videos(paths: list[str]):
    return None if not paths else (paths[0] if len(paths) == 1 else paths)


def print_segments(lines: list, console: Console) -> None:
    """Detected (and true) segments of every video."""
    for t in lines:
        table = Table(
            "", "start", "end", "label", "score", title=f"{t.video_id} ({t.duration_s:.1f} s)"
        )
        for s in t.segments:
            table.add_row("detected", _clock(s.start_s), _clock(s.end_s), s.label, f"{s.score:.3f}")
        for s in t.truth:
            table.add_row("[green]true[/]", _clock(s.start_s), _clock(s.end_s), s.label, "")
        console.print(table)


def _clock(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    h, m = divmod(int(m), 60)
    return f"{h}:{m:02d}:{s:04.1f}" if h else f"{m:02d}:{s:04.1f}"


TIMELINE_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"timeline": cmd_timeline}
