"""The epochs of the ``videomae`` trainer: MixUp, gradient accumulation, device precision,
validation over evaluation clips, checkpoints and exact resume."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..data import ClipSet, Split, clip_loader
from ._callbacks import FitContext, call
from ._checkpoint import load_checkpoint, save_checkpoint, save_weights
from ._config import TrainConfig
from ._device import DevicePlan, optimiser_step
from ._scores import epoch_metrics, scores_from_logits
from ._trainer import FitResult

if TYPE_CHECKING:
    from ._finetune import FinetuneOptions

WEIGHTS_FILE = "model.safetensors"


def mixup(
    x: torch.Tensor, target: torch.Tensor, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor, float, torch.Tensor]:
    """MixUp of a batch: ``lam * a + (1 - lam) * b`` for clips and targets alike.

    Args:
        x: Clips ``[B, T, H, W, 3]`` (uint8 or float); mixed as float 0-255.
        target: ``[B, C]`` class probabilities (one-hot), or ``[B, 1]`` positive-class
            probability for two classes.
        alpha: ``lam`` is drawn from Beta(alpha, alpha).
        rng: Draws ``lam`` and the partner permutation (seeded per epoch: exact resume).

    Returns:
        ``(mixed clips, mixed targets, lam, perm)``: row ``i`` mixes ``i`` with ``perm[i]``.
    """
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(x))).to(x.device)
    xf = x.float()
    mixed = lam * xf + (1.0 - lam) * xf[perm]
    return mixed, lam * target + (1.0 - lam) * target[perm], lam, perm


def predict_clips(
    model: Any,
    data: ClipSet,
    idx: np.ndarray,
    opts: FinetuneOptions,
    plan: DevicePlan,
    *,
    batch_size: int,
    loader: Any = None,
) -> np.ndarray:
    """Probabilities ``[N, C]`` (``[N, 1]`` binary) of the videos ``idx``, each the mean over
    ``opts.test_clips`` evaluation clips (``loader``: an evaluation :func:`clip_loader` of
    ``idx`` to reuse)."""
    binary = data.labels.num_classes == 2
    idx = np.asarray(idx, np.int64)
    width = 1 if binary else data.labels.num_classes
    sums = np.zeros((len(data), width))
    if not len(idx):
        return sums[:0]
    if loader is None:
        loader = _eval_loader(model, data, idx, opts, plan, batch_size, persistent=False)
    model.eval()
    with torch.inference_mode():
        for frames, pos in loader:
            with plan.autocast():
                logits = model(plan.to(frames)).float().cpu()
            probs = scores_from_logits(logits, binary)
            np.add.at(sums, pos.numpy(), probs.reshape(len(pos), width))
    return sums[idx] / opts.test_clips


def _eval_loader(
    model: Any,
    data: ClipSet,
    idx: np.ndarray,
    opts: FinetuneOptions,
    plan: DevicePlan,
    batch_size: int,
    *,
    persistent: bool,
) -> Any:
    return clip_loader(
        data,
        idx,
        opts.sampling(model, train=False),
        batch_size=batch_size,
        train=False,
        num_clips=opts.test_clips,
        workers=opts.workers,
        pin_memory=plan.is_cuda,
        persistent=persistent,
    )


class FinetuneLoop:
    """One split's epochs: optimiser, schedule, scaler, checkpoints, callbacks."""

    def __init__(
        self,
        model: Any,
        data: ClipSet,
        split: Split,
        cfg: TrainConfig,
        out: Path,
        plan: DevicePlan,
    ) -> None:
        self.model, self.data, self.split, self.cfg, self.out, self.plan = (
            model,
            data,
            split,
            cfg,
            out,
            plan,
        )
        self.opts: FinetuneOptions = model.finetune
        self.binary = data.labels.num_classes == 2
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        batches = math.ceil(len(split.train) / cfg.batch_size)
        self.steps_per_epoch = math.ceil(batches / self.opts.grad_accum)
        self.schedule = _schedule(self.optimizer, cfg, self.steps_per_epoch)
        self.scaler = plan.scaler()
        self.loss_fn = _loss(data, split, cfg, self.binary, plan)
        self.monitor = _metric_name(cfg, self.binary)
        self.train_loader = clip_loader(  # workers persist; the sampler redraws per epoch
            data,
            split.train,
            self.opts.sampling(model, train=True),
            batch_size=cfg.batch_size,
            train=True,
            seed=cfg.seed,
            workers=self.opts.workers,
            pin_memory=plan.is_cuda,
            persistent=True,
        )
        self.val_loader = (
            _eval_loader(model, data, split.val, self.opts, plan, cfg.batch_size, persistent=True)
            if len(split.val)
            else None
        )

    def run(self, *, resume: bool, callbacks: list[Any]) -> FitResult:
        out, model = self.out, self.model
        ctx = FitContext(
            out=out, model=model, monitor=self.monitor, higher_is_better=self.monitor != "loss"
        )
        last = out / "checkpoints" / "last"
        if resume and last.with_suffix(".json").exists():
            ctx.state = load_checkpoint(last, model, self.optimizer)
            self.schedule.load_state_dict(ctx.state.pop("scheduler"))
            self.scaler.load_state_dict(ctx.state.pop("scaler") or {})
        ctx.save_best = lambda: save_weights(model, out / WEIGHTS_FILE)
        ctx.save_last = lambda state: save_checkpoint(
            last,
            model,
            self.optimizer,
            {**state, "scheduler": self.schedule.state_dict(), "scaler": self.scaler.state_dict()},
        )
        call(callbacks, "on_fit_start", ctx)
        start = time.monotonic()
        for epoch in range(ctx.state["epoch"], self.cfg.epochs):
            if ctx.stop:
                break
            row = {"epoch": epoch, **self.train_epoch(epoch), **self.validate()}
            call(callbacks, "on_epoch_end", ctx, row)
        call(callbacks, "on_fit_end", ctx)
        self.train_loader = self.val_loader = None  # ends the persistent decode workers
        if not (out / WEIGHTS_FILE).exists():  # a resumed run that had already finished
            save_weights(model, out / WEIGHTS_FILE)
        return FitResult(
            best_epoch=ctx.state["best_epoch"],
            best_value=float(ctx.state["best"]) if ctx.state["best"] is not None else math.nan,
            epochs_run=ctx.state["epoch"],
            history=ctx.state["history"],
            seconds=time.monotonic() - start,
        )

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training clips; the row's ``loss``, ``lr``, ``clips_per_s`` and
        ``data_wait`` (share of the epoch spent waiting for decoded clips)."""
        cfg, plan, opts = self.cfg, self.plan, self.opts
        torch.manual_seed(cfg.seed * 100_003 + epoch)  # dropout: the same on a resumed run
        gen = np.random.default_rng([cfg.seed, epoch, 11])  # MixUp draws
        loader = clip_loader(
            self.data,
            self.split.train,
            opts.sampling(self.model, train=True),
            batch_size=cfg.batch_size,
            train=True,
            seed=cfg.seed,
            epoch=epoch,
            workers=opts.workers,
            pin_memory=plan.is_cuda,
        )
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        total = count = 0.0
        wait, start = 0.0, time.perf_counter()
        tick, n = start, len(loader)
        for b, (frames, pos) in enumerate(loader):
            wait += time.perf_counter() - tick
            loss = self.step_loss(frames, pos, gen)
            self.scaler.scale(loss / opts.grad_accum).backward()
            if (b + 1) % opts.grad_accum == 0 or b + 1 == n:
                if optimiser_step(plan, self.scaler, self.optimizer, self.params):
                    self.schedule.step()
                self.optimizer.zero_grad(set_to_none=True)
            total += float(loss.detach()) * len(pos)
            count += len(pos)
            tick = time.perf_counter()
        seconds = max(time.perf_counter() - start, 1e-9)
        return {
            "loss": total / max(count, 1),
            "lr": self.optimizer.param_groups[0]["lr"],
            "clips_per_s": count / seconds,
            "data_wait": wait / seconds,
        }

    def step_loss(
        self, frames: torch.Tensor, pos: torch.Tensor, gen: np.random.Generator
    ) -> torch.Tensor:
        """The training loss of one batch (MixUp applied when ``--mixup`` > 0)."""
        x = self.plan.to(frames)
        target = self.plan.to(_targets(self.data.labels.y[pos.numpy()], self.data, self.binary))
        if self.opts.mixup > 0:
            x, target, _, _ = mixup(x, target, self.opts.mixup, gen)
        with self.plan.autocast():
            logits = self.model(x)
        return self.loss_fn(logits.float(), target)

    def validate(self) -> dict[str, float]:
        """Validation loss and metrics of the current weights."""
        val = self.split.val
        probs = predict_clips(
            self.model,
            self.data,
            val,
            self.opts,
            self.plan,
            batch_size=self.cfg.batch_size,
            loader=self.val_loader,
        )
        y = self.data.labels.y[val]
        loss = _prob_loss(probs, y, self.binary)
        scores = probs[:, 0] if self.binary else probs
        metrics = epoch_metrics(self.monitor, y, scores, self.data.labels.classes, loss)
        return {"val_loss": loss, **metrics}


def _targets(y: np.ndarray, data: ClipSet, binary: bool) -> torch.Tensor:
    """Float targets: ``[B, 1]`` for two classes, one-hot ``[B, C]`` otherwise."""
    t = torch.from_numpy(np.asarray(y, np.int64))
    if binary:
        return t.float().unsqueeze(1)
    return torch.nn.functional.one_hot(t, data.labels.num_classes).float()


def _prob_loss(probs: np.ndarray, y: np.ndarray, binary: bool) -> float:
    """Cross-entropy of averaged probabilities (``[N, 1]`` binary, ``[N, C]``)."""
    if not len(y):
        return math.nan
    p = np.clip(probs, 1e-7, 1 - 1e-7)
    if binary:
        q = p[:, 0]
        return float(-np.mean(y * np.log(q) + (1 - y) * np.log(1 - q)))
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def _loss(
    data: ClipSet, split: Split, cfg: TrainConfig, binary: bool, plan: DevicePlan
) -> torch.nn.Module:
    """BCE (one logit) or cross-entropy with probability targets (MixUp-ready), optionally
    weighted by inverse class frequency (``--class-weight balanced``)."""
    counts = np.bincount(data.labels.y[split.train], minlength=data.labels.num_classes)
    counts = np.maximum(counts, 1).astype(np.float64)
    balanced = cfg.class_weight == "balanced"
    if binary:
        pos = torch.tensor([counts[0] / counts[1] if balanced else 1.0], dtype=torch.float32)
        return torch.nn.BCEWithLogitsLoss(pos_weight=pos.to(plan.device))
    weight = None
    if balanced:
        weight = torch.tensor(counts.sum() / (len(counts) * counts), dtype=torch.float32)
        weight = weight.to(plan.device)
    return torch.nn.CrossEntropyLoss(weight=weight)


def _metric_name(cfg: TrainConfig, binary: bool) -> str:
    if cfg.monitor != "auto":
        return cfg.monitor
    return "roc_auc" if binary else "f1_macro"


def _schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int) -> Any:
    """Linear warm-up over ``warmup_epochs``, then cosine decay to 0 at the last epoch."""
    warm = max(1, round((cfg.warmup_epochs or 0) * steps_per_epoch))
    total = max(warm + 1, cfg.epochs * steps_per_epoch)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / (total - warm))))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
