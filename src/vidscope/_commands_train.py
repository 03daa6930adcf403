"""CLI bodies of train, evaluate, predict, compare and heads."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def add_train_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the training-side subcommands."""
    tr = sub.add_parser("train", help="train a classifier on a feature store")
    tr.add_argument("store", help="feature store, or root/split/class/*.npy folder")
    tr.add_argument("--out", required=True, help="run directory to write")
    tr.add_argument("--head", default="mlp", help="temporal head (see `vidscope heads`)")
    tr.add_argument("--resume", action="store_true", help="continue from RUN's last checkpoint")
    tr.add_argument("--annotations", help="events CSV: train a window-level head (see --window)")
    tr.add_argument("--window", type=float, default=1.0, help="window seconds (--annotations)")
    tr.add_argument("--overlap", type=float, default=0.5, help="window overlap (--annotations)")
    tr.add_argument("--min-overlap", type=float, default=0.5, help="event share labelling a window")
    tr.add_argument(
        "--drop-after-event",
        action="store_true",
        help="drop normal windows of event videos after their first event",
    )
    add_label_options(tr)
    add_fit_options(tr)
    ev = sub.add_parser("evaluate", help="score a saved run on a labelled store")
    ev.add_argument("run")
    ev.add_argument("store")
    ev.add_argument("--out", help="write the report as JSON here")
    ev.add_argument("--annotations", help="events CSV: frame-level and segment mAP metrics")
    add_label_options(ev)
    pr = sub.add_parser("predict", help="predict new videos or a store with a saved run")
    pr.add_argument("run")
    pr.add_argument("input", help="feature store, or videos (folder, list, CSV, file)")
    pr.add_argument("--out", required=True, help="CSV to write (id,score or id,label,score_*)")
    pr.add_argument("--features-cache", help="keep features of extracted videos here")
    pr.add_argument("--weights", help="backbone weights file (timm: backbones)")
    pr.add_argument("--quiet", action="store_true")
    cmp_ = sub.add_parser("compare", help="train several heads on one split, print a leaderboard")
    cmp_.add_argument("store")
    cmp_.add_argument("--heads", default="mean_linear,mlp,lstm,conv1d,transformer,stats_xgboost")
    cmp_.add_argument("--out", default="vidscope-compare", help="folder for the runs")
    add_label_options(cmp_)
    add_fit_options(cmp_)
    sub.add_parser("heads", help="list the registered temporal heads")


def add_label_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--labels", help="CSV with id/path and label columns (default: class folders)")
    p.add_argument("--id-column")
    p.add_argument("--label-column")
    p.add_argument("--split-column")
    p.add_argument("--group-column", help="source groups: never split across train and val")
    p.add_argument("--positive-class", help="binary: the event class (default: sorts last)")
    p.add_argument("--allow-missing", action="store_true", help="skip videos without features")


def add_fit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--head-option", action="append", default=[], metavar="KEY=VALUE")
    for flag, kind in (
        ("--epochs", int),
        ("--batch-size", int),
        ("--lr", float),
        ("--weight-decay", float),
        ("--warmup", float),
        ("--patience", int),
        ("--val-fraction", float),
        ("--folds", int),
        ("--seed", int),
    ):
        p.add_argument(flag, type=kind)
    p.add_argument("--optimizer", choices=["adamw", "adam"])
    p.add_argument("--class-weight", choices=["none", "balanced"])
    p.add_argument("--monitor", help="validation metric for early stopping (default auto)")
    p.add_argument("--threshold", choices=["f1", "balanced_accuracy", "youden", "fixed"])
    p.add_argument("--split", choices=["auto", "given", "holdout", "kfold"])
    p.add_argument(
        "--no-inner-val",
        action="store_true",
        help="k-fold: pick epoch and threshold on the scored fold itself (optimistic)",
    )
    p.add_argument("--no-tensorboard", action="store_true")
    p.add_argument("--quiet", action="store_true")


def train_config(args: argparse.Namespace, head: str):  # -> TrainConfig
    """TrainConfig from flags; unset flags keep the dataclass defaults."""
    from .training import TrainConfig

    names = {
        "epochs": "epochs",
        "batch_size": "batch_size",
        "lr": "lr",
        "weight_decay": "weight_decay",
        "warmup": "warmup_epochs",
        "patience": "patience",
        "val_fraction": "val_fraction",
        "folds": "folds",
        "seed": "seed",
        "optimizer": "optimizer",
        "class_weight": "class_weight",
        "monitor": "monitor",
        "threshold": "threshold",
        "split": "split",
    }
    kw: dict[str, Any] = {
        v: getattr(args, k) for k, v in names.items() if getattr(args, k) is not None
    }
    return TrainConfig(
        head=head,
        head_options=_head_options(args.head_option),
        allow_missing=args.allow_missing,
        tensorboard=not args.no_tensorboard,
        inner_val=not args.no_inner_val,
        **kw,
    )


def _head_options(items: list[str]) -> dict[str, Any]:
    return key_values(items, "--head-option")


def key_values(items: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` flags as a dict; values are parsed as JSON when they can be (``3``,
    ``0.5``, ``true``), else kept as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def label_options(args: argparse.Namespace):  # -> LabelOptions
    from .training import LabelOptions

    return LabelOptions(
        args.labels,
        args.id_column,
        args.label_column,
        args.split_column,
        args.group_column,
        args.positive_class,
    )


@contextmanager
def epoch_progress(total: int, enabled: bool, label: str = "train"):
    """A progress bar over epochs; yields the per-epoch callback for ``train``."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=total, info="")

        def update(row: dict[str, float]) -> None:
            info = "  ".join(f"{k} {v:.4g}" for k, v in row.items() if k not in ("epoch", "lr"))
            bar.update(task, completed=row["epoch"] + 1, info=info)

        yield update


def cmd_train(args: argparse.Namespace) -> int:
    from ._report import print_train_result
    from .training import WindowOptions, train

    cfg = train_config(args, args.head)
    windows = None
    if args.annotations:
        windows = WindowOptions(
            args.annotations, args.window, args.overlap, args.min_overlap, args.drop_after_event
        )
    with epoch_progress(cfg.epochs, not args.quiet) as progress:
        result = train(
            args.store,
            label_options(args),
            out=args.out,
            config=cfg,
            resume=args.resume,
            progress=progress,
            windows=windows,
        )
    print_train_result(result, Console())
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ._report import print_report
    from .features._io import atomic_write_json
    from .training import evaluate

    if args.annotations:
        from ._report import print_event_report
        from .training import evaluate_events

        report = evaluate_events(args.run, args.store, args.annotations)
        print_event_report(report, Console())
    else:
        report = evaluate(
            args.run, args.store, label_options(args), allow_missing=args.allow_missing
        )
        print_report(report, Console(), title=f"{args.run} on {args.store}")
    if args.out:
        atomic_write_json(Path(args.out), report)
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .training import load_run

    run = load_run(args.run)
    df = run.predict(
        args.input,
        features_cache=args.features_cache,
        weights=args.weights,
        progress=not args.quiet,
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    Console().print(f"{len(df)} predictions -> {args.out}", highlight=False)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from ._report import print_leaderboard
    from .training import compare

    heads = [h.strip() for h in args.heads.split(",") if h.strip()]
    base = train_config(args, heads[0])
    rows = compare(
        args.store,
        label_options(args),
        heads=heads,
        out=args.out,
        config=base,
        progress=not args.quiet,
    )
    print_leaderboard(rows, Console())
    return 0


def cmd_heads(args: argparse.Namespace) -> int:
    from .models import list_heads

    for name in list_heads():
        print(name)
    return 0


TRAIN_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "compare": cmd_compare,
    "heads": cmd_heads,
}
