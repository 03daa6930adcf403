"""The one backbone interface: preprocessing record, output width, ``encode(frames)``.

A backbone that measures motion declares ``needs_next_frame = True``: the extractor then also
decodes, for every sampled frame, the frame shown right after it, and calls
:meth:`Backbone.encode_pairs` with both and the time between them.

A video network (a *clip backbone*) declares ``clip_frames = K``: it sees, for every sample, a
window of K frames at ``clip_fps`` around the sample's time (:func:`clip_times`), and the
extractor calls :meth:`Backbone.encode_clips`. Windows sit on a grid ``clip_stride`` frames
apart, so neighbouring samples share a window, which is encoded once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from ..errors import InputError

ResizeMode = Literal["squash", "center_crop", "keep_aspect", "short_side"]
Runtime = Literal["auto", "onnx", "torch"]


@dataclass(frozen=True)
class Preprocess:
    """How frames must be prepared for a backbone.

    Attributes:
        input_size: ``(height, width)`` the network takes.
        mean: Per-channel RGB mean on the 0–1 scale.
        std: Per-channel RGB standard deviation on the 0–1 scale.
        resize: ``"squash"`` scales the whole frame to ``input_size`` (nothing cropped away,
            aspect not kept); ``"center_crop"`` scales the short side to
            ``input_size / crop_pct`` and crops the centre; ``"keep_aspect"`` scales the long
            side to ``max(input_size)`` keeping the aspect ratio (nothing cropped; frame size
            then differs between videos, so ``encode`` must accept any size); ``"short_side"``
            scales the short side to ``min(input_size)`` keeping the aspect ratio, each side
            rounded to a multiple of ``multiple`` (nothing cropped; sizes differ between
            videos, as with ``keep_aspect``).
        crop_pct: Fraction kept by ``"center_crop"``.
        multiple: ``"short_side"``: both sides are multiples of this (a network's stride, so
            that few distinct sizes occur); 1 elsewhere.
    """

    input_size: tuple[int, int] = (224, 224)
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    resize: ResizeMode = "squash"
    crop_pct: float = 0.875
    multiple: int = 1

    def decode_size(self, width: int, height: int) -> tuple[int, int]:
        """``(width, height)`` to scale a displayed ``width x height`` frame to when decoding."""
        h, w = self.input_size
        if self.resize == "squash":
            return w, h
        if self.resize == "keep_aspect":
            scale = max(h, w) / max(width, height)
            return max(1, round(width * scale)), max(1, round(height * scale))
        if self.resize == "short_side":
            m = max(1, int(self.multiple))
            scale = min(h, w) / min(width, height)
            side = lambda n: max(m, round(n * scale / m) * m)  # noqa: E731
            return side(width), side(height)
        short = round(min(h, w) / self.crop_pct)
        scale = short / min(width, height)
        return max(w, round(width * scale)), max(h, round(height * scale))

    def crop(self, frames: np.ndarray) -> np.ndarray:
        """Centre-crop ``uint8 [N, H', W', 3]`` decoded frames to ``[N, h, w, 3]``."""
        h, w = self.input_size
        top = (frames.shape[1] - h) // 2
        left = (frames.shape[2] - w) // 2
        return frames[:, top : top + h, left : left + w]

    def prepare(self, frames: np.ndarray, width: int, height: int) -> np.ndarray:
        """Frames ready for ``encode`` from full-view frames of a ``width x height`` video.

        Args:
            frames: ``uint8 [N, H', W', 3]`` decoded frames showing the whole picture, at
                :meth:`decode_size` (returned unchanged, cropped if ``center_crop``) or at
                any other size (e.g. decoded for another part of a fused backbone), which is
                resized with OpenCV first (``INTER_AREA`` when shrinking).
            width: Displayed width of the source video (its aspect ratio is what counts).
            height: Displayed height of the source video.
        """
        frames = resize_frames(frames, self.decode_size(width, height))
        return self.crop(frames) if self.resize == "center_crop" else frames

    def fit(self, frames: np.ndarray) -> np.ndarray:
        """:meth:`prepare` for frames whose own aspect ratio is the source's."""
        return self.prepare(frames, frames.shape[2], frames.shape[1])

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (sequences as lists, as they read back from JSON); ``multiple`` only
        when it is not 1 (stores made before it keep their key)."""
        out = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        if out["multiple"] == 1:
            del out["multiple"]
        return out


class Backbone(ABC):
    """A per-frame encoder: ``uint8`` RGB frames in, ``float32 [N, D]`` features out.

    Attributes:
        name: Registry id it was created with, e.g. ``"efficientnet_lite0"``.
        num_features: Output width D.
        preprocess: How frames must be sized and normalised.
        layout: ``[(part name, width), ...]`` summing to ``num_features``; fused backbones
            list their parts so heads can find e.g. the appearance part.
        needs_next_frame: Whether features need the frame shown right after each sampled
            frame (motion); such backbones are run through :meth:`encode_pairs`.
        parts: The backbones whose features are joined (``[self]`` unless fused).
    """

    name: str
    num_features: int
    preprocess: Preprocess
    #: True for backbones that compare each frame with the one shown right after it (motion):
    #: they are run through :meth:`encode_pairs`.
    needs_next_frame: bool = False
    #: With ``needs_next_frame``: the partner frame is the first one shown at least this many
    #: seconds after the sampled frame (0 = the very next frame).
    pair_gap_s: float = 0.0
    #: Clip backbones: frames per window (0: a per-frame backbone), see :func:`clip_times`.
    clip_frames: int = 0
    #: Clip backbones: the rate the window's frames are taken at (the network's training rate).
    clip_fps: float = 25.0
    #: Clip backbones: frames between the centres of neighbouring windows on the grid.
    clip_stride: int = 1

    @property
    def parts(self) -> list[Backbone]:
        """Backbones whose features are concatenated, in layout order (``[self]`` unless fused).

        Each part has its own ``preprocess`` and ``needs_next_frame``: the extractor prepares
        frames for each part and joins their features.
        """
        return [self]

    @property
    def layout(self) -> list[tuple[str, int]]:
        return [(self.name, self.num_features)]

    @abstractmethod
    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Features of ``uint8 [N, h, w, 3]`` frames already at ``preprocess.input_size``.

        (``keep_aspect`` backbones take any size and resize themselves.)
        """

    def encode_pairs(
        self, frames: np.ndarray, next_frames: np.ndarray, dt_s: np.ndarray
    ) -> np.ndarray:
        """Features of frames given the frame shown right after each one.

        Args:
            frames: ``uint8 [N, h, w, 3]`` sampled frames, prepared as for :meth:`encode`.
            next_frames: ``uint8 [N, h, w, 3]``: for each sampled frame the next one in
                presentation order (the last frame of a video is paired with itself).
            dt_s: ``float [N]`` seconds from each frame to its next frame (0 when paired
                with itself).

        Returns:
            ``float32 [N, num_features]``. Backbones that do not need the next frame ignore
            ``next_frames`` and ``dt_s`` (the default calls :meth:`encode`).
        """
        return self.encode(frames)

    def encode_clips(self, clips: np.ndarray) -> np.ndarray:
        """Features of ``uint8 [N, K, h, w, 3]`` windows of ``clip_frames`` frames (clip
        backbones only); ``float32 [N, num_features]``."""
        raise InputError(f"the {self.name} backbone encodes single frames: call encode(frames)")

    @abstractmethod
    def identity(self) -> dict[str, object]:
        """What makes two backbones give the same features: name, weights hash, preprocessing."""

    @property
    def runtime(self) -> str:
        """Which engine runs ``encode`` (``"onnx"``, ``"torch"``, ...)."""
        return "numpy"


def check_frames(frames: np.ndarray) -> None:
    """Raise ``ValueError`` unless ``frames`` is ``uint8 [N, H, W, 3]``."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype} {frames.shape}")


def clip_times(
    times_s: np.ndarray, duration_s: float, frames: int, fps: float, stride: int
) -> np.ndarray:
    """``float64 [N, frames]``: the times of the window a clip backbone sees for each sample.

    A window is ``frames`` consecutive instants ``1 / fps`` apart, each in the middle of its
    slot (so a video at ``fps`` gives its consecutive frames). Window centres lie on a grid
    ``stride / fps`` apart that starts with the window beginning at t = 0, and end with the
    window ending at the video's end (off the grid if need be); each sample takes the centre
    nearest its time. So windows stay inside the video where it is long enough, neighbouring
    samples share windows, and a video shorter than a window repeats its last frame.

    Args:
        times_s: ``[N]`` sample times, seconds from the first frame.
        duration_s: Length of the video, seconds.
        frames: Frames per window (K >= 1).
        fps: Rate of the window's frames.
        stride: Frames between neighbouring centres on the grid (>= 1).
    """
    times = np.asarray(times_s, dtype=np.float64)
    half = frames / (2.0 * fps)
    first, last = half, max(half, float(duration_s) - half)
    step = stride / fps
    clipped = np.clip(times, first, last)
    centres = np.minimum(first + np.round((clipped - first) / step) * step, last)  # [N]
    centres = np.where(last - clipped < np.abs(clipped - centres), last, centres)  # off-grid end
    offsets = (np.arange(frames) + 0.5) / fps - half  # [K], slot middles
    end = max(float(duration_s) - 1e-6, 0.0)
    return np.clip(centres[:, None] + offsets[None, :], 0.0, end)  # [N, K]


def check_clips(clips: np.ndarray, frames: int) -> None:
    """Raise :class:`InputError` unless ``clips`` is ``uint8 [N, frames, H, W, 3]``."""
    if (
        clips.ndim != 5
        or clips.shape[1] != frames
        or clips.shape[-1] != 3
        or clips.dtype != np.uint8
    ):
        raise InputError(
            f"clips must be uint8 [N, {frames}, H, W, 3], got {clips.dtype} {clips.shape}"
        )


def check_pairs(frames: np.ndarray, next_frames: np.ndarray, dt_s: np.ndarray) -> np.ndarray:
    """``float64 [N]`` seconds between the frames of N pairs, once the pairs are checked.

    Raises:
        InputError: the frames are not ``uint8 [N, H, W, 3]`` of one shape, or ``dt_s`` is
            not ``[N]``.
    """
    check_frames(frames)
    check_frames(next_frames)
    dt = np.asarray(dt_s, dtype=np.float64)
    if next_frames.shape != frames.shape or dt.shape != (len(frames),):
        raise InputError(
            f"frames {frames.shape}, next_frames {next_frames.shape} and dt_s {dt.shape} "
            "must describe the same N pairs"
        )
    return dt


def pairs_only(name: str) -> InputError:
    """The error of ``encode`` on a backbone that measures motion between frame pairs."""
    return InputError(
        f"the {name} backbone measures motion between frame pairs: call "
        "encode_pairs(frames, next_frames, dt_s) (vidscope extract does this itself)"
    )


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``uint8 [N, H, W, C]`` frames resized to ``size`` = ``(width, height)`` with OpenCV.

    ``INTER_AREA`` when shrinking (no aliasing), ``INTER_LINEAR`` when enlarging; frames
    already at ``size`` are returned as they are.
    """
    w, h = size
    if frames.shape[1:3] == (h, w):
        return frames
    import cv2

    shrink = w <= frames.shape[2] and h <= frames.shape[1]
    mode = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out = np.empty((len(frames), h, w, *frames.shape[3:]), frames.dtype)
    for i, frame in enumerate(frames):
        out[i] = cv2.resize(frame, (w, h), interpolation=mode).reshape(out.shape[1:])
    return out
