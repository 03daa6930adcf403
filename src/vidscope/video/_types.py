"""Typed values that leave the video stage: probe results and decoded frame batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

#: File suffixes read as frames of an image-folder video.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class VideoInfo:
    """What probing a video found, as displayed (after rotation).

    Attributes:
        path: Source file or image folder.
        duration_s: Displayed duration in seconds (first frame shown to last frame ends).
        fps: Average frame rate (frames per second); for VFR video an average.
        num_frames: Frames the container index holds (readable packets), 0 if unknown.
        width: Displayed width in pixels (after rotation).
        height: Displayed height in pixels (after rotation).
        rotation: Counter-clockwise rotation in degrees applied to decoded frames (0/90/180/270).
        codec: Codec name (``"h264"``, ``"vp9"``, ``"image"`` for frame folders).
        pix_fmt: Source pixel format, e.g. ``"yuv420p"``.
        num_keyframes: Shown keyframes in the index (0 if unknown).
        declared_frames: Frame count the container header claims (0 if it claims none), less
            the packets its edit list discards (decoded as references, never shown).
    """

    path: str
    duration_s: float
    fps: float
    num_frames: int
    width: int
    height: int
    rotation: int
    codec: str
    pix_fmt: str
    num_keyframes: int = 0
    declared_frames: int = 0


@dataclass
class FrameBatch:
    """Decoded frames with their presentation times.

    Attributes:
        frames: ``uint8`` RGB array ``[N, H, W, 3]``, upright.
        times_s: ``float64 [N]`` presentation time of each frame, seconds from the first frame.
        indices: ``int64`` index of the requested sample each frame answers, ``[N]``.
    """

    frames: np.ndarray
    times_s: np.ndarray
    indices: np.ndarray

    def __post_init__(self) -> None:
        f = self.frames
        if f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3:
            raise InputError(f"frames must be uint8 [N, H, W, 3], got {f.dtype} {f.shape}")
        self.times_s = np.asarray(self.times_s, dtype=np.float64)
        self.indices = np.asarray(self.indices, dtype=np.int64)
        if self.times_s.shape != (len(f),) or self.indices.shape != (len(f),):
            raise InputError(
                f"times_s {self.times_s.shape} and indices {self.indices.shape} must be [{len(f)}]"
            )

    def __len__(self) -> int:
        return len(self.frames)
