"""Argument parsing and the subcommand bodies of the CLI (kept apart from ``cli.main``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from ._commands_timeline import TIMELINE_COMMANDS, add_timeline_parser
from ._commands_train import TRAIN_COMMANDS, add_train_parsers, key_values
from ._summary import print_extract_report, print_store_info


def build_parser() -> argparse.ArgumentParser:
    """The ``vidscope`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="vidscope",
        description="Video classification and event detection on frozen per-frame features.",
    )
    sub = parser.add_subparsers(dest="command")
    ex = sub.add_parser("extract", help="extract per-frame features of videos into a store")
    ex.add_argument("videos", help="folder (recursive), .txt list, .csv of paths, or one video")
    ex.add_argument("--out", required=True, help="feature store folder (created or resumed)")
    add_extract_options(ex)
    info = sub.add_parser("info", help="summarise a feature store")
    info.add_argument("store")
    info.add_argument("--failed", type=int, default=10, help="failed videos to list (default 10)")
    demo = sub.add_parser("demo", help="run the whole job on generated example data")
    demo.add_argument(
        "--out", default="vidscope-demo", help="working folder (default ./vidscope-demo)"
    )
    demo.add_argument("--n-videos", type=int, default=40, help="clips to generate (default 40)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--frames", type=int, default=16, help="frames sampled per clip (default 16)")
    demo.add_argument("--head", default="mlp", help="temporal head to train (default mlp)")
    sub.add_parser("backbones", help="list the registered backbones")
    conv = sub.add_parser(
        "convert-weights", help="write a checkpoint's state dict as .safetensors (once)"
    )
    conv.add_argument("src", help=".pth/.pt/.bin state dict or pickled whole model")
    conv.add_argument("dst", help="output .safetensors file")
    conv.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow a pickled whole model (runs the file's code: only files you trust)",
    )
    add_train_parsers(sub)
    add_timeline_parser(sub)
    return parser


def add_extract_options(p: argparse.ArgumentParser) -> None:
    """Flags shared by every command that extracts features."""
    p.add_argument(
        "--backbone",
        default="efficientnet_lite0",
        help="backbone name, timm:<model>, or a fusion like efficientnet_lite0+flow",
    )
    p.add_argument("--weights", help="local weights file (.pth/.safetensors); never downloaded")
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow --weights to be a pickled whole model (runs its code: only files you trust)",
    )
    p.add_argument(
        "--backbone-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backbone setting, e.g. gap=0.12 for flow (recorded in the store and the run)",
    )
    p.add_argument("--runtime", choices=["auto", "onnx", "torch"], default="auto")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--frames", type=int, help="N frames spread uniformly (default 16)")
    group.add_argument("--fps", type=float, help="F frames per second")
    group.add_argument("--every", type=float, help="one frame every S seconds")
    p.add_argument("--max-frames", type=int, help="cap on samples for --fps/--every")
    p.add_argument("--seek", choices=["exact", "keyframe"], default="exact")
    p.add_argument(
        "--keyframe-tolerance", type=float, default=0.5, help="seconds (--seek keyframe)"
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, help="decode processes (default: 1 per 4 cores)")
    p.add_argument("--decode-threads", type=int, default=0, help="threads per decoder (0 = auto)")
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32")
    p.add_argument(
        "--timeout", type=float, default=120.0, help="seconds without progress per video"
    )
    p.add_argument("--image-fps", type=float, default=25.0, help="frame rate of image folders")
    p.add_argument("--path-column", help="CSV column holding video paths")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 if any video failed or was partial"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def extract_config(args: argparse.Namespace):  # -> ExtractConfig
    """Build an :class:`ExtractConfig` from parsed flags (library code never sees argparse)."""
    from .features import ExtractConfig
    from .video import SamplingSpec

    if args.fps is not None:
        spec = SamplingSpec("fps", args.fps, args.max_frames)
    elif args.every is not None:
        spec = SamplingSpec("every", args.every, args.max_frames)
    else:
        spec = SamplingSpec("uniform", args.frames or 16)
    kw = dict(
        backbone=args.backbone,
        weights=args.weights,
        trust_checkpoint=args.trust_checkpoint,
        backbone_options=key_values(args.backbone_option, "--backbone-option"),
        runtime=args.runtime,
        sampling=spec,
        seek=args.seek,
        keyframe_tolerance_s=args.keyframe_tolerance,
        batch_size=args.batch_size,
        decode_threads=args.decode_threads,
        dtype=args.dtype,
        timeout_s=args.timeout,
        image_fps=args.image_fps,
        strict=args.strict,
    )
    if args.workers is not None:
        kw["workers"] = args.workers
    return ExtractConfig(**kw)


def cmd_extract(args: argparse.Namespace) -> int:
    from .features import extract

    cfg = extract_config(args)
    report = extract(
        args.videos, args.out, cfg, progress=not args.quiet, path_column=args.path_column
    )
    print_extract_report(report, Console())
    bad = report.failed or (cfg.strict and report.partial)
    return 1 if cfg.strict and bad else 0


def cmd_info(args: argparse.Namespace) -> int:
    from .features import open_store

    print_store_info(open_store(args.store), Console(), max_failed=args.failed)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ._commands_timeline import print_segments
    from ._report import print_train_result
    from .datasets import make_collisions
    from .metrics import tiou
    from .features import ExtractConfig, extract, open_store
    from .localize import timeline
    from .training import TrainConfig, train
    from .video import SamplingSpec

    console = Console()
    out = Path(args.out)
    console.print(f"[bold]1/4[/] generating {args.n_videos} example clips in {out}/data")
    data = make_collisions(out / "data", n_videos=args.n_videos, seed=args.seed)
    console.print(f"[bold]2/4[/] extracting features with the bundled backbone into {out}/store")
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", args.frames))
    report = extract(data.videos_dir, out / "store", cfg)
    print_extract_report(report, console)
    print_store_info(open_store(out / "store"), console)
    console.print(f"[bold]3/4[/] training the {args.head} head on {data.labels_csv.name}")
    tcfg = TrainConfig(head=args.head, seed=args.seed, tensorboard=False)
    result = train(out / "store", data.labels_csv, out=out / "run", config=tcfg)
    print_train_result(result, console)
    console.print(f"[bold]4/4[/] timeline of the long video {data.long_video.name}")
    lines = timeline(
        out / "run", data.long_video, out=out / "timeline", annotations=data.long_events_csv
    )
    print_segments(lines, console)
    for t in lines:  # tIoU 0.1: the loosest threshold of the usual 0.1:0.1:0.7 range
        found = sum(any(tiou(d, g) >= 0.1 for d in t.segments) for g in t.truth)
        false = sum(all(tiou(d, g) < 0.1 for g in t.truth) for d in t.segments)
        console.print(
            f"{t.video_id}: {found} of {len(t.truth)} true events detected, "
            f"{false} false detection(s) (tIoU >= 0.1)"
        )
    console.print(f"report: {out / 'timeline' / 'report.html'}", highlight=False)
    return 0 if report.ok else 1


def cmd_backbones(args: argparse.Namespace) -> int:
    from .backbones import list_backbones

    for name in list_backbones():
        print(name)
    return 0


def cmd_convert_weights(args: argparse.Namespace) -> int:
    from .backbones._convert import convert_weights

    n = convert_weights(args.src, args.dst, trust_checkpoint=args.trust_checkpoint)
    print(f"wrote {n} tensors to {args.dst}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "extract": cmd_extract,
    "info": cmd_info,
    "demo": cmd_demo,
    "backbones": cmd_backbones,
    "convert-weights": cmd_convert_weights,
    **TRAIN_COMMANDS,
    **TIMELINE_COMMANDS,
}
