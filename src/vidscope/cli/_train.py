"""``train``, ``compare`` and ``heads``."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from ..errors import ConfigError
from ._common import (
    add_label_options,
    add_preset_option,
    check_head_options,
    command,
    epoch_progress,
    key_values,
    label_options,
)
from ._print import fold, print_leaderboard, print_train_result

DEFAULT_HEADS = "mean_linear,mlp,lstm,conv1d,transformer,stats_xgboost,linear_probe"
PRESET_SETS = (
    "--head, --head-option and --refit; the store must have its backbone and backbone options"
)


def add_parser(sub: Any) -> dict[str, Any]:
    """Register the training-side commands."""
    tr = command(sub, "train", "train a classifier on a feature store")
    tr.add_argument("store", help="feature store, or root/split/class/*.npy folder")
    tr.add_argument("--out", required=True, help="run directory to write (new or empty)")
    tr.add_argument(
        "--head",
        help="temporal head, see `vidscope heads` (default: mlp) or the --preset's; auto: "
        "choose among stats_xgboost, mlp (or --head-option candidates=a,b,...) by 3-fold "
        "cross-validation on the training part, then train it",
    )
    tr.add_argument("--resume", action="store_true", help="continue from RUN's last checkpoint")
    tr.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    add_window_options(tr)
    tr.add_argument(
        "--compose",
        action="store_true",
        help="train a window-level run (--window, --overlap) from clip labels: the labelled "
        "clips are first composed into long videos (as `vidscope compose` makes them; "
        "--shuffles, --gap, --event-clips) in the folder OUT.composed",
    )
    tr.add_argument(
        "--calibrate-timeline",
        action="store_true",
        help="then choose the run's timeline settings from the clip labels (as `vidscope "
        "calibrate RUN STORE --labels LABELS`: 5 fold models with the run's settings, each "
        "scoring long videos composed of the clips it left out, with --shuffles, --gap and "
        "--event-clips; with --compose window-level fold models on their own compositions); "
        "binary labels",
    )
    tr.add_argument(
        "--shuffles",
        type=int,
        help="--compose / --calibrate-timeline: arrangements of each set of clips (default: 2 "
        "with --compose, for its training videos and its calibration alike; else 4)",
    )
    tr.add_argument(
        "--gap",
        help="--compose / --calibrate-timeline: MIN,MAX seconds of background between events "
        "(as the footage to be scored has; default 3,10)",
    )
    tr.add_argument(
        "--event-clips",
        type=int,
        help="--compose / --calibrate-timeline: most clips per event stretch (default 2)",
    )
    add_label_options(tr)
    add_fit_options(tr)
    add_preset_option(tr, PRESET_SETS)
    cmp_ = command(sub, "compare", "train several heads on the same splits: a leaderboard")
    cmp_.add_argument("store", help="feature store, or root/split/class/*.npy folder")
    cmp_.add_argument(
        "--heads",
        help=f"comma-separated head names (default {DEFAULT_HEADS}; with --preset: its head)",
    )
    cmp_.add_argument("--out", default="vidscope-compare", help="folder for the runs")
    cmp_.add_argument(
        "--run",
        action="append",
        default=[],
        help="add a finished run fitted on the same splits (e.g. `vidscope finetune`)",
    )
    cmp_.add_argument(
        "--ensemble",
        nargs="?",
        type=int,
        const=2,
        metavar="K",
        help="also average the K heads (default 2) that score best on each split's validation "
        "part (k-fold: the inner validation, never the held-out fold; with --threshold-from cv: "
        "their cross-fitted scores) and write that ensemble as a run to OUT/ensemble (predict, "
        "evaluate and timeline use it)",
    )
    add_label_options(cmp_)
    add_fit_options(cmp_)
    add_preset_option(cmp_, PRESET_SETS)
    command(sub, "heads", "list the temporal heads: trainer, options, description")
    return {"train": cmd_train, "compare": cmd_compare, "heads": cmd_heads}


def add_window_options(p: argparse.ArgumentParser) -> None:
    """Window-level training from event annotations."""
    p.add_argument("--annotations", help="events CSV: train a window-level head (see --window)")
    p.add_argument(
        "--window", type=float, default=1.0, help="window seconds (--annotations, --compose)"
    )
    p.add_argument(
        "--overlap",
        type=float,
        default=0.5,
        help="window overlap fraction (--annotations, --compose)",
    )
    p.add_argument(
        "--min-overlap", type=float, default=0.5, help="event share of a window that labels it"
    )
    p.add_argument(
        "--drop-after-event",
        action="store_true",
        help="drop normal windows of event videos after their first event",
    )
    p.add_argument(
        "--normal-class", default="normal", help="class name of windows without an event"
    )


def add_fit_options(p: argparse.ArgumentParser) -> None:
    """Optimisation, selection and split flags (defaults: see ``TrainConfig``)."""
    p.add_argument(
        "--head-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="head setting, e.g. hidden=256 (keys per head: `vidscope heads`)",
    )
    for flag, kind, text in (
        ("--epochs", int, "most epochs; early stopping usually ends sooner (default 60)"),
        ("--batch-size", int, "videos per batch (default: the head's, else 32)"),
        ("--lr", float, "peak learning rate (default: the head's, else 1e-3)"),
        ("--weight-decay", float, "weight decay (default: the head's, else 0.01)"),
        ("--momentum", float, "SGD momentum (default: the head's, else 0.9)"),
        ("--warmup", float, "warm-up epochs before the cosine decay (default: the head's, else 2)"),
        ("--patience", int, "epochs without improvement before stopping (default 15)"),
        ("--val-fraction", float, "validation share of a holdout or inner split (default 0.2)"),
        ("--folds", int, "folds for --split kfold (default 5)"),
        ("--seed", int, "seed of splits, initialisation and shuffling (default 0)"),
    ):
        p.add_argument(flag, type=kind, help=text)
    p.add_argument(
        "--optimizer", choices=["adamw", "adam", "sgd"], help="(default: the head's, else adamw)"
    )
    p.add_argument(
        "--class-weight",
        choices=["none", "balanced"],
        help="balanced: weight the loss by inverse class frequency (default none)",
    )
    p.add_argument(
        "--monitor",
        help="validation metric for early stopping: roc_auc, f1_macro, accuracy, loss, ... "
        "(default: roc_auc for two classes, else f1_macro)",
    )
    p.add_argument(
        "--threshold",
        choices=["f1", "balanced_accuracy", "youden", "logistic", "fixed"],
        help="binary decision threshold, picked on validation (default balanced_accuracy; "
        "logistic = where a class-balanced logistic fit on the scores crosses 1/2, steadier "
        "on few videos; fixed = 0.5)",
    )
    p.add_argument(
        "--threshold-from",
        choices=["val", "cv"],
        help="scores that choose that threshold: val = the validation part's (default); cv = "
        "out-of-fold scores of train + validation from --threshold-folds grouped folds (4-5x "
        "the videos; K more fits, neural heads K more trainings)",
    )
    p.add_argument("--threshold-folds", type=int, help="folds of --threshold-from cv (default 5)")
    p.add_argument(
        "--split",
        choices=["auto", "given", "holdout", "kfold"],
        help="auto: the labels' split column if any, else holdout (default auto)",
    )
    p.add_argument(
        "--no-inner-val",
        action="store_true",
        help="k-fold: pick epoch and threshold on the scored fold itself (optimistic)",
    )
    p.add_argument(
        "--mixup",
        type=float,
        default=0.0,
        help="MixUp alpha for training batches, e.g. 0.4 (0 = off; neural heads)",
    )
    p.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        help="after choosing epoch and threshold on validation, fit again on train + "
        "validation (more data for the final model; its validation figures are the first "
        "fit's; default off, on with --preset)",
    )
    p.add_argument(
        "--device", default="auto", help="auto (a usable GPU, else CPU), cpu, cuda or cuda:N"
    )
    p.add_argument(
        "--precision", choices=["fp32", "bf16", "fp16"], default="fp32", help="autocast precision"
    )
    p.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard scalars")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no tables")


_FLAGS = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "weight_decay": "weight_decay",
    "momentum": "momentum",
    "warmup": "warmup_epochs",
    "patience": "patience",
    "val_fraction": "val_fraction",
    "folds": "folds",
    "seed": "seed",
    "optimizer": "optimizer",
    "class_weight": "class_weight",
    "monitor": "monitor",
    "threshold": "threshold",
    "threshold_from": "threshold_from",
    "threshold_folds": "threshold_folds",
    "split": "split",
    "device": "device",
    "precision": "precision",
}


def train_config(args: argparse.Namespace, head: str | None) -> Any:
    """A :class:`TrainConfig` from flags; unset flags keep the library defaults, or with
    ``--preset`` the preset's (``head`` is the explicit ``--head``, if any)."""
    from ..training import TrainConfig, preset_config

    kw = {v: getattr(args, k) for k, v in _FLAGS.items() if getattr(args, k, None) is not None}
    options = key_values(args.head_option, "--head-option")
    cfg = TrainConfig(
        head=head or "mlp",
        head_options=options,
        allow_missing=args.allow_missing,
        tensorboard=not args.no_tensorboard,
        inner_val=not args.no_inner_val,
        refit=bool(args.refit),
        mixup=args.mixup,
        **kw,
    )
    if not getattr(args, "preset", None):
        return cfg
    return preset_config(
        args.preset, cfg, head=head, head_options=options, refit=args.refit, given=kw
    )


def check_preset(args: argparse.Namespace, console: Console) -> None:
    """With ``--preset``: the store must hold the preset's backbone and backbone options; say
    what it sets."""
    if not args.preset:
        return
    from ..features import open_store, store_key
    from ..training import check_preset_store, get_preset

    check_preset_store(args.preset, store_key(open_store(args.store)), f"store {args.store}")
    p = get_preset(args.preset)
    console.print(f"preset {p.name}: {p.summary}", highlight=False)


def cmd_train(args: argparse.Namespace) -> int:
    from ..training import WindowOptions, train

    _check_calibrate_timeline(args)
    if args.head == "auto":
        return _train_auto(args)
    cfg = train_config(args, args.head)
    check_head_options([cfg.head], cfg.head_options, "--head")
    console = Console(quiet=args.quiet)
    check_preset(args, console)
    windows, store, labels = None, args.store, label_options(args)
    if getattr(args, "compose", False):
        store, windows = _compose_for_windows(args, cfg.seed, console)
        labels = None
    elif args.annotations:
        windows = WindowOptions(
            args.annotations,
            args.window,
            args.overlap,
            args.min_overlap,
            args.drop_after_event,
            normal_class=args.normal_class,
            group_column=args.group_column,
        )
    with epoch_progress(cfg.epochs, not args.quiet) as progress:
        result = train(
            store,
            labels,
            out=args.out,
            config=cfg,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=progress,
            windows=windows,
            on_start=lambda data: _say_classes(data.labels, console),
        )
    print_train_result(result, console)
    _calibrate_timeline(args, result.run_dir, cfg.seed, console)
    return 0


def _composition(args: argparse.Namespace) -> dict[str, Any]:
    """``--shuffles``, ``--gap``, ``--event-clips`` as ``compose_store`` /
    ``calibrate_timeline_on_clips`` keywords (``--shuffles`` defaults to 2 with ``--compose``,
    as measured, else to calibration's 4)."""
    from ._calibrate import _gap

    shuffles = args.shuffles
    if shuffles is None:
        shuffles = 2 if getattr(args, "compose", False) else 4
    gap = _gap(args.gap if args.gap is not None else "3,10")
    clips = args.event_clips if args.event_clips is not None else 2
    return {"shuffles": shuffles, "gap_s": gap, "max_event_clips": clips}


def _compose_for_windows(args: argparse.Namespace, seed: int, console: Any) -> tuple[Any, Any]:
    """``train --compose``: the labelled clips composed into ``OUT.composed`` (grouped folds,
    :func:`_composition`), and the window options to train on them."""
    from pathlib import Path

    from ..localize import compose_store
    from ..training import WindowOptions

    out = Path(args.out)
    composed = out.with_name(out.name + ".composed")
    if not args.overwrite and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: exists and is not empty (--overwrite replaces it)")
    if composed.exists() and (not composed.is_dir() or any(composed.iterdir())):
        if not (args.overwrite and (composed / "events.csv").is_file()):
            raise ConfigError(
                f"--compose writes the composed clips to {composed}, which exists (left by an "
                "earlier --compose run?): --overwrite replaces it, or remove it"
            )
        import shutil

        shutil.rmtree(composed)
    notes: list[str] = []
    _, videos = compose_store(
        args.store, label_options(args), composed, seed=seed, notes=notes,
        allow_missing=args.allow_missing, **_composition(args),
    )  # fmt: skip
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(
        f"{len(videos)} long videos composed of the labelled clips in {composed}; training "
        f"on {args.window:g} s windows of them",
        highlight=False,
    )
    windows = WindowOptions(composed / "events.csv", args.window, args.overlap,
                            args.min_overlap, args.drop_after_event,
                            normal_class=args.normal_class)  # fmt: skip
    return composed, windows


def _check_calibrate_timeline(args: argparse.Namespace) -> None:
    """Refuse ``--calibrate-timeline`` and ``--compose`` where they cannot run, before any
    training."""
    if getattr(args, "compose", False) and (args.annotations or args.resume):
        raise ConfigError(
            "--compose makes the window-level training data from the clip labels: drop "
            + ("--annotations (train on annotated videos without --compose)" if args.annotations
               else "--resume (a composed run is retrained, not resumed)")
        )  # fmt: skip
    if getattr(args, "calibrate_timeline", False) and args.annotations:
        raise ConfigError(
            "--calibrate-timeline composes the labelled clips; a run trained on annotated long "
            "videos is calibrated on annotated videos it did not train on: `vidscope calibrate "
            "RUN STORE --annotations EVENTS`"
        )
    if getattr(args, "compose", False):
        from ..training import WindowOptions

        # the window settings are checked before anything is composed
        WindowOptions("-", args.window, args.overlap, args.min_overlap, args.drop_after_event)
    flags = (("--shuffles", "shuffles"), ("--gap", "gap"), ("--event-clips", "event_clips"))
    given = [f for f, name in flags if getattr(args, name, None) is not None]
    if given and not (getattr(args, "compose", False) or args.calibrate_timeline):
        raise ConfigError(
            f"{', '.join(given)}: only with --compose or --calibrate-timeline (they say how "
            "the labelled clips are composed into long videos)"
        )
    if getattr(args, "compose", False) or getattr(args, "calibrate_timeline", False):
        from ..localize import check_compose_options

        composition = _composition(args)
        if composition["shuffles"] < 1:
            raise ConfigError(f"--shuffles must be >= 1, got {composition['shuffles']}")
        check_compose_options(composition["gap_s"], composition["max_event_clips"])
        _check_binary_labels(args)


def _check_binary_labels(args: argparse.Namespace) -> None:
    """``--compose`` / ``--calibrate-timeline`` compose event clips with background clips:
    refuse labels of other than two classes before any training (a cheap read of the CSV)."""
    from ..data import read_labels
    from ..features import open_store

    opts = label_options(args)
    st = open_store(args.store)
    ids = st.ids(("ok", "partial", "failed")) if opts.labels is not None else st.ids()
    ls = read_labels(
        ids, opts.labels, id_column=opts.id_column, label_column=opts.label_column,
        group_column=opts.group_column, manifest=st.manifest(),
        positive_class=opts.positive_class, split_column="",
    )  # fmt: skip
    if ls.num_classes != 2:
        flag = "--compose" if getattr(args, "compose", False) else "--calibrate-timeline"
        raise ConfigError(
            f"{flag} needs two classes (event and background); the labels have "
            f"{ls.num_classes}: {', '.join(map(str, ls.classes))}"
        )


def _calibrate_timeline(args: argparse.Namespace, run_dir: Any, seed: int, console: Any) -> None:
    """``--calibrate-timeline``: `calibrate --labels` on the trained run (failures say that
    the run itself is trained and kept)."""
    if not getattr(args, "calibrate_timeline", False):
        return
    from ..errors import VidscopeError
    from ..localize import calibrate_timeline_on_clips
    from ._calibrate import print_calibration

    console.print(
        "calibrating the timeline: fold models trained as this run was, each scoring long "
        "videos composed of the clips it left out ...",
        highlight=False,
    )
    try:
        cal = calibrate_timeline_on_clips(
            run_dir, args.store, label_options(args), seed=seed,
            allow_missing=args.allow_missing, **_composition(args),
            on_fold=lambda line: console.print(line, highlight=False),
        )  # fmt: skip
    except VidscopeError as exc:
        raise ConfigError(
            f"the run is trained and saved in {run_dir}, but --calibrate-timeline failed: {exc}"
        ) from None
    print_calibration(cal, str(run_dir), console)


def _windows(args: argparse.Namespace) -> Any:
    from ..training import WindowOptions

    if not args.annotations:
        return None
    return WindowOptions(args.annotations, args.window, args.overlap, args.min_overlap,
                         args.drop_after_event, normal_class=args.normal_class,
                         group_column=args.group_column)  # fmt: skip


def _train_auto(args: argparse.Namespace) -> int:
    """``train --head auto``: the selection table, then the chosen head's training."""
    from ..training import train_auto

    if args.preset:
        raise ConfigError("--head auto chooses the head; --preset sets one: pass only one")
    if getattr(args, "compose", False):
        raise ConfigError("--head auto with --compose: name the head (--head or --preset)")
    if args.resume:
        raise ConfigError("--resume with --head auto: resume with the head it chose (--head X)")
    cfg = train_config(args, "auto")
    console = Console(quiet=args.quiet)
    with epoch_progress(cfg.epochs, not args.quiet) as progress:
        result = train_auto(
            args.store,
            label_options(args),
            out=args.out,
            config=cfg,
            overwrite=args.overwrite,
            progress=progress,
            windows=_windows(args),
            on_start=lambda data: _say_classes(data.labels, console),
            on_select=lambda sel: _print_selection(sel, console),
        )
    print_train_result(result, console)
    _calibrate_timeline(args, result.run_dir, cfg.seed, console)
    return 0


def _print_selection(sel: dict[str, Any], console: Console) -> None:
    title = f"--head auto: {sel['inner_folds']}-fold CV on each training part"
    columns = ("split", "candidate", f"inner-CV {sel['metric']}", "folds", "s", "chosen")
    table = Table(*columns, title=title)
    for r in sel["table"]:
        value = "-" if r["mean"] is None else f"{r['mean']:.3f} ± {r['std']:.3f}"
        folds = " ".join("-" if v is None else f"{v:.2f}" for v in r["folds"])
        table.add_row(r["split"], r["candidate"], value, folds, f"{r['seconds']:.1f}",
                      "[bold]yes[/]" if r["chosen"] else "")  # fmt: skip
    console.print(table)


def _say_classes(labels: Any, console: Console) -> None:
    """Which class is the event, and why (printed before training starts)."""
    n = len(labels.ids)
    if labels.num_classes == 2:
        note = getattr(labels, "positive_note", None) or (
            f"event (positive) class: {labels.classes[1]!r} (sorts last)"
        )
        hint = "" if "--positive-class" in note else " (--positive-class to change)"
        console.print(f"{n} videos; {note}{hint}", highlight=False)
    else:
        console.print(f"{n} videos, {labels.num_classes} classes", highlight=False)
    if labels.groups is not None:
        k = len(set(labels.groups.tolist()))
        console.print(
            f"{k} source groups (the labels' group column): a group's videos stay on one side "
            "of every split",
            highlight=False,
        )


def cmd_compare(args: argparse.Namespace) -> int:
    from ..training import compare

    given = [h.strip() for h in (args.heads or "").split(",") if h.strip()]
    base = train_config(args, given[0] if given else None)
    heads = given or ([base.head] if args.preset else DEFAULT_HEADS.split(","))
    if len(heads) > 1 and "members" in base.head_options:
        raise ConfigError(
            "--head-option members (an ensemble's) would go to every --heads head; compare "
            "the ensemble on its own (--heads ensemble) and add other finished runs with --run"
        )
    check_head_options(heads, base.head_options, "--heads")
    check_preset(args, Console(quiet=args.quiet))
    rows = compare(
        args.store,
        label_options(args),
        heads=heads,
        out=args.out,
        config=base,
        progress=not args.quiet,
        runs=args.run,
        ensemble=args.ensemble,
    )
    print_leaderboard(rows, Console())
    if args.ensemble and base.threshold_from == "val" and _any_neural(heads):
        Console().print(
            "note: the ensemble's members were ranked on validation ROC-AUC, which flatters "
            "neural heads (they chose their epoch on it); --threshold-from cv ranks on "
            "cross-fitted scores instead",
            highlight=False,
        )
    return 0


def _any_neural(heads: list[str]) -> bool:
    from ..models import head_trainer

    return any(head_trainer(h) == "neural" for h in heads)


def cmd_heads(args: argparse.Namespace) -> int:
    from ..models import describe_head, head_parameters, head_trainer, list_heads

    table = Table("head", "trainer", "options (--head-option KEY=VALUE)", "description")
    for name in list_heads():
        shown = ", ".join(f"{k}={v}" for k, v in head_parameters(name).items()) or "-"
        table.add_row(name, head_trainer(name), shown, describe_head(name))
    Console().print(fold(table))
    return 0
