"""``zeroshot``: CLIP features scored against class prompts, no training."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from ..errors import ConfigError
from ._common import add_label_options, command, label_options
from ._print import print_report


def add_parser(sub: Any) -> dict[str, Any]:
    """Register ``zeroshot``."""
    zs = command(sub, "zeroshot", "score CLIP features against class prompts (no training)")
    zs.add_argument("store", help="feature store of a clip:<model> backbone, or .npy folders")
    zs.add_argument(
        "--classes",
        required=True,
        help='class prompts: "fighting,people walking calmly", or NAME=TEXT pairs naming the '
        'label classes: "fight=fighting,noFight=people walking calmly"',
    )
    zs.add_argument("--template", default="a video of {}.", help="prompt; {} is the class text")
    zs.add_argument(
        "--agg", choices=["mean", "max"], default="mean", help="frame logits -> video logits"
    )
    zs.add_argument(
        "--weights", help="the open_clip checkpoint (default: the one the store was made with)"
    )
    zs.add_argument("--clip-model", help="open_clip model name, for .npy folders")
    zs.add_argument("--out", help="folder for predictions.csv and metrics.json")
    add_label_options(zs)
    return {"zeroshot": cmd_zeroshot}


def cmd_zeroshot(args: argparse.Namespace) -> int:
    """Print the video- and frame-level reports (with labels) or the predictions."""
    from ..features import atomic_write_json
    from ..pipelines import zeroshot

    out = Path(args.out) if args.out else None
    if out is not None and (out / "store.json").exists():
        raise ConfigError(f"--out {out}: is a feature store; write results elsewhere")
    labels = label_options(args) if args.labels else None
    result = zeroshot(
        args.store, args.classes, template=args.template, labels=labels, agg=args.agg,
        weights=args.weights, clip_model=args.clip_model, allow_missing=args.allow_missing,
    )  # fmt: skip
    console = Console()
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    prompts = "; ".join(f"{c}: {p!r}" for c, p in zip(result.classes, result.prompts, strict=True))
    console.print(f"prompts ({args.agg} of frame logits): {prompts}", highlight=False)
    if result.report is not None:
        print_report(result.report, console, title=f"zero-shot, video level ({args.store})")
        print_report(result.frame_report or {}, console, title="zero-shot, frame level")
    elif out is None:
        console.print(result.predictions().to_string(index=False), highlight=False)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.predictions().to_csv(out / "predictions.csv", index=False)
        metrics = {"video": result.report, "frame": result.frame_report, "agg": args.agg,
                   "prompts": dict(zip(result.classes, result.prompts, strict=True))}  # fmt: skip
        atomic_write_json(out / "metrics.json", metrics)
        console.print(f"wrote {out / 'predictions.csv'} and {out / 'metrics.json'}")
    return 0
