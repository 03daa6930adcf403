"""Shared fixtures: a private ONNX cache per test session, small real videos made with PyAV."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
EDGE = SHARED / "media" / "edge"
REAL = SHARED / "media" / "real"


@pytest.fixture(scope="session", autouse=True)
def _onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Export ONNX models into a session folder, so tests exercise export and checking."""
    os.environ["VIDSCOPE_CACHE"] = str(tmp_path_factory.mktemp("vidscope-cache"))


def write_video(
    path: Path,
    frames: np.ndarray | list[np.ndarray],
    *,
    fps: int = 25,
    gop: int = 25,
    crf: int = 18,
    codec: str = "libx264",
) -> Path:
    """Encode ``uint8 [N, H, W, 3]`` RGB frames as H.264 (yuv420p) at ``fps`` with keyframe
    interval ``gop`` (x264 defaults otherwise, B-frames included)."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {
            "g": str(gop),
            "keyint_min": str(gop),
            "crf": str(crf),
            "sc_threshold": "0",
        }
        for img in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def numbered_frames(n: int, size: tuple[int, int] = (64, 48), seed: int = 0) -> np.ndarray:
    """``n`` distinct frames ``[n, h, w, 3]``: random blocks whose grey level encodes the index."""
    w, h = size
    rng = np.random.default_rng(seed)
    out = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        base = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
        out[i] = np.kron(base, np.ones((8, 8, 1), np.uint8))
    return out


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_video(name, n_frames, fps=25, gop=25, size=(64, 48), seed=0)``."""

    def make(
        name: str, n: int = 50, *, fps: int = 25, gop: int = 25, size=(64, 48), seed: int = 0
    ) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_video(path, numbered_frames(n, size, seed), fps=fps, gop=gop)

    return make


@pytest.fixture(scope="session")
def edge_expected() -> dict[str, dict]:
    """``../shared/media/edge/expected.json``; skips when shared/ is absent."""
    if not (EDGE / "expected.json").exists():
        pytest.skip(f"shared edge-case media not found at {EDGE} (a plain clone has no ../shared)")
    data = json.loads((EDGE / "expected.json").read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}
