"""The neural training loop: AdamW/SGD, warm-up + cosine, callbacks, exact resume.

Early stopping, checkpoints, TensorBoard and progress are callbacks (:mod:`._callbacks`);
the loop only runs epochs and fills each epoch's row of metrics.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import SequenceSet, Split, iterate_batches, mixup
from ._callbacks import FitContext, call
from ._checkpoint import load_checkpoint, save_checkpoint, save_weights
from ._config import TrainConfig
from ._device import DevicePlan, device_plan, optimiser_step
from ._scores import epoch_metrics, scores_from_logits
from ._trainer import FitResult


def fit_neural(
    head: torch.nn.Module,
    data: SequenceSet,
    split: Split,
    cfg: TrainConfig,
    out: Path,
    *,
    resume: bool = False,
    callbacks: list[Any] | None = None,
) -> FitResult:
    """Train ``head`` on ``split.train``, select on ``split.val``; save to ``out``.

    ``cfg`` must be resolved (:meth:`TrainConfig.resolved`). Writes ``out/model.safetensors``
    (best epoch) and ``out/checkpoints/last.*`` every epoch, from which ``resume=True``
    continues exactly (same shuffles, dropout and optimizer state).
    """
    binary = data.labels.num_classes == 2
    plan = device_plan(cfg.device, cfg.precision)  # --device / --precision
    head.to(plan.device)
    loss_fn = _loss(data, split, cfg, binary).to(plan.device)
    scaler = plan.scaler()
    optimizer = _optimizer(head, cfg)
    steps = math.ceil(len(split.train) / cfg.batch_size)
    schedule = _schedule(optimizer, cfg, steps)
    monitor = _metric_name(cfg, binary)
    ctx = FitContext(out=out, model=head, monitor=monitor, higher_is_better=monitor != "loss")
    last = out / "checkpoints" / "last"
    if resume and last.with_suffix(".json").exists():
        ctx.state = load_checkpoint(last, head, optimizer)
        schedule.load_state_dict(ctx.state.pop("scheduler"))
        scaler.load_state_dict(ctx.state.pop("scaler", None) or {})
    ctx.save_best = lambda: save_weights(head, out / "model.safetensors")
    ctx.save_last = lambda state: save_checkpoint(
        last,
        head,
        optimizer,
        {**state, "scheduler": schedule.state_dict(), "scaler": scaler.state_dict()},
    )
    callbacks = list(callbacks or [])
    call(callbacks, "on_fit_start", ctx)
    start = time.monotonic()
    for epoch in range(ctx.state["epoch"], cfg.epochs):
        if ctx.stop:
            break
        row = _epoch(
            head, data, split, cfg, epoch, loss_fn, optimizer, schedule, binary, (plan, scaler)
        )
        call(callbacks, "on_epoch_end", ctx, row)
    call(callbacks, "on_fit_end", ctx)
    return FitResult(
        best_epoch=ctx.state["best_epoch"],
        best_value=float(ctx.state["best"]),
        epochs_run=ctx.state["epoch"],
        history=ctx.state["history"],
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
    device: tuple[DevicePlan, torch.amp.GradScaler],
) -> dict[str, float]:
    """One pass over the training videos, then the validation row."""
    plan, scaler = device
    torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout: same on a resumed run
    rng = np.random.default_rng([cfg.seed, epoch])
    head.train()
    custom = getattr(head, "training_loss", None)
    total, count, correct = 0.0, 0, 0
    for x, mask, y in iterate_batches(data, split.train, cfg.batch_size, rng=rng):
        target = _target(y, binary)
        if cfg.mixup > 0 and custom is None:
            x, mask, target = _mixed(x, mask, y, rng, cfg.mixup, data.labels.num_classes)
        xt, mt = plan.to(torch.from_numpy(x)), plan.to(torch.from_numpy(mask))
        with plan.autocast():
            if custom is not None:
                loss = custom(xt, mt, plan.to(torch.from_numpy(np.asarray(y)))).float()
                logits = None
            else:
                logits = head(xt, mt).float()
                loss = loss_fn(logits, plan.to(target))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if optimiser_step(plan, scaler, optimizer, head.parameters()):
            schedule.step()  # an fp16 step skipped for overflow does not advance the schedule
        total += loss.item() * len(y)
        count += len(y)
        if logits is not None:
            correct += int((_predicted(logits.detach().cpu(), binary) == torch.from_numpy(y)).sum())
    val_logits = predict_logits(head, data, split.val, cfg.batch_size)
    y_val = data.labels.y[split.val]
    val_loss = float(loss_fn(plan.to(val_logits), plan.to(_target(y_val, binary))))
    row = {
        "epoch": epoch,
        "loss": total / max(count, 1),
        "val_loss": val_loss,
        "lr": optimizer.param_groups[0]["lr"],
    }
    if custom is None:
        row["train_accuracy"] = correct / max(count, 1)
    else:  # the head's own loss gives no logits: score the training videos after the epoch
        train_pred = _predicted(predict_logits(head, data, split.train, cfg.batch_size), binary)
        row["train_accuracy"] = float((train_pred.numpy() == data.labels.y[split.train]).mean())
    if hasattr(head, "frame_logits"):  # frame-level accuracy (coop, ...)
        row["train_frame_accuracy"] = frame_accuracy(head, data, split.train, cfg.batch_size)
        row["val_frame_accuracy"] = frame_accuracy(head, data, split.val, cfg.batch_size)
    scores = scores_from_logits(val_logits, binary)
    row.update(
        epoch_metrics(
            _metric_name(cfg, binary), y_val, scores, data.labels.classes, val_loss, prefix="val_"
        )
    )
    return row


def predict_logits(
    head: torch.nn.Module, data: SequenceSet, idx: np.ndarray, batch_size: int
) -> torch.Tensor:
    """Logits ``[N, C]`` (float32, on the CPU) of the videos at ``idx`` (eval mode, no
    gradients, on the head's device)."""
    head.eval()
    dev = _device_of(head)
    out = []
    with torch.inference_mode():
        for x, mask, _ in iterate_batches(data, idx, max(batch_size, 64), rng=None):
            logits = head(torch.from_numpy(x).to(dev), torch.from_numpy(mask).to(dev))
            out.append(logits.float().cpu())
    return torch.cat(out) if out else torch.zeros(0, 1)


def frame_accuracy(head: Any, data: SequenceSet, idx: np.ndarray, batch_size: int) -> float:
    """Share of the valid frames at ``idx`` whose ``head.frame_logits`` name their
    sequence's class (eval mode, no gradients)."""
    binary = data.labels.num_classes == 2
    head.eval()
    dev = _device_of(head)
    hits = total = 0
    with torch.inference_mode():
        for x, mask, y in iterate_batches(data, idx, max(batch_size, 64), rng=None):
            m = torch.from_numpy(mask)
            logits = head.frame_logits(torch.from_numpy(x).to(dev), m.to(dev)).cpu()  # [B, T, C]
            pred = (logits[..., 0] > 0).long() if binary else logits.argmax(-1)  # [B, T]
            hits += int((pred == torch.from_numpy(y)[:, None])[m].sum())
            total += int(m.sum())
    return hits / max(total, 1)


def _device_of(head: torch.nn.Module) -> torch.device:
    """Where ``head``'s parameters live (the CPU for a parameter-free head)."""
    return next((p.device for p in head.parameters()), torch.device("cpu"))


def _predicted(logits: torch.Tensor, binary: bool) -> torch.Tensor:
    return (logits[:, 0] > 0).long() if binary else logits.argmax(1)


def _mixed(
    x: np.ndarray,
    mask: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    alpha: float,
    num_classes: int,
) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """MixUp of a batch (``--mixup``): mixed ``x``, ``mask`` and soft targets (binary
    ``[B, 1]`` probabilities, or ``[B, C]`` class probabilities for cross-entropy)."""
    soft = y.astype(np.float32) if num_classes == 2 else np.eye(num_classes, dtype=np.float32)[y]
    x, mask, soft = mixup(x, mask, soft, rng, alpha=alpha)
    t = torch.from_numpy(soft)
    return x, mask, t.unsqueeze(1) if num_classes == 2 else t


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
    params = [p for p in head.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    cls = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def _schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Any:
    """Warm-up (a linear ramp, or CoOp's constant ``warmup_lr``) then cosine decay to 0."""
    warm = max(1, round(cfg.warmup_epochs * steps_per_epoch))
    total = max(warm + 1, cfg.epochs * steps_per_epoch)
    hold = None if cfg.warmup_lr is None else cfg.warmup_lr / cfg.lr

    def factor(step: int) -> float:
        if step < warm:
            return hold if hold is not None else (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / (total - warm))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
