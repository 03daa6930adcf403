"""``evaluate`` and ``predict``."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np
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
    from ..training import load_run, predict_columns

    if args.top_k is not None and args.top_k < 1:
        raise ConfigError(f"--top-k must be >= 1, got {args.top_k}")
    out = Path(args.out) if args.out else None
    if out is not None:
        check_output(out, overwrite=args.overwrite, suffixes=(".csv",))
    run = load_run(args.run)
    cols = predict_columns(
        run,
        args.input,
        features_cache=args.features_cache,
        weights=args.weights,
        progress=not args.quiet,
    )
    if args.top_k and not run.binary:
        cols = with_top_k(cols, run.classes, args.top_k)
    console = Console()
    n = len(cols["id"])
    if out is None:
        console.print(_table(cols))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_csv(out, cols)
        console.print(f"{n} predictions -> {out}", highlight=False)
    failed = sum(1 for e in cols.get("error", []) if e)
    if failed:
        console.print(f"[yellow]{failed} video(s) got no score[/]: see the error column")
    partial = sum(1 for e in cols.get("note", []) if e)
    if partial:
        console.print(
            f"[yellow]{partial} video(s) were scored on a partly damaged file[/]: "
            "see the note column"
        )
    return 0


def with_top_k(cols: dict[str, list[Any]], classes: list[str], k: int) -> dict[str, list[Any]]:
    """Adds ``top_k`` after ``label``: the ``k`` most likely classes, best first,
    ``;``-separated (empty for a video with no score)."""
    scores = np.array([cols[f"score_{c}"] for c in classes], dtype=float).T.reshape(
        -1, len(classes)
    )
    order = (-scores).argsort(axis=1)[:, :k]
    top = [
        "" if np.isnan(scores[i]).any() else ";".join(classes[j] for j in row)
        for i, row in enumerate(order)
    ]
    names = list(cols)
    names.insert(2, "top_k")
    return {name: top if name == "top_k" else cols[name] for name in names}


def write_csv(path: Path, cols: dict[str, list[Any]]) -> None:
    """Write columns as CSV the way pandas does: a header row, ``str`` of each value (the
    shortest repr of its float type), an empty field for NaN/None."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(cols)
        writer.writerows(zip(*([_cell(v) for v in vals] for vals in cols.values()), strict=True))


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, (float, np.floating)) and math.isnan(value)):
        return ""
    return str(value)


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


def _table(cols: dict[str, list[Any]]) -> Table:
    table = Table(*[str(c) for c in cols])
    for row in zip(*cols.values(), strict=True):
        table.add_row(*[_shown(v) for v in row])
    return table


def _shown(value: Any) -> str:
    if isinstance(value, (float, np.floating)):
        return "" if math.isnan(value) else f"{value:.4f}"
    return str(value)
