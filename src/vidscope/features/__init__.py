"""Feature extraction engine and the on-disk feature store.

Names load on first use, so decode worker processes (which import ``features._worker``)
never import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ExtractConfig": "._config",
    "ExtractReport": "._extract",
    "extract": "._extract",
    "FeatureSequence": "._types",
    "FeatureStore": "._store",
    "StoreKey": "._key",
    "atomic_write": "._io",
    "atomic_write_json": "._io",
    "store_key": "._key",
    "open_store": "._store",
    "VideoInput": "._inputs",
    "resolve_videos": "._inputs",
    # the Engine seam: an engine is a file ``_engine_<name>.py`` registering a factory
    "Engine": "._engine",
    "EngineSetup": "._engine",
    "VideoTask": "._engine",
    "VideoStarted": "._engine",
    "FeatureChunk": "._engine",
    "VideoProgress": "._engine",
    "VideoDone": "._engine",
    "VideoFailed": "._engine",
    "engine_names": "._engine",
    "register_engine": "._engine",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
