"""Curves made straight from per-frame features, without a trained run."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

SIGNALS = ("change", "norm", "dim:<k>")


def feature_signal(features: np.ndarray, signal: str) -> np.ndarray:
    """A per-frame curve ``[T]`` from features ``[T, D]``.

    Args:
        features: Per-frame features.
        signal: ``change`` = cosine distance between each frame and the one before (0 for
            the first frame): how much the picture changes, an "intensity" curve;
            ``norm`` = L2 norm of each frame's features; ``dim:<k>`` = output dimension k
            (e.g. one class logit or one motion statistic).

    Raises:
        ValueError: for an unknown signal or a dimension out of range.
    """
    f = np.asarray(features, dtype=np.float64)
    if signal == "change":
        unit = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        dist = 1.0 - np.sum(unit[1:] * unit[:-1], axis=1)
        return np.concatenate([[0.0], np.clip(dist, 0.0, 2.0)])
    if signal == "norm":
        return np.linalg.norm(f, axis=1)
    if signal.startswith("dim:"):
        try:
            k = int(signal[4:])
        except ValueError:
            raise InputError(f"--signal dim:<k> needs an integer, got {signal!r}") from None
        if not -f.shape[1] <= k < f.shape[1]:
            raise InputError(f"--signal {signal}: features have {f.shape[1]} dimensions")
        return f[:, k]
    raise InputError(f"unknown --signal {signal!r}; use one of {', '.join(SIGNALS)}")


def adaptive_threshold(values: np.ndarray, k: float = 2.0) -> float:
    """Mean + ``k`` standard deviations: a default threshold for curves with no calibration."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean() + k * v.std()) if len(v) else 0.0
