"""Training callbacks: progress, TensorBoard, early stopping, checkpoints.

A trainer's epoch loop calls, in list order, ``on_fit_start(ctx)`` once, ``on_epoch_end(ctx,
row)`` after every epoch, and ``on_fit_end(ctx)`` once; ``ctx.stop`` ends the loop.
:func:`default_callbacks` gives the standard list; users may append their own (any object
with those methods; missing ones are skipped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class FitContext:
    """What callbacks see and change while one split trains.

    Attributes:
        out: The split's output folder.
        model: The model being trained.
        monitor: Name of the validation metric in each row (``val_<monitor>``).
        higher_is_better: Whether a larger monitored value is better.
        state: ``epoch`` (next to run), ``best``, ``best_epoch``, ``bad_epochs``, ``history``;
            saved with the last checkpoint, so a resumed run continues exactly.
        improved: Set by :class:`EarlyStopping` when this epoch is the best so far.
        stop: Set to end training after this epoch.
        save_best: Writes the best model (set by the trainer).
        save_last: Writes the resumable last checkpoint with ``state`` (set by the trainer).
    """

    out: Path
    model: Any
    monitor: str
    higher_is_better: bool = True
    state: dict[str, Any] = field(
        default_factory=lambda: {
            "epoch": 0,
            "best": None,
            "best_epoch": -1,
            "bad_epochs": 0,
            "history": [],
        }
    )
    improved: bool = False
    stop: bool = False
    save_best: Callable[[], None] | None = None
    save_last: Callable[[dict[str, Any]], None] | None = None


class EarlyStopping:
    """Tracks the best monitored value; stops after ``patience`` epochs without improvement."""

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def on_fit_start(self, ctx: FitContext) -> None:
        ctx.stop = ctx.state["bad_epochs"] >= self.patience

    def on_epoch_end(self, ctx: FitContext, row: dict[str, float]) -> None:
        value = row["val_" + ctx.monitor]
        best = ctx.state["best"]
        ctx.improved = best is None or (value > best if ctx.higher_is_better else value < best)
        if ctx.improved:
            ctx.state.update(best=value, best_epoch=row["epoch"], bad_epochs=0)
        else:
            ctx.state["bad_epochs"] += 1
        ctx.state["history"].append(row)
        ctx.state["epoch"] = int(row["epoch"]) + 1
        ctx.stop = ctx.state["bad_epochs"] >= self.patience


class Checkpoint:
    """Writes the best model when the epoch improved, and the last checkpoint every epoch."""

    def on_epoch_end(self, ctx: FitContext, row: dict[str, float]) -> None:
        if ctx.improved and ctx.save_best is not None:
            ctx.save_best()
        if ctx.save_last is not None:
            ctx.save_last(ctx.state)


class TensorBoard:
    """Scalars under ``out/tensorboard``: every finite value of each epoch's row
    (``loss``, ``val/loss``, ``lr``, ``val/<metric>``, ``val/accuracy``, per-class accuracy
    ``val/accuracy_<class>``, ...)."""

    def __init__(self) -> None:
        self.writer: Any = None

    def on_fit_start(self, ctx: FitContext) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(ctx.out / "tensorboard"))

    def on_epoch_end(self, ctx: FitContext, row: dict[str, float]) -> None:
        for key, value in row.items():
            if key != "epoch" and value is not None and np.isfinite(value):
                name = key.replace("val_", "val/", 1).replace("train_", "train/", 1)
                self.writer.add_scalar(name, value, int(row["epoch"]))

    def on_fit_end(self, ctx: FitContext) -> None:
        if self.writer is not None:
            self.writer.close()


class Progress:
    """Calls ``fn(row)`` after every epoch (the CLI's progress bar)."""

    def __init__(self, fn: Callable[[dict[str, float]], None]) -> None:
        self.fn = fn

    def on_epoch_end(self, ctx: FitContext, row: dict[str, float]) -> None:
        self.fn(row)


def default_callbacks(
    cfg: Any,
    progress: Callable[[dict[str, float]], None] | None = None,
    extra: list[Any] | None = None,
) -> list[Any]:
    """Early stopping, checkpoints, TensorBoard (unless ``cfg.tensorboard`` is off), progress,
    then ``extra``."""
    out: list[Any] = [EarlyStopping(cfg.patience), Checkpoint()]
    if cfg.tensorboard:
        out.append(TensorBoard())
    if progress is not None:
        out.append(Progress(progress))
    return out + list(extra or [])


def call(callbacks: list[Any], hook: str, ctx: FitContext, *args: Any) -> None:
    """Run ``hook`` of every callback that has it, in order."""
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is not None:
            fn(ctx, *args)
