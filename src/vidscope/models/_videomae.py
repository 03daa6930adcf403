"""VideoMAE (Hugging Face ``transformers``) as an end-to-end video classifier on raw clips.

:func:`load_videomae` reads a user's checkpoint directory (``config.json`` + weights, as
``save_pretrained`` writes it; nothing is downloaded), puts a new classification head for the
user's classes on it and wraps it in :class:`VideoMAEClassifier`, which takes ``uint8``
frames ``[B, T, H, W, 3]`` and normalises them with the checkpoint's own processor statistics.
The number of frames must match the checkpoint's position embeddings (refused otherwise); a
different ``size`` interpolates the fixed sin-cos position table over the new patch grid.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, WeightsError
from ._registry import register_head

PROCESSOR_FILES = ("preprocessor_config.json", "video_preprocessor_config.json")
#: ``VideoMAEImageProcessor``'s defaults, used when the checkpoint ships no processor file.
DEFAULT_MEAN = (0.5, 0.5, 0.5)
DEFAULT_STD = (0.5, 0.5, 0.5)


class VideoMAEClassifier(nn.Module):
    """``VideoMAEForVideoClassification`` behind vidscope's clip interface.

    Args:
        net: The transformers model (its ``config`` already set to the input shape).
        mean, std: Per-channel normalisation of ``[0, 1]`` pixels (the checkpoint's processor).
        source_grid: ``(T', H', W')`` patch grid of the checkpoint's position table when the
            input size differs from it (the table is interpolated from it), else ``None``.

    Attributes:
        config: JSON-ready record that rebuilds this model (:func:`videomae_from_config`).
    """

    kind = "videomae"

    def __init__(
        self,
        net: nn.Module,
        *,
        mean: tuple[float, ...] = DEFAULT_MEAN,
        std: tuple[float, ...] = DEFAULT_STD,
        source_grid: tuple[int, int, int] | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, 1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 1, 3, 1, 1), persistent=False)
        self.source_grid = source_grid
        if source_grid is not None:
            _interpolate_positions(net, source_grid)
        cfg = net.config
        self.num_frames = int(cfg.num_frames)
        self.image_size = int(cfg.image_size)
        self.num_outputs = int(cfg.num_labels)
        self.config: dict[str, Any] = {
            "hf_config": cfg.to_dict(),
            "mean": list(mean),
            "std": list(std),
            "source_grid": list(source_grid) if source_grid else None,
        }

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, C]`` of clips ``frames`` ``[B, T, H, W, 3]`` (uint8, or float 0-255)."""
        x = frames.permute(0, 1, 4, 2, 3).float().div_(255.0)  # [B, T, 3, H, W]
        x = (x - self.mean) / self.std
        return self.net(pixel_values=x).logits

    def backbone_parameters(self) -> list[nn.Parameter]:
        """The pretrained encoder's parameters (everything but the classification head)."""
        return list(self.net.videomae.parameters())

    def head_parameters(self) -> list[nn.Parameter]:
        """The new head: pooled-feature norm (mean pooling) and the linear classifier."""
        ids = {id(p) for p in self.backbone_parameters()}
        return [p for p in self.net.parameters() if id(p) not in ids]

    def freeze_backbone(self) -> None:
        """Train only the head (a linear probe on VideoMAE features): the encoder gets no
        gradients and stays in eval mode (no dropout) even while the model trains."""
        for p in self.backbone_parameters():
            p.requires_grad_(False)
        self._frozen = True

    def train(self, mode: bool = True) -> VideoMAEClassifier:
        super().train(mode)
        if getattr(self, "_frozen", False):
            self.net.videomae.eval()
        return self


def load_videomae(
    weights: str | os.PathLike[str],
    *,
    num_outputs: int,
    num_frames: int | None = None,
    size: int | None = None,
    seed: int = 0,
) -> tuple[VideoMAEClassifier, list[str]]:
    """A checkpoint with a new ``num_outputs``-way head, ready to fine-tune.

    Args:
        weights: Checkpoint directory (``--weights``): ``config.json`` of a VideoMAE model
            and its weights (``model.safetensors`` or ``pytorch_model.bin``), optionally a
            ``preprocessor_config.json`` with ``image_mean``/``image_std``.
        num_outputs: 1 for two classes (one logit), else the number of classes.
        num_frames: Frames per clip (``--frames``); ``None`` = the checkpoint's.
        size: Input side in pixels (``--size``); ``None`` = the checkpoint's.
        seed: Seeds the new head.

    Returns:
        The model and notes worth showing (defaults used, interpolation).

    Raises:
        WeightsError: a missing or unreadable checkpoint, or one without VideoMAE weights.
        ConfigError: ``num_frames`` that the checkpoint's position embeddings do not cover.
    """
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    root = _checkpoint_dir(weights)
    try:
        config = VideoMAEConfig.from_pretrained(str(root), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise WeightsError(f"--weights {root}: not a VideoMAE config.json ({exc})") from None
    notes: list[str] = []
    _check_frames(config, num_frames, root)
    grid = None
    if size is not None and size != _side(config.image_size):
        grid = _grid(config)
        _check_side(config, size)
        notes.append(
            f"--size {size} differs from the checkpoint's {_side(config.image_size)}: its "
            "sin-cos position table was interpolated to the new patch grid"
        )
        config.image_size = size
    config.num_labels = num_outputs
    config.id2label = {i: str(i) for i in range(num_outputs)}
    config.label2id = {str(i): i for i in range(num_outputs)}
    try:
        with _quiet_transformers():
            net, info = VideoMAEForVideoClassification.from_pretrained(
                str(root),
                config=config,
                local_files_only=True,
                ignore_mismatched_sizes=True,
                output_loading_info=True,
            )
    except (OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(f"--weights {root}: cannot load the weights ({exc})") from None
    missing = [k for k in info.get("missing_keys", []) if k.startswith("videomae.")]
    total = sum(1 for k in net.state_dict() if k.startswith("videomae."))
    if missing and len(missing) >= total:
        raise WeightsError(f"--weights {root}: holds no VideoMAE encoder weights")
    if missing:
        notes.append(f"{len(missing)} encoder tensor(s) not in the checkpoint, left random")
    _new_head(net, seed)
    mean, std, note = processor_stats(root)
    notes += [note] if note else []
    return VideoMAEClassifier(net, mean=mean, std=std, source_grid=grid), notes


@register_head("videomae", trainer="videomae")
def videomae(
    *,
    num_features: int = 0,
    num_outputs: int,
    layout: Any = None,
    weights: str | None = None,
    frames: int | None = None,
    size: int | None = None,
    freeze_backbone: bool = False,
    clip_seconds: float | None = None,
    grad_accum: int = 1,
    mixup: float = 0.0,
    augment: bool = False,
    test_clips: int = 1,
    workers: int = 2,
    image_fps: float = 25.0,
) -> VideoMAEClassifier:
    """VideoMAE fine-tuned end to end on raw videos (``vidscope finetune``, not ``train``).

    The options after ``freeze_backbone`` are the ``videomae`` trainer's recipe (see
    ``FinetuneOptions`` in ``vidscope.training``)."""
    del num_features, layout, clip_seconds, grad_accum, mixup, augment, test_clips, workers
    del image_fps
    model, _ = load_videomae(weights, num_outputs=num_outputs, num_frames=frames, size=size)
    if freeze_backbone:
        model.freeze_backbone()
    return model


def videomae_from_config(config: dict[str, Any]) -> VideoMAEClassifier:
    """Rebuild (random weights) the model that :attr:`VideoMAEClassifier.config` describes;
    load a run's weights into it afterwards."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    hf = VideoMAEConfig.from_dict(dict(config["hf_config"]))
    net = VideoMAEForVideoClassification(hf)
    grid = config.get("source_grid")
    return VideoMAEClassifier(
        net,
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        source_grid=tuple(grid) if grid else None,
    )


def processor_stats(
    root: str | os.PathLike[str],
) -> tuple[tuple[float, ...], tuple[float, ...], str | None]:
    """``(mean, std, note)`` of the checkpoint's processor file; its defaults and a note
    saying so when the directory has none."""
    for name in PROCESSOR_FILES:
        path = Path(root) / name
        if path.is_file():
            data = json.loads(path.read_text())
            mean, std = data.get("image_mean"), data.get("image_std")
            if mean is not None and std is not None:
                return _triple(mean), _triple(std), None
    return (
        DEFAULT_MEAN,
        DEFAULT_STD,
        (
            f"{root} has no {PROCESSOR_FILES[0]}: normalising with VideoMAE's default "
            f"mean {DEFAULT_MEAN} and std {DEFAULT_STD}"
        ),
    )


class _quiet_transformers:
    """Silences transformers' load report and progress bars (notes say what matters)."""

    def __enter__(self) -> None:
        from transformers.utils import logging

        self.level = logging.get_verbosity()
        self.bars = logging.is_progress_bar_enabled()
        logging.set_verbosity_error()
        logging.disable_progress_bar()

    def __exit__(self, *exc: object) -> None:
        from transformers.utils import logging

        logging.set_verbosity(self.level)
        if self.bars:
            logging.enable_progress_bar()


def _triple(value: float | list[float]) -> tuple[float, ...]:
    values = [float(value)] * 3 if isinstance(value, (int, float)) else [float(v) for v in value]
    return tuple(values)


def _checkpoint_dir(weights: str | os.PathLike[str] | None) -> Path:
    if weights is None:
        raise WeightsError(
            "--weights DIR is required: a VideoMAE checkpoint directory (config.json + "
            "weights, as save_pretrained writes it); nothing is downloaded"
        )
    root = Path(weights)
    if not root.is_dir() or not (root / "config.json").is_file():
        raise WeightsError(
            f"--weights {root}: not a checkpoint directory (need config.json and weights, "
            "as save_pretrained writes them)"
        )
    return root


def _side(image_size: int | list[int] | tuple[int, int]) -> int:
    return int(image_size if isinstance(image_size, int) else image_size[0])


def _grid(config: Any) -> tuple[int, int, int]:
    patch = _side(config.patch_size)
    side = _side(config.image_size) // patch
    return int(config.num_frames) // int(config.tubelet_size), side, side


def _check_frames(config: Any, num_frames: int | None, root: Path) -> None:
    if num_frames is None or num_frames == int(config.num_frames):
        return
    raise ConfigError(
        f"--frames {num_frames} does not match checkpoint {root}: its position embeddings "
        f"cover {config.num_frames} frames ({config.num_frames // config.tubelet_size} "
        f"tubelets of {config.tubelet_size}); use --frames {config.num_frames}"
    )


def _check_side(config: Any, size: int) -> None:
    patch = _side(config.patch_size)
    if size % patch:
        raise ConfigError(f"--size {size} must be a multiple of the checkpoint's patch {patch}")


def _interpolate_positions(net: nn.Module, source: tuple[int, int, int]) -> None:
    """Replace the fixed sin-cos table with ``source``'s, resampled (trilinear) to the grid
    of the current ``config.image_size``."""
    from transformers.models.videomae.modeling_videomae import get_sinusoid_encoding_table

    emb = net.videomae.embeddings
    t, h, w = source
    dim = int(net.config.hidden_size)
    table = get_sinusoid_encoding_table(t * h * w, dim)  # [1, t*h*w, D]
    grid = table.reshape(1, t, h, w, dim).permute(0, 4, 1, 2, 3)  # [1, D, t, h, w]
    side = _side(net.config.image_size) // _side(net.config.patch_size)
    new = nn.functional.interpolate(grid, size=(t, side, side), mode="trilinear")
    emb.position_embeddings = new.permute(0, 2, 3, 4, 1).reshape(1, t * side * side, dim)
    assert emb.position_embeddings.shape[1] == emb.num_patches, "patch grid mismatch"


def _new_head(net: nn.Module, seed: int) -> None:
    """A fresh classifier for the user's classes, even when the checkpoint's had as many
    outputs (its classes are not the user's)."""
    gen = torch.Generator().manual_seed(seed)
    fc = net.classifier
    with torch.no_grad():
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=gen) * net.config.initializer_range)
        fc.bias.zero_()
