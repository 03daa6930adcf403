"""Geometry and random scene sampling for the synthetic collision videos.

Every moving object is an axis-aligned *rounded box*: a box core with half extents
``(half_w, half_h)`` dilated by a disc of ``radius``. A circle has ``half_w == half_h == 0``,
a rectangle has ``radius == 0``. The Minkowski sum of two rounded boxes is again a rounded
box, so the exact Euclidean gap between two objects is the signed distance of their centre
offset to the summed shape (:func:`shape_gap`). That makes the contact instant of a sampled
collision exact rather than approximate.

Coordinates are pixels: ``x`` grows to the right, ``y`` downwards, pixel ``(row, col)`` has
its centre at ``(x, y) == (col, row)``. Times are seconds from the start of the video.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Smallest gap, in pixels, kept between objects that must not touch.
MIN_CLEARANCE_PX = 3.0


@dataclass(frozen=True)
class Shape:
    """A rounded box and its fill colour.

    Attributes:
        half_w: Half width of the box core, pixels (0 for a circle).
        half_h: Half height of the box core, pixels (0 for a circle).
        radius: Rounding radius, pixels (0 for a sharp rectangle).
        color: RGB fill colour, each channel in [0, 255].
    """

    half_w: float
    half_h: float
    radius: float
    color: tuple[float, float, float]

    @property
    def extent(self) -> tuple[float, float]:
        """Half width and half height of the bounding box, pixels."""
        return self.half_w + self.radius, self.half_h + self.radius

    @property
    def area(self) -> float:
        """Area in square pixels (used as the mass in bounces)."""
        a, b, r = self.half_w, self.half_h, self.radius
        return 4.0 * a * b + 4.0 * r * (a + b) + math.pi * r * r


@dataclass(frozen=True, eq=False)
class Track:
    """Piecewise-linear trajectory with velocity changes at ``knots``.

    Attributes:
        knots: Sorted times of the velocity changes, shape ``(k,)``, ``k >= 1``.
        points: Positions at the knots, shape ``(k, 2)``.
        velocities: Velocity (pixels/s) before the first knot, between knots and after the
            last one, shape ``(k + 1, 2)``.
    """

    knots: np.ndarray
    points: np.ndarray
    velocities: np.ndarray

    @classmethod
    def build(cls, knots: Sequence[float], start: np.ndarray, velocities: np.ndarray) -> Track:
        """Makes a continuous track.

        Args:
            knots: Times of the velocity changes, ascending.
            start: Position at ``knots[0]``, shape ``(2,)``.
            velocities: ``len(knots) + 1`` velocities, shape ``(k + 1, 2)``.
        """
        t = np.asarray(knots, dtype=np.float64)
        v = np.asarray(velocities, dtype=np.float64).reshape(len(t) + 1, 2)
        points = np.empty((len(t), 2))
        points[0] = start
        for i in range(1, len(t)):
            points[i] = points[i - 1] + v[i] * (t[i] - t[i - 1])
        return cls(t, points, v)

    def at(self, times: np.ndarray) -> np.ndarray:
        """Positions at ``times`` (any shape ``S``), returned with shape ``S + (2,)``."""
        t = np.asarray(times, dtype=np.float64)
        seg = np.searchsorted(self.knots, t, side="right")
        ref = np.clip(seg - 1, 0, len(self.knots) - 1)
        return self.points[ref] + self.velocities[seg] * (t - self.knots[ref])[..., None]


@dataclass(frozen=True, eq=False)
class Actor:
    """One moving object of a scene.

    Attributes:
        shape: Geometry and colour.
        track: Centre position over time.
        flash: ``(start_s, duration_s)`` of a colour flash that fades linearly, or None.
    """

    shape: Shape
    track: Track
    flash: tuple[float, float] | None = None


@dataclass(frozen=True, eq=False)
class Encounter:
    """Two objects whose relative motion was set up to touch (or just miss) at ``t_ref``.

    Attributes:
        shapes: The two shapes.
        centers: Centres at ``t_ref``, shape ``(2, 2)``.
        velocities: Velocities before ``t_ref``, pixels/s, shape ``(2, 2)``.
        normal: Unit contact normal pointing from object 0 to object 1, or None for a miss.
        t_ref: Contact time (collision) or time of closest approach (miss), seconds.
    """

    shapes: tuple[Shape, Shape]
    centers: np.ndarray
    velocities: np.ndarray
    normal: np.ndarray | None
    t_ref: float


def rounded_box_sdf(
    dx: np.ndarray | float, dy: np.ndarray | float, half_w: float, half_h: float, radius: float
) -> np.ndarray:
    """Signed distance from offsets ``(dx, dy)`` to a rounded box centred at the origin.

    Exact Euclidean distance outside the shape, negative inside; broadcasts like numpy.
    """
    qx = np.abs(dx) - half_w
    qy = np.abs(dy) - half_h
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    inside = np.minimum(np.maximum(qx, qy), 0.0)
    return outside + inside - radius


def shape_gap(first: Shape, second: Shape, offset: np.ndarray) -> np.ndarray:
    """Euclidean gap between two shapes whose centres differ by ``offset`` (second - first).

    ``offset`` has shape ``S + (2,)``; the result has shape ``S``. Zero means touching,
    negative means overlapping.
    """
    off = np.asarray(offset, dtype=np.float64)
    a, b, r = _summed(first, second)
    return rounded_box_sdf(off[..., 0], off[..., 1], a, b, r)


def _summed(first: Shape, second: Shape) -> tuple[float, float, float]:
    """Half extents and radius of the Minkowski sum of two shapes."""
    return (
        first.half_w + second.half_w,
        first.half_h + second.half_h,
        first.radius + second.radius,
    )


def _outward_normal(offset: np.ndarray, a: float, b: float) -> np.ndarray:
    """Unit outward normal of a rounded box with core ``(a, b)`` at a boundary point."""
    sx, sy = math.copysign(1.0, offset[0]), math.copysign(1.0, offset[1])
    qx, qy = abs(offset[0]) - a, abs(offset[1]) - b
    if qx > 0.0 and qy > 0.0:
        n = np.array([sx * qx, sy * qy])
        return n / np.linalg.norm(n)
    return np.array([sx, 0.0]) if qx > qy else np.array([0.0, sy])


def contact_offset(
    rng: np.random.Generator, first: Shape, second: Shape, rel_velocity: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Samples a touching centre offset that the relative motion reaches from outside.

    The summed shape ``M`` is convex; the line ``u * perp + s * dir`` (``dir`` along the
    relative velocity, ``|u|`` below ``M``'s inradius) enters ``M`` exactly once, found by
    bisection. Before that instant the objects are apart, at it they touch.

    Returns:
        ``(offset, normal)``: centre offset (second - first) at contact and the unit outward
        contact normal, both shape ``(2,)``.
    """
    a, b, r = _summed(first, second)
    direction = rel_velocity / np.linalg.norm(rel_velocity)
    perp = np.array([-direction[1], direction[0]])
    base = rng.uniform(-0.8, 0.8) * (min(a, b) + r) * perp
    lo, hi = -(a + b + r + 1.0), 0.0  # outside at lo, inside at hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        p = base + mid * direction
        if rounded_box_sdf(p[0], p[1], a, b, r) > 0.0:
            lo = mid
        else:
            hi = mid
    offset = base + hi * direction
    return offset, _outward_normal(offset, a, b)


def miss_offset(
    rng: np.random.Generator, first: Shape, second: Shape, rel_velocity: np.ndarray, gap: float
) -> np.ndarray:
    """Centre offset at closest approach for a linear pass that misses by exactly ``gap`` px."""
    a, b, r = _summed(first, second)
    direction = rel_velocity / np.linalg.norm(rel_velocity)
    perp = np.array([-direction[1], direction[0]])
    half_width = a * abs(perp[0]) + b * abs(perp[1]) + r  # support of M along perp
    side = 1.0 if rng.random() < 0.5 else -1.0
    return side * (half_width + gap) * perp


def bounce(enc: Encounter, restitution: float) -> np.ndarray:
    """Velocities after an impulsive bounce along the contact normal (masses = areas).

    The relative normal velocity flips sign (times ``restitution``), so the objects separate.
    """
    assert enc.normal is not None
    n = enc.normal
    m0, m1 = enc.shapes[0].area, enc.shapes[1].area
    closing = float(np.dot(enc.velocities[1] - enc.velocities[0], n))  # < 0
    after = enc.velocities.copy()
    after[0] += (1.0 + restitution) * m1 / (m0 + m1) * closing * n
    after[1] -= (1.0 + restitution) * m0 / (m0 + m1) * closing * n
    return after


def sample_color(rng: np.random.Generator, avoid: np.ndarray) -> tuple[float, float, float]:
    """A saturated RGB colour at least ~90 units away from the colour ``avoid``."""
    color = rng.uniform(0.0, 255.0, 3)
    for _ in range(100):
        if np.linalg.norm(color - avoid) > 90.0 and np.ptp(color) > 60.0:
            break
        color = rng.uniform(0.0, 255.0, 3)
    return (float(color[0]), float(color[1]), float(color[2]))


def sample_shape(rng: np.random.Generator, scale: float, avoid: np.ndarray) -> Shape:
    """A random circle, rectangle or rounded rectangle sized relative to ``scale`` pixels."""
    kind = rng.integers(3)
    if kind == 0:
        a = b = 0.0
        r = rng.uniform(0.05, 0.12) * scale
    elif kind == 1:
        a, b = rng.uniform(0.04, 0.11, 2) * scale
        r = 0.0
    else:
        a, b = rng.uniform(0.02, 0.07, 2) * scale
        r = rng.uniform(0.02, 0.05) * scale
    return Shape(float(a), float(b), float(r), sample_color(rng, avoid))


def sample_encounter(
    rng: np.random.Generator,
    *,
    collide: bool,
    t_ref: float,
    size: tuple[int, int],
    speed: tuple[float, float],
    avoid: np.ndarray,
) -> Encounter:
    """Two objects that touch at ``t_ref`` (``collide``) or pass at least 3 px apart.

    Args:
        rng: Random generator.
        collide: Whether the objects touch.
        t_ref: Contact / closest-approach time, seconds.
        size: Frame ``(width, height)``, pixels.
        speed: Range of object speeds, pixels/s.
        avoid: Background colour the objects must stand out from, RGB.
    """
    width, height = size
    scale = float(min(width, height))
    shapes = (sample_shape(rng, scale, avoid), sample_shape(rng, scale, avoid))
    while True:
        angles = rng.uniform(0.0, 2.0 * math.pi, 2)
        vel = rng.uniform(*speed, (2, 1)) * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        rel = vel[1] - vel[0]
        if np.linalg.norm(rel) >= 0.6 * speed[0]:
            break
    if collide:
        offset, normal = contact_offset(rng, shapes[0], shapes[1], rel)
    else:
        gap = rng.uniform(MIN_CLEARANCE_PX, 0.2 * scale)
        offset, normal = miss_offset(rng, shapes[0], shapes[1], rel, gap), None
    middle = rng.uniform([0.3 * width, 0.3 * height], [0.7 * width, 0.7 * height])
    centers = np.stack([middle - offset / 2.0, middle + offset / 2.0])
    return Encounter(shapes, centers, vel, normal, t_ref)


def on_screen(shape: Shape, pos: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Whether the shape's bounding box overlaps the frame, per position ``(..., 2)``."""
    ex, ey = shape.extent
    width, height = size
    x, y = pos[..., 0], pos[..., 1]
    return (x + ex > 0) & (x - ex < width) & (y + ey > 0) & (y - ey < height)


def is_clear(
    candidate: Actor, others: Sequence[Actor], times: np.ndarray, size: tuple[int, int]
) -> bool:
    """True if ``candidate`` never comes within 3 px of any of ``others`` while on screen.

    ``times`` must be evenly spaced. The gap between two moving convex shapes changes no
    faster than their relative speed, so the check adds half a time step's worth of travel
    as margin: it also holds between the samples.
    """
    step = float(times[1] - times[0])
    pos = candidate.track.at(times)
    vis = on_screen(candidate.shape, pos, size)
    speed = float(np.linalg.norm(candidate.track.velocities, axis=1).max())
    for other in others:
        opos = other.track.at(times)
        mask = vis | on_screen(other.shape, opos, size)
        mask = mask | np.roll(mask, 1) | np.roll(mask, -1)
        if not mask.any():
            continue
        other_speed = float(np.linalg.norm(other.track.velocities, axis=1).max())
        margin = MIN_CLEARANCE_PX + 0.5 * step * (speed + other_speed)
        if shape_gap(candidate.shape, other.shape, opos[mask] - pos[mask]).min() < margin:
            return False
    return True


def exit_time(shape: Shape, pos: np.ndarray, vel: np.ndarray, size: tuple[int, int]) -> float:
    """Time (s) after which a shape moving with ``vel`` from ``pos`` is fully off-frame."""
    ex, ey = shape.extent
    best = math.inf
    for axis, (ext, limit) in enumerate(((ex, size[0]), (ey, size[1]))):
        v = float(vel[axis])
        if v > 1e-9:
            best = min(best, (limit + ext - pos[axis]) / v)
        elif v < -1e-9:
            best = min(best, (pos[axis] + ext) / -v)
    return max(best, 0.0)
