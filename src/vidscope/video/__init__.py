"""Video probing and timestamp-true frame sampling (PyAV)."""

from ._imagedir import IMAGE_SUFFIXES
from ._reader import SeekMode, VideoReader, probe, snap_windows
from ._sampling import SamplingMode, SamplingSpec
from ._types import FrameBatch, VideoInfo

__all__ = [
    "IMAGE_SUFFIXES",
    "FrameBatch",
    "SamplingMode",
    "SamplingSpec",
    "SeekMode",
    "VideoInfo",
    "VideoReader",
    "probe",
    "snap_windows",
]
