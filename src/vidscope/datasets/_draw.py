"""Vectorised numpy rendering of the synthetic collision scenes.

Images are float32 RGB arrays in [0, 255], shape ``(height, width, 3)``, until the final
conversion to uint8. Backgrounds carry a border of :data:`JITTER_PAD` pixels on every side
so that the per-frame camera jitter can be a plain crop.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from vidscope.datasets._effects import Burst, draw_fire, draw_smoke, shard_positions
from vidscope.datasets._scene import Actor, Shape, rounded_box_sdf

#: Border (pixels) around backgrounds, the largest camera jitter supported.
JITTER_PAD = 2
_NOISE_BANK = 6
_NOISE_PAD = 8


def paint(canvas: np.ndarray, shape: Shape, cx: float, cy: float, color: np.ndarray) -> None:
    """Alpha-blends an anti-aliased ``shape`` centred at ``(cx, cy)`` into ``canvas``.

    Only the shape's bounding box is touched; shapes outside the canvas are skipped.
    """
    height, width = canvas.shape[:2]
    ex, ey = shape.extent
    x0, x1 = max(math.floor(cx - ex - 1), 0), min(math.ceil(cx + ex + 1) + 1, width)
    y0, y1 = max(math.floor(cy - ey - 1), 0), min(math.ceil(cy + ey + 1) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1, dtype=np.float32) - np.float32(cx)
    ys = np.arange(y0, y1, dtype=np.float32) - np.float32(cy)
    dist = rounded_box_sdf(xs[None, :], ys[:, None], shape.half_w, shape.half_h, shape.radius)
    alpha = np.clip(0.5 - dist, 0.0, 1.0).astype(np.float32)[..., None]
    patch = canvas[y0:y1, x0:x1]
    patch += alpha * (color.astype(np.float32) - patch)


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Bilinearly upsampled uniform noise in [0, 1], shape ``(height, width, 3)``."""
    coarse = rng.random((height // cell + 2, width // cell + 2, 3), dtype=np.float32)
    fy, fx = np.arange(height) / cell, np.arange(width) / cell
    iy, ix = fy.astype(int), fx.astype(int)
    wy = (fy - iy).astype(np.float32)[:, None, None]
    wx = (fx - ix).astype(np.float32)[None, :, None]
    top = coarse[iy][:, ix] * (1 - wx) + coarse[iy][:, ix + 1] * wx
    bottom = coarse[iy + 1][:, ix] * (1 - wx) + coarse[iy + 1][:, ix + 1] * wx
    return top * (1 - wy) + bottom * wy


def _base_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Solid colour, linear gradient, smooth noise texture or soft tiles."""
    c1, c2 = rng.uniform(0.0, 255.0, (2, 3)).astype(np.float32)
    kind = rng.integers(4)
    if kind == 0:
        return np.broadcast_to(c1, (height, width, 3)).copy()
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == 1:
        angle = rng.uniform(0.0, 2.0 * math.pi)
        ramp = xx * math.cos(angle) + yy * math.sin(angle)
        ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1.0)
        return c1 + ramp[..., None] * (c2 - c1)
    if kind == 2:
        cell = int(rng.integers(6, 24))
        texture = _smooth_noise(rng, height, width, cell) - 0.5
        return np.clip(c1 + rng.uniform(40.0, 120.0) * texture, 0.0, 255.0)
    tile = int(rng.integers(8, 24))
    checker = ((xx // tile + yy // tile) % 2)[..., None]
    return c1 + checker * rng.uniform(0.1, 0.3) * (c2 - c1)


def sample_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A random background with 0-4 static "scenery" shapes.

    Args:
        rng: Random generator.
        size: Frame ``(width, height)``; the result is larger by ``JITTER_PAD`` on each side.

    Returns:
        float32 array of shape ``(height + 2 * JITTER_PAD, width + 2 * JITTER_PAD, 3)``.
    """
    width, height = size[0] + 2 * JITTER_PAD, size[1] + 2 * JITTER_PAD
    bg = _base_background(rng, height, width)
    scale = min(size)
    mean = bg.mean(axis=(0, 1))
    for _ in range(int(rng.integers(0, 5))):
        a, b = rng.uniform(0.03, 0.25, 2) * scale
        r = rng.uniform(0.0, 0.1) * scale if rng.random() < 0.5 else 0.0
        muted = 0.5 * mean + 0.5 * rng.uniform(0.0, 255.0, 3)
        cx, cy = rng.uniform(0.0, width), rng.uniform(0.0, height)
        paint(bg, Shape(float(a), float(b), float(r), (0.0, 0.0, 0.0)), cx, cy, muted)
    return bg.astype(np.float32)


def flash_strength(actor: Actor, times: np.ndarray) -> np.ndarray:
    """Flash intensity in [0, 1] per time: 1 at the flash start, fading linearly to 0."""
    if actor.flash is None:
        return np.zeros(len(times), dtype=np.float32)
    start, duration = actor.flash
    phase = (times - start) / duration
    return np.where((phase >= 0.0) & (phase < 1.0), 1.0 - phase, 0.0).astype(np.float32)


def _flash_target(color: Sequence[float]) -> np.ndarray:
    """White for dark colours, black for light ones, so that a flash is always visible."""
    luma = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    return np.full(3, 0.0 if luma > 150.0 else 255.0, dtype=np.float32)


def render_frames(
    background: np.ndarray,
    actors: Sequence[Actor],
    times: np.ndarray,
    *,
    noise_sigma: float,
    jitter: int,
    rng: np.random.Generator,
    bursts: Sequence[Burst] = (),
) -> Iterator[np.ndarray]:
    """Yields the uint8 RGB frames of a scene, one per entry of ``times``.

    Args:
        background: Padded background from :func:`sample_background`.
        actors: Moving objects, painted in order (later ones on top).
        times: Frame times, seconds.
        noise_sigma: Standard deviation of the additive Gaussian pixel noise.
        jitter: Largest global camera shift per frame, pixels (<= ``JITTER_PAD``).
        rng: Random generator for noise and jitter.
        bursts: Crash effects; smoke goes under the objects, fire and debris on top.
    """
    height = background.shape[0] - 2 * JITTER_PAD
    width = background.shape[1] - 2 * JITTER_PAD
    n = len(times)
    bank_shape = (_NOISE_BANK, height + _NOISE_PAD, width + _NOISE_PAD, 3)
    bank = rng.standard_normal(bank_shape, dtype=np.float32) * np.float32(noise_sigma)
    picks = rng.integers(0, _NOISE_BANK, n)
    shifts = rng.integers(0, _NOISE_PAD + 1, (n, 2))
    jolts = rng.integers(-jitter, jitter + 1, (n, 2)) + JITTER_PAD
    positions = [actor.track.at(times) for actor in actors]
    strengths = [flash_strength(actor, times) for actor in actors]
    colors = [np.asarray(actor.shape.color, dtype=np.float32) for actor in actors]
    targets = [_flash_target(actor.shape.color) for actor in actors]
    for i in range(n):
        ox, oy = int(jolts[i, 0]), int(jolts[i, 1])
        frame = background[oy : oy + height, ox : ox + width].copy()
        dx, dy = ox - JITTER_PAD, oy - JITTER_PAD
        showing = [(b, b.phase(float(times[i]))) for b in bursts]
        showing = [(b, p, b.center[0] - dx, b.center[1] - dy) for b, p in showing if p is not None]
        for burst, p, cx, cy in showing:
            draw_smoke(frame, burst, p, cx, cy)
        for actor, pos, s, c, tgt in zip(
            actors, positions, strengths, colors, targets, strict=True
        ):
            color = c + s[i] * (tgt - c) if s[i] > 0.0 else c
            paint(frame, actor.shape, pos[i, 0] - dx, pos[i, 1] - dy, color)
        for burst, p, cx, cy in showing:
            draw_fire(frame, burst, p, cx, cy)
            for shard, (x, y) in zip(burst.shards, shard_positions(burst, p, cx, cy), strict=True):
                paint(frame, shard, x, y, np.asarray(shard.color, dtype=np.float32))
        sy, sx = int(shifts[i, 0]), int(shifts[i, 1])
        frame += bank[picks[i], sy : sy + height, sx : sx + width]
        np.clip(frame, 0.0, 255.0, out=frame)
        yield frame.astype(np.uint8)
