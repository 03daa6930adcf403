"""Curve -> segments post-processing and feature signals."""

from __future__ import annotations

import numpy as np
import pytest

from vidscope.localize import Segment
from vidscope.localize._postprocess import (
    SegmentConfig,
    curve_to_segments,
    merge_close,
    nms,
    smooth_curve,
)
from vidscope.localize._signals import adaptive_threshold, feature_signal

PLAIN = SegmentConfig(smooth="none", hysteresis=0.0, min_duration_s=0.0, merge_gap_s=0.0)


def test_threshold_cells_are_half_way_between_samples():
    t = np.arange(10) + 0.5  # samples at 0.5, 1.5, ... 9.5 s: each covers one second
    v = np.array([0, 0, 1, 1, 1, 0, 0, 0, 1, 0], float)
    segs = curve_to_segments(t, v, threshold=0.5, config=PLAIN, duration_s=10)
    assert [(s.start_s, s.end_s) for s in segs] == [(2.0, 5.0), (8.0, 9.0)]
    assert all(s.score == 1.0 and s.label == "event" for s in segs)


def test_hysteresis_keeps_an_event_through_a_dip():
    t = np.arange(8, dtype=float)
    v = np.array([0, 0.9, 0.6, 0.75, 0.9, 0.2, 0, 0])
    plain = curve_to_segments(t, v, threshold=0.8, config=PLAIN)
    assert len(plain) == 2
    hyst = SegmentConfig(smooth="none", hysteresis=0.3, min_duration_s=0, merge_gap_s=0)
    (one,) = curve_to_segments(t, v, threshold=0.8, config=hyst)
    assert (one.start_s, one.end_s) == (0.5, 4.5)


def test_min_duration_and_merge_gap():
    t = np.arange(20, dtype=float)
    v = np.zeros(20)
    v[[2, 3, 6, 12]] = 1.0  # events of 2 s and 1 s, gap of 2 s, and an isolated 1 s blip
    merged = SegmentConfig(smooth="none", hysteresis=0, merge_gap_s=2.5, min_duration_s=1.5)
    segs = curve_to_segments(t, v, threshold=0.5, config=merged)
    assert [(s.start_s, s.end_s) for s in segs] == [(1.5, 6.5)]


def test_nms_and_top_k():
    a, b, c = Segment(0, 10, "x", 0.9), Segment(1, 10, "x", 0.5), Segment(1, 10, "y", 0.4)
    assert nms([a, b, c], 0.5) == [a, c]
    t = np.arange(30, dtype=float)
    v = np.zeros(30)
    v[[3, 13, 23]] = [0.6, 0.9, 0.7]
    cfg = SegmentConfig(smooth="none", hysteresis=0, min_duration_s=0, merge_gap_s=0, top_k=2)
    segs = curve_to_segments(t, v, threshold=0.5, config=cfg)
    assert [s.score for s in segs] == [0.9, 0.7] and segs[0].start_s < segs[1].start_s


def test_merge_close_is_per_label():
    segs = merge_close([Segment(0, 1, "a", 0.2), Segment(1.5, 2, "a", 0.7),
                        Segment(1.2, 3, "b", 0.1)], 1.0)  # fmt: skip
    assert segs == [Segment(0, 2, "a", 0.7), Segment(1.2, 3, "b", 0.1)]


def test_smoothing_mean_and_median():
    t = np.arange(7, dtype=float)
    v = np.array([0, 0, 0, 9, 0, 0, 0], float)
    np.testing.assert_allclose(smooth_curve(t, v, kind="median", width_s=2), np.zeros(7))
    np.testing.assert_allclose(smooth_curve(t, v, kind="mean", width_s=2)[2:5], [3, 3, 3])
    np.testing.assert_array_equal(smooth_curve(t, v, kind="none", width_s=2), v)


def test_config_validation_names_flags():
    with pytest.raises(ValueError, match="--min-duration"):
        SegmentConfig(min_duration_s=-1)
    with pytest.raises(ValueError, match="--top-k"):
        SegmentConfig(top_k=0)
    with pytest.raises(ValueError, match="start_s < end_s"):
        Segment(3, 2)


def test_feature_signals():
    f = np.array([[1, 0], [1, 0], [0, 1], [0, 2]], float)
    np.testing.assert_allclose(feature_signal(f, "change"), [0, 0, 1, 0])
    np.testing.assert_allclose(feature_signal(f, "norm"), [1, 1, 1, 2])
    np.testing.assert_allclose(feature_signal(f, "dim:1"), [0, 0, 1, 2])
    with pytest.raises(ValueError, match="2 dimensions"):
        feature_signal(f, "dim:5")
    with pytest.raises(ValueError, match="unknown --signal"):
        feature_signal(f, "loud")
    assert adaptive_threshold(np.array([0.0, 0.0, 3.0, 1.0])) == pytest.approx(
        1.0 + 2 * np.std([0, 0, 3, 1])
    )
