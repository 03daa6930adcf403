"""``finetune``: a video model fine-tuned end to end on raw clips (VideoMAE)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

from rich.console import Console

from ._common import add_label_options, command, epoch_progress, label_options
from ._print import print_train_result
from ._train import add_fit_options, train_config


def add_parser(sub: Any) -> dict[str, Any]:
    """Register ``finetune``."""
    p = command(sub, "finetune", "fine-tune a video transformer (VideoMAE) on raw videos")
    p.add_argument("videos", help="folder (class/video.mp4 labels itself), list, CSV or file")
    p.add_argument("--out", required=True, help="run directory to write (new or empty)")
    p.add_argument("--model", choices=["videomae"], default="videomae", help="video model")
    p.add_argument(
        "--weights",
        required=True,
        help="checkpoint directory (config.json + weights, as save_pretrained writes them)",
    )
    p.add_argument("--frames", type=int, help="frames per clip (default: the checkpoint's)")
    p.add_argument("--size", type=int, help="input side, e.g. 224 or 112 (default: checkpoint's)")
    p.add_argument(
        "--clip-seconds",
        type=float,
        help="train on random clips this long (default: frames spread over the whole video)",
    )
    p.add_argument("--grad-accum", type=int, default=1, help="batches per optimiser step")
    p.add_argument("--augment", action="store_true", help="random crop, scale and flip")
    p.add_argument(
        "--freeze-backbone", action="store_true", help="train only the head (a linear probe)"
    )
    p.add_argument("--test-clips", type=int, default=1, help="evaluation clips per video")
    p.add_argument("--workers", type=int, default=2, help="decoding processes (0 = inline)")
    p.add_argument("--image-fps", type=float, default=25.0, help="frame rate of image folders")
    p.add_argument("--resume", action="store_true", help="continue from RUN's last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    add_label_options(p)
    add_fit_options(p)
    return {"finetune": cmd_finetune}


def cmd_finetune(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..pipelines import finetune

    if args.head_option:
        raise ConfigError("finetune takes no --head-option; its settings are flags (--frames...)")
    cfg = train_config(args, args.model)
    if args.epochs is None:
        cfg = replace(cfg, epochs=15)  # the recipe's epochs, as finetune() without a config
    console = Console(quiet=args.quiet)
    with epoch_progress(cfg.epochs, not args.quiet, "finetune") as progress:
        result = finetune(
            args.videos,
            label_options(args),
            weights=args.weights,
            out=args.out,
            config=cfg,
            frames=args.frames,
            size=args.size,
            clip_seconds=args.clip_seconds,
            grad_accum=args.grad_accum,
            mixup=args.mixup,
            augment=args.augment,
            freeze_backbone=args.freeze_backbone,
            test_clips=args.test_clips,
            workers=args.workers,
            image_fps=args.image_fps,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=progress,
        )
    print_train_result(result, console)
    return 0
