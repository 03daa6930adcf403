"""Event annotations from CSV, window bounds/labels/filters, and windows as a SequenceSet."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vidscope.data import (
    LabelError,
    drop_after_first_event,
    frames_in_windows,
    label_windows,
    merge_segments,
    parse_time,
    read_annotations,
    window_bounds,
    window_sequences,
)
from vidscope.features import FeatureStore
from vidscope.localize import Segment


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def spans(segments: list[Segment]) -> list[tuple[float, float, str]]:
    return [(s.start_s, s.end_s, s.label) for s in segments]


# ---- time parsing -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("01:02:03.5", 3723.5),
        ("2:03", 123.0),
        ("12.25", 12.25),
        ("0", 0.0),
        ("00:00:00", 0.0),
        (" 1:02 ", 62.0),
        ("00:59.999", 59.999),
        ("75:00", 4500.0),
        (".5", 0.5),
        ("3.", 3.0),
        (4.5, 4.5),
    ],
)
def test_parse_time_good(text: str | float, seconds: float) -> None:
    assert parse_time(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "1:75",
        "-3",
        "abc",
        "1:2:3:4",
        "1:60:00",
        "1.5:00",
        "nan",
        "1e3",
        "1:-2",
        -1.0,
        math.inf,
    ],
)
def test_parse_time_bad(text: str | float) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


# ---- reading CSVs -----------------------------------------------------------------------------
def test_csv_with_and_without_extension(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ann.csv",
        "file_name,start_time,end_time\ncam/a.mp4,00:01,00:03\nb,2.5,4\ncam/a,00:00:05,00:06.5\n",
    )
    got = read_annotations(path, video_ids=["cam/a", "other/b", "c"])
    assert list(got) == ["cam/a", "other/b", "c"]
    assert spans(got["cam/a"]) == [(1.0, 3.0, "event"), (5.0, 6.5, "event")]
    assert spans(got["other/b"]) == [(2.5, 4.0, "event")]
    assert got["c"] == []  # listed, not annotated: a normal video
    assert all(math.isnan(s.score) for s in got["cam/a"])


def test_csv_without_video_ids_keys_by_name(tmp_path: Path) -> None:
    path = write(tmp_path / "ann.csv", "file_name,start_time,end_time\nx/v1.MP4,1,2\nv2,,\n")
    got = read_annotations(path)
    assert spans(got["x/v1"]) == [(1.0, 2.0, "event")]
    assert got["v2"] == []  # a row with no times lists a video without events


def test_csv_label_column_and_label_override(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ann.csv",
        "file_name, start_time, end_time, label\nv1,0,2,fight\nv1,1,3,theft\nv2,4,5,fight\n",
    )
    got = read_annotations(path, video_ids=["v1", "v2"])
    assert spans(got["v1"]) == [(0.0, 2.0, "fight"), (1.0, 3.0, "theft")]  # labels kept apart
    one = read_annotations(path, video_ids=["v1", "v2"], label="incident")
    assert spans(one["v1"]) == [(0.0, 3.0, "incident")]  # one class: overlaps merge
    assert spans(one["v2"]) == [(4.0, 5.0, "incident")]


def test_per_class_files(tmp_path: Path) -> None:
    folder = tmp_path / "ann"
    write(folder / "fight_timestamp.csv", "file_name,start_time,end_time\nv1.mp4,0:01,0:02\n")
    write(folder / "theft_timestamp.csv", "file_name,start_time,end_time\nv2,3,4\nv1,5,6\n")
    write(folder / "notes.txt", "not an annotation file")
    got = read_annotations(folder, video_ids=["v1", "v2", "v3"])
    assert spans(got["v1"]) == [(1.0, 2.0, "fight"), (5.0, 6.0, "theft")]
    assert spans(got["v2"]) == [(3.0, 4.0, "theft")]
    assert got["v3"] == []
    single = read_annotations(folder / "theft_timestamp.csv", video_ids=["v1", "v2"])
    assert spans(single["v1"]) == [(5.0, 6.0, "theft")]


def test_overlapping_and_touching_segments_merge(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ann.csv",
        "file_name,start_time,end_time\nv,2,4\nv,1,3\nv,4,5\nv,7,8\nv,7.5,7.6\n",
    )
    assert spans(read_annotations(path)["v"]) == [(1.0, 5.0, "event"), (7.0, 8.0, "event")]


def test_merge_segments_keeps_the_best_score() -> None:
    merged = merge_segments([Segment(0, 2, "a", 0.3), Segment(1, 3, "a", 0.9), Segment(1, 2, "b")])
    assert [(s.start_s, s.end_s, s.label) for s in merged] == [(0, 3, "a"), (1, 2, "b")]
    assert merged[0].score == 0.9


@pytest.mark.parametrize(
    ("row", "needle"),
    [
        ("nobody.mp4,1,2", "'nobody.mp4' matches no video"),
        ("v,3,2", "not after start_time"),
        ("v,2,2", "not after start_time"),
        ("v,1:75,2:00", "seconds must be below 60"),
        ("v,x,2", "unreadable time 'x'"),
        ("v,-1,2", "unreadable time '-1'"),
        ("v,4,5.2", "past the end of v"),
        ("v,5.01,5.04", "past the end of v"),
        (",1,2", "empty file name"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, row: str, needle: str) -> None:
    path = write(tmp_path / "ann.csv", f"file_name,start_time,end_time\nv,0,1\n{row}\n")
    with pytest.raises(LabelError, match="1 bad annotation row") as err:
        read_annotations(path, video_ids=["v"], durations_s={"v": 5.0})
    assert f"{path}:3: " in str(err.value)
    assert needle in str(err.value)


def test_all_bad_rows_reported_together(tmp_path: Path) -> None:
    path = write(tmp_path / "ann.csv", "file_name,start_time,end_time\nv,0,1\nw,1,2\n\nv,2,1\n")
    with pytest.raises(LabelError, match="2 bad annotation row") as err:
        read_annotations(path, video_ids=["v"])
    assert f"{path}:3: " in str(err.value) and f"{path}:5: " in str(err.value)


def test_end_within_tolerance_is_clipped(tmp_path: Path) -> None:
    path = write(tmp_path / "ann.csv", "file_name,start_time,end_time\nv,4,5.04\n")
    got = read_annotations(path, video_ids=["v"], durations_s={"v": 5.0})
    assert spans(got["v"]) == [(4.0, 5.0, "event")]


def test_unusable_files(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match="no such file"):
        read_annotations(tmp_path / "missing.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabelError, match=r"_timestamp\.csv"):
        read_annotations(tmp_path / "empty")
    path = write(tmp_path / "cols.csv", "file_name,begin_at\nv,1\n")
    with pytest.raises(LabelError, match="no start/end column"):
        read_annotations(path)
    with pytest.raises(LabelError, match="empty file"):
        read_annotations(write(tmp_path / "blank.csv", ""))


# ---- windows ------------------------------------------------------------------------------
def test_window_bounds() -> None:
    got = window_bounds(10.0, window_s=3.0, stride_s=1.5)
    # full windows from 0 by 1.5 while they fit; [7, 10] covers the uncovered tail
    expected = [[0, 3], [1.5, 4.5], [3, 6], [4.5, 7.5], [6, 9], [7, 10]]
    np.testing.assert_allclose(got, expected)
    np.testing.assert_allclose(window_bounds(9.0, window_s=3, stride_s=3), [[0, 3], [3, 6], [6, 9]])
    np.testing.assert_allclose(window_bounds(2.0, window_s=3, stride_s=1), [[0, 2]])
    assert window_bounds(0.3, window_s=0.1, stride_s=0.1).shape == (3, 2)  # no float drift
    with pytest.raises(ValueError, match="--window"):
        window_bounds(5.0, window_s=0, stride_s=1)
    with pytest.raises(ValueError, match="stride"):
        window_bounds(5.0, window_s=1, stride_s=-1)


def test_frames_in_windows() -> None:
    times = np.arange(10, dtype=float)  # frames at 0, 1, ..., 9 s
    bounds = np.array([[0, 3], [2.5, 3.5], [3.2, 3.7], [9.5, 10], [0, 10]], dtype=float)
    got = frames_in_windows(times, bounds)
    assert [g.tolist() for g in got[:4]] == [[0, 1, 2], [3], [3], [9]]  # empty -> frame before
    assert got[4].tolist() == list(range(10))
    assert got[0].dtype == np.int64
    with pytest.raises(ValueError, match="non-decreasing"):
        frames_in_windows(np.array([0.0, 2.0, 1.0]), bounds)


def test_label_windows_by_hand() -> None:
    bounds = window_bounds(10.0, window_s=3.0, stride_s=1.5)
    # overlaps with [4, 8]: 0, 0.5, 2, 3, 2, 1 s of 3 s windows -> >= 1.5 s is an event window
    got = label_windows(bounds, [Segment(4.0, 8.0, "event")])
    assert got.tolist() == [0, 0, 1, 1, 1, 0]
    assert got.dtype == np.int64
    # a 0.4 s event: the window [0, 3] covers all of it; [1.2, 4.2] covers half of it
    short = np.array([[0, 3], [1.2, 4.2], [1.3, 4.3], [1.5, 4.5]])
    assert label_windows(short, [Segment(1.0, 1.4)]).tolist() == [1, 1, 0, 0]
    # two events of one label count as their union
    assert label_windows(np.array([[0.0, 4.0]]), [Segment(0, 1), Segment(2, 3)]).tolist() == [1]
    assert label_windows(bounds, []).tolist() == [0] * 6


def test_label_windows_multiclass() -> None:
    bounds = window_bounds(10.0, window_s=3.0, stride_s=1.5)
    events = [Segment(0, 3, "fight"), Segment(6, 10, "theft")]
    assert label_windows(bounds, events).tolist() == [1, 1, 0, 2, 2, 2]
    order = ["normal", "theft", "fight"]
    assert label_windows(bounds, events, classes=order).tolist() == [2, 2, 0, 1, 1, 1]
    both = [Segment(0, 4, "fight"), Segment(4, 10, "theft")]  # [3, 6]: fight 1 s, theft 2 s
    got = label_windows(np.array([[3.0, 6.0]]), both, min_overlap=0.3)
    assert got.tolist() == [2]  # the larger overlap wins
    with pytest.raises(ValueError, match="not among"):
        label_windows(bounds, events, classes=["normal", "fight"])
    with pytest.raises(ValueError, match="min-overlap"):
        label_windows(bounds, events, min_overlap=0)


def test_drop_after_first_event() -> None:
    bounds = window_bounds(10.0, window_s=3.0, stride_s=1.5)
    events = [Segment(4.0, 8.0)]
    labels = label_windows(bounds, events)  # [0, 0, 1, 1, 1, 0]
    keep = drop_after_first_event(bounds, labels, events)
    # [0, 3] ends before 4 s: kept; [1.5, 4.5] ends after: dropped; [7, 10]: aftermath, dropped
    assert keep.tolist() == [True, False, True, True, True, False]
    assert drop_after_first_event(bounds, np.zeros(6, int), []).all()


# ---- windows of a store -------------------------------------------------------------------
def make_store(root: Path, videos: dict[str, tuple[float, float | None]]) -> FeatureStore:
    """Videos ``{id: (duration_s, manifest duration or None)}`` with 2 fps frames whose four
    feature columns all hold the frame time."""
    store = FeatureStore.create(root, {"layout": [["x", 4]], "dtype": "float32"})
    for vid, (duration, recorded) in videos.items():
        times = np.arange(0.0, duration, 0.5)
        rel = store.write(vid, np.repeat(times[:, None], 4, axis=1), times)
        store.record({"video_id": vid, "status": "ok", "features": rel, "duration_s": recorded})
    return store


def test_window_sequences(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", {"ev": (10.0, 10.0), "norm": (6.0, 6.0)})
    annotations = {"ev": [Segment(4.0, 8.0, "collision")], "norm": []}
    data = window_sequences(store, annotations, window_s=3.0, stride_s=1.5)
    labels = data.labels
    assert labels.classes == ["normal", "collision"]
    assert len(labels.ids) == 9  # 6 windows of ev, 3 of norm
    assert labels.ids[0] == "ev@0.000-3.000" and labels.ids[5] == "ev@7.000-10.000"
    assert labels.ids[6:] == ["norm@0.000-3.000", "norm@1.500-4.500", "norm@3.000-6.000"]
    assert labels.y.tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0]
    assert labels.groups.tolist() == ["ev"] * 6 + ["norm"] * 3
    np.testing.assert_allclose(data.times_s[1], [1.5, 2.0, 2.5, 3.0, 3.5, 4.0])
    np.testing.assert_allclose(data.features[1][:, 2], data.times_s[1])
    assert data.features[1].dtype == np.float32
    assert data.layout == [("x", 4)] and data.num_features == 4
    x, mask = data.padded(np.arange(9))
    assert x.shape == (9, 6, 4) and mask.sum() == 9 * 6

    kept = window_sequences(store, annotations, window_s=3.0, stride_s=1.5, drop_after_event=True)
    assert [i for i in kept.labels.ids if i.startswith("ev")] == [
        "ev@0.000-3.000", "ev@3.000-6.000", "ev@4.500-7.500", "ev@6.000-9.000",
    ]  # fmt: skip
    assert kept.labels.y.tolist() == [0, 1, 1, 1, 0, 0, 0]
    assert any("2 normal window" in n for n in kept.labels.notes)


def test_window_sequences_from_annotation_file(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", {"cam/a": (4.0, None), "cam/b": (4.0, 4.0)})
    csv = write(tmp_path / "ann.csv", "file_name,start_time,end_time,label\na.mp4,1,3,fall\n")
    durations = {v: store.rows[v]["duration_s"] for v in store.ids()}
    ann = read_annotations(csv, video_ids=store.ids(), durations_s=durations)
    data = window_sequences(store, ann, window_s=2.0, stride_s=1.0)
    assert data.labels.classes == ["normal", "fall"]
    # cam/a has no recorded duration: 3.5 s (last frame) + 0.5 s (frame step) = 4 s
    assert data.labels.ids[:3] == ["cam/a@0.000-2.000", "cam/a@1.000-3.000", "cam/a@2.000-4.000"]
    assert data.labels.y.tolist() == [1, 1, 1, 0, 0, 0]


def test_window_sequences_errors(tmp_path: Path) -> None:
    store = make_store(tmp_path / "store", {"v": (4.0, 4.0)})
    with pytest.raises(LabelError, match="no features"):
        window_sequences(store, {"v": [], "gone": []}, window_s=1, stride_s=1)
    with pytest.raises(LabelError, match="no window"):
        window_sequences(store, {"v": []}, window_s=1, stride_s=1)
    with pytest.raises(LabelError, match="not in"):
        window_sequences(
            store, {"v": [Segment(0, 1, "x")]}, window_s=1, stride_s=1, classes=["n", "y"]
        )
