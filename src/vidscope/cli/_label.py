"""``vidscope label``: label clips and mark event segments in the browser."""

from __future__ import annotations

import argparse
import threading
import webbrowser
from pathlib import Path
from typing import Any

from rich.console import Console

from ._common import command


def add_parser(sub: Any) -> dict[str, Any]:
    """Register ``label``."""
    p = command(
        sub,
        "label",
        "label clips and mark event segments in the browser (model in the loop)",
        epilog="One key per class labels the clip and moves on (z undo, s skip); [ and ] mark "
        "an event segment at the playhead; , and . step one frame by the file's real "
        "timestamps; arrows hop 1 s; 1/2/4 set the speed. Labels and segments are saved on "
        "every action, in the CSVs `vidscope train --labels/--annotations` read.",
    )
    p.add_argument("videos", help="folder (recursive), .txt list, .csv of paths, or one video")
    p.add_argument("--classes", required=True, help="comma-separated classes, e.g. fight,noFight")
    p.add_argument(
        "--labels",
        default="labels.csv",
        help="labels CSV written as path,label (read back to resume)",
    )
    p.add_argument(
        "--segments",
        default=None,
        help="annotations CSV file_name,start_time,end_time,label for event segments "
        "(segment marking is off without it)",
    )
    p.add_argument(
        "--segment-label", default=None, help="label of marked segments (default: first class)"
    )
    p.add_argument("--run", default=None, help="trained run: show its scores, sort by uncertainty")
    p.add_argument(
        "--retrain-every",
        type=int,
        default=0,
        help="retrain the run's head on the labels after every N new labels (needs --run)",
    )
    p.add_argument(
        "--force", action="store_true", help="take over label files vidscope label did not write"
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default loopback only)"
    )
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument(
        "--no-browser", action="store_true", help="only print the address, open no browser"
    )
    return {"label": label_command}


def label_command(args: argparse.Namespace, *, stop: threading.Event | None = None) -> int:
    """Run the labelling server until Ctrl-C (or ``stop`` is set; for tests)."""
    from ..label import LabelApp, LabelConfig

    config = LabelConfig(
        classes=args.classes.split(","),
        labels=Path(args.labels),
        annotations=Path(args.segments) if args.segments else None,
        segment_label=args.segment_label,
        run=Path(args.run) if args.run else None,
        retrain_every=args.retrain_every,
        force=args.force,
        host=args.host,
        port=args.port,
    )
    app = LabelApp(args.videos, config)
    url = app.start()
    console = Console()
    keys = ", ".join(f"{k} = {c}" for c, k in config.keys.items())
    console.print(f"labelling {len(app.videos)} video(s) ({keys}); saving to {args.labels}")
    console.print(f"open [bold]{url}[/] (Ctrl-C to stop)", highlight=False, soft_wrap=True)
    if not args.no_browser:
        webbrowser.open(url)
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        console.print("stopped; every label is saved")
    finally:
        app.close()
    return 0
