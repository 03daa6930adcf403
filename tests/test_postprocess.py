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
    off_level,
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
    # median 0.4: the off level is 60 % of the way from 0.8 down to it, 0.56: the dip holds
    hyst = SegmentConfig(smooth="none", hysteresis=0.6, min_duration_s=0, merge_gap_s=0)
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
    with pytest.raises(ValueError, match="--hysteresis is a fraction"):
        SegmentConfig(hysteresis=1.5)
    with pytest.raises(ValueError, match="--refine"):
        SegmentConfig(refine="max")  # type: ignore[arg-type]
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


def _change_curve(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """10 minutes of a scene-change curve at 4 samples/s: noise around 0.04 and five cuts,
    each one sample high (0.63-0.82), as ``--signal change`` draws them."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, 600, 0.25) + 0.12
    v = np.clip(rng.normal(0.04, 0.015, len(t)), 0, None)
    cuts = [37.12, 150.62, 311.37, 402.12, 555.87]
    for c, h in zip(cuts, [0.63, 0.82, 0.7, 0.75, 0.66], strict=True):
        v[np.argmin(np.abs(t - c))] = h
    return t, v, cuts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_defaults_find_every_single_sample_spike(seed):
    t, v, cuts = _change_curve(seed)
    cfg = SegmentConfig()  # library defaults: smoothing and min duration in samples
    smoothed = smooth_curve(t, v, kind=cfg.smooth, width_s=cfg.smooth_s)
    thr = adaptive_threshold(smoothed)  # what --signal uses without --threshold
    segs = curve_to_segments(t, v, threshold=thr, config=cfg, duration_s=600)
    assert len(segs) == len(cuts)
    for seg, cut in zip(segs, cuts, strict=True):
        assert seg.start_s <= cut <= seg.end_s and seg.duration_s <= 1.5
        # the score is the peak of the thresholded (smoothed) curve inside the segment
        inside = (t >= seg.start_s) & (t <= seg.end_s)
        assert seg.score == pytest.approx(smoothed[inside].max())
        assert seg.score > thr


def test_default_smoothing_and_min_duration_scale_with_the_sample_spacing():
    for step in (0.1, 2.0):  # 10 samples/s and one sample per 2 s
        t = np.arange(200) * step
        v = np.zeros(200)
        v[100] = 1.0
        segs = curve_to_segments(t, v, threshold=0.2, config=SegmentConfig(), duration_s=t[-1])
        assert len(segs) == 1 and segs[0].start_s <= t[100] <= segs[0].end_s
        assert segs[0].duration_s == pytest.approx(3 * step)  # 3-sample mean: 3 cells
        assert segs[0].score == pytest.approx(1 / 3)


def test_low_threshold_curve_has_no_run_away_segment():
    """A run's curve on a 10-minute video with an automatic threshold of 0.082: an absolute
    hysteresis of 0.1 put the off level below 0 and one segment covered the whole video."""
    rng = np.random.default_rng(0)
    t = np.arange(0, 600, 0.5) + 0.25
    v = np.clip(rng.normal(0.03, 0.01, len(t)), 0, 1)
    events = [(60, 66), (200, 204), (400, 409)]
    for a, b in events:
        v[(t >= a) & (t < b)] = 0.35
    for h, slack in ((0.0, 1), (0.25, 1), (0.5, 1), (1.0, 10)):
        cfg = SegmentConfig(hysteresis=h)
        assert 0.03 - 0.01 < off_level(v, 0.082, h) <= 0.082
        segs = curve_to_segments(t, v, threshold=0.082, config=cfg, duration_s=600)
        assert len(segs) == len(events)
        for seg, (a, b) in zip(segs, events, strict=True):
            assert a - slack <= seg.start_s and seg.end_s <= b + slack


@pytest.mark.parametrize("h", [0.0, 0.3, 1.0])
def test_off_level_is_never_below_the_median(h):
    rng = np.random.default_rng(1)
    for _ in range(20):
        v = rng.normal(0, 1, 50)
        thr = float(rng.normal(0, 2))
        off = off_level(v, thr, h)
        assert min(thr, float(np.median(v))) - 1e-12 <= off <= thr + 1e-12


def test_half_max_refinement_recovers_the_event_from_window_blur():
    """Window scores (2 s windows, stride 0.25 s) of a 6 s event rise linearly over one
    window length; a low threshold widens the segment, half-maximum puts it back."""
    step, window = 0.25, 2.0
    centres = np.arange(0, 30, step) + window / 2
    start, end = 10.0, 16.0
    overlap = np.clip(
        np.minimum(centres + window / 2, end) - np.maximum(centres - window / 2, start), 0, None
    )
    v = 0.05 + 0.9 * overlap / window
    plain = SegmentConfig(smooth="none", hysteresis=0)
    (wide,) = curve_to_segments(centres, v, threshold=0.15, config=plain, duration_s=31)
    assert wide.end_s - wide.start_s > 7.2
    refined = SegmentConfig(smooth="none", hysteresis=0, refine="half_max")
    (seg,) = curve_to_segments(centres, v, threshold=0.15, config=refined, duration_s=31)
    assert seg.start_s == pytest.approx(start, abs=step) and seg.end_s == pytest.approx(
        end, abs=step
    )


def test_calibration_search_finds_the_events_a_clip_threshold_misses():
    """Window scores whose no-event level (~0.6) is above a clip-level threshold of 0.3: the
    search puts the threshold between the two levels and every event is found at tIoU 0.5."""
    from vidscope.localize._calibration import VideoCurve, search_settings, segment_f1

    rng = np.random.default_rng(0)
    videos = []
    for _ in range(3):
        t = np.arange(0, 60, 0.5) + 0.25
        v = np.clip(rng.normal(0.6, 0.05, len(t)), 0, 1)
        truth = []
        for a in rng.choice(np.arange(5, 55, 10), 3, replace=False):
            b = a + rng.uniform(2, 6)
            v[(t >= a) & (t < b)] = np.clip(rng.normal(0.9, 0.03, ((t >= a) & (t < b)).sum()), 0, 1)
            truth.append(Segment(float(a), float(b), "fight"))
        videos.append(VideoCurve(t, v, sorted(truth, key=lambda s: s.start_s), 60.0))
    cfg, f1 = search_settings(videos)
    assert 0.65 < cfg.threshold < 0.9 and f1[1] >= 0.9
    preds = {
        str(i): curve_to_segments(v.times_s, v.scores, threshold=0.3, config=SegmentConfig())
        for i, v in enumerate(videos)
    }
    truth = {str(i): v.truth for i, v in enumerate(videos)}
    assert segment_f1(preds, truth, (0.5,))[0] < 0.3  # the clip threshold: one long segment
