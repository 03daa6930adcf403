"""Event metrics: tIoU, ActivityNet segment AP/mAP by hand, frame-level and lead-time AP."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from vidscope.localize import Segment
from vidscope.metrics import (
    cut_before_event,
    frame_level_metrics,
    frame_level_scores,
    lead_time_ap,
    segment_ap,
    segment_map,
    tiou,
)

S = Segment

# Ground truth: three events in two videos; video "c" has none.
TRUTH = {"a": [S(0, 10), S(20, 30)], "b": [S(5, 15)], "c": []}
# Predictions, by score; tIoU with the best ground truth of their video:
#   P1 a [0, 10]  0.9  G1 1.0
#   P2 a [22, 30] 0.8  G2 0.8
#   P3 b [0, 10]  0.7  G3 5/15 = 0.333
#   P4 a [1, 9]   0.6  G1 0.8, but G1 is taken by P1: always a false positive
#   P5 b [8, 20]  0.5  G3 7/15 = 0.467
#   P6 c [0, 5]   0.4  no truth in c: always a false positive
PRED = {
    "a": [S(0, 10, score=0.9), S(22, 30, score=0.8), S(1, 9, score=0.6)],
    "b": [S(0, 10, score=0.7), S(8, 20, score=0.5)],
    "c": [S(0, 5, score=0.4)],
}
# tIoU 0.1 (also 0.2, 0.3): P3 takes G3, P5 finds it taken.
#   rank       P1   P2   P3   P4   P5   P6
#   TP          1    1    1    0    0    0
#   precision   1    1    1   3/4  3/5  1/2
#   recall     1/3  2/3   1    1    1    1
#   AP = 1/3 * 1 + 1/3 * 1 + 1/3 * 1 = 1
# tIoU 0.4: P3 (0.333) misses, P5 (0.467) takes G3.
#   TP          1    1    0    0    1    0
#   precision   1    1   2/3  1/2  3/5  1/2
#   recall     1/3  2/3  2/3  2/3   1    1
#   envelope    1    1   3/5  3/5  3/5  1/2   (monotone from the right)
#   AP = 1/3 * 1 + 1/3 * 1 + 1/3 * 3/5 = 13/15
# tIoU 0.5 (also 0.6, 0.7): only P1 and P2 hit; recall stops at 2/3.
#   TP          1    1    0    0    0    0
#   AP = 1/3 + 1/3 = 2/3
# tIoU 0.9: only P1 (P2 has 0.8) -> AP = 1/3


@pytest.mark.parametrize(
    ("threshold", "expected"), [(0.1, 1.0), (0.3, 1.0), (0.4, 13 / 15), (0.5, 2 / 3), (0.9, 1 / 3)]
)
def test_segment_ap_by_hand(threshold: float, expected: float) -> None:
    assert segment_ap(PRED, TRUTH, tiou=threshold) == pytest.approx(expected, abs=1e-12)


def test_segment_map_by_hand() -> None:
    got = segment_map(PRED, TRUTH)
    assert got["tious"] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
    expected = [1, 1, 1, 13 / 15, 2 / 3, 2 / 3, 2 / 3]
    assert got["map"] == pytest.approx(expected, abs=1e-12)
    assert got["average_map"] == pytest.approx((5 + 13 / 15) / 7, abs=1e-12)  # 88/105
    assert got["ap_per_label"]["event"] == pytest.approx(expected, abs=1e-12)
    # precision/recall of all 6 predictions: 3 hits up to 0.4, then 2
    assert got["precision"] == pytest.approx([0.5] * 4 + [1 / 3] * 3)
    assert got["recall"] == pytest.approx([1.0] * 4 + [2 / 3] * 3)
    assert (got["num_predictions"], got["num_truth"]) == (6, 3)


def test_segment_map_multiclass() -> None:
    truth = {**TRUTH, "d": [S(40, 50, "other")]}
    pred = {**PRED, "d": [S(40, 50, "other", 0.1), S(0, 1, "ghost", 0.99)]}
    got = segment_map(pred, truth, tious=(0.1, 0.5))
    assert sorted(got["ap_per_label"]) == ["event", "other"]  # labels with ground truth
    assert got["ap_per_label"]["other"] == [1.0, 1.0]
    assert got["map"] == pytest.approx([1.0, (2 / 3 + 1) / 2])
    # the "ghost" prediction is a false positive for precision: 4 hits of 8 at tIoU 0.1
    assert got["precision"][0] == pytest.approx(4 / 8)
    assert got["recall"] == pytest.approx([1.0, 3 / 4])
    only = segment_map(pred, truth, tious=(0.5,), labels=["other"])
    assert only["map"] == [1.0] and only["precision"] == [1.0]


def test_labels_must_match() -> None:
    truth = {"a": [S(0, 10, "fight")]}
    pred = {"a": [S(0, 10, "theft", 0.9)]}
    assert segment_ap(pred, truth, tiou=0.5, label="fight") == 0.0
    assert segment_ap(pred, truth, tiou=0.5) == 1.0  # label=None: class-agnostic


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (S(0, 10), S(0, 10), 1.0),
        (S(0, 10), S(20, 30), 0.0),
        (S(0, 10), S(10, 20), 0.0),  # touching
        (S(0, 10), S(2, 4), 0.2),  # contained
        (S(0, 10), S(5, 15), 1 / 3),
        (S(5, 15), S(0, 10), 1 / 3),
        (S(0, 1, "x"), S(0.5, 1, "y"), 0.5),  # labels do not matter
    ],
)
def test_tiou(a: Segment, b: Segment, expected: float) -> None:
    assert tiou(a, b) == pytest.approx(expected, abs=1e-12)


def test_empty_predictions_and_no_truth() -> None:
    assert segment_ap({}, TRUTH, tiou=0.5) == 0.0
    assert segment_ap({"a": []}, TRUTH, tiou=0.5) == 0.0
    assert segment_ap(PRED, {}, tiou=0.5) is None
    assert segment_ap(PRED, {"a": [], "b": []}, tiou=0.5) is None
    got = segment_map(PRED, {})
    assert got["map"] == [None] * 7 and got["average_map"] is None
    assert got["precision"] == [0.0] * 7 and got["recall"] == [None] * 7
    none = segment_map({}, TRUTH)
    assert none["map"] == [0.0] * 7 and none["precision"] == [None] * 7


def test_prediction_without_score_is_refused() -> None:
    with pytest.raises(ValueError, match="score"):
        segment_ap({"a": [S(0, 1)]}, TRUTH, tiou=0.5)


def test_equal_scores_keep_input_order() -> None:
    truth = {"a": [S(0, 10)]}
    exact, close = S(0, 10, score=0.5), S(0, 8, score=0.5)  # tIoU 1.0 and 0.8
    # at tIoU 0.9 only `exact` can match; the order of equal scores decides the curve
    assert segment_ap({"a": [exact, close]}, truth, tiou=0.9) == 1.0
    assert segment_ap({"a": [close, exact]}, truth, tiou=0.9) == 0.5  # P 0 then 1/2 at R 1


def test_greedy_matching_takes_highest_tiou_then_first() -> None:
    # equal tIoU (1/3) with both truths: the first truth is taken, so the second, lower
    # prediction (tIoU 1 with the first truth) misses; optimal matching would score 1.0
    truth = {"a": [S(0, 10), S(10, 20)]}
    pred = {"a": [S(5, 15, score=0.9), S(0, 10, score=0.8)]}
    assert segment_ap(pred, truth, tiou=0.3) == pytest.approx(0.5)
    # the highest tIoU wins over the first: [4, 13] matches [4, 14] (0.9), not [0, 10] (0.46)
    truth = {"a": [S(0, 10), S(4, 14)]}
    pred = {"a": [S(4, 13, score=0.9), S(0, 10, score=0.8)]}
    assert segment_ap(pred, truth, tiou=0.45) == 1.0


def test_frame_level_scores_and_metrics() -> None:
    times = np.arange(0.0, 5.0, 0.5)
    scores = np.linspace(0, 1, 10)
    y_true, y_score = frame_level_scores(times, scores, [S(1.0, 2.0), S(4.0, 4.5, "x")])
    assert y_true.tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 1, 0]  # [start, end)
    assert y_true.dtype == np.int64 and y_score.dtype == np.float64
    only_x, _ = frame_level_scores(times, scores, [S(1.0, 2.0), S(4.0, 4.5, "x")], label="x")
    assert only_x.tolist() == [0] * 8 + [1, 0]
    with pytest.raises(ValueError):
        frame_level_scores(times, scores[:3], [])

    rng = np.random.default_rng(0)
    times_by = {"a": np.arange(0.0, 6.0, 0.5), "b": np.arange(0.0, 4.0, 0.5)}
    scores_by = {v: rng.random(len(t)) for v, t in times_by.items()}
    truth = {"a": [S(2.0, 4.0)]}  # "b" has no entry: all normal
    got = frame_level_metrics(times_by, scores_by, truth)
    y = np.r_[(times_by["a"] >= 2) & (times_by["a"] < 4), np.zeros(8, bool)]
    s = np.r_[scores_by["a"], scores_by["b"]]
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s))
    assert got["average_precision"] == pytest.approx(skm.average_precision_score(y, s))
    assert (got["num_frames"], got["num_positive"]) == (20, 4)
    assert frame_level_metrics(times_by, scores_by, {})["roc_auc"] is None


def test_lead_time_ap() -> None:
    y = np.array([1, 0, 1, 0, 1, 0])
    by_lead = {
        1.5: np.array([0.2, 0.3, 0.6, 0.1, 0.4, 0.5]),
        0.5: np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3]),
        1.0: np.array([0.6, 0.4, 0.7, 0.5, 0.3, 0.2]),
    }
    got = lead_time_ap(by_lead, y)
    assert list(got) == [0.5, 1.0, 1.5]
    for lead, scores in by_lead.items():
        assert got[lead] == pytest.approx(skm.average_precision_score(y, scores))
    assert got[0.5] == 1.0
    assert lead_time_ap({0.5: np.zeros(3)}, np.zeros(3))[0.5] is None
    with pytest.raises(ValueError, match="scores for"):
        lead_time_ap({0.5: np.zeros(2)}, y)


def test_cut_before_event() -> None:
    times = np.arange(0.0, 5.0, 0.5)  # 0 .. 4.5 s
    assert cut_before_event(times, 3.0, 1.0).tolist() == [True] * 5 + [False] * 5  # <= 2.0 s
    assert cut_before_event(times, 3.0, 0.0).sum() == 7  # up to the event itself
    # negatives: a stand-in event at the clip's end (4.5 s), or at a fraction of its duration
    assert cut_before_event(times, None, 1.0).sum() == 8  # <= 3.5 s
    assert cut_before_event(times, float("nan"), 1.0).sum() == 8
    half = cut_before_event(times, None, 1.0, event_fraction=0.5, duration_s=5.0)
    assert half.sum() == 4  # <= 2.5 - 1.0 = 1.5 s
    assert cut_before_event(times, 0.3, 0.5).tolist() == [True] + [False] * 9  # never empty
    assert cut_before_event(np.zeros(0), 1.0, 0.5).shape == (0,)
    with pytest.raises(ValueError, match="lead time"):
        cut_before_event(times, 3.0, -0.5)
