"""vidscope: video classification and event detection on frozen per-frame features.

The public surface, loaded on first use (``import vidscope`` stays fast)::

    vidscope.extract(videos, out, ...)        -> ExtractReport   (features/)
    vidscope.open_store(path)                 -> FeatureStore
    vidscope.ExtractConfig, vidscope.SamplingSpec
    vidscope.VideoReader, vidscope.probe      (video/)
    vidscope.create_backbone, vidscope.list_backbones
    vidscope.make_collisions                  (datasets/)
    vidscope.train(store, labels, out=RUN)    -> TrainResult      (train/)
    vidscope.load_run(RUN).predict(source)    -> DataFrame
    vidscope.evaluate(RUN, store, labels), vidscope.compare(...), vidscope.TrainConfig
    vidscope.timeline(RUN, videos, out=OUT)  -> [Timeline]       (localize/)
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "extract": "vidscope.features",
    "open_store": "vidscope.features",
    "ExtractConfig": "vidscope.features",
    "FeatureStore": "vidscope.features",
    "FeatureSequence": "vidscope.features",
    "SamplingSpec": "vidscope.video",
    "VideoReader": "vidscope.video",
    "probe": "vidscope.video",
    "create_backbone": "vidscope.backbones",
    "list_backbones": "vidscope.backbones",
    "make_collisions": "vidscope.datasets",
    "train": "vidscope.training",
    "TrainConfig": "vidscope.training",
    "load_run": "vidscope.training",
    "evaluate": "vidscope.training",
    "compare": "vidscope.training",
    "timeline": "vidscope.localize",
}
__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vidscope' has no attribute {name!r}")
