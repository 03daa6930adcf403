"""Labels, event annotations, splits, windows and padded batches of cached features.

Raw-clip loading for end-to-end models (``ClipSet``, ``clip_loader``, ...) loads on first use,
so reading features never imports the video decoder.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._annotations import (
    merge_segments,
    parse_time,
    read_annotation_groups,
    read_annotations,
)
from ._augment import PartScaler, mixup, temporal_crop
from ._labels import LabelError, LabelSet, read_labels
from ._sequences import SequenceSet, iterate_batches, load_sequences, pad, scorable_sequences
from ._splits import Split, SplitMode, make_splits
from ._windows import (
    drop_after_first_event,
    frames_in_windows,
    label_windows,
    window_bounds,
    window_sequences,
)

__all__ = [
    "ClipSampling",
    "ClipSet",
    "LabelError",
    "LabelSet",
    "PartScaler",
    "SequenceSet",
    "Split",
    "SplitMode",
    "clip_loader",
    "clip_times",
    "drop_after_first_event",
    "frames_in_windows",
    "iterate_batches",
    "label_windows",
    "load_clips",
    "load_sequences",
    "make_splits",
    "merge_segments",
    "mixup",
    "pad",
    "parse_time",
    "read_annotation_groups",
    "read_annotations",
    "read_clip",
    "read_labels",
    "scorable_sequences",
    "temporal_crop",
    "window_bounds",
    "window_sequences",
]

if TYPE_CHECKING:
    from ._clips import ClipSampling, ClipSet, clip_loader, clip_times, load_clips, read_clip

_LAZY = {
    n: "._clips"
    for n in ("ClipSampling", "ClipSet", "clip_loader", "clip_times", "load_clips", "read_clip")
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
