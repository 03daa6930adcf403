"""The Ray engine's worker: an actor that builds the backbone once and extracts whole videos.

It runs the same code as the local engine (:func:`._worker.run_task` to decode, sample and
prepare, :func:`._engine.encode_chunk` to encode), so a Ray store equals a local one. Only the
video's events travel back, with its features as one ``float32 [T, D]`` chunk.

While a video runs, :meth:`Extractor.status` (in its own concurrency group, so it answers
during :meth:`Extractor.extract`) says how far it is and how long since the decoder last made
progress; the driver shows the first and abandons the video when the second passes
``--timeout``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..backbones import Backbone
from ._config import ExtractConfig
from ._engine import (
    EngineEvent,
    FeatureChunk,
    VideoDone,
    VideoFailed,
    VideoStarted,
    backbone_from_config,
    encode_chunk,
)
from ._worker import DecodeTask, Done, Error, Frames, Info, run_task

#: Ray concurrency groups: videos one at a time; status answers alongside.
CONCURRENCY_GROUPS = {"extract": 1, "status": 1}


@dataclass
class Status:
    """Where an actor is: the video (``key``) and its samples done, and when it last moved."""

    key: int | None = None
    samples_done: int = 0
    num_samples: int = 0
    time_s: float = 0.0
    duration_s: float | None = None
    last_progress: float = field(default_factory=time.monotonic)


class Extractor:
    """Actor body (wrapped with ``ray.remote`` by the engine)."""

    def __init__(self, config: ExtractConfig, backbone: Backbone | None, threads: int) -> None:
        self.model = backbone if backbone is not None else backbone_from_config(config)
        self.batch_size = config.batch_size
        self.threads = threads
        self._status = Status()

    def ready(self) -> tuple[int, dict[str, Any]]:
        """The actor's process id and its backbone's identity (checked by the driver)."""
        return os.getpid(), self.model.identity()

    def status(self) -> dict[str, Any]:
        """The current video's progress and the seconds since the decoder last moved."""
        s = self._status
        return {
            "key": s.key,
            "samples_done": s.samples_done,
            "num_samples": s.num_samples,
            "time_s": s.time_s,
            "duration_s": s.duration_s,
            "idle_s": time.monotonic() - s.last_progress,
        }

    def extract(self, task: DecodeTask) -> list[EngineEvent]:
        """Decode, sample and encode one video; returns its events (one feature chunk)."""
        self._status = Status(task.job)
        events: list[EngineEvent] = []
        chunks: list[FeatureChunk] = []
        for msg in run_task(task, self.threads):
            self._moved(msg)
            if isinstance(msg, Info):
                events.append(VideoStarted(msg.job, msg.info, msg.num_samples))
            elif isinstance(msg, Frames):
                chunks.append(encode_chunk(self.model, msg, self.batch_size))
            elif isinstance(msg, Done):
                events.extend([_joined(chunks)] if chunks else [])
                events.append(VideoDone(msg.job, msg.damage, msg.stats))
            elif isinstance(msg, Error):
                events.append(VideoFailed(msg.job, msg.reason))
        self._status = Status()
        return events

    def _moved(self, msg: Info | Frames | Done | Error) -> None:
        s = Status(self._status.key, self._status.samples_done, self._status.num_samples,
                   self._status.time_s, self._status.duration_s)  # fmt: skip
        if isinstance(msg, Info):
            s.num_samples, s.duration_s = msg.num_samples, msg.info.get("duration_s")
        elif isinstance(msg, Frames) and len(msg.times_s):
            s.samples_done += len(msg.indices)
            s.time_s = max(s.time_s, float(msg.times_s.max()))
        self._status = s  # one assignment: status() never sees a half-updated record


def _joined(chunks: list[FeatureChunk]) -> FeatureChunk:
    return FeatureChunk(
        chunks[0].key,
        np.concatenate([c.indices for c in chunks]),
        np.concatenate([c.times_s for c in chunks]),
        np.concatenate([c.features for c in chunks]),
    )
