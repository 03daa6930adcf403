"""Labels, splits and padded batches of cached features."""

from ._labels import LabelError, LabelSet, read_labels
from ._sequences import SequenceSet, iterate_batches, load_sequences, pad
from ._splits import Split, SplitMode, make_splits

__all__ = [
    "LabelError",
    "LabelSet",
    "SequenceSet",
    "Split",
    "SplitMode",
    "iterate_batches",
    "load_sequences",
    "make_splits",
    "pad",
    "read_labels",
]
