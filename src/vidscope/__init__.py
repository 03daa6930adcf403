"""vidscope: video classification and event detection on frozen per-frame features.

The public surface, loaded on first use (``import vidscope`` stays fast and imports no torch)::

    vidscope.extract(videos, out, ...)        -> ExtractReport   (features/)
    vidscope.open_store(path)                 -> FeatureStore
    vidscope.ExtractConfig, vidscope.SamplingSpec
    vidscope.VideoReader, vidscope.probe      (video/)
    vidscope.create_backbone, vidscope.list_backbones
    vidscope.make_collisions                  (datasets/)
    vidscope.train(store, labels, out=RUN)    -> TrainResult      (training/)
    vidscope.TrainConfig, vidscope.load_run(RUN).predict(source) -> DataFrame
    vidscope.evaluate(RUN, store, labels), vidscope.compare(...)
    vidscope.timeline(RUN, videos, out=OUT)  -> [Timeline]       (pipelines/)

No public name is also a subpackage name (``vidscope.training`` is the package,
``vidscope.train`` the function), so importing a subpackage never hides a function.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers and IDEs
    from .backbones import create_backbone, list_backbones
    from .datasets import make_collisions
    from .features import ExtractConfig, FeatureSequence, FeatureStore, extract, open_store
    from .pipelines import evaluate, timeline
    from .training import TrainConfig, compare, load_run, train
    from .video import SamplingSpec, VideoReader, probe

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
    "compare": "vidscope.training",
    "evaluate": "vidscope.pipelines",
    "timeline": "vidscope.pipelines",
}
__all__ = [
    "ExtractConfig",
    "FeatureSequence",
    "FeatureStore",
    "SamplingSpec",
    "TrainConfig",
    "VideoReader",
    "__version__",
    "compare",
    "create_backbone",
    "evaluate",
    "extract",
    "list_backbones",
    "load_run",
    "make_collisions",
    "open_store",
    "probe",
    "timeline",
    "train",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module 'vidscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
