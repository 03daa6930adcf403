"""Per-dimension summary statistics of feature sequences and a frame PCA (numpy and scipy, which
scikit-learn brings), for the tree head."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError

#: The statistics, in output order; ``delta`` only with ``deltas=True``.
STATS = ("mean", "std", "max", "min", "delta")


def as_padded(
    x: np.ndarray | Sequence[np.ndarray], mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bring sequences into one padded array.

    Args:
        x: Padded ``[N, T, D]`` array, or a list of ``[T_i, D]`` arrays (then ``mask`` must
            be None; the mask is made from the lengths).
        mask: Bool ``[N, T]`` (True = real frame) for a padded array; None means all valid.

    Returns:
        ``x`` float ``[N, T, D]`` and ``mask`` bool ``[N, T]``.

    Raises:
        ValueError: for ragged input with a mask, wrong ranks or mismatched shapes.
    """
    if isinstance(x, (list, tuple)):
        if mask is not None:
            raise InputError("pass either a padded [N, T, D] array with a mask or a list of arrays")
        seqs = [np.asarray(s) for s in x]
        if any(s.ndim != 2 for s in seqs) or len({s.shape[1] for s in seqs}) > 1:
            raise InputError("a list of sequences must hold [T_i, D] arrays with one D")
        width = seqs[0].shape[1] if seqs else 0
        length = max((len(s) for s in seqs), default=0)
        out = np.zeros((len(seqs), length, width), dtype=np.float32)  # [N, T, D]
        mask = np.zeros((len(seqs), length), dtype=bool)  # [N, T]
        for i, s in enumerate(seqs):
            out[i, : len(s)] = s
            mask[i, : len(s)] = True
        return out, mask
    x = np.asarray(x)
    if x.ndim != 3:
        raise InputError(f"expected padded features [N, T, D], got shape {x.shape}")
    mask = np.ones(x.shape[:2], dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != x.shape[:2]:
        raise InputError(f"mask shape {mask.shape} does not match features {x.shape[:2]}")
    return x, mask


def pool_stats(
    x: np.ndarray, mask: np.ndarray | None = None, *, deltas: bool = True, chunk: int = 256
) -> np.ndarray:
    """Summarise each sequence by per-dimension statistics over its valid frames.

    Args:
        x: Features ``[N, T, D]``; padded steps may hold anything (NaN included).
        mask: Bool ``[N, T]``, True = real frame; None means all frames are real.
        deltas: Append the mean absolute difference between consecutive valid frames.
        chunk: Sequences per step (bounds the float64 working memory).

    Returns:
        float32 ``[N, 4D]`` (mean, std, max, min) or ``[N, 5D]`` (plus delta), in
        :data:`STATS` order, each block D wide. ``std`` is the population std; a sequence
        with one frame has delta 0; one without frames is all NaN (missing for XGBoost).
    """
    x, mask = as_padded(x, mask)
    blocks = [
        _pool_chunk(x[i : i + chunk], mask[i : i + chunk], deltas) for i in range(0, len(x), chunk)
    ]
    width = (5 if deltas else 4) * x.shape[2]
    return np.concatenate(blocks) if blocks else np.zeros((0, width), dtype=np.float32)


def _pool_chunk(x: np.ndarray, mask: np.ndarray, deltas: bool) -> np.ndarray:
    """:func:`pool_stats` of ``x [n, T, D]``, ``mask [n, T]`` -> ``[n, 4D or 5D]``."""
    m = mask[..., None]  # [n, T, 1]
    count = np.maximum(m.sum(1), 1)  # [n, 1]
    xz = np.where(m, x, 0.0).astype(np.float64)  # [n, T, D]
    mean = xz.sum(1) / count  # [n, D]
    var = (np.where(m, xz - mean[:, None], 0.0) ** 2).sum(1) / count  # [n, D]
    stats = [
        mean,
        np.sqrt(var),
        np.where(m, xz, -np.inf).max(1),
        np.where(m, xz, np.inf).min(1),
    ]
    if deltas:
        stats.append(_mean_abs_delta(xz, mask))
    out = np.concatenate(stats, axis=1)  # [n, kD]
    out[~mask.any(1)] = np.nan
    return out.astype(np.float32)


def _mean_abs_delta(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean ``|x[t+1] - x[t]|`` over consecutive valid frames: ``[n, T, D] -> [n, D]``."""
    order = np.argsort(~mask, axis=1, kind="stable")  # valid frames first, in order
    xs = np.take_along_axis(x, order[..., None], axis=1)  # [n, T, D]
    ms = np.take_along_axis(mask, order, axis=1)  # [n, T]
    pair = (ms[:, 1:] & ms[:, :-1])[..., None]  # [n, T-1, 1]
    diffs = np.where(pair, np.abs(np.diff(xs, axis=1)), 0.0)  # [n, T-1, D]
    return diffs.sum(1) / np.maximum(pair.sum(1), 1)


def fit_pca(
    x: np.ndarray,
    mask: np.ndarray,
    max_dims: int | None,
    *,
    max_frames: int = 10_000,
    seed: int | None = 0,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Principal axes of the valid frames, to narrow ``[T, D]`` frames before pooling.

    An eigendecomposition of the frames' scatter matrix, keeping only the top ``max_dims``
    eigenvectors (LAPACK ``syevr``), in float64.

    Args:
        x: Features ``[N, T, D]``.
        mask: Bool ``[N, T]``, True = real frame.
        max_dims: Keep this many axes; None or 0, or ``D <= max_dims``, means no reduction.
        max_frames: At most this many valid frames (drawn at random) estimate the axes.
        seed: Seed of that draw.

    Returns:
        ``(mean [D], components [k, D])`` float32, ``k = max_dims``, components in order of
        decreasing variance with a deterministic sign; or None when nothing is to be reduced
        (also when there are no valid frames).
    """
    width = x.shape[2]
    if max_dims is not None and max_dims < 0:
        raise InputError(f"max_dims must be >= 0 (0 = no PCA), got {max_dims}")
    if not max_dims or width <= max_dims:
        return None
    idx = np.flatnonzero(mask.ravel())  # positions of valid frames in [N*T]
    if not len(idx):
        return None
    if len(idx) > max_frames:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_frames, replace=False))
    frames = x.reshape(-1, width)[idx].astype(np.float32, copy=False)  # [F, D], a copy
    mean = frames.mean(0, dtype=np.float64)
    frames -= mean.astype(np.float32)
    scatter = (frames.T @ frames).astype(np.float64)  # [D, D]; float32 product: 2x faster
    # Only the top max_dims eigenvectors: 5-15x faster than a full eigh at D = 1280.
    top = [width - max_dims, width - 1]
    import scipy.linalg  # on first fit: scoring a saved head never needs SciPy

    _, vectors = scipy.linalg.eigh(scatter, subset_by_index=top, driver="evr")  # ascending
    components = vectors[:, ::-1].T  # [k, D]
    peak = np.abs(components).argmax(1)
    components *= np.sign(components[np.arange(len(components)), peak])[:, None]
    return mean.astype(np.float32), np.ascontiguousarray(components, dtype=np.float32)


def project(x: np.ndarray, pca: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Frames ``[N, T, D]`` onto the axes from :func:`fit_pca`: ``[N, T, k]`` float32.

    Returns ``x`` unchanged when ``pca`` is None. Padded steps may hold anything; they map to
    anything (NaN stays NaN), and :func:`pool_stats` ignores them.
    """
    if pca is None:
        return x
    mean, components = pca
    n, t, d = x.shape
    flat = np.asarray(x, dtype=np.float32).reshape(n * t, d)  # [N*T, D]
    out = flat @ components.T - mean @ components.T  # [N*T, k]
    return out.reshape(n, t, len(components))
