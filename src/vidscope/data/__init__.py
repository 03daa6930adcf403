"""Labels, event annotations, splits, windows and padded batches of cached features."""

from ._annotations import merge_segments, parse_time, read_annotations
from ._labels import LabelError, LabelSet, read_labels
from ._sequences import SequenceSet, iterate_batches, load_sequences, pad
from ._splits import Split, SplitMode, make_splits
from ._windows import (
    drop_after_first_event,
    frames_in_windows,
    label_windows,
    window_bounds,
    window_sequences,
)

__all__ = [
    "LabelError",
    "LabelSet",
    "SequenceSet",
    "Split",
    "SplitMode",
    "drop_after_first_event",
    "frames_in_windows",
    "iterate_batches",
    "label_windows",
    "load_sequences",
    "make_splits",
    "merge_segments",
    "pad",
    "parse_time",
    "read_annotations",
    "read_labels",
    "window_bounds",
    "window_sequences",
]
