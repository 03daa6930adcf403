"""The value that leaves the feature stage: one video's features with their times."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
            raise ValueError(f"{self.video_id}: features must be [T, D], got {self.features.shape}")
        self.times_s = np.asarray(self.times_s, dtype=np.float64)
        if self.times_s.shape != (self.features.shape[0],):
            raise ValueError(
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
