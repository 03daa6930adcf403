"""Shared helpers of the video tests: distinct generated frames and a reference decode."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidscope.video import FrameBatch, VideoReader

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
