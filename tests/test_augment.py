"""Small-data levers on feature batches: per-part standardisation, mixup, temporal crop."""

from __future__ import annotations

import numpy as np
import pytest

from vidscope.data import PartScaler, mixup, pad, temporal_crop


def batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    seqs = [rng.normal(3.0, 2.0, (n, 6)).astype(np.float32) for n in (5, 3, 4, 1)]
    seqs[0][:, 4:] *= 1000  # a wide-range part
    return pad(seqs)


def test_part_scaler_gives_each_part_the_same_total_variance():
    x, mask = batch()
    layout = [("appearance", 4), ("motion", 2)]
    scaler = PartScaler.fit(x, mask, layout)
    z = scaler.transform(x, mask)
    valid = z[mask]
    np.testing.assert_allclose(valid.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(valid[:, :4].var(axis=0).sum(), 1, rtol=1e-4)
    np.testing.assert_allclose(valid[:, 4:].var(axis=0).sum(), 1, rtol=1e-4)
    assert np.all(z[~mask] == 0)


def test_part_scaler_uses_training_statistics_only_and_checks_the_layout():
    x, mask = batch(0)
    other, other_mask = batch(1)
    scaler = PartScaler.fit(x, mask)
    shifted = scaler.transform(other + 10, other_mask)[other_mask]
    assert shifted.mean() > 1  # new data is not re-centred
    with pytest.raises(ValueError, match="does not sum"):
        PartScaler.fit(x, mask, [("a", 5)])
    with pytest.raises(ValueError, match="at least one valid frame"):
        PartScaler.fit(x, np.zeros_like(mask))


def test_mixup_mixes_frames_and_targets_with_the_same_weight():
    x, mask = batch()
    y = np.array([1, 0, 1, 0], np.float32)
    mx, mm, my = mixup(x, mask, y, np.random.default_rng(0), alpha=0.4)
    assert mx.shape == x.shape and my.shape == y.shape
    assert np.all((my >= 0) & (my <= 1)) and not np.array_equal(my, y)
    assert np.all(mm <= mask)  # only frames the sequence had
    assert np.all(mx[~mm] == 0)
    same = mixup(x, mask, y, np.random.default_rng(0), alpha=0.0)
    np.testing.assert_array_equal(same[0], x)
    with pytest.raises(ValueError, match="alpha"):
        mixup(x, mask, y, np.random.default_rng(0), alpha=-1)


def test_mixup_is_a_convex_combination_of_two_rows():
    x = np.stack([np.zeros((2, 3)), np.ones((2, 3))]).astype(np.float32)
    mask = np.ones((2, 2), bool)
    mx, _, my = mixup(x, mask, np.array([0.0, 1.0]), np.random.default_rng(3), alpha=1.0)
    for i in range(2):  # frame value equals the target: both mixed with the same lam
        np.testing.assert_allclose(mx[i], my[i], rtol=1e-6)


def test_temporal_crop_keeps_a_contiguous_run_moved_to_the_front():
    seq = np.arange(10, dtype=np.float32)[:, None].repeat(2, axis=1)  # frame i holds i
    x, mask = pad([seq, seq[:4]])
    rng = np.random.default_rng(0)
    for _ in range(20):
        cx, cm = temporal_crop(x, mask, rng, min_fraction=0.5)
        for i, n in enumerate(mask.sum(1)):
            k = int(cm[i].sum())
            assert int(np.ceil(0.5 * n)) <= k <= n and cm[i, :k].all()
            run = cx[i, :k, 0]
            np.testing.assert_array_equal(np.diff(run), 1)  # contiguous, in order
            assert run[0] >= 0 and run[-1] < n
            assert np.all(cx[i, k:] == 0)
    same, same_mask = temporal_crop(x, mask, rng, min_fraction=1.0)
    np.testing.assert_array_equal(same, x)
    np.testing.assert_array_equal(same_mask, mask)


def test_temporal_jitter_adds_noise_to_kept_frames_only():
    x, mask = batch()
    cx, cm = temporal_crop(x, mask, np.random.default_rng(0), min_fraction=1.0, jitter=0.1)
    assert not np.allclose(cx[cm], x[mask]) and np.all(cx[~cm] == 0)
    with pytest.raises(ValueError, match="min_fraction"):
        temporal_crop(x, mask, np.random.default_rng(0), min_fraction=0)
