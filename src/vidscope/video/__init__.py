"""Video probing and timestamp-true frame sampling (PyAV)."""

from ._reader import SeekMode, VideoReader, probe, snap_windows
from ._sampling import SamplingMode, SamplingSpec
from ._types import FrameBatch, VideoInfo

__all__ = [
    "FrameBatch",
    "SamplingMode",
    "SamplingSpec",
    "SeekMode",
    "VideoInfo",
    "VideoReader",
    "probe",
    "snap_windows",
]
