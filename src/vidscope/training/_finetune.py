"""The ``videomae`` trainer: end-to-end fine-tuning of VideoMAE on raw clips.

The third trainer behind the Trainer seam: the shared code around it (splits, thresholds,
reports, ``config.json``, k-fold, ``compare``) is the same as for the feature heads. Its data
is a :class:`vidscope.data.ClipSet` (labelled video files), decoded by DataLoader worker
processes with vidscope's reader while the model trains. AdamW with warm-up + cosine,
gradient accumulation, MixUp, early stopping, best/last safetensors checkpoints and exact
``--resume`` (the same clips, shuffles, dropout, optimiser and scaler state).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import ClipSampling, ClipSet, Split
from ..errors import ConfigError, RunError
from ._checkpoint import load_weights, save_weights
from ._config import TrainConfig
from ._device import DevicePlan, device_plan
from ._finetune_loop import WEIGHTS_FILE, FinetuneLoop, mixup, predict_clips
from ._trainer import FitResult, register_trainer

__all__ = ["TRAIN_DEFAULTS", "FinetuneOptions", "VideoMAETrainer", "mixup", "predict_clips"]

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

        if not isinstance(data, ClipSet):
            raise ConfigError(
                "videomae trains on raw videos, not on features: use `vidscope finetune "
                "VIDEOS --weights DIR` (Python: vidscope.pipelines.finetune)"
            )
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
        loop = FinetuneLoop(model, data, split, cfg, out, plan)
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

    def predict_videos(self, run: Any, videos: Any) -> Any:
        """``predict`` of a run whose models read raw clips: decode, no extraction."""
        from ._finetune_score import predict_videos

        return predict_videos(run, videos)

    def window_scores(self, run: Any, path: Any, bounds_s: np.ndarray) -> np.ndarray:
        """``timeline`` of such a run: scores of one clip per window ``[N, 2]`` of a video."""
        from ._finetune_score import window_scores

        return window_scores(run, path, bounds_s)

    def evaluate_videos(
        self, run: Any, videos: Any, labels: Any, *, allow_missing: bool = False
    ) -> dict[str, Any]:
        """``evaluate`` of such a run on labelled videos (its threshold, its classes)."""
        from ._finetune_score import evaluate_videos

        return evaluate_videos(run, videos, labels, allow_missing=allow_missing)
