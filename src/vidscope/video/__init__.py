"""Video probing and timestamp-true frame sampling (PyAV).

Names load on first use: sampling specs (``SamplingSpec``) need no PyAV, so code that only
reads stores and runs (``predict`` on features) never imports it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._keyframe import snap_windows
    from ._reader import VideoReader, probe
    from ._sampling import SamplingMode, SamplingSpec, SeekMode
    from ._types import IMAGE_SUFFIXES, FrameBatch, VideoInfo

_EXPORTS = {
    "IMAGE_SUFFIXES": "._types",
    "FrameBatch": "._types",
    "SamplingMode": "._sampling",
    "SamplingSpec": "._sampling",
    "SeekMode": "._sampling",
    "VideoInfo": "._types",
    "VideoReader": "._reader",
    "probe": "._reader",
    "snap_windows": "._keyframe",
}
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


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
