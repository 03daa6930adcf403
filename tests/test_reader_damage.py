"""The reader on damaged files: which frame stands in for one that cannot be decoded.

Damaged videos are made from a generated one by overwriting the payload of chosen packets
(zeros, or random bytes: the decoder then drops the frame without an error). The truth is a
plain sequential PyAV decode of the damaged file that skips nothing: the stand-in for a lost
frame at time t is the latest frame of that decode with pts <= t, whatever else is requested.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from av.video.frame import PictureType

from vidscope.video import VideoReader

from ._video_helpers import FPS, encode, pattern

FRAMES = 50
GOP = 25


def _damage(src: Path, dst: Path, bad_pts: set[int], mode: str) -> Path:
    """Copy ``src`` with the payload of packets at ``bad_pts`` overwritten (after 4-5 bytes of
    NAL header) by zeros or random bytes; timestamps and flags are kept."""
    rng = np.random.default_rng(0)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.dts is None:
                continue
            if packet.pts in bad_pts:
                data = bytes(packet)
                junk = (
                    bytes(len(data) - 4)
                    if mode == "zero"
                    else rng.integers(0, 256, len(data) - 4, dtype=np.uint8).tobytes()
                )
                broken = av.Packet(data[:4] + junk)
                broken.pts, broken.dts, broken.time_base = packet.pts, packet.dts, packet.time_base
                broken.is_keyframe = packet.is_keyframe
                packet = broken
            packet.stream = copy
            out.mux(packet)
    return dst


def _decodable(path: Path) -> dict[int, np.ndarray]:
    """Every frame a plain decode of ``path`` gets, by frame number (pts / frame step)."""
    out: dict[int, np.ndarray] = {}
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        step = round(1 / (FPS * float(stream.time_base)))
        for packet in c.demux(stream):
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            for f in frames:
                out[f.pts // step] = f.to_ndarray(format="rgb24")
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """50 frames, keyframes at 0 and 25, two non-reference B-frames between references."""
    path = tmp_path_factory.mktemp("damage") / "clean.mp4"
    encode(
        path, [pattern(i) for i in range(FRAMES)], gop=GOP, options={"bf": "2", "b-pyramid": "none"}
    )
    with av.open(str(path)) as c:
        kinds = [PictureType(f.pict_type).name for f in c.decode(video=0)]  # display order
    return path, kinds


def _pts_step(path: Path) -> int:
    with av.open(str(path)) as c:
        return round(1 / (FPS * float(c.streams.video[0].time_base)))


def test_layout_has_skippable_b_frames(clean) -> None:
    _, kinds = clean
    assert kinds[0] == "I" and kinds[GOP] == "I"
    assert kinds[4:7] == ["B", "B", "P"], kinds[:10]  # frame 5 is a B-frame after a B-frame


@pytest.mark.parametrize("mode", ["zero", "random"])
@pytest.mark.parametrize(
    ("lost", "others"),
    [
        (5, []),  # a lost B-frame whose neighbour B-frame (non-reference, skipped) decodes
        (5, [0.0]),
        (5, [0.12]),
        (25, []),  # a lost keyframe: the last frame of the interval before stands in
        (25, [0.5, 1.5]),
    ],
)
def test_stand_in_is_latest_decodable_frame_before(
    clean, tmp_path: Path, mode: str, lost: int, others: list[float]
) -> None:
    src, _ = clean
    step = _pts_step(src)
    path = _damage(src, tmp_path / f"lost{lost}_{mode}.mp4", {lost * step}, mode)
    truth = _decodable(path)
    assert lost not in truth, "the damaged frame still decodes: not a test"
    expected = max(n for n in truth if n <= lost)
    times = np.array([lost / FPS, *others])
    with VideoReader(path) as r:
        batch = r.read(times)
        damage = list(r.damage)
    assert batch.times_s[0] == pytest.approx(expected / FPS, abs=1e-9), (
        f"frame {lost} lost: expected frame {expected}, got {batch.times_s[0] * FPS:.0f}"
    )
    assert np.array_equal(batch.frames[0], truth[expected])
    assert damage, "a frame that cannot be decoded must be reported"


def test_stand_in_does_not_depend_on_other_requests(clean, tmp_path: Path) -> None:
    src, _ = clean
    path = _damage(src, tmp_path / "b.mp4", {5 * _pts_step(src)}, "zero")
    t = 5 / FPS
    answers = []
    for times in ([t], [t, 0.0], [0.04, 0.08, 0.12, t], np.arange(FRAMES) / FPS):
        with VideoReader(path) as r:
            batch = r.read(np.asarray(times, dtype=np.float64))
        j = int(np.flatnonzero(np.isclose(times, t))[0])
        answers.append((round(batch.times_s[j] * FPS), batch.frames[j]))
    assert {a[0] for a in answers} == {4}
    assert all(np.array_equal(a[1], answers[0][1]) for a in answers)


def test_pairs_use_the_same_stand_in(clean, tmp_path: Path) -> None:
    src, _ = clean
    path = _damage(src, tmp_path / "p.mp4", {5 * _pts_step(src)}, "random")
    with VideoReader(path) as r:
        first, _ = r.read_pairs(np.array([5 / FPS]))
    assert round(first.times_s[0] * FPS) == 4


def test_undamaged_file_reports_nothing_lost(clean) -> None:
    src, _ = clean
    with VideoReader(src) as r:
        r.read(np.array([0.2, 1.0, 1.9]))
        assert r.stats["lost"] == 0 and r.damage == []
