"""Tests for vidscope.datasets.make_collisions (synthetic collision videos)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from vidscope.datasets import CollisionDataset, make_collisions
from vidscope.datasets._collisions import _plan_dataset
from vidscope.datasets._draw import flash_strength
from vidscope.datasets._layout import CLIP_REACTION_S, REACTION_S, ScenePlan
from vidscope.datasets._scene import MIN_CLEARANCE_PX, on_screen, shape_gap

SMALL = {
    "n_videos": 6,
    "collide_fraction": 0.5,
    "duration_s": 2.0,
    "fps": 10,
    "size": (128, 96),
    "long_duration_s": 25.0,
    "n_long_events": 2,
}


def _generate(root: Path, seed: int) -> CollisionDataset:
    return make_collisions(root, seed=seed, **SMALL)


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _plan(seed: int) -> tuple[list[ScenePlan], ScenePlan]:
    plan = _plan_dataset(seed, **SMALL)  # type: ignore[arg-type]
    return plan.clips, plan.long


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> CollisionDataset:
    return _generate(tmp_path_factory.mktemp("collisions"), seed=7)


def test_files_exist_and_decode(dataset: CollisionDataset) -> None:
    ids = [f"{i:05d}" for i in range(SMALL["n_videos"])]
    assert sorted(p.name for p in dataset.videos_dir.iterdir()) == [f"{i}.mp4" for i in ids]
    for path in [*(dataset.video_path(i) for i in ids), dataset.long_video]:
        duration = SMALL["long_duration_s"] if path == dataset.long_video else SMALL["duration_s"]
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert stream.codec_context.pix_fmt == "yuv420p"
            assert container.duration / 1e6 == pytest.approx(duration, abs=0.05)
            frames = list(container.decode(video=0))
        assert len(frames) == round(duration * SMALL["fps"])
        assert (frames[0].width, frames[0].height) == SMALL["size"]
        assert frames[0].key_frame
        keyframes = [i for i, f in enumerate(frames) if f.key_frame]
        assert max(np.diff([*keyframes, len(frames)])) <= SMALL["fps"]


def test_labels_layout(dataset: CollisionDataset) -> None:
    text = dataset.labels_csv.read_text()
    assert text.splitlines()[0] == "id,time_of_event,time_of_alert,target"
    df = pd.read_csv(dataset.labels_csv, dtype={"id": str})
    assert list(df["id"]) == [f"{i:05d}" for i in range(SMALL["n_videos"])]
    assert df["target"].sum() == round(SMALL["n_videos"] * SMALL["collide_fraction"])
    pos, neg = df[df["target"] == 1], df[df["target"] == 0]
    assert neg["time_of_event"].isna().all() and neg["time_of_alert"].isna().all()
    assert pos["time_of_event"].notna().all()
    alert = (pos["time_of_event"] - 0.5).clip(lower=0.0)
    np.testing.assert_allclose(pos["time_of_alert"], alert, atol=1e-9)
    duration = SMALL["duration_s"]
    assert pos["time_of_event"].between(0.3 * duration, 0.8 * duration).all()
    for row in df.itertuples():
        expected = None if row.target == 0 else row.time_of_event
        assert dataset.event_times_s[row.id] == expected


def test_long_events_layout(dataset: CollisionDataset) -> None:
    df = pd.read_csv(dataset.long_events_csv)
    assert list(df.columns) == ["file_name", "start_time", "end_time", "label"]
    assert len(df) == SMALL["n_long_events"]
    assert (df["file_name"] == "long_000.mp4").all() and (df["label"] == "collision").all()
    assert list(zip(df["start_time"], df["end_time"], strict=True)) == dataset.long_events
    starts = df["start_time"].to_numpy()
    assert np.all(np.diff(starts) >= 5.0 - 1e-6)
    assert np.allclose(df["end_time"] - df["start_time"], REACTION_S)
    assert starts[0] > 0 and df["end_time"].iloc[-1] < SMALL["long_duration_s"]


def test_same_seed_reproduces(dataset: CollisionDataset, tmp_path: Path) -> None:
    again = _generate(tmp_path, seed=7)
    assert again.labels_csv.read_bytes() == dataset.labels_csv.read_bytes()
    assert again.long_events_csv.read_bytes() == dataset.long_events_csv.read_bytes()
    for video_id in dataset.event_times_s:
        first = _decode(dataset.video_path(video_id))
        second = _decode(again.video_path(video_id))
        assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    long_a, long_b = _decode(dataset.long_video), _decode(again.long_video)
    assert all(np.array_equal(a, b) for a, b in zip(long_a, long_b, strict=True))


def test_other_seed_differs(dataset: CollisionDataset, tmp_path: Path) -> None:
    other = _generate(tmp_path, seed=8)
    assert other.event_times_s != dataset.event_times_s
    assert not np.array_equal(
        _decode(other.video_path("00000"))[0], _decode(dataset.video_path("00000"))[0]
    )


def _min_gap(plan: ScenePlan, i: int, j: int, times: np.ndarray) -> tuple[float, float]:
    """Smallest gap (px) between actors i and j while either is visible, and when."""
    a, b = plan.actors[i], plan.actors[j]
    pa, pb = a.track.at(times), b.track.at(times)
    size = (SMALL["size"][0], SMALL["size"][1])
    mask = on_screen(a.shape, pa, size) | on_screen(b.shape, pb, size)
    gaps = np.where(mask, shape_gap(a.shape, b.shape, pb - pa), np.inf)
    k = int(np.argmin(gaps))
    return float(gaps[k]), float(times[k])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_objects_touch_exactly_at_event_time(seed: int) -> None:
    clips, _ = _plan(seed)
    times = np.linspace(0.0, SMALL["duration_s"], 2001)
    for plan in clips:
        for i, j in itertools.combinations(range(len(plan.actors)), 2):
            gap, _ = _min_gap(plan, i, j, times)
            if plan.events and (i, j) == (0, 1):
                t_event = plan.events[0][0]
                at_event = plan.actors[1].track.at(t_event) - plan.actors[0].track.at(t_event)
                assert (
                    abs(float(shape_gap(plan.actors[0].shape, plan.actors[1].shape, at_event)))
                    < 1e-6
                )
                before = times[times < t_event - 1e-3]
                offsets = plan.actors[1].track.at(before) - plan.actors[0].track.at(before)
                assert shape_gap(plan.actors[0].shape, plan.actors[1].shape, offsets).min() > 0
                assert gap > -1e-6  # no overlap after the reaction either
            else:
                assert gap >= MIN_CLEARANCE_PX - 1e-6


def test_long_video_only_planned_contacts() -> None:
    _, plan = _plan(3)
    times = np.arange(0.0, SMALL["long_duration_s"], 0.01)
    contacts = []
    for i, j in itertools.combinations(range(len(plan.actors)), 2):
        gap, when = _min_gap(plan, i, j, times)
        if gap < MIN_CLEARANCE_PX - 1e-6:
            contacts.append(when)
            assert gap > -1e-6
    assert len(contacts) == SMALL["n_long_events"]
    starts = [start for start, _ in plan.events]
    np.testing.assert_allclose(sorted(contacts), starts, atol=0.011)


def test_event_is_visible_in_decoded_frames(dataset: CollisionDataset) -> None:
    clips, _ = _plan(7)
    fps = SMALL["fps"]
    for video_id, plan in zip(dataset.event_times_s, clips, strict=True):
        t_event = dataset.event_times_s[video_id]
        if t_event is None:
            continue
        frames = _decode(dataset.video_path(video_id))
        after = int(np.ceil(t_event * fps - 1e-9))
        assert flash_strength(plan.actors[0], np.array([after / fps]))[0] > 0.7
        (burst,) = plan.bursts
        # A few frames into the reaction the crash effect covers the contact point.
        k = min(after + 2, len(frames) - 1)
        x, y = np.rint(burst.center).astype(int)
        box = np.s_[max(y - 6, 0) : y + 7, max(x - 6, 0) : x + 7]
        before = frames[after - 2][box].astype(float)
        assert np.abs(frames[k][box].astype(float) - before).mean() > 40.0


@pytest.mark.parametrize("seed", [0, 5])
def test_crash_effect_only_during_reaction(seed: int) -> None:
    clips, long = _plan(seed)
    for plan in [*clips, long]:
        assert len(plan.bursts) == len(plan.events)
        for burst, (start, end) in zip(plan.bursts, plan.events, strict=True):
            assert burst.start_s == start
            assert burst.start_s + burst.duration_s == pytest.approx(end, abs=1e-9)
            lo, hi = (REACTION_S, REACTION_S) if plan is long else CLIP_REACTION_S
            assert lo - 1e-9 <= burst.duration_s <= hi + 1e-9
        if not plan.events:
            continue
        bare = dataclasses.replace(plan, bursts=())
        changed = [
            float(np.abs(a.astype(float) - b.astype(float)).mean())
            for a, b in zip(plan.frames(), bare.frames(), strict=True)
        ]
        during = np.zeros(plan.n_frames, dtype=bool)
        for start, end in plan.events:
            during |= (plan.times >= start) & (plan.times < end)
        assert all(c == 0.0 for c in np.asarray(changed)[~during])
        # The effect is large: it changes a sizeable part of the frame, not a few pixels.
        assert np.median(np.asarray(changed)[during]) > 5.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_videos": 1}, "n_videos"),
        ({"collide_fraction": 0.0}, "collide_fraction"),
        ({"collide_fraction": 1.0}, "collide_fraction"),
        ({"n_videos": 2, "collide_fraction": 0.1}, "both classes"),
        ({"size": (33, 64)}, "size"),
        ({"size": (160, 30)}, "size"),
        ({"size": 128}, "size"),
        ({"fps": 0}, "fps"),
        ({"duration_s": 0.0}, "duration_s"),
        ({"long_duration_s": -1.0}, "long_duration_s"),
        ({"long_duration_s": 12.0, "n_long_events": 4}, "too short"),
        ({"n_long_events": 0}, "n_long_events"),
    ],
)
def test_argument_validation(kwargs: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message):
        make_collisions(tmp_path, **kwargs)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())
