"""Training settings, validated with messages that name the CLI flag."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

from ..data import SplitMode
from ..errors import ConfigError

#: Optimiser settings a head may set for itself (``Head.train_defaults``) where the user gave
#: no flag, and the values used when neither did.
OPTIMISER_DEFAULTS: dict[str, Any] = {
    "batch_size": 32,
    "lr": 1e-3,
    "weight_decay": 1e-2,
    "optimizer": "adamw",
    "momentum": 0.9,
    "warmup_epochs": 2.0,
    "warmup_lr": None,
}

#: Key of a run's recorded ``train`` settings (``config.json``) listing the optimiser fields
#: the user left unset: the head filled them from its own defaults, an ensemble's every member
#: from its own, so the values recorded for them are the run level's only.
UNSET_KEY = "unset"


@dataclass
class TrainConfig:
    """How ``vidscope train`` fits a head on cached features."""

    head: str = "mlp"
    """Registered head name (``--head``); see ``vidscope heads``."""
    head_options: dict[str, Any] = field(default_factory=dict)
    """Head sizes, e.g. ``{"hidden": 256}`` (``--head-option hidden=256``)."""
    epochs: int = 60
    """Most epochs (``--epochs``); early stopping usually ends sooner."""
    batch_size: int | None = None
    """Videos per batch (``--batch-size``); ``None``: the head's default, else 32."""
    lr: float | None = None
    """Peak learning rate (``--lr``); ``None``: the head's default, else 1e-3."""
    weight_decay: float | None = None
    """Weight decay (``--weight-decay``); ``None``: the head's default, else 1e-2."""
    optimizer: Literal["adamw", "adam", "sgd"] | None = None
    """``--optimizer``; ``None``: the head's default, else ``adamw``."""
    momentum: float | None = None
    """SGD momentum (``--momentum``); ``None``: the head's default, else 0.9."""
    warmup_epochs: float | None = None
    """Warm-up length in epochs before the cosine decay (``--warmup``); ``None``: the head's
    default, else 2. The warm-up ramps linearly to ``lr``, or holds ``warmup_lr`` if set."""
    warmup_lr: float | None = None
    """Constant learning rate during warm-up (CoOp's 1e-5); ``None``: a linear ramp."""
    device: str = "auto"
    """``auto`` (a usable GPU, else the CPU), ``cpu``, ``cuda`` or ``cuda:N`` (``--device``)."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Autocast precision on the device (``--precision``); fp16 adds gradient scaling."""
    class_weight: Literal["none", "balanced"] = "none"
    """``balanced`` weights the loss by inverse class frequency (``--class-weight``)."""
    monitor: str = "auto"
    """Validation metric for early stopping and the best checkpoint (``--monitor``):
    ``auto`` = ``roc_auc`` for binary, ``f1_macro`` for multi-class; or ``loss``, ``accuracy``,
    ``f1``, ``average_precision``, ..."""
    patience: int = 15
    """Epochs without improvement before stopping (``--patience``)."""
    threshold: Literal["f1", "balanced_accuracy", "youden", "logistic", "fixed"] = (
        "balanced_accuracy"
    )
    """Binary decision threshold: chosen on validation by this metric, or 0.5 (``fixed``).
    ``balanced_accuracy`` (default) treats both classes alike, which matters because the
    positive class is only the alphabetically later one unless ``--positive-class`` says;
    ``f1`` (of the positive class) picked thresholds near 0.25 on small validation sets and
    cost 0.5-4 accuracy points on fight-surv-dev's held-out folds. ``logistic``: where a
    class-balanced logistic fit of the label on the score crosses 1/2, a smooth estimate of
    the balanced-accuracy optimum that one or two videos cannot move far (see
    :func:`vidscope.metrics.choose_threshold`)."""
    threshold_from: Literal["val", "cv"] = "val"
    """Which scores choose that threshold (``--threshold-from``): ``val`` the validation
    part's; ``cv`` cross-fitted scores of train + validation (``threshold_folds`` grouped
    folds, each scored by a model fit on the others: 4-5x the videos, K more fits; neural
    heads train K more heads for the chosen number of epochs). Two classes only."""
    threshold_folds: int = 5
    """Inner folds of ``threshold_from="cv"`` (``--threshold-folds``); fewer when there are
    fewer source groups."""
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
    mixup: float = 0.0
    """MixUp of feature sequences (``--mixup ALPHA``): each training batch's videos are mixed
    with a random partner, frame by frame, with weight ``max(l, 1 - l)``, ``l ~
    Beta(alpha, alpha)``, and so are their targets; 0 = off. Neural heads without their own
    loss only."""
    refit: bool = False
    """After the epoch and threshold are chosen on validation, fit again on train + validation
    (tree heads: the same settings; neural heads: a fresh head for the chosen number of
    epochs) and keep the threshold (``--refit``). Validation figures are then the first
    fit's; held-out figures are the refitted model's."""
    export_onnx: bool = True
    """Export neural heads to ONNX (checked against torch) so inference needs no torch."""
    tensorboard: bool = True
    """Write TensorBoard scalars under ``RUN/tensorboard`` (``--no-tensorboard`` to skip)."""
    preset: str | None = None
    """The ``--preset`` this configuration started from (see ``vidscope.training.PRESETS``);
    recorded in the run's ``config.json`` only: its settings are the other fields."""

    def __post_init__(self) -> None:
        b, lr, wd, w = self.batch_size, self.lr, self.weight_decay, self.warmup_epochs
        checks = [
            (self.epochs >= 1, f"--epochs must be >= 1, got {self.epochs}"),
            (b is None or b >= 1, f"--batch-size must be >= 1, got {b}"),
            (lr is None or lr > 0, f"--lr must be > 0, got {lr}"),
            (wd is None or wd >= 0, f"--weight-decay must be >= 0, got {wd}"),
            (
                self.optimizer in (None, "adamw", "adam", "sgd"),
                f"--optimizer must be adamw, adam or sgd, got {self.optimizer}",
            ),
            (w is None or w >= 0, f"--warmup must be >= 0, got {w}"),
            (self.patience >= 1, f"--patience must be >= 1, got {self.patience}"),
            (self.class_weight in ("none", "balanced"), "--class-weight must be none or balanced"),
            (
                self.precision in ("fp32", "bf16", "fp16"),
                f"--precision must be fp32, bf16 or fp16, got {self.precision}",
            ),
            (self.folds >= 2, f"--folds must be >= 2, got {self.folds}"),
            (self.seed >= 0, f"--seed must be >= 0, got {self.seed}"),
            (
                self.threshold_from in ("val", "cv"),
                f"--threshold-from must be val or cv, got {self.threshold_from!r}",
            ),
            (
                self.threshold_folds >= 2,
                f"--threshold-folds must be >= 2, got {self.threshold_folds}",
            ),
            (
                not (self.threshold_from == "cv" and self.threshold == "fixed"),
                "--threshold-from cv chooses the threshold on cross-fitted scores, but "
                "--threshold fixed chooses none (0.5): drop one of the two",
            ),
            (self.mixup >= 0, f"--mixup must be >= 0, got {self.mixup}"),
            (
                0 < self.val_fraction < 1,
                f"--val-fraction must be in (0, 1), got {self.val_fraction}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def resolved(self, head_defaults: dict[str, Any] | None = None) -> TrainConfig:
        """A copy with every unset optimiser field filled: the user's flag, else the head's
        ``train_defaults``, else :data:`OPTIMISER_DEFAULTS`."""
        given = {k: getattr(self, k) for k in OPTIMISER_DEFAULTS}
        fill = {**OPTIMISER_DEFAULTS, **(head_defaults or {})}
        return replace(self, **{k: fill[k] if v is None else v for k, v in given.items()})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def record(self, head_defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run's ``config.json`` ``train``: the :meth:`resolved` settings, and under
        :data:`UNSET_KEY` the optimiser fields that were unset (see :meth:`from_record`)."""
        out = self.resolved(head_defaults).to_dict()
        out[UNSET_KEY] = [k for k in OPTIMISER_DEFAULTS if getattr(self, k) is None]
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TrainConfig:
        """The settings to train again as a run was, from its recorded ``train``: keys that
        are not fields dropped, and the optimiser fields the run left unset unset again, so
        each head (an ensemble's members too) fills them from its own defaults as it did in the
        run rather than taking the run-level values. Runs written before this was recorded
        keep the recorded values."""
        known = {f.name for f in fields(cls)}
        unset = set(record.get(UNSET_KEY) or ()) & set(OPTIMISER_DEFAULTS)
        return cls(**{k: None if k in unset else v for k, v in record.items() if k in known})
