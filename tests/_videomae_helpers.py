"""Helpers of the VideoMAE tests: a tiny random checkpoint saved as a user's would be, and
generated clips of a square moving left or right (the direction is the class)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import write_video

TINY = dict(
    image_size=32,
    patch_size=16,
    num_frames=4,
    tubelet_size=2,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
)


def save_tiny_checkpoint(folder: Path, *, num_labels: int = 5, seed: int = 0, **overrides) -> Path:
    """``save_pretrained`` of a random tiny VideoMAE classifier, with a processor file."""
    import torch
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    torch.manual_seed(seed)
    config = VideoMAEConfig(**{**TINY, **overrides}, num_labels=num_labels)
    VideoMAEForVideoClassification(config).save_pretrained(str(folder))
    (folder / "preprocessor_config.json").write_text(
        '{"image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}'
    )
    return folder


def moving_square(direction: int, *, n: int = 12, side: int = 32, seed: int = 0) -> np.ndarray:
    """``uint8 [n, side, side, 3]``: a bright square crossing a dark noisy background,
    left to right (``direction`` 1) or right to left (0), at a random height."""
    rng = np.random.default_rng(seed)
    sq = side // 4
    y0 = int(rng.integers(0, side - sq))
    bg = rng.integers(0, 60, (side, side, 3), dtype=np.uint8)
    xs = np.linspace(0, side - sq, n).round().astype(int)
    if direction == 0:
        xs = xs[::-1]
    frames = np.repeat(bg[None], n, axis=0)
    for i, x in enumerate(xs):
        frames[i, y0 : y0 + sq, x : x + sq] = 230
    return frames


def make_direction_clips(root: Path, n_per_class: int = 8, *, fps: int = 12) -> Path:
    """Class folders ``root/left`` and ``root/right`` of 1-second H.264 clips."""
    for label, direction in (("left", 0), ("right", 1)):
        for k in range(n_per_class):
            frames = moving_square(direction, seed=100 * direction + k)
            write_video(root / label / f"{label}{k:02d}.mp4", frames, fps=fps, gop=fps)
    return root
