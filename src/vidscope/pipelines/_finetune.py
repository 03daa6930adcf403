"""``finetune``: VideoMAE fine-tuned end to end on labelled raw videos, as a normal run.

The same labels, splits (holdout, given, grouped k-fold), threshold choice, reports and run
files as ``vidscope train``; the model is the ``videomae`` trainer's, the data raw clips.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from ..data import load_clips
from ..features import atomic_write_json
from ..training import (
    LabelOptions,
    RunSpec,
    TrainConfig,
    TrainResult,
    callbacks_for,
    finish_run,
    fit_split,
    get_trainer,
    prepare_run_dir,
    splits_for,
)

#: Epochs of the VideoMAE recipe (early stopping may end sooner).
DEFAULT_EPOCHS = 15


def finetune(
    videos: str | os.PathLike[str] | list[str | os.PathLike[str]],
    labels: LabelOptions | str | os.PathLike[str] | None = None,
    *,
    weights: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    frames: int | None = None,
    size: int | None = None,
    clip_seconds: float | None = None,
    grad_accum: int = 1,
    mixup: float = 0.0,
    augment: bool = False,
    freeze_backbone: bool = False,
    test_clips: int = 1,
    workers: int = 2,
    image_fps: float = 25.0,
    resume: bool = False,
    overwrite: bool = False,
    progress: Callable[[dict[str, float]], None] | None = None,
    callbacks: list[Any] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Fine-tune a local VideoMAE checkpoint on labelled videos.

    Args:
        videos: Folder (recursive; ``class/video.mp4`` layouts label themselves), ``.txt``
            list, ``.csv`` or paths.
        labels: Label CSV or :class:`LabelOptions`; ``None`` = class folders.
        weights: VideoMAE checkpoint directory (``config.json`` + weights; ``--weights``).
        out: Run directory (new or empty unless ``resume``/``overwrite``).
        config: Training settings (``epochs``, ``batch_size``, ``lr``, ``split``, ``folds``,
            ``device``, ``precision``, ...); unset optimiser fields take the recipe's
            defaults (AdamW, lr 5e-5, weight decay 0.05, batch 8), epochs default to 15.
        frames, size, clip_seconds, grad_accum, mixup, augment, freeze_backbone, test_clips,
            workers, image_fps: The recipe (see ``FinetuneOptions`` in
            :mod:`vidscope.training`): ``--frames``, ``--size``, ``--clip-seconds``, ...
        resume: Continue ``out``'s last checkpoints exactly.
        overwrite: Replace an existing run in ``out``.
        progress: Called with each epoch's row (loss, val metrics, clips/s, data wait).
        callbacks: Extra training callbacks.
        **overrides: Single :class:`TrainConfig` fields (``epochs=3``, ``device="cpu"``...).

    Returns:
        The run (``config.json`` names the ``videomae`` trainer; ``evaluate``, ``predict``
        and ``load_run`` work on it like on any run).
    """
    base = config or TrainConfig(epochs=DEFAULT_EPOCHS)
    recipe = {
        "weights": str(weights),
        "frames": frames,
        "size": size,
        "clip_seconds": clip_seconds,
        "grad_accum": grad_accum,
        "mixup": mixup,
        "augment": augment,
        "freeze_backbone": freeze_backbone,
        "test_clips": test_clips,
        "workers": workers,
        "image_fps": image_fps,
    }
    cfg = replace(base, head="videomae", head_options=recipe, **overrides)
    trainer = get_trainer("videomae")
    opts = labels if isinstance(labels, LabelOptions) else LabelOptions(labels)
    clips = load_clips(
        videos,
        opts.labels,
        allow_missing=cfg.allow_missing,
        image_fps=image_fps,
        id_column=opts.id_column,
        label_column=opts.label_column,
        split_column=opts.split_column,
        group_column=opts.group_column,
        positive_class=opts.positive_class,
    )
    splits = splits_for(clips, cfg)  # type: ignore[arg-type]  # uses .labels only
    root = prepare_run_dir(out, resume=resume, overwrite=overwrite)
    many = len(splits) > 1
    results = []
    for s in splits:
        folder = root / s.name if many else root
        cbs = callbacks_for(cfg, progress, callbacks)
        results.append(
            fit_split(clips, s, cfg, folder, resume=resume, callbacks=cbs, trainer=trainer)
        )
    model = results[0].model
    extra = {
        "videos": str(videos) if isinstance(videos, (str, os.PathLike)) else None,
        "num_frames": model.num_frames,
        "size": model.image_size,
        "clip_duration_s": float(np.median(clips.durations_s)),
        "notes": list(getattr(model, "notes", [])),
    }
    folds = [s.name for s in splits] if many else None
    result = finish_run(root, None, clips, cfg, results, folds, extra=extra)
    spec = RunSpec.read(root / "config.json")  # no store: the durations come from the clips
    spec.clip_duration_s = extra["clip_duration_s"]
    atomic_write_json(root / "config.json", spec.to_json())
    result.notes = list(clips.notes) + extra["notes"]
    return result
