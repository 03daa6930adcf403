"""Sampling specs: which presentation times to take from a video of a given duration."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from ..errors import InputError

#: ``exact``: the frame on screen at each time; ``keyframe``: the nearest keyframe within a
#: tolerance (see :class:`VideoReader`).
SeekMode = Literal["exact", "keyframe"]

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
            raise InputError(f"sampling mode must be uniform, fps or every, got {self.mode!r}")
        if not (self.value > 0 and math.isfinite(self.value)):
            raise InputError(
                f"sampling value must be > 0 (--frames/--fps/--every), got {self.value}"
            )
        if self.mode == "uniform" and float(self.value) != int(self.value):
            raise InputError(f"--frames must be a whole number, got {self.value}")
        if self.max_frames is not None and self.max_frames < 1:
            raise InputError(f"--max-frames must be >= 1, got {self.max_frames}")

    @classmethod
    def from_flags(
        cls,
        *,
        frames: int | None = None,
        fps: float | None = None,
        every: float | None = None,
        max_frames: int | None = None,
        default_frames: int = 16,
    ) -> SamplingSpec:
        """The spec that the CLI flags ``--frames/--fps/--every/--max-frames`` ask for.

        A flag given as 0 is an error, never a default: ``--frames 0`` does not become 16, and
        ``--max-frames`` is refused where it would be ignored (with ``--frames``, or alone).

        Raises:
            ValueError: naming the flag and what to give instead.
        """
        given = [f for f, v in (("--frames", frames), ("--fps", fps), ("--every", every))
                 if v is not None]  # fmt: skip
        if len(given) > 1:
            raise InputError(f"{' and '.join(given)} exclude each other; give one of them")
        if max_frames is not None and max_frames < 1:
            raise InputError(f"--max-frames must be >= 1, got {max_frames}")
        if fps is not None:
            return cls("fps", fps, max_frames)
        if every is not None:
            return cls("every", every, max_frames)
        if max_frames is not None:
            raise InputError(
                "--max-frames caps --fps or --every; with --frames N (default 16) a video "
                "gives N samples already: use --frames instead"
            )
        if frames is not None and frames < 1:
            raise InputError(f"--frames must be >= 1, got {frames}")
        return cls("uniform", default_frames if frames is None else frames)

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
