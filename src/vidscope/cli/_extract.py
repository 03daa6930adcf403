"""``extract``, ``info``, ``backbones`` and ``convert-weights``."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from ._common import add_extract_options, add_preset_option, command, extract_config
from ._print import fold, print_extract_report, print_store_info


def add_parser(sub: Any) -> dict[str, Any]:
    """Register the extraction-side commands."""
    ex = command(sub, "extract", "extract per-frame features of videos into a store")
    ex.add_argument("videos", help="folder (recursive), .txt list, .csv of paths, or one video")
    ex.add_argument("--out", required=True, help="feature store folder (created or resumed)")
    add_extract_options(ex)
    add_preset_option(
        ex, "--backbone and its --backbone-option values (another --backbone drops them)"
    )
    info = command(sub, "info", "summarise a feature store")
    info.add_argument("store", help="feature store folder (or a folder of .npy arrays)")
    info.add_argument("--failed", type=int, default=10, help="failed videos to list")
    command(sub, "backbones", "list the backbones: width, options, description")
    conv = command(sub, "convert-weights", "write a checkpoint's state dict as .safetensors (once)")
    conv.add_argument("src", help=".pth/.pt/.bin state dict or pickled whole model")
    conv.add_argument("dst", help="output .safetensors file")
    conv.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow a pickled whole model (runs the file's code: only files you trust)",
    )
    return {
        "extract": cmd_extract,
        "info": cmd_info,
        "backbones": cmd_backbones,
        "convert-weights": cmd_convert_weights,
    }


def cmd_extract(args: argparse.Namespace) -> int:
    from ..features import extract

    cfg = extract_config(args)
    report = extract(
        args.videos, args.out, cfg, progress=not args.quiet, path_column=args.path_column
    )
    print_extract_report(report, Console())
    bad = report.failed or (cfg.strict and report.partial)
    return 1 if cfg.strict and bad else 0


def cmd_info(args: argparse.Namespace) -> int:
    from ..features import open_store

    print_store_info(open_store(args.store), Console(), max_failed=args.failed)
    return 0


def cmd_backbones(args: argparse.Namespace) -> int:
    from ..backbones import describe_backbone, list_backbones

    table = Table("backbone", "options (--backbone-option KEY=VALUE)", "description")
    for name in list_backbones():
        doc, options = describe_backbone(name)
        shown = ", ".join(f"{k}={v}" for k, v in options.items()) or "-"
        table.add_row(name, shown, doc)
    Console().print(fold(table))
    Console().print("fuse backbones with '+', e.g. efficientnet_lite0+flow", highlight=False)
    return 0


def cmd_convert_weights(args: argparse.Namespace) -> int:
    from ..backbones import convert_weights

    n = convert_weights(args.src, args.dst, trust_checkpoint=args.trust_checkpoint)
    print(f"wrote {n} tensors to {args.dst}")
    return 0
