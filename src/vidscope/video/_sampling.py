"""Sampling specs: which presentation times to take from a video of a given duration."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

SamplingMode = Literal["uniform", "fps", "every"]


@dataclass(frozen=True)
class SamplingSpec:
    """Which instants of a video to sample, by presentation time.

    Attributes:
        mode: ``"uniform"`` takes ``value`` frames spread evenly over the whole video (the
            centre of each of ``value`` equal slices; flag ``--frames``); ``"fps"`` takes
            ``value`` frames per second (``--fps``); ``"every"`` takes one frame every ``value``
            seconds (``--every``). Times start at the first frame, t = 0.
        value: Frame count for ``uniform``, rate for ``fps``, period in seconds for ``every``.
        max_frames: Optional cap on samples for the rate modes (``--max-frames``): if a long
            video would give more, the rate is lowered so they spread over the whole video.
    """

    mode: SamplingMode = "uniform"
    value: float = 16
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("uniform", "fps", "every"):
            raise ValueError(f"sampling mode must be uniform, fps or every, got {self.mode!r}")
        if not (self.value > 0 and math.isfinite(self.value)):
            raise ValueError(
                f"sampling value must be > 0 (--frames/--fps/--every), got {self.value}"
            )
        if self.mode == "uniform" and float(self.value) != int(self.value):
            raise ValueError(f"--frames must be a whole number, got {self.value}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"--max-frames must be >= 1, got {self.max_frames}")

    def times(self, duration_s: float) -> np.ndarray:
        """Target times in seconds for a video lasting ``duration_s`` (``float64 [T]``, sorted)."""
        d = max(float(duration_s), 0.0)
        if self.mode == "uniform":
            n = int(self.value)
            return (np.arange(n, dtype=np.float64) + 0.5) * (d / n)
        period = 1.0 / self.value if self.mode == "fps" else float(self.value)
        n = max(1, math.ceil(d / period - 1e-9))
        if self.max_frames is not None and n > self.max_frames:
            return (np.arange(self.max_frames, dtype=np.float64) + 0.5) * (d / self.max_frames)
        return np.arange(n, dtype=np.float64) * period

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form, stored in the feature store key."""
        return asdict(self)

    def describe(self) -> str:
        """Short human text, e.g. ``"16 frames uniform"``."""
        text = {
            "uniform": f"{int(self.value)} frames uniform",
            "fps": f"{self.value:g} fps",
            "every": f"every {self.value:g} s",
        }[self.mode]
        return text + (f" (max {self.max_frames})" if self.max_frames else "")
