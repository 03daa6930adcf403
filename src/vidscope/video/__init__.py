"""Video probing and timestamp-true frame sampling (PyAV)."""

from ._reader import SeekMode, VideoReader, probe
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
]
