"""ONNX Runtime backbones split large batches into small runs (bounded activation memory)."""

from __future__ import annotations

import numpy as np

from vidscope.backbones import create_backbone
from vidscope.backbones._onnx import MAX_FRAMES_PER_RUN, OnnxBackbone


def test_small_runs_give_the_same_features_as_one_run() -> None:
    b = create_backbone("timm:test_efficientnet", weights="random", runtime="onnx")
    assert isinstance(b, OnnxBackbone) and b.max_frames_per_run == MAX_FRAMES_PER_RUN
    h, w = b.preprocess.input_size
    x = np.random.default_rng(0).integers(0, 256, (2 * MAX_FRAMES_PER_RUN + 1, h, w, 3), np.uint8)
    calls: list[int] = []
    run = b.session.run

    def counting(names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        calls.append(len(feeds["frames"]))
        return run(names, feeds)

    b.session.run = counting  # type: ignore[method-assign]
    split = b.encode(x)
    assert calls == [MAX_FRAMES_PER_RUN, MAX_FRAMES_PER_RUN, 1]
    b.max_frames_per_run = len(x)
    whole = b.encode(x)
    assert calls[3:] == [len(x)]
    assert split.shape == (len(x), b.num_features) and split.dtype == np.float32
    np.testing.assert_allclose(split, whole, rtol=0, atol=1e-5 * np.abs(whole).max())
    assert b.encode(x[:0]).shape == (0, b.num_features)


def test_cpu_arena_stays_on() -> None:
    """Turning the arena off cost 45% CPU time per frame for 9 MiB (benchmarks/memory.py)."""
    b = create_backbone("timm:test_efficientnet", weights="random", runtime="onnx")
    assert b.session.get_session_options().enable_cpu_mem_arena
