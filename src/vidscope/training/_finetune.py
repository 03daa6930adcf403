"""The ``videomae`` trainer: end-to-end fine-tuning of VideoMAE on raw clips.

The third trainer behind the Trainer seam: the shared code around it (splits, thresholds,
reports, ``config.json``, k-fold, ``compare``) is the same as for the feature heads. Its data
is a :class:`vidscope.data.ClipSet` (labelled video files), decoded by DataLoader worker
processes with vidscope's reader while the model trains. AdamW with warm-up + cosine,
gradient accumulation, MixUp, early stopping, best/last safetensors checkpoints and exact
``--resume`` (the same clips, shuffles, dropout, optimiser and scaler state).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import ClipSampling, ClipSet, Split, clip_loader
from ..errors import ConfigError, RunError
from ._callbacks import FitContext, call
from ._checkpoint import load_checkpoint, load_weights, save_checkpoint, save_weights
from ._config import TrainConfig
from ._device import DevicePlan, device_plan, optimiser_step
from ._scores import epoch_metrics, scores_from_logits
from ._trainer import FitResult, register_trainer

WEIGHTS_FILE = "model.safetensors"
#: What fine-tuning uses where the user gave no flag (the VideoMAE recipe's AdamW settings).
TRAIN_DEFAULTS: dict[str, Any] = {
    "lr": 5e-5,
    "weight_decay": 0.05,
    "batch_size": 8,
    "optimizer": "adamw",
    "warmup_epochs": 1.0,
}


@dataclass(frozen=True)
class FinetuneOptions:
    """The ``videomae`` recipe, given as ``TrainConfig.head_options`` (CLI flags in brackets).

    Attributes:
        weights: Checkpoint directory (``--weights``).
        frames: Frames per clip (``--frames``); ``None`` = the checkpoint's.
        size: Input side in pixels (``--size``); ``None`` = the checkpoint's.
        clip_seconds: Train on random clips of this length (``--clip-seconds``); ``None``
            spreads the frames over the whole video.
        grad_accum: Batches whose gradients add up to one optimiser step (``--grad-accum``).
        mixup: MixUp Beta(alpha, alpha) parameter (``--mixup``); 0 = off.
        augment: Random crop, scale and flip in training (``--augment``).
        freeze_backbone: Train only the head (``--freeze-backbone``).
        test_clips: Evaluation clips averaged per video (``--test-clips``).
        workers: Decoding processes (``--workers``); 0 decodes in the training process.
        image_fps: Frame rate of image-frame folders (``--image-fps``).
    """

    weights: str | None = None
    frames: int | None = None
    size: int | None = None
    clip_seconds: float | None = None
    grad_accum: int = 1
    mixup: float = 0.0
    augment: bool = False
    freeze_backbone: bool = False
    test_clips: int = 1
    workers: int = 2
    image_fps: float = 25.0

    def __post_init__(self) -> None:
        checks = [
            (self.grad_accum >= 1, f"--grad-accum must be >= 1, got {self.grad_accum}"),
            (self.mixup >= 0, f"--mixup must be >= 0 (0 = off), got {self.mixup}"),
            (self.test_clips >= 1, f"--test-clips must be >= 1, got {self.test_clips}"),
            (self.workers >= 0, f"--workers must be >= 0, got {self.workers}"),
            (self.frames is None or self.frames >= 1, f"--frames must be >= 1: {self.frames}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> FinetuneOptions:
        """From ``head_options``; unknown keys are refused, naming the known ones."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"videomae: unknown option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**{k: v for k, v in options.items() if v is not None})

    def sampling(self, model: Any, *, train: bool) -> ClipSampling:
        """How clips are cut for ``model``'s input shape, in training or evaluation."""
        return ClipSampling(
            num_frames=model.num_frames,
            size=model.image_size,
            clip_s=self.clip_seconds,
            augment=self.augment and train,
            image_fps=self.image_fps,
        )


@register_trainer("videomae")
class VideoMAETrainer:
    """Fine-tunes :class:`vidscope.models.VideoMAEClassifier` on a :class:`ClipSet`."""

    train_defaults = TRAIN_DEFAULTS

    def build(self, cfg: TrainConfig, data: ClipSet) -> Any:
        """The checkpoint with a new head for ``data``'s classes (seeded), frozen if asked."""
        from ..models import load_videomae

        opts = FinetuneOptions.from_options(cfg.head_options)
        outputs = 1 if data.labels.num_classes == 2 else data.labels.num_classes
        model, notes = load_videomae(
            opts.weights,
            num_outputs=outputs,
            num_frames=opts.frames,
            size=opts.size,
            seed=cfg.seed,
        )
        if opts.freeze_backbone:
            model.freeze_backbone()
        model.train_defaults = TRAIN_DEFAULTS
        model.finetune = opts
        model.notes = notes
        return model

    def fit(
        self,
        model: Any,
        data: ClipSet,
        split: Split,
        cfg: TrainConfig,
        out: Path,
        *,
        resume: bool,
        callbacks: list[Any],
    ) -> FitResult:
        """Train on ``split.train``, select on ``split.val``; leaves the best epoch loaded."""
        cfg = cfg.resolved(TRAIN_DEFAULTS)
        plan = device_plan(cfg.device, cfg.precision)
        model.to(plan.device)
        loop = _Loop(model, data, split, cfg, out, plan)
        fit = loop.run(resume=resume, callbacks=callbacks)
        load_weights(model, out / WEIGHTS_FILE)
        return fit

    def scores(self, model: Any, data: ClipSet, idx: np.ndarray) -> np.ndarray:
        """Probabilities (binary ``[N]``, else ``[N, C]``), averaged over ``--test-clips``."""
        opts: FinetuneOptions = model.finetune
        device = next(model.parameters()).device
        plan = DevicePlan(device, "fp32")
        probs = predict_clips(model, data, idx, opts, plan, batch_size=8)
        return probs[:, 0] if data.labels.num_classes == 2 else probs

    def save(self, model: Any, folder: Path) -> None:
        save_weights(model, folder / WEIGHTS_FILE)

    def load(self, folder: Path, spec: Any) -> Any:
        """Rebuild from ``spec.head_config`` (no checkpoint directory needed) and load."""
        from ..models import videomae_from_config

        path = folder / WEIGHTS_FILE
        if not path.is_file():
            raise RunError(f"{path}: run weights missing (was training interrupted?)")
        config = dict(spec.head_config)
        model = videomae_from_config(config)
        load_weights(model, path)
        model.finetune = FinetuneOptions.from_options(config.get("finetune") or {})
        model.eval()
        return model

    def head_config(self, model: Any, data: ClipSet) -> dict[str, Any]:
        """The model's rebuild record plus the clip recipe (frames, size, test clips)."""
        return {**model.config, "finetune": asdict(replace(model.finetune, workers=2))}

    def num_params(self, model: Any) -> int:
        return int(sum(p.numel() for p in model.parameters()))


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
) -> np.ndarray:
    """Probabilities ``[N, C]`` (``[N, 1]`` binary) of the videos ``idx``, each the mean over
    ``opts.test_clips`` evaluation clips."""
    binary = data.labels.num_classes == 2
    idx = np.asarray(idx, np.int64)
    width = 1 if binary else data.labels.num_classes
    sums = np.zeros((len(data), width))
    if not len(idx):
        return sums[:0]
    loader = clip_loader(
        data,
        idx,
        opts.sampling(model, train=False),
        batch_size=batch_size,
        train=False,
        num_clips=opts.test_clips,
        workers=opts.workers,
        pin_memory=plan.is_cuda,
    )
    model.eval()
    with torch.inference_mode():
        for frames, pos in loader:
            with plan.autocast():
                logits = model(plan.to(frames)).float().cpu()
            probs = scores_from_logits(logits, binary)
            np.add.at(sums, pos.numpy(), probs.reshape(len(pos), width))
    return sums[idx] / opts.test_clips


class _Loop:
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
            self.model, self.data, val, self.opts, self.plan, batch_size=self.cfg.batch_size
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
