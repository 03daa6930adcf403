"""Small-data levers on padded feature batches: per-part standardisation, mixup and temporal
crop/jitter of ``[B, T, D]`` sequences.

They are plain numpy functions of a batch (``x [B, T, D]`` float32, ``mask [B, T]`` bool, True =
real frame), so a trainer can apply them between :func:`vidscope.data.iterate_batches` and the
model without knowing where the features came from. Everything random takes a
``numpy.random.Generator``, so a seeded run is repeatable.

- :class:`PartScaler`: z-scores every dimension with statistics of the *training* frames, then
  weights each layout part (e.g. 1280 appearance dims next to 10 motion dims) so that every part
  carries the same total variance: a narrow part is no longer drowned by a wide one.
- :func:`mixup`: convex combinations of two sequences and their targets (Zhang et al., 2018),
  frame by frame over the frames both have.
- :func:`temporal_crop`: a random contiguous run of each sequence's valid frames (at least
  ``min_fraction`` of them), moved to the front, plus optional Gaussian feature jitter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

#: Smallest standard deviation used when scaling (constant dims stay finite).
MIN_STD = 1e-6


@dataclass
class PartScaler:
    """Per-dimension z-scores with per-part weights, fitted on training frames only.

    Attributes:
        mean: ``[D]`` mean of the valid training frames.
        scale: ``[D]`` multiplier applied after subtracting ``mean``: ``w_part / std``, where
            ``w_part = 1 / sqrt(width of the part)``, so each part's z-scores have a total
            variance of 1 whatever its width.
        layout: ``[(part, width), ...]`` the scaler was fitted with.
    """

    mean: np.ndarray
    scale: np.ndarray
    layout: list[tuple[str, int]]

    @classmethod
    def fit(
        cls, x: np.ndarray, mask: np.ndarray, layout: list[tuple[str, int]] | None = None
    ) -> PartScaler:
        """Fit on the valid frames of a training batch ``x [B, T, D]`` with ``mask [B, T]``.

        Args:
            layout: Parts of D; None = one part.

        Raises:
            ValueError: if no frame is valid or the layout does not sum to D.
        """
        frames = np.asarray(x, np.float64)[np.asarray(mask, bool)]  # [F, D]
        if len(frames) == 0:
            raise InputError("PartScaler.fit needs at least one valid frame")
        width = frames.shape[1]
        layout = list(layout or [("features", width)])
        if sum(w for _, w in layout) != width:
            raise InputError(f"layout {layout} does not sum to the {width} feature dims")
        weight = np.concatenate([np.full(w, 1.0 / np.sqrt(w)) for _, w in layout])
        std = np.maximum(frames.std(axis=0), MIN_STD)
        return cls(frames.mean(axis=0), weight / std, layout)

    def transform(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """``float32 [B, T, D]`` scaled features; padded steps (``~mask``) are set to 0."""
        out = ((np.asarray(x, np.float64) - self.mean) * self.scale).astype(np.float32)
        if mask is not None:
            out[~np.asarray(mask, bool)] = 0.0
        return out


def mixup(
    x: np.ndarray,
    mask: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    alpha: float = 0.4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mix each sequence with a random partner of the batch.

    ``lam ~ Beta(alpha, alpha)`` per sequence, folded to ``>= 0.5`` so the first sequence
    dominates; frames are mixed position by position, and the mixed sequence keeps the frames
    both sequences have (the shorter length).

    Args:
        x: ``[B, T, D]`` features.
        mask: ``[B, T]`` valid frames.
        y: ``[B]`` or ``[B, C]`` float targets (0/1 labels or one-hot).
        rng: Random source.
        alpha: Beta parameter; 0 returns the batch unchanged.

    Returns:
        Mixed ``x`` (float32), ``mask`` and float32 soft targets ``y``.

    Raises:
        ValueError: for ``alpha < 0`` or mismatched shapes.
    """
    if alpha < 0:
        raise InputError(f"mixup alpha must be >= 0, got {alpha}")
    x, mask, y = np.asarray(x, np.float32), np.asarray(mask, bool), np.asarray(y, np.float32)
    if x.shape[:2] != mask.shape or len(y) != len(x):
        raise InputError(f"x {x.shape}, mask {mask.shape} and y {y.shape} disagree")
    if alpha == 0 or len(x) < 2:
        return x, mask, y
    lam = rng.beta(alpha, alpha, size=len(x))
    lam = np.maximum(lam, 1 - lam).astype(np.float32)  # [B]
    partner = rng.permutation(len(x))
    both = mask & mask[partner]
    both[both.sum(axis=1) == 0] = mask[both.sum(axis=1) == 0]  # no shared frame: keep own
    lx = lam[:, None, None]
    mixed = lx * x + (1 - lx) * x[partner]
    mixed[~both] = 0.0
    ly = lam.reshape(-1, *([1] * (y.ndim - 1)))
    return mixed.astype(np.float32), both, (ly * y + (1 - ly) * y[partner]).astype(np.float32)


def temporal_crop(
    x: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    *,
    min_fraction: float = 0.6,
    jitter: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """A random contiguous run of each sequence's valid frames, moved to the front.

    Args:
        x: ``[B, T, D]`` features (valid frames first, as :func:`vidscope.data.pad` makes).
        mask: ``[B, T]`` valid frames.
        rng: Random source.
        min_fraction: Shortest run kept, as a share of the sequence's valid frames (at least
            one frame); 1 keeps every frame.
        jitter: Standard deviation of Gaussian noise added to the kept frames, in units of
            each dimension's std over the batch's valid frames (0 = none).

    Returns:
        Cropped ``x`` (float32, zeros after the run) and its ``mask``.

    Raises:
        ValueError: for ``min_fraction`` outside (0, 1] or ``jitter < 0``.
    """
    if not 0 < min_fraction <= 1:
        raise InputError(f"temporal crop min_fraction must be in (0, 1], got {min_fraction}")
    if jitter < 0:
        raise InputError(f"temporal jitter must be >= 0, got {jitter}")
    x, mask = np.asarray(x, np.float32), np.asarray(mask, bool)
    out = np.zeros_like(x)
    new_mask = np.zeros_like(mask)
    for i, n in enumerate(mask.sum(axis=1)):
        if n == 0:
            continue
        keep = int(rng.integers(max(1, int(np.ceil(min_fraction * n))), n + 1))
        start = int(rng.integers(0, n - keep + 1))
        out[i, :keep] = x[i, start : start + keep]
        new_mask[i, :keep] = True
    if jitter > 0 and new_mask.any():
        std = out[new_mask].std(axis=0)  # [D]
        noise = rng.standard_normal(out.shape).astype(np.float32) * (jitter * std)
        out = np.where(new_mask[..., None], out + noise, 0.0).astype(np.float32)
    return out, new_mask
