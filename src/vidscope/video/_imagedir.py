"""A folder of still frames (``seq_00001/00001.jpg ...``) read as one video."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError, VideoError
from ._types import IMAGE_SUFFIXES, VideoInfo


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """Image files directly inside ``folder``, in natural (numeric-aware) name order."""
    files = [p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: (len(p.stem), p.stem))


class ImageFolder:
    """Frames of an image folder at a fixed, user-given frame rate.

    Frame ``i`` is shown from ``i / fps`` seconds; the folder's duration is ``n / fps``.
    """

    def __init__(self, folder: str | os.PathLike[str], fps: float) -> None:
        if fps <= 0:
            raise InputError(f"--image-fps must be > 0, got {fps}")
        self.folder = Path(folder)
        self.files = list_images(self.folder)
        if not self.files:
            raise VideoError(self.folder, "folder holds no image frames (.jpg/.png/...)")
        first = self._load(0)
        self.fps = float(fps)
        n = len(self.files)
        self.info = VideoInfo(
            path=str(self.folder),
            duration_s=n / self.fps,
            fps=self.fps,
            num_frames=n,
            width=first.width,
            height=first.height,
            rotation=0,
            codec="image",
            pix_fmt=first.mode,
            num_keyframes=n,
            declared_frames=n,
        )
        self.errors = 0

    def _load(self, i: int) -> Image.Image:
        try:
            with Image.open(self.files[i]) as im:
                im.load()
                return im
        except (OSError, UnidentifiedImageError) as exc:
            raise VideoError(self.files[i], f"unreadable image frame ({exc})") from None

    def frame(self, i: int, size: tuple[int, int] | None) -> np.ndarray:
        """Frame ``i`` as upright RGB ``uint8 [H, W, 3]``, resized to ``size`` (w, h) if given."""
        im = self._load(i).convert("RGB")
        if size is not None and im.size != tuple(size):
            im = im.resize(tuple(size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return np.asarray(im)

    def shown_at(self, times_s: np.ndarray) -> np.ndarray:
        """Index of the frame on screen at each time."""
        i = np.floor(np.asarray(times_s) * self.fps + 1e-9).astype(np.int64)
        return np.clip(i, 0, len(self.files) - 1)
