"""Training settings, validated with messages that name the CLI flag."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from ..data import SplitMode


@dataclass
class TrainConfig:
    """How ``vidscope train`` fits a head on cached features."""

    head: str = "mlp"
    """Registered head name (``--head``); see ``vidscope heads``."""
    head_options: dict[str, Any] = field(default_factory=dict)
    """Head sizes, e.g. ``{"hidden": 256}`` (``--head-option hidden=256``)."""
    epochs: int = 60
    """Most epochs (``--epochs``); early stopping usually ends sooner."""
    batch_size: int = 32
    """Videos per batch (``--batch-size``)."""
    lr: float = 1e-3
    """Peak learning rate (``--lr``)."""
    weight_decay: float = 1e-2
    """Decoupled weight decay (``--weight-decay``)."""
    optimizer: Literal["adamw", "adam"] = "adamw"
    """``--optimizer``."""
    warmup_epochs: float = 2.0
    """Linear warm-up length in epochs before the cosine decay (``--warmup``)."""
    class_weight: Literal["none", "balanced"] = "none"
    """``balanced`` weights the loss by inverse class frequency (``--class-weight``)."""
    monitor: str = "auto"
    """Validation metric for early stopping and the best checkpoint (``--monitor``):
    ``auto`` = ``roc_auc`` for binary, ``f1_macro`` for multi-class; or ``loss``, ``accuracy``,
    ``f1``, ``average_precision``, ..."""
    patience: int = 15
    """Epochs without improvement before stopping (``--patience``)."""
    threshold: Literal["f1", "balanced_accuracy", "youden", "fixed"] = "balanced_accuracy"
    """Binary decision threshold: chosen on validation by this metric, or 0.5 (``fixed``).
    ``balanced_accuracy`` (default) treats both classes alike, which matters because the
    positive class is only the alphabetically later one unless ``--positive-class`` says;
    ``f1`` (of the positive class) picked thresholds near 0.25 on small validation sets and
    cost 0.5-4 accuracy points on fight-surv-dev's held-out folds."""
    split: SplitMode = "auto"
    """``auto``/``given``/``holdout``/``kfold`` (``--split``)."""
    val_fraction: float = 0.2
    """Validation share for a holdout split (``--val-fraction``)."""
    folds: int = 5
    """Folds for ``--split kfold`` (``--folds``)."""
    inner_val: bool = True
    """k-fold: score each held-out fold as a test part and pick the epoch and threshold on an
    inner ``val_fraction`` split of the other folds; ``False`` (``--no-inner-val``) picks them
    on the scored fold itself (faster, optimistic)."""
    seed: int = 0
    """Seed of splits, initialisation, shuffling and dropout (``--seed``)."""
    allow_missing: bool = False
    """Train without labelled videos whose extraction failed (``--allow-missing``)."""
    tensorboard: bool = True
    """Write TensorBoard scalars under ``RUN/tensorboard`` (``--no-tensorboard`` to skip)."""

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (self.batch_size >= 1, f"--batch-size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"--lr must be > 0, got {self.lr}"),
            (self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}"),
            (self.optimizer in ("adamw", "adam"), "--optimizer must be adamw or adam"),
            (self.warmup_epochs >= 0, f"--warmup must be >= 0, got {self.warmup_epochs}"),
            (self.patience >= 1, f"--patience must be >= 1, got {self.patience}"),
            (self.class_weight in ("none", "balanced"), "--class-weight must be none or balanced"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, saved in the run's ``config.json``."""
        return asdict(self)
