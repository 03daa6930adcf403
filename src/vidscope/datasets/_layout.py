"""Composes complete scenes: short labelled clips and the long multi-event video.

A :class:`ScenePlan` fixes everything about a video (background, object tracks, noise
level, jitter, render seed), so rendering it twice gives identical frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from vidscope.datasets._draw import render_frames, sample_background
from vidscope.datasets._effects import Burst, sample_burst
from vidscope.datasets._scene import (
    Actor,
    Encounter,
    Track,
    bounce,
    exit_time,
    is_clear,
    sample_encounter,
    sample_shape,
)

#: Quiet time (s) kept before the first and after the last event of the long video.
EVENT_EDGE_S = 3.0
#: Smallest spacing (s) between the contact times of consecutive long-video events.
EVENT_SPACING_S = 5.0
#: Duration (s) of the reaction (crash effect, objects bounce) after a long-video contact;
#: then the objects leave.
REACTION_S = 1.5
#: Range of reaction durations (s) after a contact in the short clips.
CLIP_REACTION_S = (1.2, 1.8)


@dataclass(frozen=True, eq=False)
class ScenePlan:
    """Everything needed to render one video deterministically.

    Attributes:
        background: Padded float32 background, see ``sample_background``.
        actors: Moving objects.
        n_frames: Number of frames.
        fps: Frames per second; frame ``i`` shows time ``i / fps``.
        noise_sigma: Gaussian pixel-noise standard deviation.
        jitter: Largest camera shift per frame, pixels.
        render_seed: Seed of the noise / jitter generator.
        events: ``(contact_s, reaction_end_s)`` per collision, in time order.
        bursts: Crash effect of every collision, shown from contact to reaction end.
    """

    background: np.ndarray
    actors: tuple[Actor, ...]
    n_frames: int
    fps: int
    noise_sigma: float
    jitter: int
    render_seed: int
    events: tuple[tuple[float, float], ...]
    bursts: tuple[Burst, ...] = ()

    @property
    def times(self) -> np.ndarray:
        """Frame times, seconds, shape ``(n_frames,)``."""
        return np.arange(self.n_frames) / self.fps

    def frames(self) -> Iterator[np.ndarray]:
        """Yields the uint8 RGB frames, shape ``(height, width, 3)`` each."""
        return render_frames(
            self.background,
            self.actors,
            self.times,
            noise_sigma=self.noise_sigma,
            jitter=self.jitter,
            rng=np.random.default_rng(self.render_seed),
            bursts=self.bursts,
        )


def _check_times(n_frames: int, fps: int) -> np.ndarray:
    """Evenly spaced times at which clearance is checked: eight per frame."""
    return np.arange(8 * n_frames + 1) / (8.0 * fps)


def _straight(enc: Encounter) -> list[Actor]:
    """Actors that keep their encounter velocities forever."""
    return [
        Actor(shape, Track.build([enc.t_ref], center, np.stack([vel, vel])))
        for shape, center, vel in zip(enc.shapes, enc.centers, enc.velocities, strict=True)
    ]


def _finish_plan(
    rng: np.random.Generator,
    background: np.ndarray,
    actors: list[Actor],
    n_frames: int,
    fps: int,
    events: list[tuple[float, float]],
    bursts: list[Burst] | None = None,
) -> ScenePlan:
    """Draws the camera settings and packs a plan."""
    return ScenePlan(
        background=background,
        actors=tuple(actors),
        n_frames=n_frames,
        fps=fps,
        noise_sigma=float(rng.uniform(1.5, 6.0)),
        jitter=int(rng.integers(0, 3)),
        render_seed=int(rng.integers(0, 2**63)),
        events=tuple(events),
        bursts=tuple(bursts or ()),
    )


def plan_clip(
    rng: np.random.Generator, *, collide: bool, n_frames: int, fps: int, size: tuple[int, int]
) -> ScenePlan:
    """A short clip where two objects collide (and react) or pass each other.

    The contact (or closest approach) happens at a random time in 30-80% of the clip,
    rounded to milliseconds. A colliding pair bounces off (65%) or stops dead (35%), flashes
    and sets off a crash effect (fireball, smoke, debris) for a 1.2-1.8 s reaction. With
    probability 0.3 a third object crosses without touching.
    """
    background = sample_background(rng, size)
    avoid = background.mean(axis=(0, 1))
    duration = n_frames / fps
    t_ref = round(float(rng.uniform(0.3, 0.8)) * duration, 3)
    speed = (0.15 * size[0], 0.45 * size[0])
    enc = sample_encounter(rng, collide=collide, t_ref=t_ref, size=size, speed=speed, avoid=avoid)
    events: list[tuple[float, float]] = []
    bursts: list[Burst] = []
    if collide:
        bounces = rng.random() < 0.65
        after = bounce(enc, float(rng.uniform(0.6, 1.0))) if bounces else np.zeros((2, 2))
        flash = (t_ref, round(float(rng.uniform(*CLIP_REACTION_S)), 3))
        events.append((t_ref, round(t_ref + flash[1], 3)))
        bursts.append(sample_burst(rng, enc, flash[1], size))
        actors = [
            Actor(shape, Track.build([t_ref], c, np.stack([v, va])), flash)
            for shape, c, v, va in zip(enc.shapes, enc.centers, enc.velocities, after, strict=True)
        ]
    else:
        actors = _straight(enc)
    if rng.random() < 0.3:
        _add_crosser(rng, actors, duration * rng.random(), size, avoid, _check_times(n_frames, fps))
    return _finish_plan(rng, background, actors, n_frames, fps, events, bursts)


def _add_crosser(
    rng: np.random.Generator,
    actors: list[Actor],
    t_mid: float,
    size: tuple[int, int],
    avoid: np.ndarray,
    times: np.ndarray,
) -> None:
    """Appends one object crossing the frame near ``t_mid`` if it can be kept clear."""
    width, height = size
    for _ in range(10):
        shape = sample_shape(rng, float(min(size)), avoid)
        center = rng.uniform([0.2 * width, 0.2 * height], [0.8 * width, 0.8 * height])
        angle = rng.uniform(0.0, 2.0 * math.pi)
        vel = rng.uniform(0.1, 0.35) * width * np.array([math.cos(angle), math.sin(angle)])
        actor = Actor(shape, Track.build([t_mid], center, np.stack([vel, vel])))
        if is_clear(actor, actors, times, size):
            actors.append(actor)
            return


def _exit_drift(rng: np.random.Generator, velocities: np.ndarray, magnitude: float) -> np.ndarray:
    """A common velocity added to both objects so that each moves off at a decent speed.

    Adding the same vector to both keeps their relative motion, so they keep separating.
    """
    angles = rng.uniform(0.0, 2.0 * math.pi, 16)
    candidates = magnitude * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    slowest = np.linalg.norm(velocities[None] + candidates[:, None], axis=2).min(axis=1)
    return candidates[int(np.argmax(slowest))]


def _long_event(
    rng: np.random.Generator, t_event: float, size: tuple[int, int], avoid: np.ndarray
) -> tuple[list[Actor], Burst]:
    """Two objects that enter the frame, collide at ``t_event``, flash and burst, bounce and
    leave; returns them and their crash effect."""
    enc = sample_encounter(
        rng,
        collide=True,
        t_ref=t_event,
        size=size,
        speed=(0.25 * size[0], 0.5 * size[0]),
        avoid=avoid,
    )
    lead = float(rng.uniform(1.5, 2.5))  # seconds on screen before contact, at most
    entry = max(
        exit_time(shape, c, -v, size)
        for shape, c, v in zip(enc.shapes, enc.centers, enc.velocities, strict=True)
    )
    enc = replace(enc, velocities=enc.velocities * max(1.0, entry / lead))
    after = bounce(enc, float(rng.uniform(0.7, 1.0)))
    leave = after + _exit_drift(rng, after, 0.35 * size[0])
    knots = [t_event, t_event + REACTION_S]
    actors = [
        Actor(shape, Track.build(knots, c, np.stack([v, va, vl])), (t_event, REACTION_S))
        for shape, c, v, va, vl in zip(
            enc.shapes, enc.centers, enc.velocities, after, leave, strict=True
        )
    ]
    return actors, sample_burst(rng, enc, REACTION_S, size)


def long_event_times(rng: np.random.Generator, duration_s: float, n_events: int) -> list[float]:
    """Contact times, ms resolution, >= ``EVENT_SPACING_S`` apart and clear of both ends."""
    slack = duration_s - min_long_duration(n_events)
    offsets = np.sort(np.floor(rng.uniform(0.0, slack, n_events) * 1000.0) / 1000.0)
    return [round(EVENT_EDGE_S + EVENT_SPACING_S * k + float(u), 3) for k, u in enumerate(offsets)]


def min_long_duration(n_events: int) -> float:
    """Shortest long video (s) that holds ``n_events`` events with the required spacing."""
    return 2.0 * EVENT_EDGE_S + EVENT_SPACING_S * (n_events - 1)


def plan_long(
    rng: np.random.Generator, *, n_frames: int, fps: int, size: tuple[int, int], n_events: int
) -> ScenePlan:
    """The long video: ``n_events`` collisions and, around them, passing / drifting objects.

    Raises:
        RuntimeError: If an event cannot be kept clear of the others (not expected).
    """
    background = sample_background(rng, size)
    avoid = background.mean(axis=(0, 1))
    duration = n_frames / fps
    times = _check_times(n_frames, fps)
    actors: list[Actor] = []
    events = []
    bursts = []
    for t_event in long_event_times(rng, duration, n_events):
        for _ in range(200):
            pair, burst = _long_event(rng, t_event, size, avoid)
            if all(is_clear(actor, actors, times, size) for actor in pair):
                break
        else:
            raise RuntimeError(f"could not place the long-video event at {t_event:.3f} s")
        actors.extend(pair)
        bursts.append(burst)
        events.append((t_event, round(t_event + REACTION_S, 3)))
    for _ in range(max(1, int(duration / 6.0))):
        t_mid = duration * float(rng.random())
        if rng.random() < 0.5:
            _add_crosser(rng, actors, t_mid, size, avoid, times)
            continue
        speed = (0.1 * size[0], 0.3 * size[0])
        enc = sample_encounter(rng, collide=False, t_ref=t_mid, size=size, speed=speed, avoid=avoid)
        pair = _straight(enc)
        if all(is_clear(actor, actors, times, size) for actor in pair):
            actors.extend(pair)
    return _finish_plan(rng, background, actors, n_frames, fps, events, bursts)
