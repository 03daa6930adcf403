"""The neural training loop: AdamW, warm-up + cosine, early stopping, checkpoints, resume."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import SequenceSet, Split, iterate_batches
from ._checkpoint import load_checkpoint, save_checkpoint, save_weights
from ._config import TrainConfig
from ._scores import monitor_value, scores_from_logits

EpochHook = Callable[[int, dict[str, float]], None]


@dataclass
class FitResult:
    """Outcome of fitting one split: the best epoch's validation scores and the history."""

    best_epoch: int
    best_value: float
    epochs_run: int
    history: list[dict[str, float]] = field(default_factory=list)
    val_scores: np.ndarray | None = None  # [N_val] binary prob, or [N_val, C]
    seconds: float = 0.0


def fit_neural(
    head: torch.nn.Module,
    data: SequenceSet,
    split: Split,
    cfg: TrainConfig,
    out: Path,
    *,
    resume: bool = False,
    progress: Any = None,
    on_epoch_end: EpochHook | None = None,
) -> FitResult:
    """Train ``head`` on ``split.train``, select on ``split.val``; save to ``out``.

    Writes ``out/model.safetensors`` (best epoch) and ``out/checkpoints/last.*`` every epoch,
    from which ``resume=True`` continues exactly (same shuffles, dropout and optimizer state).
    """
    binary = data.labels.num_classes == 2
    loss_fn = _loss(data, split, cfg, binary)
    optimizer = _optimizer(head, cfg)
    steps = math.ceil(len(split.train) / cfg.batch_size)
    schedule = _schedule(optimizer, cfg, steps)
    state = {"epoch": 0, "best": None, "best_epoch": -1, "history": [], "bad_epochs": 0}
    last = out / "checkpoints" / "last"
    if resume and last.with_suffix(".json").exists():
        state = load_checkpoint(last, head, optimizer)
        schedule.load_state_dict(state.pop("scheduler"))
    writer = _writer(out, cfg)
    higher = cfg.monitor != "loss"
    start = time.monotonic()
    for epoch in range(state["epoch"], cfg.epochs):
        if state["bad_epochs"] >= cfg.patience:
            break
        row = _epoch(head, data, split, cfg, epoch, loss_fn, optimizer, schedule, binary)
        value = row["val_" + _metric_name(cfg, binary)]
        improved = state["best"] is None or (
            value > state["best"] if higher else value < state["best"]
        )
        if improved:
            state.update(best=value, best_epoch=epoch, bad_epochs=0)
            save_weights(head, out / "model.safetensors")
        else:
            state["bad_epochs"] += 1
        state["history"].append(row)
        state["epoch"] = epoch + 1
        save_checkpoint(last, head, optimizer, {**state, "scheduler": schedule.state_dict()})
        _log(writer, row, epoch, progress)
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
    if writer is not None:
        writer.close()
    return FitResult(
        best_epoch=state["best_epoch"],
        best_value=float(state["best"]),
        epochs_run=state["epoch"],
        history=state["history"],
        seconds=time.monotonic() - start,
    )


def _metric_name(cfg: TrainConfig, binary: bool) -> str:
    if cfg.monitor != "auto":
        return cfg.monitor
    return "roc_auc" if binary else "f1_macro"


def _epoch(
    head: torch.nn.Module,
    data: SequenceSet,
    split: Split,
    cfg: TrainConfig,
    epoch: int,
    loss_fn: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    schedule: Any,
    binary: bool,
) -> dict[str, float]:
    torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout: same on a resumed run
    rng = np.random.default_rng([cfg.seed, epoch])
    head.train()
    total, count = 0.0, 0
    for x, mask, y in iterate_batches(data, split.train, cfg.batch_size, rng=rng):
        logits = head(torch.from_numpy(x), torch.from_numpy(mask))
        loss = loss_fn(logits, _target(y, binary))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 5.0)
        optimizer.step()
        schedule.step()
        total += loss.item() * len(y)
        count += len(y)
    val_logits = predict_logits(head, data, split.val, cfg.batch_size)
    y_val = data.labels.y[split.val]
    val_loss = float(loss_fn(val_logits, _target(y_val, binary)))
    scores = scores_from_logits(val_logits, binary)
    row = {
        "epoch": epoch,
        "loss": total / max(count, 1),
        "val_loss": val_loss,
        "lr": optimizer.param_groups[0]["lr"],
    }
    row["val_" + _metric_name(cfg, binary)] = monitor_value(
        _metric_name(cfg, binary), y_val, scores, data.labels.classes, val_loss
    )
    return row


def predict_logits(
    head: torch.nn.Module, data: SequenceSet, idx: np.ndarray, batch_size: int
) -> torch.Tensor:
    """Logits ``[N, C]`` of the videos at ``idx`` (eval mode, no gradients)."""
    head.eval()
    out = []
    with torch.inference_mode():
        for x, mask, _ in iterate_batches(data, idx, max(batch_size, 64), rng=None):
            out.append(head(torch.from_numpy(x), torch.from_numpy(mask)))
    return torch.cat(out) if out else torch.zeros(0, 1)


def _target(y: np.ndarray, binary: bool) -> torch.Tensor:
    t = torch.from_numpy(np.asarray(y))
    return t.float().unsqueeze(1) if binary else t.long()


def _loss(data: SequenceSet, split: Split, cfg: TrainConfig, binary: bool) -> torch.nn.Module:
    counts = np.bincount(data.labels.y[split.train], minlength=data.labels.num_classes)
    counts = np.maximum(counts, 1).astype(np.float64)
    if binary:
        pos_weight = counts[0] / counts[1] if cfg.class_weight == "balanced" else 1.0
        return torch.nn.BCEWithLogitsLoss(
            pos_weight=torch.tensor([pos_weight], dtype=torch.float32)
        )
    weight = None
    if cfg.class_weight == "balanced":
        weight = torch.tensor(counts.sum() / (len(counts) * counts), dtype=torch.float32)
    return torch.nn.CrossEntropyLoss(weight=weight)


def _optimizer(head: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def _schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Any:
    warm = max(1, round(cfg.warmup_epochs * steps_per_epoch))
    total = max(warm + 1, cfg.epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / (total - warm))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def _writer(out: Path, cfg: TrainConfig) -> Any:
    if not cfg.tensorboard:
        return None
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=str(out / "tensorboard"))


def _log(writer: Any, row: dict[str, float], epoch: int, progress: Any) -> None:
    if writer is not None:
        for key, value in row.items():
            if key != "epoch" and value is not None and np.isfinite(value):
                writer.add_scalar(key.replace("val_", "val/"), value, epoch)
    if progress is not None:
        progress(row)
