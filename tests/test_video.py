"""Tests for vidscope.video: probing, timestamp-true frame reading, sampling specs, errors.

Media are generated with PyAV into temporary folders. Every frame of a generated video is
distinct, and reader output is compared pixel for pixel with a plain sequential PyAV decode
of the same file ("the reference"), so both the choice of frame and its decoding are checked.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vidscope.video import SamplingSpec, VideoReader, probe

from ._video_helpers import (
    H,
    Ref,
    W,
    assert_shown,
    decode_all,
    encode,
    pattern,
    read,
    shown,
)

EDGE = Path(__file__).resolve().parents[2] / "shared" / "media" / "edge"

# --------------------------------------------------------------------------- generated media


@pytest.fixture(scope="module", params=["mp4", "mkv"])
def gop10(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """75 frames at 25 fps, keyframe every 10 frames, x264 B-frames (decode != display)."""
    path = tmp_path_factory.mktemp("gop10") / f"gop10.{request.param}"
    encode(path, [pattern(i) for i in range(75)], gop=10)
    return path, decode_all(path)


@pytest.fixture(scope="module")
def gop50(tmp_path_factory: pytest.TempPathFactory):
    """150 frames at 25 fps, keyframes at exactly 0, 2 and 4 s."""
    path = tmp_path_factory.mktemp("gop50") / "gop50.mp4"
    encode(path, [pattern(i) for i in range(150)], gop=50)
    return path, decode_all(path)


def test_generated_video_is_a_real_test(gop10) -> None:
    path, ref = gop10
    assert len(ref.times) == 75
    assert ref.decode_order_differs, "x264 made no B-frames: decode order would equal display"
    np.testing.assert_allclose(ref.times[ref.key], np.arange(0, 3.0, 0.4), atol=1e-9)
    info = probe(path)
    assert (info.num_frames, info.num_keyframes, info.width, info.height) == (75, 8, W, H)
    assert (info.codec, info.pix_fmt, info.rotation) == ("h264", "yuv420p", 0)
    assert info.duration_s == pytest.approx(3.0, abs=1e-6)
    assert info.fps == pytest.approx(25.0, abs=1e-6)


def _key_times(ref: Ref) -> np.ndarray:
    return ref.times[ref.key]


EXACT_CASES: dict[str, Callable[[Ref], np.ndarray]] = {
    "dense": lambda r: r.times,
    "dense_midframe": lambda r: r.times + 0.02,
    "dense_reversed": lambda r: r.times[::-1],
    "sparse_sorted": lambda r: np.array([0.5, 1.3, 2.1, 2.9]),
    "sparse_unsorted": lambda r: np.array([2.9, 0.5, 2.1, 1.3, 0.7]),
    "just_before_keyframes": lambda r: _key_times(r)[1:] - 0.001,
    "exactly_at_keyframes": lambda r: _key_times(r)[::-1],
    "before_start_and_after_end": lambda r: np.array([1.3, -1.0, 1e3, 2.95]),
    "random_sorted": lambda r: np.sort(np.random.default_rng(0).uniform(0, 3, 20)),
    "random_unsorted": lambda r: np.random.default_rng(1).uniform(0, 3, 20),
    "keyframe_then_next_frames": lambda r: np.array([0.4, 0.44, 0.52]),
    "keyframe_then_next_gop": lambda r: np.array([0.4, 0.93]),
    "around_keyframes": lambda r: np.concatenate([[k - 0.001, k, k + 0.05] for k in _key_times(r)]),
}


@pytest.mark.parametrize(
    "case",
    list(EXACT_CASES),
)
def test_exact_returns_frame_on_screen(gop10, case: str) -> None:
    path, ref = gop10
    times = EXACT_CASES[case](ref)
    batch, stats, damage = read(path, times)
    assert damage == []
    assert stats["errors"] == 0
    assert stats["decoded"] <= len(ref.times), "decoded more than a full sequential decode"
    assert_shown(batch, times, ref.times, ref.frames)


@pytest.mark.parametrize("threads", [0, 1])
def test_dense_is_one_sequential_pass(gop10, threads: int) -> None:
    path, ref = gop10
    batch, stats, _ = read(path, ref.times, threads=threads)
    assert stats["seeks"] <= 1
    assert stats["decoded"] == len(ref.times)
    assert_shown(batch, ref.times, ref.times, ref.frames)


def test_sparse_decodes_less_than_the_file(gop10) -> None:
    path, ref = gop10
    times = np.array([0.5, 2.1])  # frames 12 and 52: two keyframe intervals of eight
    batch, stats, _ = read(path, times)
    assert_shown(batch, times, ref.times, ref.frames)
    assert 2 <= stats["decoded"] <= 20  # at most the two intervals, never the whole file
    assert stats["decoded"] < len(ref.times)


def test_duplicate_times_and_indices(gop10) -> None:
    path, ref = gop10
    times = np.array([1.0, 1.0, 0.5, 1.0, 1.01, 0.5])
    with VideoReader(path) as r:
        chunks = list(r.iter_frames(times))
        decoded = r.stats["decoded"]
    assert [len(c) for c in chunks] == [6]
    idx = np.concatenate([c.indices for c in chunks])
    assert sorted(idx.tolist()) == list(range(len(times)))
    t_out = np.concatenate([c.times_s for c in chunks])
    assert np.all(np.diff(t_out) >= 0), "chunks come in display order"
    frames = np.concatenate([c.frames for c in chunks])
    for f, i, t in zip(frames, idx, t_out, strict=True):
        e = int(shown(ref.times, times[i]))
        assert t == pytest.approx(ref.times[e], abs=1e-9)
        assert np.array_equal(f, ref.frames[e])
    assert decoded <= len(ref.times)
    batch, _, _ = read(path, times)
    assert_shown(batch, times, ref.times, ref.frames)
    assert np.array_equal(batch.frames[0], batch.frames[1])
    assert np.array_equal(batch.frames[0], batch.frames[3])
    assert batch.times_s[4] == batch.times_s[0]  # 1.01 s is still frame 25 (1.00-1.04 s)


@pytest.mark.parametrize(
    "times",
    [
        pytest.param([1.0, 1.0, 1.0, 0.5, 0.5], id="duplicates"),
        pytest.param(np.arange(0, 3, 0.01), id="fps100_on_25fps_video"),
        pytest.param([2.99, 5.0, 6.0, 7.0], id="past_the_end"),
    ],
)
def test_chunks_never_exceed_chunk_size_when_samples_share_a_frame(gop10, times) -> None:
    path, _ = gop10
    times = np.asarray(times, dtype=np.float64)
    with VideoReader(path) as r:
        chunks = list(r.iter_frames(times, chunk_size=2))
    assert sum(len(c) for c in chunks) == len(times)
    assert max(len(c) for c in chunks) <= 2, [len(c) for c in chunks]


@pytest.mark.parametrize("chunk_size", [1, 7, 32, 1000])
def test_iter_frames_chunks(gop10, chunk_size: int) -> None:
    path, ref = gop10
    times = ref.times[::-1] + 0.01
    with VideoReader(path) as r:
        chunks = list(r.iter_frames(times, chunk_size=chunk_size))
    sizes = [len(c) for c in chunks]
    assert sum(sizes) == len(times)
    assert max(sizes) <= chunk_size and min(sizes) >= 1
    assert all(len(c.times_s) == len(c.indices) == len(c) for c in chunks)
    idx = np.concatenate([c.indices for c in chunks])
    assert sorted(idx.tolist()) == list(range(len(times)))
    frames = np.concatenate([c.frames for c in chunks])
    exp = shown(ref.times, times[idx])
    assert np.array_equal(frames, ref.frames[exp])


def test_empty_times_and_bad_seek_mode(gop10) -> None:
    path, _ = gop10
    with VideoReader(path) as r:
        assert list(r.iter_frames(np.array([]))) == []
        with pytest.raises(ValueError, match="--seek"):
            list(r.iter_frames(np.array([0.0]), seek="nearest"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "times",
    [
        pytest.param([0.0, 0.04], id="first_two_frames"),
        pytest.param([2.0, 2.04], id="keyframe_and_next_frame"),
        pytest.param([2.0, 2.2], id="keyframe_and_sixth_frame"),
        pytest.param([0.0, 1.0], id="keyframe_and_later_frame"),
    ],
)
def test_wanted_keyframe_then_frame_in_same_interval(gop50, times: list[float]) -> None:
    """Minimal reproduction: a wanted keyframe followed by a wanted non-keyframe."""
    path, ref = gop50
    batch, _, _ = read(path, times, threads=1)
    assert_shown(batch, np.array(times), ref.times, ref.frames)


# --------------------------------------------------------------------------- keyframe mode


def test_gop50_layout(gop50) -> None:
    _, ref = gop50
    np.testing.assert_allclose(_key_times(ref), [0.0, 2.0, 4.0], atol=1e-9)


def test_keyframe_mode_snaps_within_tolerance(gop50) -> None:
    path, ref = gop50
    times = np.array([4.45, 0.1, 1.8, 2.3, 2.0])
    batch, stats, _ = read(path, times, seek="keyframe", keyframe_tolerance_s=0.5)
    np.testing.assert_allclose(batch.times_s, [4.0, 0.0, 2.0, 2.0, 2.0], atol=1e-9)
    keys = np.flatnonzero(ref.key)
    for f, k in zip(batch.frames, keys[[2, 0, 1, 1, 1]], strict=True):
        assert np.array_equal(f, ref.frames[k])
    assert stats["decoded"] <= 3  # only the three keyframes
    _, exact_stats, _ = read(path, times)
    assert exact_stats["decoded"] >= 5 * stats["decoded"]


def test_keyframe_mode_without_a_keyframe_in_reach_takes_the_cheapest_frame(gop50) -> None:
    """No keyframe within 0.5 s of 1.0 or 3.1: each takes the frame within 0.5 s that is
    earliest in decode order (a reference frame near the window's start), a real frame."""
    path, ref = gop50
    times = np.array([1.0, 3.1])  # 1 s and 0.9 s from the nearest keyframes
    batch, stats, _ = read(path, times, seek="keyframe", keyframe_tolerance_s=0.5)
    moved = batch.times_s - times
    assert np.all(np.abs(moved) <= 0.5 + 1e-9) and np.all(moved < -0.3)  # early in the window
    for f, t in zip(batch.frames, batch.times_s, strict=True):
        assert np.array_equal(f, ref.frames[np.flatnonzero(np.isclose(ref.times, t))[0]])
    _, exact_stats, _ = read(path, times)
    assert stats["decoded"] < exact_stats["decoded"]
    batch, _, _ = read(path, [0.1], seek="keyframe", keyframe_tolerance_s=0.0)
    assert_shown(batch, np.array([0.1]), ref.times, ref.frames)


def test_keyframe_mode_picks_nearest_keyframe(gop50) -> None:
    path, ref = gop50
    batch, _, _ = read(path, [1.2, 2.9, 3.2], seek="keyframe", keyframe_tolerance_s=10.0)
    # 1.2 -> key 2; 2.9 -> key 4 (key 2 is taken, and key 0 would come before 1.2's frame);
    # 3.2 -> key 4 (shared: no other keyframe at or after 4 s)
    np.testing.assert_allclose(batch.times_s, [2.0, 4.0, 4.0], atol=1e-9)
    assert np.array_equal(batch.frames[0], ref.frames[50])
    assert np.array_equal(batch.frames[2], ref.frames[100])


def test_keyframe_mode_prefers_a_frame_decoding_passes_anyway(gop50) -> None:
    """1.0 s has no keyframe within 0.5 s, so interval 0 is decoded up to the frame within
    reach that comes first in decode order (0.52 s); 0.1 s then takes the frame on screen at
    0.1 s, which that decoding passes anyway, rather than the keyframe at 0 s."""
    path, ref = gop50
    batch, _, _ = read(path, [0.1, 1.0], seek="keyframe", keyframe_tolerance_s=0.5)
    np.testing.assert_allclose(batch.times_s, [0.08, 0.52], atol=1e-9)
    assert np.array_equal(batch.frames[0], ref.frames[2])
    assert np.array_equal(batch.frames[1], ref.frames[13])


# --------------------------------------------------------------------------- timing edge cases


@pytest.fixture(scope="module")
def vfr(tmp_path_factory: pytest.TempPathFactory):
    """30 fps for 2 s (60 frames), then 5 fps for 2 s (10 frames), explicit pts."""
    path = tmp_path_factory.mktemp("vfr") / "vfr.mkv"
    pts = list(range(60)) + list(range(60, 120, 6))
    encode(path, [pattern(i) for i in range(70)], fps=30, pts=pts, time_base=Fraction(1, 30))
    return path, decode_all(path)


def test_vfr_probe(vfr) -> None:
    path, ref = vfr
    assert len(ref.times) == 70
    info = probe(path)
    assert info.num_frames == 70
    assert info.duration_s == pytest.approx(4.0, abs=0.01)
    assert info.fps == pytest.approx(70 / 4.0, rel=0.01)


def test_vfr_uniform_sampling_is_by_time(vfr) -> None:
    path, ref = vfr
    times = SamplingSpec("uniform", 16).times(probe(path).duration_s)
    np.testing.assert_allclose(times, (np.arange(16) + 0.5) * 0.25, atol=0.002)
    batch, _, _ = read(path, times)
    assert_shown(batch, times, ref.times, ref.frames)
    lag = times - batch.times_s
    assert np.all(lag >= -1e-9) and np.all(lag <= 0.2 + 0.002)
    assert np.sum(batch.times_s >= 2.0) >= 7  # by index, 16 samples would put 2 there
    assert np.all(np.diff(batch.times_s) > 0.04)


def test_coarse_time_base_never_returns_a_future_frame(tmp_path: Path) -> None:
    """AVI stores pts in units of 1/fps: t = 0.06 s at 10 fps is still frame 0 (0.0-0.1 s)."""
    path = encode(
        tmp_path / "coarse.avi",
        [pattern(i) for i in range(10)],
        codec="mjpeg",
        fps=10,
        pix_fmt="yuvj420p",
    )
    ref = decode_all(path)
    times = np.array([0.06, 0.16, 0.26, 0.3])
    batch, _, _ = read(path, times)
    assert_shown(batch, times, ref.times, ref.frames)


# --------------------------------------------------------------------------- orientation, formats


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rotation_is_applied(tmp_path: Path, degrees: int) -> None:
    path = encode(tmp_path / f"rot{degrees}.mp4", [pattern(i) for i in range(6)], rotation=degrees)
    ref = decode_all(path)
    assert round(ref.rotation / 90) % 4 == degrees // 90
    info = probe(path)
    assert info.rotation == degrees
    assert (info.width, info.height) == ((H, W) if degrees in (90, 270) else (W, H))
    times = ref.times[::-1]
    batch, _, _ = read(path, times)
    assert_shown(batch, times, ref.times, np.rot90(ref.frames, degrees // 90, axes=(1, 2)))
    small, _, _ = read(path, times, size=(20, 30))
    assert small.frames.shape == (6, 30, 20, 3)  # size is (width, height) as displayed
    # the resized frame is the resized upright frame: compare coarse 2x2 block colours
    big = batch.frames[0].astype(np.float64)
    sm = small.frames[0].astype(np.float64)
    hh, ww = big.shape[0] // 2, big.shape[1] // 2
    for r0, c0, r1, c1 in [(0, 0, 0, 0), (0, ww, 0, 10), (hh, 0, 15, 0), (hh, ww, 15, 10)]:
        a = big[r0 : r0 + hh, c0 : c0 + ww].mean(axis=(0, 1))
        b = sm[r1 : r1 + 15, c1 : c1 + 10].mean(axis=(0, 1))
        assert np.abs(a - b).max() < 12


@pytest.mark.parametrize(
    ("codec", "pix_fmt", "ext", "stored_fmt", "mean_tol"),
    [
        ("png", "gray", "mov", "gray", 0.0),
        ("ffv1", "gray", "mkv", "gray", 0.0),
        ("libx264", "yuv444p10le", "mp4", "yuv444p10le", 1.0),
        ("libx264", "yuv422p", "mp4", "yuv422p", 4.0),
        ("libx264rgb", "rgb24", "mkv", "gbrp", 0.0),
    ],
)
def test_pixel_formats_come_out_rgb(
    tmp_path: Path, codec: str, pix_fmt: str, ext: str, stored_fmt: str, mean_tol: float
) -> None:
    rng = np.random.default_rng(3)
    if pix_fmt == "gray":
        src = [
            np.kron(rng.integers(0, 256, (6, 8), dtype=np.uint8), np.ones((8, 8), np.uint8))
            for _ in range(5)
        ]
    else:
        src = [pattern(i) for i in range(5)]
    opts = {"qp": "0"} if codec.startswith("libx264") else {}
    path = encode(tmp_path / f"fmt.{ext}", src, codec=codec, pix_fmt=pix_fmt, options=opts)
    info = probe(path)
    assert info.pix_fmt == stored_fmt
    ref = decode_all(path)
    times = np.arange(5) * 0.04 + 0.01
    batch, _, _ = read(path, times)
    assert batch.frames.shape == (5, H, W, 3) and batch.frames.dtype == np.uint8
    assert_shown(batch, times, ref.times, ref.frames)
    for got, want in zip(batch.frames, src, strict=True):  # and they are the source pictures
        want3 = np.repeat(want[..., None], 3, axis=2) if want.ndim == 2 else want
        diff = np.abs(got.astype(np.int16) - want3)
        if mean_tol == 0:
            assert diff.max() == 0
        else:
            assert diff.mean() <= mean_tol


@pytest.mark.parametrize("size", [(32, 24), (128, 96), (40, 40), (W, H)])
def test_size_resizes(gop10, size: tuple[int, int]) -> None:
    path, ref = gop10
    times = np.array([0.5, 1.7])
    batch, _, _ = read(path, times, size=size)
    assert batch.frames.shape == (2, size[1], size[0], 3)
    exp = ref.frames[shown(ref.times, times)]
    for got, want in zip(batch.frames, exp, strict=True):
        # colours agree per quadrant with the full-size reference frame
        for qy in (0, 1):
            for qx in (0, 1):
                a = want[qy * H // 2 : (qy + 1) * H // 2, qx * W // 2 : (qx + 1) * W // 2]
                b = got[
                    qy * size[1] // 2 : (qy + 1) * size[1] // 2,
                    qx * size[0] // 2 : (qx + 1) * size[0] // 2,
                ]
                assert np.abs(a.mean(axis=(0, 1)) - b.mean(axis=(0, 1))).max() < 8
    full, _, _ = read(path, times, size=None)
    assert full.frames.shape == (2, H, W, 3)
    same, _, _ = read(path, times, size=(W, H))
    assert np.array_equal(same.frames, full.frames)
