"""Features of labelled videos held in memory, and padded batches with masks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StoreError
from ..features import FeatureStore
from ..types import FeatureSequence
from ._labels import LabelError, LabelSet


@dataclass
class SequenceSet:
    """Per-video feature sequences (float32 ``[T_i, D]``) with their labels.

    Attributes:
        labels: The labels, aligned with ``features``.
        features: One ``[T_i, D]`` array per video.
        times_s: One ``[T_i]`` array of frame times per video.
        layout: ``[(part, width), ...]`` of D, from the store.
    """

    labels: LabelSet
    features: list[np.ndarray]
    times_s: list[np.ndarray]
    layout: list[tuple[str, int]]
    window: dict[str, float] | None = None
    """For window-level data: ``{"window_s": ..., "stride_s": ...}`` of the windows."""
    backbone: dict[str, Any] | None = None
    """Identity of the backbone that made the features (the store key's ``backbone``)."""

    @property
    def num_features(self) -> int:
        return int(self.features[0].shape[1])

    def padded(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``x float32 [B, T_max, D]`` (zeros where padded) and ``mask bool [B, T_max]``."""
        return pad([self.features[i] for i in idx])


def load_sequences(
    store: FeatureStore, labels: LabelSet, *, allow_missing: bool = False
) -> SequenceSet:
    """Load the features of every labelled video into memory (float32).

    Args:
        store: The feature store.
        labels: Labels whose ids are store ids (see :func:`read_labels`).
        allow_missing: Drop labelled videos whose extraction failed (with a note) instead of
            raising.

    Raises:
        LabelError: labelled videos without features (failed extraction), named.
        StoreError: videos with no samples (``[0, D]``), damaged arrays or arrays holding
            NaN/inf (named by :meth:`FeatureStore.load`), arrays of different widths.
    """
    ok = set(store.ids())
    missing = [i for i, v in enumerate(labels.ids) if v not in ok]
    if missing and not allow_missing:
        names = ", ".join(labels.ids[i] for i in missing[:5])
        raise LabelError(
            f"{len(missing)} labelled video(s) have no features in {store.root} ({names}"
            f"{' ...' if len(missing) > 5 else ''}): their extraction failed or they were not "
            "extracted; see `vidscope info`, or pass --allow-missing to train without them"
        )
    loaded = {v: store.load(v) for i, v in enumerate(labels.ids) if v in ok}
    empty = [i for i, v in enumerate(labels.ids) if v in loaded and loaded[v].num_samples == 0]
    if empty and not allow_missing:
        names = ", ".join(labels.ids[i] for i in empty[:5])
        raise StoreError(
            f"{store.root}: {len(empty)} labelled video(s) have no samples ([0, D] features: "
            f"{names}{' ...' if len(empty) > 5 else ''}); a video without samples cannot be "
            "trained or evaluated on: re-extract it, or pass --allow-missing to leave it out"
        )
    if missing or empty:
        gone = set(missing) | set(empty)
        labels = labels.subset(np.array([i for i in range(len(labels.ids)) if i not in gone]))
        if missing:
            labels.notes.append(f"{len(missing)} labelled video(s) without features were left out")
        if empty:
            labels.notes.append(f"{len(empty)} labelled video(s) with no samples were left out")
    seqs = [loaded[v] for v in labels.ids]
    widths = {s.num_features for s in seqs}
    if len(widths) > 1:
        raise StoreError(f"{store.root}: feature widths differ between videos: {sorted(widths)}")
    layout = [(str(n), int(w)) for n, w in store.meta.get("layout", [])] or [("features", 0)]
    return SequenceSet(
        labels,
        [s.features.astype(np.float32) for s in seqs],
        [s.times_s for s in seqs],
        layout,
        backbone=dict(store.meta.get("backbone") or {}),
    )


def scorable_sequences(
    store: FeatureStore, ids: list[str] | None = None
) -> tuple[list[FeatureSequence], dict[str, str]]:
    """Sequences that can be scored, and for each video that cannot, the reason in words.

    For prediction: one unusable video (failed extraction, no samples, a damaged array, NaN
    or infinite values) gets a row with no score and this reason instead of stopping the run
    or getting a made-up score.

    Args:
        store: The feature store.
        ids: Videos to load (default: every video in the manifest).

    Returns:
        ``(sequences, reasons)``: the usable sequences in ``ids`` order, and id -> reason.
    """
    sequences: list[FeatureSequence] = []
    reasons: dict[str, str] = {}
    for vid in sorted(store.rows) if ids is None else ids:
        try:
            seq = store.load(vid)
        except StoreError as exc:
            reasons[vid] = str(exc)
            continue
        if seq.num_samples == 0:
            reasons[vid] = "no samples ([0, D] features): the video gave no frames to score"
        else:
            sequences.append(seq)
    return sequences, reasons


def pad(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``[T_i, D]`` arrays into ``x [B, T_max, D]`` and ``mask [B, T_max]``."""
    t_max = max(1, max(len(s) for s in seqs))
    d = seqs[0].shape[1]
    x = np.zeros((len(seqs), t_max, d), np.float32)
    mask = np.zeros((len(seqs), t_max), bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
        mask[i, : len(s)] = True
    return x, mask


def iterate_batches(
    data: SequenceSet, idx: np.ndarray, batch_size: int, *, rng: np.random.Generator | None
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``(x, mask, y)`` numpy batches over positions ``idx``; shuffled when ``rng`` is given."""
    order = rng.permutation(idx) if rng is not None else np.asarray(idx)
    for s in range(0, len(order), batch_size):
        part = order[s : s + batch_size]
        x, mask = data.padded(part)
        yield x, mask, data.labels.y[part]
