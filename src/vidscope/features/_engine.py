"""The extraction ``Engine`` seam: what an engine is given, what it streams back, and the registry.

An engine turns :class:`VideoTask` s into a stream of typed events, per video:

- :class:`VideoStarted` (metadata, number of samples), then
- :class:`FeatureChunk` s (``float32 [n, D]`` features of some samples, with their times),
- then exactly one :class:`VideoDone` or :class:`VideoFailed`;
- engines that send a video's features only at its end may send :class:`VideoProgress`
  while it runs (for the progress display only).

A retried video (its worker died) starts again with a fresh :class:`VideoStarted`. Engines
never touch the store: the driver (:func:`vidscope.features.extract`) assembles each video
from its events and saves it through one function, whichever engine ran.

Engines are registered by name with :func:`register_engine`; each lives in its own module
``_engine_<name>.py`` in this package, found and imported on first use, so adding an engine
is adding a file. ``ExtractConfig.engine`` selects one.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..backbones import create_backbone
from ..errors import ConfigError
from ._worker import DecodeTask, Frames, PartSpec

if TYPE_CHECKING:
    from ..backbones import Backbone
    from ._config import ExtractConfig


@dataclass(frozen=True)
class VideoTask:
    """One video for an engine to extract."""

    key: int
    """The driver's key for this video, echoed in every event."""
    video_id: str
    source: str
    """Local path or fsspec URL."""


@dataclass(frozen=True)
class VideoStarted:
    """A video was opened; ``num_samples`` features will follow."""

    key: int
    info: dict[str, Any]
    """``VideoInfo`` as a dict (duration_s, fps, num_frames, width, height, rotation...)."""
    num_samples: int


@dataclass(frozen=True)
class FeatureChunk:
    """Features of some samples of a video."""

    key: int
    indices: np.ndarray  # int64 [n] sample indices
    times_s: np.ndarray  # float64 [n] presentation times, seconds
    features: np.ndarray  # float32 [n, D]


@dataclass(frozen=True)
class VideoDone:
    """Every sample was delivered; ``damage`` lists warnings about damaged input."""

    key: int
    damage: tuple[str, ...] = ()
    stats: dict[str, float] = field(default_factory=dict)  # counters, max_displacement_s


@dataclass(frozen=True)
class VideoFailed:
    """The video gave no features; ``reason`` says why, for the manifest."""

    key: int
    reason: str


@dataclass(frozen=True)
class VideoProgress:
    """How far a video in flight is, from engines whose features arrive only at its end."""

    key: int
    samples_done: int
    num_samples: int
    time_s: float
    """Presentation time of the latest sample done, seconds."""
    duration_s: float | None


EngineEvent = VideoStarted | FeatureChunk | VideoDone | VideoFailed | VideoProgress


@dataclass(frozen=True)
class EngineSetup:
    """What every engine gets: the settings, the driver's backbone, and the decode template."""

    config: ExtractConfig
    backbone: Backbone
    """Built by the driver; the local engine encodes with it, the Ray engine ships it (or
    rebuilds it from ``config``) to its actors."""
    backbone_given: bool = False
    """True when the caller passed a built backbone instead of naming one in ``config``."""

    def decode_template(self) -> DecodeTask:
        """The :class:`DecodeTask` of this run, without a video."""
        cfg = self.config
        parts = tuple(
            PartSpec(
                p.preprocess.to_dict(),
                bool(p.needs_next_frame),
                float(p.pair_gap_s),
                int(p.clip_frames),
                float(p.clip_fps),
                int(p.clip_stride),
            )
            for p in self.backbone.parts
        )
        return DecodeTask(
            job=-1,
            path="",
            sampling=cfg.sampling.to_dict(),
            parts=parts,
            seek=cfg.seek,
            keyframe_tolerance_s=cfg.keyframe_tolerance_s,
            keyframe_reach=cfg.keyframe_reach,
            chunk_size=cfg.batch_size,
            image_fps=cfg.image_fps,
        )


class Engine(Protocol):
    """Runs videos through decode + sample + encode; used as a context manager."""

    def run(self, tasks: Iterable[VideoTask]) -> Iterator[EngineEvent]:
        """Extract ``tasks`` (pulled lazily, at the engine's pace), yielding their events.

        Every task ends with one :class:`VideoDone` or :class:`VideoFailed`; the iterator
        ends when all have.
        """
        ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None:
        """Release workers (killed at once when leaving on an exception)."""


EngineFactory = Callable[[EngineSetup], Engine]
_ENGINES: dict[str, EngineFactory] = {}


def register_engine(name: str) -> Callable[[EngineFactory], EngineFactory]:
    """Class decorator: register an engine under ``name`` (``ExtractConfig.engine``)."""

    def deco(factory: EngineFactory) -> EngineFactory:
        _ENGINES[name] = factory
        return factory

    return deco


def engine_names() -> list[str]:
    """Names of the engines: this package's ``_engine_<name>.py`` files, and any engine
    registered from elsewhere with :func:`register_engine`."""
    here = str(Path(__file__).parent)
    files = {
        m.name.removeprefix("_engine_")
        for m in pkgutil.iter_modules([here])
        if m.name.startswith("_engine_")
    }
    return sorted(files | set(_ENGINES))


def create_engine(setup: EngineSetup) -> Engine:
    """The engine ``setup.config.engine`` names, built for this run.

    Raises:
        ConfigError: no such engine (the message lists those there are), or the engine's
            optional dependency is missing (the message names the extra to install).
    """
    name = setup.config.engine
    if name not in _ENGINES and name in engine_names():
        importlib.import_module(f"._engine_{name}", __package__)
    if name not in _ENGINES:
        raise ConfigError(f"--engine {name!r}: no such engine; choose from {engine_names()}")
    return _ENGINES[name](setup)


def backbone_from_config(cfg: ExtractConfig) -> Backbone:
    """Build the backbone ``cfg`` names (in the driver, or once per Ray actor)."""
    return create_backbone(
        cfg.backbone,
        weights=cfg.weights,
        trust_checkpoint=cfg.trust_checkpoint or None,
        runtime=cfg.runtime,
        **cfg.backbone_options,
    )


def encode_chunk(model: Backbone, chunk: Frames, batch_size: int) -> FeatureChunk:
    """Encode one decoded chunk in inference batches of ``batch_size`` frames.

    Rows with the same presentation time hold the same frame (``--seek keyframe`` lets
    neighbouring samples share one; sampling faster than the video repeats frames): each
    such frame is encoded once and its features copied to every row that shows it.
    """
    times = chunk.times_s
    dt = None if chunk.next_times_s is None else chunk.next_times_s - times  # [n] s to next
    _, first, inverse = np.unique(times, return_index=True, return_inverse=True)
    keep = np.sort(first)  # one row per distinct frame, in chunk order
    feats = np.zeros((len(keep), model.num_features), np.float32)  # [m, D]
    for s in range(0, len(keep), batch_size):
        if len(keep) == len(times):
            rows: slice | np.ndarray = slice(s, s + batch_size)  # views, no copies
        else:
            rows = keep[s : s + batch_size]
        feats[s : s + batch_size] = encode_parts(
            model, chunk.frames, chunk.nexts, dt, rows, chunk.clips
        )
    if len(keep) == len(times):
        return FeatureChunk(chunk.job, chunk.indices, times, feats)
    slot = np.searchsorted(keep, first)  # distinct time -> its row among the kept ones
    return FeatureChunk(chunk.job, chunk.indices, times, feats[slot[inverse.ravel()]])


def encode_parts(
    model: Backbone,
    frames: list[np.ndarray],
    nexts: list[np.ndarray | None],
    dt_s: np.ndarray | None,
    rows: slice | np.ndarray,
    clips: list[np.ndarray | None] | None = None,
) -> np.ndarray:
    """``float32 [n, D]`` features of the ``rows`` of one worker chunk, parts side by side.

    Args:
        model: The backbone; each of ``model.parts`` encodes its own prepared frames.
        frames: Per part, ``uint8 [N, h_p, w_p, 3]`` sampled frames.
        nexts: Per part, the next frames (parts with ``needs_next_frame``) or ``None``.
        dt_s: ``[N]`` seconds from each sampled frame to its next frame (``None`` if no
            part needs them).
        rows: Which rows of the chunk to encode (one inference batch): a slice, or positions.
        clips: Per part, for clip backbone parts, ``int32 [N, K]``: each sample's window as
            rows of that part's ``frames`` (the distinct frames of the chunk's windows).
    """
    feats = []
    windows = clips or [None] * len(frames)
    for part, now, after, window in zip(model.parts, frames, nexts, windows, strict=True):
        if window is not None:
            distinct, inverse = np.unique(window[rows], axis=0, return_inverse=True)
            feats.append(part.encode_clips(now[distinct])[inverse.ravel()])  # [b, K] -> [b, D]
        elif part.needs_next_frame:
            assert after is not None and dt_s is not None
            feats.append(part.encode_pairs(now[rows], after[rows], dt_s[rows]))
        else:
            feats.append(part.encode(now[rows]))
    return feats[0] if len(feats) == 1 else np.concatenate(feats, axis=1)
