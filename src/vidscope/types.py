"""Shared value types that cross stages: segments, timelines, feature sequences.

This module imports nothing of vidscope but its errors, so every stage can use these types without
importing a later stage (``../shared/ARCHITECTURE.md``: types sit at the bottom).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError


@dataclass
class FeatureSequence:
    """Per-frame features of one video.

    Attributes:
        video_id: Store id (path relative to the input root, no extension).
        features: ``[T, D]`` float16/float32.
        times_s: ``float64 [T]`` presentation time of each feature's frame in seconds
            (frame index when the source had no timestamps, e.g. plain ``.npy`` folders).
    """

    video_id: str
    features: np.ndarray
    times_s: np.ndarray

    def __post_init__(self) -> None:
        if self.features.ndim != 2:
            raise InputError(f"{self.video_id}: features must be [T, D], got {self.features.shape}")
        self.times_s = np.asarray(self.times_s, dtype=np.float64)
        if self.times_s.shape != (self.features.shape[0],):
            raise InputError(
                f"{self.video_id}: {self.features.shape[0]} feature rows but "
                f"{self.times_s.shape} timestamps"
            )

    @property
    def num_samples(self) -> int:
        """T."""
        return int(self.features.shape[0])

    @property
    def num_features(self) -> int:
        """D."""
        return int(self.features.shape[1])


@dataclass(frozen=True)
class Segment:
    """An event interval on a video's timeline.

    Attributes:
        start_s: Start in seconds from the first frame (>= 0).
        end_s: End in seconds (> start_s).
        label: Event class name.
        score: Confidence (peak or mean curve value inside the segment); NaN for ground truth.
    """

    start_s: float
    end_s: float
    label: str = "event"
    score: float = math.nan

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise InputError(f"segment times must be finite, got {self.start_s}..{self.end_s}")
        if self.start_s < 0 or self.end_s <= self.start_s:
            raise InputError(
                f"segment must have 0 <= start_s < end_s, got {self.start_s}..{self.end_s}"
            )

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Timeline:
    """Scores over one video's time, the segments found in them, and (optionally) the truth.

    Attributes:
        video_id: Id of the video (store id or file stem).
        video_path: Source file, for playback in reports (``None`` if unknown).
        duration_s: Video duration in seconds.
        times_s: ``float64 [N]`` curve sample times (window centres or frame times).
        scores: ``float32 [N, C]`` score per time and class.
        classes: Names of the ``C`` score columns.
        window_s: ``float64 [N, 2]`` start/end of the window each score covers, or ``None``.
        threshold: Decision threshold drawn on plots (per class or one for all).
        segments: Detected segments.
        truth: Ground-truth segments, when annotations were given.
        curve: ``float32 [N, C]`` the curve that was thresholded into ``segments`` (the
            smoothed scores), or ``None`` when it is ``scores`` itself. Plots draw it, with the
            raw ``scores`` faint behind it.
    """

    video_id: str
    video_path: str | None
    duration_s: float
    times_s: np.ndarray
    scores: np.ndarray
    classes: list[str]
    window_s: np.ndarray | None = None
    threshold: float | None = None
    segments: list[Segment] = field(default_factory=list)
    truth: list[Segment] = field(default_factory=list)
    curve: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.times_s = np.asarray(self.times_s, dtype=np.float64)
        self.scores = np.asarray(self.scores, dtype=np.float32)
        if self.scores.ndim == 1:
            self.scores = self.scores[:, None]
        if self.curve is not None:
            self.curve = np.asarray(self.curve, dtype=np.float32).reshape(self.scores.shape)
        if self.scores.shape != (len(self.times_s), len(self.classes)):
            raise InputError(
                f"{self.video_id}: scores {self.scores.shape} do not match "
                f"{len(self.times_s)} times x {len(self.classes)} classes"
            )
