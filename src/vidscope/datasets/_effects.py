"""The crash effect drawn at every collision: a fireball, a smoke cloud and flying debris.

A bare contact between two small objects barely moves whole-frame features of a frozen
ImageNet CNN, so a collision also sets off a large, high-contrast burst at the contact point
that lasts for the whole reaction period. It appears only at real contacts (never at near
misses), starts at the contact instant and is gone when the reaction ends, so the event is
localised in time and space and the labels stay exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vidscope.datasets._scene import Encounter, Shape

#: Share of the burst's duration over which the fireball grows to full size.
_GROW = 0.15
#: Fireball colours from the core outwards: white-hot, yellow, orange-red.
_FIRE = np.array([[255.0, 250.0, 225.0], [255.0, 215.0, 40.0], [235.0, 75.0, 15.0]], np.float32)
_SOOT = np.array([55.0, 50.0, 48.0], np.float32)


@dataclass(frozen=True, eq=False)
class Burst:
    """A crash effect at a contact point.

    Attributes:
        center: Contact point ``(x, y)``, pixels.
        start_s: Contact time, seconds.
        duration_s: How long the effect lasts; it is fully gone at ``start_s + duration_s``.
        radius: Largest fireball radius, pixels (the smoke grows to about 1.4 times that).
        spikes: Number of flame tongues of the star-shaped fireball.
        spin: Angle of the star, radians.
        shard_velocities: Debris velocities, pixels/s, shape ``(k, 2)``.
        shards: Debris pieces (small boxes in the colours of the crashed objects).
    """

    center: tuple[float, float]
    start_s: float
    duration_s: float
    radius: float
    spikes: int
    spin: float
    shard_velocities: np.ndarray
    shards: tuple[Shape, ...]

    def phase(self, t: float) -> float | None:
        """Progress in ``[0, 1)`` at time ``t``, or None when the effect is not showing."""
        p = (t - self.start_s) / self.duration_s
        return p if 0.0 <= p < 1.0 else None


def contact_point(enc: Encounter) -> np.ndarray:
    """Approximate contact point of a colliding encounter: between the two objects' edges."""
    assert enc.normal is not None
    n = np.abs(enc.normal)
    support = [s.half_w * n[0] + s.half_h * n[1] + s.radius for s in enc.shapes]
    share = support[0] / max(support[0] + support[1], 1e-9)
    return enc.centers[0] + share * (enc.centers[1] - enc.centers[0])


def sample_burst(
    rng: np.random.Generator, enc: Encounter, duration_s: float, size: tuple[int, int]
) -> Burst:
    """A random crash effect for a colliding encounter, lasting ``duration_s`` seconds."""
    scale = float(min(size))
    radius = float(rng.uniform(0.24, 0.34)) * scale
    k = int(rng.integers(14, 26))
    angles = rng.uniform(0.0, 2.0 * math.pi, k)
    speeds = rng.uniform(0.8, 2.2, k) * radius / duration_s
    velocities = speeds[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    shards = []
    for i in range(k):
        half = rng.uniform(0.012, 0.035, 2) * scale
        base = np.asarray(enc.shapes[i % 2].color, dtype=np.float64)
        color = base * rng.uniform(0.3, 0.8)  # scorched pieces of the crashed objects
        shards.append(Shape(float(half[0]), float(half[1]), 0.0, tuple(color.tolist())))
    center = contact_point(enc)
    return Burst(
        center=(float(center[0]), float(center[1])),
        start_s=enc.t_ref,
        duration_s=duration_s,
        radius=radius,
        spikes=int(rng.integers(6, 11)),
        spin=float(rng.uniform(0.0, 2.0 * math.pi)),
        shard_velocities=velocities,
        shards=tuple(shards),
    )


def _window(canvas: np.ndarray, cx: float, cy: float, reach: float):
    """Clipped bounding box around ``(cx, cy)`` and pixel offsets from the centre, or None."""
    height, width = canvas.shape[:2]
    x0, x1 = max(math.floor(cx - reach), 0), min(math.ceil(cx + reach) + 1, width)
    y0, y1 = max(math.floor(cy - reach), 0), min(math.ceil(cy + reach) + 1, height)
    if x0 >= x1 or y0 >= y1:
        return None
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
    return canvas[y0:y1, x0:x1], dx, dy


def draw_smoke(canvas: np.ndarray, burst: Burst, p: float, cx: float, cy: float) -> None:
    """Dark, lumpy smoke cloud behind the objects, growing and thinning out over time."""
    reach = burst.radius * (0.8 + 0.6 * min(1.0, p / 0.5))
    found = _window(canvas, cx, cy, reach + 1.0)
    if found is None:
        return
    patch, dx, dy = found
    theta = np.arctan2(dy, dx)
    lumpy = reach * (0.85 + 0.15 * np.cos(5.0 * theta + burst.spin + 3.0 * p))
    alpha = np.clip((lumpy - np.hypot(dx, dy)) / 4.0, 0.0, 1.0) * (0.85 * (1.0 - p) ** 0.5)
    patch += alpha[..., None] * (_SOOT - patch)


def draw_fire(canvas: np.ndarray, burst: Burst, p: float, cx: float, cy: float) -> None:
    """Star-shaped fireball: white core, yellow, orange-red rim; flares up, then dims."""
    grow = min(1.0, p / _GROW)
    size = burst.radius * (0.4 + 0.6 * grow) * (1.0 - 0.35 * max(0.0, p - 0.6) / 0.4)
    found = _window(canvas, cx, cy, size + 1.0)
    if found is None:
        return
    patch, dx, dy = found
    r = np.hypot(dx, dy)
    theta = np.arctan2(dy, dx) + burst.spin
    edge = size * (0.55 + 0.45 * np.abs(np.cos(0.5 * burst.spikes * theta)) ** 3)
    u = np.clip(r / np.maximum(edge, 1e-3), 0.0, 1.0)[..., None]  # 0 core .. 1 rim
    inner = _FIRE[0] + np.clip(u / 0.5, 0.0, 1.0) * (_FIRE[1] - _FIRE[0])
    color = np.where(u < 0.5, inner, _FIRE[1] + (u - 0.5) / 0.5 * (_FIRE[2] - _FIRE[1]))
    color = color * (1.0 - 0.45 * p)  # cools down
    alpha = np.clip(edge - r + 0.5, 0.0, 1.0) * (1.0 - max(0.0, p - 0.75) / 0.25)
    patch += alpha[..., None] * (color - patch)


def shard_positions(burst: Burst, p: float, cx: float, cy: float) -> np.ndarray:
    """Debris centres, shape ``(k, 2)``, flying out from the contact point."""
    travel = burst.shard_velocities * (p * burst.duration_s)
    return np.array([cx, cy]) + travel
