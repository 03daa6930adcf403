"""Video inputs beyond generated clips: image folders, sampling specs, errors, shared edge media.

Companion of ``test_video.py`` (same helpers, in ``_video_helpers``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import psutil
import pytest
from PIL import Image

from vidscope.errors import VideoError
from vidscope.video import FrameBatch, SamplingSpec, VideoReader, probe

from ._video_helpers import (
    H,
    Ref,
    W,
    decode_all,
    encode,
    pattern,
    read,
    shown,
    upright,
)

EDGE = Path(__file__).resolve().parents[2] / "shared" / "media" / "edge"

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
