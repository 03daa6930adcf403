"""``demo``: the whole job on generated example data."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from ._common import command
from ._print import print_extract_report, print_segments, print_store_info, print_train_result


def add_parser(sub: Any) -> dict[str, Any]:
    """Register ``demo``."""
    demo = command(sub, "demo", "run the whole job on generated example data")
    demo.add_argument("--out", default="vidscope-demo", help="working folder")
    demo.add_argument("--n-videos", type=int, default=40, help="clips to generate")
    demo.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    demo.add_argument("--frames", type=int, default=16, help="frames sampled per clip")
    demo.add_argument("--head", default="mlp", help="temporal head to train")
    return {"demo": cmd_demo}


def cmd_demo(args: argparse.Namespace) -> int:
    from ..features import open_store
    from ..pipelines import demo

    console = Console()

    def extracted(report: Any, store: Any) -> None:
        print_extract_report(report, console)
        print_store_info(open_store(store), console)

    result = demo(
        args.out,
        n_videos=args.n_videos,
        seed=args.seed,
        frames=args.frames,
        head=args.head,
        say=lambda line: console.print(f"[bold]{line[:3]}[/]{line[3:]}", highlight=False),
        on_extracted=extracted,
        on_trained=lambda r: print_train_result(r, console),
    )
    print_segments(result.timelines, console)
    for vid, (found, false) in result.matches.items():
        truth = next(len(t.truth) for t in result.timelines if t.video_id == vid)
        console.print(
            f"{vid}: {found} of {truth} true events detected, "
            f"{false} false detection(s) (tIoU >= 0.1)",
            highlight=False,
        )
    console.print(f"report: {result.report_html}", highlight=False)
    return 0 if result.extract.ok else 1
