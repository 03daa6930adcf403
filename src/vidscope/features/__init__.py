"""Feature extraction engine and the on-disk feature store."""

from ._config import ExtractConfig
from ._extract import ExtractReport, extract
from ._inputs import VideoInput, resolve_videos
from ._store import FeatureStore, open_store
from ._types import FeatureSequence

__all__ = [
    "ExtractConfig",
    "ExtractReport",
    "FeatureSequence",
    "FeatureStore",
    "VideoInput",
    "extract",
    "open_store",
    "resolve_videos",
]
