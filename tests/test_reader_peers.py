"""The reader against other projects' test videos and their recorded frame times.

``tests/data/peers/`` (see its README) holds small videos from torchcodec's test suite with the
presentation time of every frame. Each frame the reader returns must be at a recorded time and
equal, pixel for pixel, to a plain sequential PyAV decode (upright). The discarded-keyframe
file is also re-made here with FFmpeg (``-ss ... -c copy``) at other cut points.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vidscope.video import VideoReader, probe

from ._video_helpers import Ref, decode_all, encode, pattern, shown, upright

PEERS = Path(__file__).resolve().parent / "data" / "peers"
VIDEOS = sorted(p for p in PEERS.iterdir() if p.suffix in (".mp4", ".mkv"))


def _recorded(video: Path) -> np.ndarray:
    """Recorded presentation times (seconds, absolute) of every frame, sorted."""
    found = [j for j in PEERS.glob(video.name + ".*.json")]
    assert len(found) == 1, f"{video.name}: expected one frame-time file, found {found}"
    return np.sort([float(f["pts_time"]) for f in json.loads(found[0].read_text())])


def _reference(path: Path, rotation: int) -> Ref:
    ref = decode_all(path)
    ref.frames = upright(ref.frames, rotation)
    return ref


@pytest.fixture(scope="module", params=[pytest.param(v, id=v.name) for v in VIDEOS])
def peer(request: pytest.FixtureRequest) -> tuple[Path, np.ndarray, Ref]:
    path = request.param
    recorded = _recorded(path)
    return path, recorded - recorded[0], _reference(path, probe(path).rotation)


def test_peer_data_is_small_and_complete() -> None:
    assert len(VIDEOS) >= 6
    assert sum(p.stat().st_size for p in PEERS.iterdir()) < 1_000_000
    assert "BSD 3-Clause" in (PEERS / "README.md").read_text()


def test_frame_times_match_the_recorded_ones(peer) -> None:
    path, times, _ = peer
    with VideoReader(path) as r:
        np.testing.assert_allclose(r.frame_times_s(), times, rtol=0, atol=2e-6)
        assert r.info.num_frames == len(times)
        assert r.damage == [], "an intact file must not be reported as damaged"


def test_every_frame_and_every_midpoint(peer) -> None:
    path, times, ref = peer
    mids = (times[:-1] + times[1:]) / 2
    query = np.concatenate([times + 5e-6, mids, [times[-1] + 1e-3]])  # +5 us: 6-decimal JSON
    with VideoReader(path) as r:
        batch = r.read(query)
        assert r.damage == [] and r.stats["errors"] == 0 and r.stats["lost"] == 0
    want = shown(times, query)
    np.testing.assert_allclose(batch.times_s, times[want], rtol=0, atol=2e-6)
    for j, e in enumerate(want):
        assert np.array_equal(batch.frames[j], ref.frames[e]), f"t={query[j]:.4f}: frame {e}"


def test_each_frame_read_alone(peer) -> None:
    path, times, ref = peer
    with VideoReader(path) as r:
        for e in range(0, len(times), max(1, len(times) // 12)):
            batch = r.read(times[e : e + 1] + 5e-6)
            assert batch.times_s[0] == pytest.approx(times[e], abs=2e-6)
            assert np.array_equal(batch.frames[0], ref.frames[e]), f"frame {e} alone"
        assert r.damage == []


def test_pairs_see_the_next_frame(peer) -> None:
    path, times, ref = peer
    n = len(times)
    pick = np.unique([0, n // 3, n - 1])
    with VideoReader(path) as r:
        _, after = r.read_pairs(times[pick] + 5e-6)
    nxt = np.minimum(pick + 1, n - 1)
    np.testing.assert_allclose(after.times_s, times[nxt], atol=2e-6)
    for j, e in enumerate(nxt):
        assert np.array_equal(after.frames[j], ref.frames[e])


# ------------------------------------------------------------------ discarded leading keyframe


def test_discarded_keyframe_file_is_whole() -> None:
    path = PEERS / "discard_first_keyframe.mp4"
    info = probe(path)
    assert (info.num_frames, info.declared_frames) == (25, 25)
    assert info.duration_s == pytest.approx(1.0, abs=1e-6)
    with VideoReader(path) as r:
        batch = r.read(np.array([0.0, 0.1, 0.2]))
        assert r.damage == []
    np.testing.assert_allclose(batch.times_s, [0.0, 0.08, 0.2], atol=1e-9)
    assert not np.array_equal(batch.frames[0], batch.frames[2])
    assert not np.array_equal(batch.frames[1], batch.frames[2])


def test_keyframe_mode_never_snaps_to_a_discarded_keyframe() -> None:
    path = PEERS / "discard_first_keyframe.mp4"
    with VideoReader(path) as r:
        near_start = r.read(np.array([0.0]), seek="keyframe", keyframe_tolerance_s=0.25)
        far = r.read(np.array([0.0]), seek="keyframe", keyframe_tolerance_s=0.1)
    assert near_start.times_s[0] == pytest.approx(0.2)  # the shown keyframe, not the one at -0.2 s
    assert far.times_s[0] == pytest.approx(0.0)  # out of tolerance: the exact frame


needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI")


@needs_ffmpeg
@pytest.mark.parametrize("cut_s", [0.2, 0.52, 1.3])
def test_stream_copy_cut_at_any_point(tmp_path: Path, cut_s: float) -> None:
    """``ffmpeg -ss CUT -c copy`` keeps the GOP before the cut and discards its head."""
    src = encode(tmp_path / "src.mp4", [pattern(i) for i in range(75)], gop=10)
    cut = tmp_path / "cut.mp4"
    command = ["ffmpeg", "-loglevel", "error", "-y", "-ss", str(cut_s), "-i", str(src)]
    subprocess.run([*command, "-c", "copy", str(cut)], check=True)
    ref = decode_all(cut)
    assert len(ref.times) < 75, "nothing was cut"
    times = np.concatenate([ref.times, ref.times[:-1] + 0.02])
    with VideoReader(cut) as r:
        assert r.info.num_frames == len(ref.times)
        batch = r.read(times)
        singles = [r.read(ref.times[e : e + 1]).frames[0] for e in range(0, len(ref.times), 7)]
        assert r.damage == []
    want = shown(ref.times, times)
    np.testing.assert_allclose(batch.times_s, ref.times[want], atol=1e-9)
    assert all(np.array_equal(f, ref.frames[e]) for f, e in zip(batch.frames, want, strict=True))
    for f, e in zip(singles, range(0, len(ref.times), 7), strict=True):
        assert np.array_equal(f, ref.frames[e]), f"frame {e} alone"
