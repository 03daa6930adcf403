"""``evaluate`` and ``predict``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from ._common import add_label_options, command, label_options
from ._print import print_event_report, print_report


def add_parser(sub: Any) -> dict[str, Any]:
    """Register ``evaluate`` and ``predict``."""
    ev = command(sub, "evaluate", "score a saved run on labelled features or videos")
    ev.add_argument("run", help="run directory (from `vidscope train`)")
    ev.add_argument("store", help="labelled feature store, or videos (extracted like the run's)")
    ev.add_argument("--out", help="write the report as JSON here")
    ev.add_argument("--annotations", help="events CSV: frame-level and segment mAP metrics")
    ev.add_argument("--weights", help="backbone weights file, when extracting videos")
    ev.add_argument("--features-cache", help="keep features of extracted videos here")
    add_label_options(ev)
    pr = command(sub, "predict", "predict new videos or a store with a saved run")
    pr.add_argument("run", help="run directory (from `vidscope train`)")
    pr.add_argument("input", help="feature store, or videos (folder, list, CSV, file)")
    pr.add_argument(
        "--out", help="CSV to write (id,score,label or id,label,score_*); default: print a table"
    )
    pr.add_argument("--top-k", type=int, help="multi-class: also list the k best classes")
    pr.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    pr.add_argument("--features-cache", help="keep features of extracted videos here")
    pr.add_argument("--weights", help="backbone weights file (timm: backbones)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    return {"evaluate": cmd_evaluate, "predict": cmd_predict}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..features import atomic_write_json
    from ..pipelines import evaluate, evaluate_events

    if args.out:
        check_output(Path(args.out), overwrite=True, suffixes=(".json",))
    if args.annotations:
        report = evaluate_events(args.run, args.store, args.annotations)
        print_event_report(report, Console())
    else:
        report = evaluate(
            args.run,
            args.store,
            label_options(args),
            allow_missing=args.allow_missing,
            weights=args.weights,
            features_cache=args.features_cache,
            progress=True,
        )
        print_report(report, Console(), title=f"{args.run} on {args.store}")
    if args.out:
        atomic_write_json(Path(args.out), report)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from ..training import load_run

    if args.top_k is not None and args.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {args.top_k}")
    out = Path(args.out) if args.out else None
    if out is not None:
        check_output(out, overwrite=args.overwrite, suffixes=(".csv",))
    run = load_run(args.run)
    df = run.predict(
        args.input,
        features_cache=args.features_cache,
        weights=args.weights,
        progress=not args.quiet,
    )
    if args.top_k and not run.binary:
        df = with_top_k(df, run.classes, args.top_k)
    console = Console()
    if out is None:
        console.print(_table(df))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        console.print(f"{len(df)} predictions -> {out}", highlight=False)
    failed = int((df["error"] != "").sum()) if "error" in df else 0
    if failed:
        console.print(f"[yellow]{failed} video(s) got no score[/]: see the error column")
    return 0


def with_top_k(df: pd.DataFrame, classes: list[str], k: int) -> pd.DataFrame:
    """Adds ``top_k``: the ``k`` most likely classes, best first, ``;``-separated."""
    cols = [f"score_{c}" for c in classes]
    order = (-df[cols].to_numpy()).argsort(axis=1)[:, :k]
    df = df.copy()
    df.insert(2, "top_k", [";".join(classes[j] for j in row) for row in order])
    return df


def check_output(path: Path, *, overwrite: bool, suffixes: tuple[str, ...]) -> None:
    """Refuse to write a result file into a store or run folder, onto a folder, or over an
    existing file of another kind; an existing file of the expected kind needs
    ``--overwrite``.

    Raises:
        ConfigError: naming the path and what to do.
    """
    for parent in [path.parent, *path.parent.parents]:
        if (parent / "store.json").exists() or (parent / "config.json").exists():
            kind = "feature store" if (parent / "store.json").exists() else "run"
            raise ConfigError(f"--out {path}: inside the {kind} {parent}; write results elsewhere")
    if path.is_dir():
        raise ConfigError(f"--out {path}: is a folder; give a file name")
    if path.exists() and (path.suffix.lower() not in suffixes or not overwrite):
        raise ConfigError(
            f"--out {path}: already exists; pass --overwrite to replace it"
            if path.suffix.lower() in suffixes
            else f"--out {path}: an existing {path.suffix or 'extension-less'} file; vidscope "
            f"writes {'/'.join(suffixes)} here and never replaces other files"
        )


def _table(df: pd.DataFrame) -> Table:
    table = Table(*[str(c) for c in df.columns])
    for row in df.itertuples(index=False):
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    return table
