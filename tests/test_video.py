"""Tests for vidscope.video: probing, timestamp-true frame reading, sampling specs, errors.

Media are generated with PyAV into temporary folders. Every frame of a generated video is
distinct, and reader output is compared pixel for pixel with a plain sequential PyAV decode
of the same file ("the reference"), so both the choice of frame and its decoding are checked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import psutil
import pytest
from PIL import Image

from vidscope.errors import VideoError
from vidscope.video import FrameBatch, SamplingSpec, VideoReader, probe

EDGE = Path(__file__).resolve().parents[2] / "shared" / "media" / "edge"
W, H = 64, 48
FPS = 25

# --------------------------------------------------------------------------- helpers


def pattern(i: int, w: int = W, h: int = H) -> np.ndarray:
    """Frame ``i``: gradients moving with ``i`` and left/right halves whose blue level encodes
    ``i``, so every frame differs clearly from every other (and B-frames pay off)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), np.uint8)
    img[..., 0] = (xx * 4 + i * 3) % 256
    img[..., 1] = (yy * 5 + i * 7) % 256
    img[:, : w // 2, 2] = (i * 9) % 256
    img[:, w // 2 :, 2] = 255 - (i * 9) % 256
    return img


def encode(
    path: Path,
    frames: list[np.ndarray],
    *,
    codec: str = "libx264",
    fps: int = FPS,
    pix_fmt: str = "yuv420p",
    gop: int | None = None,
    options: dict[str, str] | None = None,
    rotation: int | None = None,
    pts: list[int] | None = None,
    time_base: Fraction | None = None,
) -> Path:
    """Encode RGB (or 2-D gray) frames; ``gop`` fixes the keyframe interval exactly."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        opts = {"crf": "10"} if codec == "libx264" else {}
        if gop:
            opts.update(g=str(gop), keyint_min=str(gop), sc_threshold="0")
        opts.update(options or {})
        stream.options = opts
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if time_base is not None:
            stream.codec_context.time_base = time_base
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="gray" if img.ndim == 2 else "rgb24")
            if frame.format.name != pix_fmt:
                frame = frame.reformat(format=pix_fmt)
            if pts is not None:
                frame.pts, frame.time_base = pts[i], time_base
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@dataclass
class Ref:
    """Sequential PyAV decode of a file, in display order, in coded orientation."""

    times: np.ndarray  # seconds from the first frame
    frames: np.ndarray  # uint8 [N, H, W, 3]
    key: np.ndarray  # bool [N]
    rotation: int  # frame.rotation (counter-clockwise degrees)
    decode_order_differs: bool


def decode_all(path: Path) -> Ref:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        tb = float(stream.time_base)
        got = [
            (f.pts, f.to_ndarray(format="rgb24"), f.key_frame, f.rotation) for f in c.decode(stream)
        ]
        c.seek(0)
        decode_pts = [p.pts for p in c.demux(stream) if p.pts is not None]
    got.sort(key=lambda g: g[0])
    pts = np.array([g[0] for g in got], dtype=np.float64)
    return Ref(
        times=(pts - pts[0]) * tb,
        frames=np.stack([g[1] for g in got]),
        key=np.array([bool(g[2]) for g in got]),
        rotation=int(got[0][3] or 0),
        decode_order_differs=decode_pts != sorted(decode_pts),
    )


def shown(ref_times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index of the frame on screen at each time: last frame with time <= t (first if before)."""
    i = np.searchsorted(ref_times, np.asarray(t, dtype=np.float64) + 1e-9, side="right") - 1
    return np.clip(i, 0, len(ref_times) - 1)


def upright(frames: np.ndarray, rotation: int) -> np.ndarray:
    """Apply a counter-clockwise display rotation to ``[N, H, W, 3]`` frames."""
    return np.rot90(frames, round(rotation / 90) % 4, axes=(1, 2))


def assert_shown(batch: FrameBatch, times: np.ndarray, ref_times: np.ndarray, ref_frames) -> None:
    """``batch`` (ordered like ``times``) holds exactly the reference frame shown at each time."""
    times = np.asarray(times, dtype=np.float64)
    expected = shown(ref_times, times)
    assert batch.frames.dtype == np.uint8
    assert batch.frames.shape == (len(times), *ref_frames.shape[1:])
    assert batch.indices.tolist() == list(range(len(times)))
    np.testing.assert_allclose(batch.times_s, ref_times[expected], rtol=0, atol=1e-9)
    for j, e in enumerate(expected):
        got = batch.frames[j]
        if not np.array_equal(got, ref_frames[e]):
            diffs = np.abs(ref_frames.astype(np.int16) - got.astype(np.int16)).mean(axis=(1, 2, 3))
            pytest.fail(
                f"sample {j} (t={times[j]:.4f} s): expected reference frame {e} "
                f"(t={ref_times[e]:.4f} s), pixels differ by {diffs[e]:.1f} on average; "
                f"closest reference frame is {int(diffs.argmin())} ({diffs.min():.1f})"
            )


def read(path: Path, times, **kw) -> tuple[FrameBatch, dict[str, int], list[str]]:
    with VideoReader(path, **{k: kw.pop(k) for k in ("threads", "image_fps") if k in kw}) as r:
        batch = r.read(np.asarray(times, dtype=np.float64), **kw)
        return batch, dict(r.stats), list(r.damage)


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


def test_keyframe_mode_falls_back_to_exact(gop50) -> None:
    path, ref = gop50
    times = np.array([1.0, 3.1])  # 1 s and 0.9 s from the nearest keyframes
    batch, _, _ = read(path, times, seek="keyframe", keyframe_tolerance_s=0.5)
    assert_shown(batch, times, ref.times, ref.frames)
    batch, _, _ = read(path, [0.1], seek="keyframe", keyframe_tolerance_s=0.0)
    assert_shown(batch, np.array([0.1]), ref.times, ref.frames)


def test_keyframe_mode_picks_nearest_keyframe(gop50) -> None:
    path, ref = gop50
    batch, _, _ = read(path, [1.2, 2.9, 3.2], seek="keyframe", keyframe_tolerance_s=10.0)
    np.testing.assert_allclose(batch.times_s, [2.0, 2.0, 4.0], atol=1e-9)
    assert np.array_equal(batch.frames[0], ref.frames[50])
    assert np.array_equal(batch.frames[2], ref.frames[100])


def test_keyframe_mode_mixed_snap_and_exact(gop50) -> None:
    path, ref = gop50
    batch, _, _ = read(path, [0.1, 1.0], seek="keyframe", keyframe_tolerance_s=0.5)
    np.testing.assert_allclose(batch.times_s, [0.0, 1.0], atol=1e-9)
    assert np.array_equal(batch.frames[0], ref.frames[0])
    assert np.array_equal(batch.frames[1], ref.frames[25])


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


# --------------------------------------------------------------------------- image folders


@pytest.fixture
def png_folder(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    folder = tmp_path / "seq"
    folder.mkdir()
    frames = [pattern(i) for i in range(12)]
    for i, img in enumerate(frames):
        Image.fromarray(img).save(folder / f"{i + 1:05d}.png")
    (folder / "notes.txt").write_text("not a frame")
    return folder, frames


def test_image_folder_probe(png_folder) -> None:
    folder, _ = png_folder
    info = probe(folder, image_fps=10)
    assert (info.num_frames, info.width, info.height, info.codec) == (12, W, H, "image")
    assert info.duration_s == pytest.approx(1.2)
    assert info.fps == 10


def test_image_folder_frame_by_time(png_folder) -> None:
    folder, frames = png_folder
    times = np.array([0.35, 0.0, 0.05, 0.1, 0.999, 1.15, 5.0, -1.0, 0.35])
    exp = [3, 0, 0, 1, 9, 11, 11, 0, 3]
    with VideoReader(folder, image_fps=10) as r:
        batch = r.read(times)
        assert r.stats["decoded"] == len(set(exp))
    assert batch.indices.tolist() == list(range(len(times)))
    np.testing.assert_allclose(batch.times_s, np.array(exp) / 10)
    assert np.array_equal(batch.frames, np.stack([frames[i] for i in exp]))
    with VideoReader(folder, image_fps=10) as r:
        small = r.read(times[:2], size=(32, 20))
    assert small.frames.shape == (2, 20, 32, 3)


def test_image_folder_natural_order_and_gray(tmp_path: Path) -> None:
    folder = tmp_path / "unpadded"
    folder.mkdir()
    for i in range(12):  # 1.png ... 12.png: "10" must not sort before "2"
        Image.fromarray(np.full((8, 10), i * 20, np.uint8), mode="L").save(folder / f"{i + 1}.png")
    with VideoReader(folder, image_fps=4) as r:
        assert r.info.duration_s == pytest.approx(3.0)
        batch = r.read(np.arange(12) / 4)
    assert batch.frames.shape == (12, 8, 10, 3)
    assert batch.frames[:, 0, 0, 0].tolist() == [i * 20 for i in range(12)]
    assert np.all(batch.frames[..., 0] == batch.frames[..., 2])


def test_image_folder_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoError, match="no image frames") as exc:
        probe(empty)
    assert exc.value.path == str(empty)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "00001.jpg").write_bytes(b"garbage, not a jpeg")
    with pytest.raises(VideoError, match="unreadable image frame"):
        probe(bad)
    with pytest.raises(ValueError, match="--image-fps"):
        probe(empty, image_fps=0)


# --------------------------------------------------------------------------- SamplingSpec


@pytest.mark.parametrize(
    ("spec", "duration", "expected"),
    [
        (SamplingSpec("uniform", 4), 2.0, [0.25, 0.75, 1.25, 1.75]),
        (SamplingSpec("uniform", 1), 3.0, [1.5]),
        (SamplingSpec("fps", 2), 2.0, [0.0, 0.5, 1.0, 1.5]),
        (SamplingSpec("fps", 2), 2.1, [0.0, 0.5, 1.0, 1.5, 2.0]),
        (SamplingSpec("fps", 10), 0.3, [0.0, 0.1, 0.2]),
        (SamplingSpec("fps", 3), 1.0, [0.0, 1 / 3, 2 / 3]),
        (SamplingSpec("every", 0.75), 2.0, [0.0, 0.75, 1.5]),
        (SamplingSpec("every", 5.0), 2.0, [0.0]),
        (SamplingSpec("fps", 2, max_frames=4), 2.0, [0.0, 0.5, 1.0, 1.5]),
        (SamplingSpec("fps", 2, max_frames=2), 2.0, [0.5, 1.5]),
        (SamplingSpec("every", 0.5, max_frames=5), 10.0, [1.0, 3.0, 5.0, 7.0, 9.0]),
        (SamplingSpec("fps", 1), 0.0, [0.0]),
        (SamplingSpec("uniform", 2), 0.0, [0.0, 0.0]),
    ],
)
def test_sampling_times(spec: SamplingSpec, duration: float, expected: list[float]) -> None:
    t = spec.times(duration)
    assert t.dtype == np.float64
    np.testing.assert_allclose(t, expected, atol=1e-12)


def test_sampling_fps_long_video() -> None:
    t = SamplingSpec("fps", 25).times(600.0)
    assert len(t) == 15000
    np.testing.assert_allclose(t[[0, 1, -1]], [0.0, 0.04, 599.96])
    t = SamplingSpec("fps", 25, max_frames=100).times(600.0)
    assert len(t) == 100
    np.testing.assert_allclose(np.diff(t), 6.0)
    assert t[0] == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"mode": "uniform", "value": 0}, "--frames"),
        ({"mode": "fps", "value": -1}, "--fps"),
        ({"mode": "every", "value": float("inf")}, "--every"),
        ({"mode": "fps", "value": float("nan")}, "--fps"),
        ({"mode": "uniform", "value": 2.5}, "--frames"),
        ({"mode": "fps", "value": 1, "max_frames": 0}, "--max-frames"),
        ({"mode": "random", "value": 1}, "uniform, fps or every"),
    ],
)
def test_sampling_validation(kwargs: dict, flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        SamplingSpec(**kwargs)


def test_sampling_describe_and_dict() -> None:
    assert SamplingSpec("uniform", 16).describe() == "16 frames uniform"
    assert SamplingSpec("fps", 2.5, max_frames=8).describe() == "2.5 fps (max 8)"
    assert SamplingSpec("every", 2).describe() == "every 2 s"
    assert SamplingSpec("fps", 2).to_dict() == {"mode": "fps", "value": 2, "max_frames": None}


# --------------------------------------------------------------------------- errors


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        for k in range(20):
            frame = av.AudioFrame.from_ndarray(
                (np.sin(np.arange(1024) * 0.05 + k) * 0.2).astype(np.float32)[None, :],
                format="fltp",
                layout="mono",
            )
            frame.sample_rate, frame.pts = 44100, k * 1024
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def _truncated_moov(path: Path) -> None:
    encode(path, [pattern(i) for i in range(30)])  # moov is written after mdat
    data = path.read_bytes()
    assert data.find(b"moov") > len(data) * 0.6
    path.write_bytes(data[: len(data) * 6 // 10])


ERROR_CASES: dict[str, tuple[str, Callable[[Path], None], str]] = {
    "missing": ("missing.mp4", lambda p: None, "file not found"),
    "zero_bytes": ("zero.mp4", lambda p: p.write_bytes(b""), "empty file"),
    "text": ("labels.mp4", lambda p: p.write_text("id,label\n1,crash\n"), "plain text"),
    "audio_only": ("audio.mp4", _audio_only, "no video stream"),
    "truncated_moov": ("cut.mp4", _truncated_moov, "moov"),
    "binary_junk": (
        "junk.mp4",
        lambda p: p.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8))),
        "unreadable",
    ),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_errors_have_specific_reasons(tmp_path: Path, case: str) -> None:
    name, make, reason = ERROR_CASES[case]
    path = tmp_path / name
    make(path)
    for opener in (probe, VideoReader):
        with pytest.raises(VideoError) as exc:
            opener(path)
        assert reason in exc.value.reason
        assert exc.value.path == str(path)
        assert str(path) in str(exc.value)


def test_error_reasons_are_all_different(tmp_path: Path) -> None:
    reasons = set()
    for case, (name, make, _) in ERROR_CASES.items():
        path = tmp_path / case / name
        path.parent.mkdir()
        make(path)
        with pytest.raises(VideoError) as exc:
            probe(path)
        reasons.add(exc.value.reason)
    assert len(reasons) == len(ERROR_CASES)


# --------------------------------------------------------------------------- shared edge media


def _edge_entries() -> dict[str, dict]:
    path = EDGE / "expected.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


EDGE_ENTRIES = _edge_entries()
needs_edge = pytest.mark.skipif(
    not EDGE_ENTRIES, reason=f"shared edge-case media not found at {EDGE} (no ../shared)"
)


def _edge(status: str, *, exclude: tuple[str, ...] = ()) -> list:
    names = [n for n, e in EDGE_ENTRIES.items() if e["status"] == status and n not in exclude]
    if not names:
        return [pytest.param("<none>", marks=pytest.mark.skip(reason=f"no edge media ({EDGE})"))]
    return [pytest.param(n, id=n) for n in names]


def _frame_s(entry: dict) -> float:
    if "fps" in entry:
        return 1.0 / entry["fps"]
    return entry["duration_s"] / entry["frames"] if "duration_s" in entry else 0.1


def _edge_reference(name: str, info_rotation: int) -> Ref:
    path = EDGE / name
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".jpg", ".png"))
        frames = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in files])
        return Ref(np.arange(len(files)) / 10.0, frames, np.ones(len(files), bool), 0, False)
    ref = decode_all(path)
    ref.frames = upright(ref.frames, info_rotation)
    return ref


@needs_edge
@pytest.mark.parametrize("name", _edge("ok"))
def test_edge_ok_probe(name: str) -> None:
    entry = EDGE_ENTRIES[name]
    info = probe(EDGE / name, image_fps=10)
    assert info.num_frames == entry["frames"]
    assert (info.width, info.height) == (entry["width"], entry["height"])
    assert info.rotation == entry.get("rotation", 0)
    duration = entry.get("duration_s", entry["frames"] / 10)
    assert abs(info.duration_s - duration) <= _frame_s(entry) + 1e-6
    if "fps" in entry:
        assert info.fps == pytest.approx(entry["fps"], rel=0.01)


@needs_edge
@pytest.mark.parametrize("name", _edge("ok", exclude=("long_10min_64x48.mp4",)))
def test_edge_ok_uniform_samples_exact(name: str) -> None:
    entry = EDGE_ENTRIES[name]
    with VideoReader(EDGE / name, image_fps=10) as r:
        info = r.info
        times = SamplingSpec("uniform", 8).times(info.duration_s)
        ref = _edge_reference(name, info.rotation)
        seen = []
        for chunk in r.iter_frames(times, chunk_size=2):  # UHD: never hold all 8 at once
            assert chunk.frames.shape[1:] == (entry["height"], entry["width"], 3)
            for f, t, i in zip(chunk.frames, chunk.times_s, chunk.indices, strict=True):
                e = int(shown(ref.times, times[i]))
                assert t == pytest.approx(ref.times[e], abs=1e-6), f"sample {i}"
                assert np.array_equal(f, ref.frames[e]), f"sample {i}: pixels of frame {e}"
                seen.append(int(i))
        assert sorted(seen) == list(range(8))
        assert r.damage == []
        assert r.stats["errors"] == 0
        assert r.stats["decoded"] <= entry["frames"]


@needs_edge
def test_edge_rotated_is_rot90_of_unrotated() -> None:
    for n in ("rotated_90.mp4", "ok_h264_25fps.mp4"):
        if n not in EDGE_ENTRIES:
            pytest.skip(f"{n} missing")
    times = np.array([0.0, 1.3, 3.99])
    rot, _, _ = read(EDGE / "rotated_90.mp4", times)
    plain, _, _ = read(EDGE / "ok_h264_25fps.mp4", times)
    assert rot.frames.shape == (3, 160, 120, 3)
    assert np.array_equal(rot.frames, np.rot90(plain.frames, 1, axes=(1, 2)))
    np.testing.assert_allclose(rot.times_s, plain.times_s)


@needs_edge
def test_edge_vfr_uniform_spread() -> None:
    name = "vfr_30then5fps.mkv"
    if name not in EDGE_ENTRIES:
        pytest.skip(f"{name} missing")
    with VideoReader(EDGE / name) as r:
        times = SamplingSpec("uniform", 16).times(r.info.duration_s)
        batch = r.read(times)
    ideal = (np.arange(16) + 0.5) * 0.25
    np.testing.assert_allclose(times, ideal, atol=0.01)
    assert np.all(np.abs(batch.times_s - ideal) <= 0.25)
    assert np.all(batch.times_s <= times + 1e-9)
    assert np.sum(batch.times_s >= 2.0) >= 7


@needs_edge
@pytest.mark.parametrize("name", _edge("error"))
def test_edge_error_files_are_rejected(name: str) -> None:
    expected_reason = {
        "zero_bytes.mp4": "empty file",
        "not_a_video.mp4": "plain text",
        "audio_only.mp4": "no video stream",
        "truncated_moov_at_end.mp4": "moov",
    }.get(name, "")
    with pytest.raises(VideoError) as exc:
        probe(EDGE / name)
    assert exc.value.reason
    assert expected_reason in exc.value.reason


def _read_partial(name: str) -> tuple[np.ndarray, FrameBatch | None, list[str], VideoError | None]:
    try:
        with VideoReader(EDGE / name) as r:
            times = SamplingSpec("uniform", 8).times(r.info.duration_s)
            batch = r.read(times)
            return times, batch, list(r.damage), None
    except VideoError as exc:
        return np.array([]), None, [], exc


@needs_edge
@pytest.mark.parametrize("name", _edge("partial"))
def test_edge_partial_files(name: str) -> None:
    _, batch, damage, error = _read_partial(name)
    if error is not None:
        assert error.reason
        return
    assert batch is not None
    assert damage, "a damaged file must leave a warning in .damage"
    assert batch.frames.shape[0] == 8 and batch.frames.shape[3] == 3
    assert batch.indices.tolist() == list(range(8))
    assert np.all(np.diff(batch.times_s) >= 0)


@needs_edge
@pytest.mark.parametrize("name", _edge("partial"))
def test_edge_partial_stand_ins_are_not_from_the_future(name: str) -> None:
    """An undecodable target gets the closest earlier decoded frame (read_wanted's contract)."""
    times, batch, _, error = _read_partial(name)
    if error is not None:
        pytest.skip(f"rejected: {error.reason}")
    assert batch is not None
    assert np.all(batch.times_s <= times + 1e-6), list(zip(times, batch.times_s, strict=True))


@needs_edge
def test_edge_long_video_memory_is_bounded() -> None:
    name = "long_10min_64x48.mp4"
    if name not in EDGE_ENTRIES:
        pytest.skip(f"{name} missing")
    proc = psutil.Process()
    with VideoReader(EDGE / name) as r:
        assert r.info.num_frames == 15000
        times = SamplingSpec("fps", 25).times(r.info.duration_s)
        assert len(times) == 15000
        base = proc.memory_info().rss
        peak, count, seen = 0, 0, np.zeros(len(times), bool)
        for chunk in r.iter_frames(times, chunk_size=32):
            assert 1 <= len(chunk) <= 32
            assert chunk.frames.shape[1:] == (48, 64, 3)
            np.testing.assert_allclose(chunk.times_s, times[chunk.indices], atol=1e-6)
            seen[chunk.indices] = True
            count += len(chunk)
            if count % 640 == 0:
                peak = max(peak, proc.memory_info().rss - base)
        assert r.stats["decoded"] == 15000
        assert r.stats["seeks"] <= 1
    assert count == 15000 and seen.all()
    assert peak < 50e6, f"resident memory grew by {peak / 1e6:.0f} MB (all frames: 138 MB)"
