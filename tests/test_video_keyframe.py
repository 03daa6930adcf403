"""``--seek keyframe`` at its default tolerance, which follows the sampling, and displacement.

By default a sample may move as far as the requested time before or after it (reach 1), so
neighbours may share a frame; ``keyframe_reach=0.5`` keeps the stricter rule (at most halfway,
so samples never swap places or merge). The reader records the largest distance it moved a
sample (``stats["max_displacement_s"]``).
"""

from __future__ import annotations

import numpy as np
import pytest

from vidscope.video import SamplingSpec, VideoReader, snap_windows

from ._video_helpers import assert_shown, decode_all, encode, pattern, read


@pytest.fixture(scope="module")
def gop50(tmp_path_factory: pytest.TempPathFactory):
    """150 frames at 25 fps (6 s), keyframes at exactly 0, 2 and 4 s."""
    path = tmp_path_factory.mktemp("kf") / "gop50.mp4"
    encode(path, [pattern(i) for i in range(150)], gop=50)
    return path, decode_all(path)


@pytest.mark.parametrize(
    ("times", "before", "after"),
    [
        ([0.75, 2.25, 3.75, 5.25], [1.5] * 4, [1.5] * 4),  # uniform grid: same everywhere
        ([1.0, 0.0, 4.0], [1.0, 1.0, 3.0], [3.0, 1.0, 3.0]),  # any order, uneven gaps
        ([2.0, 2.0, 3.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]),  # repeats share a window
        ([2.0], [6.0], [6.0]),  # a lone sample: half the video either way (times reach)
        ([], [], []),
    ],
)
def test_snap_windows(times: list[float], before: list[float], after: list[float]) -> None:
    t = np.array(times, dtype=np.float64)
    b, a = snap_windows(t, 12.0)  # default reach 1: up to the neighbouring time
    np.testing.assert_allclose(b, before)
    np.testing.assert_allclose(a, after)
    b, a = snap_windows(t, 12.0, 0.5)  # halfway
    np.testing.assert_allclose(b, np.array(before) / 2)
    np.testing.assert_allclose(a, np.array(after) / 2)


def test_halfway_moves_a_sample_at_most_halfway_to_its_neighbour(gop50) -> None:
    path, ref = gop50
    times = SamplingSpec("uniform", 4).times(6.0)  # 0.75 2.25 3.75 5.25: windows of 0.75 s
    batch, stats, _ = read(path, times, seek="keyframe", keyframe_reach=0.5)
    # 0.75 -> key 0 (0.75 away: allowed), 2.25 -> key 2, 3.75 -> key 4, 5.25: no key within
    # 0.75 s, so the frame in [4.5, 6] first in decode order (4.52 s: interval 2 is decoded
    # only that far, not up to 5.24 s)
    np.testing.assert_allclose(batch.times_s, [0.0, 2.0, 4.0, 4.52], atol=1e-9)
    assert np.array_equal(batch.frames[3], ref.frames[113])
    assert stats["max_displacement_s"] == pytest.approx(0.75)


def test_default_reaches_the_neighbouring_time(gop50) -> None:
    """Same times, default reach: 5.25 may now move 1.5 s, to key 4 (one frame to decode
    instead of a run of reference frames), sharing it with 3.75."""
    path, ref = gop50
    times = SamplingSpec("uniform", 4).times(6.0)
    batch, stats, _ = read(path, times, seek="keyframe")
    np.testing.assert_allclose(batch.times_s, [0.0, 2.0, 4.0, 4.0], atol=1e-9)
    assert np.array_equal(batch.frames[3], ref.frames[100])
    assert stats["decoded"] == 3
    assert stats["max_displacement_s"] == pytest.approx(1.25)


def test_a_shared_frame_is_a_last_resort(gop50) -> None:
    """1 and 3 s each have two keyframes at their windows' edges; taking times in order, each
    takes one no other sample took, so three samples get three keyframes, not two."""
    path, _ = gop50
    batch, stats, _ = read(path, [1.0, 2.0, 3.0], seek="keyframe", keyframe_tolerance_s=1.0)
    np.testing.assert_allclose(batch.times_s, [0.0, 2.0, 4.0], atol=1e-9)
    assert stats["decoded"] == 3


@pytest.mark.parametrize("reach", [0.5, 1.0, 2.0])
def test_samples_stay_in_order_within_their_windows(gop50, reach: float) -> None:
    path, _ = gop50
    rng = np.random.default_rng(3)
    for n in (3, 9, 20):
        times = np.sort(rng.uniform(0, 6, n))
        batch, _, _ = read(path, times, seek="keyframe", keyframe_reach=reach)
        before, after = snap_windows(times, 6.0, reach)
        moved = batch.times_s - times
        assert np.all(moved >= -before - 0.04 - 1e-9)  # shown frame may start a frame earlier
        assert np.all(moved <= after + 1e-9)
        if reach <= 1:  # a window ends at the next time: samples never swap
            assert np.all(np.diff(batch.times_s) >= 0)


def test_default_is_exact_when_sampling_is_dense(gop50) -> None:
    """At 25 fps every sample is its own frame: keyframe mode must not move any."""
    path, ref = gop50
    times = SamplingSpec("fps", 25).times(6.0) + 0.01
    batch, stats, _ = read(path, times, seek="keyframe")
    assert_shown(batch, times, ref.times, ref.frames)
    assert stats["max_displacement_s"] == pytest.approx(0.01, abs=1e-6)


@pytest.mark.parametrize("reach", [0.5, 1.0])
def test_default_decodes_less_than_exact_on_sparse_sampling(gop50, reach: float) -> None:
    path, _ = gop50
    times = SamplingSpec("uniform", 3).times(6.0)  # 1, 3, 5 s; windows of 1 or 2 s
    batch, stats, _ = read(path, times, seek="keyframe", keyframe_reach=reach)
    np.testing.assert_allclose(batch.times_s, [0.0, 2.0, 4.0], atol=1e-9)
    _, exact, _ = read(path, times)
    assert stats["decoded"] == 3 and exact["decoded"] > 3 * stats["decoded"]


def test_bad_reach_is_refused(gop50) -> None:
    from vidscope.errors import InputError

    with pytest.raises(InputError, match="reach"):
        read(gop50[0], [1.0, 2.0], seek="keyframe", keyframe_reach=0.0)


def test_explicit_tolerance_is_symmetric_and_absolute(gop50) -> None:
    path, _ = gop50
    times = np.array([1.0, 1.3])  # neighbours 0.3 s apart; tolerance 0.7 s still applies
    batch, stats, _ = read(path, times, seek="keyframe", keyframe_tolerance_s=0.7)
    # 1.3 -> key 2 (0.7 later); 1.0 has no key within 0.7 s: the frame in [0.3, 1.7] first in
    # decode order (0.36 s)
    np.testing.assert_allclose(batch.times_s, [0.36, 2.0], atol=1e-9)
    assert stats["max_displacement_s"] == pytest.approx(0.7)


def test_exact_mode_displacement_is_under_one_frame(gop50) -> None:
    path, _ = gop50
    times = np.array([0.5, 1.013, 4.039])
    with VideoReader(path) as r:
        r.read(times)
        assert r.stats["max_displacement_s"] == pytest.approx(0.039, abs=1e-9)
        r.read_pairs(np.array([0.03]))  # pairs count too; the maximum is kept
        assert r.stats["max_displacement_s"] == pytest.approx(0.039, abs=1e-9)


@pytest.mark.parametrize("tolerance", [None, 0.3, 0.7, 1.5])
def test_every_sample_is_a_real_frame_within_reach(gop50, tolerance: float | None) -> None:
    """Random times, default and fixed tolerances: each sample is the decoded frame shown at
    its recorded time (pixel for pixel), within its window, and no more is decoded than in
    exact mode."""
    path, ref = gop50
    rng = np.random.default_rng(11)
    for n in (2, 5, 13):
        times = rng.uniform(0, 6, n)
        batch, stats, _ = read(path, times, seek="keyframe", keyframe_tolerance_s=tolerance)
        if tolerance is None:
            before, after = snap_windows(times, 6.0)
        else:
            before = after = np.full(n, tolerance)
        moved = batch.times_s - times
        assert np.all(moved >= -before - 0.04 - 1e-9) and np.all(moved <= after + 1e-9)
        for frame, t in zip(batch.frames, batch.times_s, strict=True):
            assert np.array_equal(frame, ref.frames[np.flatnonzero(np.isclose(ref.times, t))[0]])
        _, exact, _ = read(path, times)
        assert stats["decoded"] <= exact["decoded"]


def test_intervals_are_decoded_only_as_far_as_the_windows_need(gop50) -> None:
    """1, 3 and 5 s are 1 s from every keyframe: with 0.5 s of reach each interval is decoded
    up to the first frame in decode order at or after t - 0.5 s, about half of exact's work."""
    path, _ = gop50
    times = np.array([1.0, 3.0, 5.0])
    batch, stats, _ = read(path, times, seek="keyframe", keyframe_tolerance_s=0.5)
    moved = batch.times_s - times
    assert np.all(moved >= -0.5 - 1e-9) and np.all(moved <= -0.3)  # a B-frame group at most
    _, exact, _ = read(path, times)
    assert stats["decoded"] <= 0.6 * exact["decoded"]


def test_index_decode_positions_follow_the_demuxer(gop50) -> None:
    """``decode_pos`` orders the frames as the demuxer delivers their packets."""
    import av

    path, ref = gop50
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        demuxed = [p.pts for p in container.demux(stream) if p.pts is not None]
    with VideoReader(path) as r:
        index = r._video.index  # the reader's own index
    assert ref.decode_order_differs
    order = np.argsort(index.decode_pos)
    assert index.pts[order].tolist() == demuxed
