"""``demo``: the whole job on generated data (clips -> features -> head -> timeline)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..datasets import make_collisions
from ..features import ExtractConfig, ExtractReport, extract
from ..metrics import tiou
from ..training import TrainConfig, TrainResult, train
from ..types import Timeline
from ..video import SamplingSpec
from ._timeline import timeline


@dataclass
class DemoResult:
    """What the demo made: the extraction report, the trained run, and the timelines with
    ``(found, false)`` event counts at tIoU >= 0.1 per video."""

    extract: ExtractReport
    train: TrainResult
    timelines: list[Timeline]
    matches: dict[str, tuple[int, int]]
    report_html: Path


def demo(
    out: str | os.PathLike[str] = "vidscope-demo",
    *,
    n_videos: int = 40,
    seed: int = 0,
    frames: int = 16,
    head: str = "mlp",
    say: Callable[[str], None] = print,
    on_extracted: Callable[[ExtractReport, Path], None] | None = None,
    on_trained: Callable[[TrainResult], None] | None = None,
) -> DemoResult:
    """Generate ``n_videos`` collision clips and one long video, extract ``frames`` frames per
    clip with the bundled backbone, train ``head``, and draw the long video's timeline.

    Args:
        out: Working folder (``data/``, ``store/``, ``run/``, ``timeline/``); a rerun reuses
            the data and store and replaces the run.
        say: Receives one line per stage.
        on_extracted, on_trained: Called after those stages (the CLI prints tables there).
    """
    root = Path(out)
    say(f"1/4 generating {n_videos} example clips in {root}/data")
    data = make_collisions(root / "data", n_videos=n_videos, seed=seed)
    say(f"2/4 extracting features with the bundled backbone into {root}/store")
    cfg = ExtractConfig(sampling=SamplingSpec("uniform", frames))
    report = extract(data.videos_dir, root / "store", cfg)
    if on_extracted is not None:
        on_extracted(report, root / "store")
    say(f"3/4 training the {head} head on {data.labels_csv.name}")
    tcfg = TrainConfig(head=head, seed=seed, tensorboard=False)
    result = train(root / "store", data.labels_csv, out=root / "run", config=tcfg, overwrite=True)
    if on_trained is not None:
        on_trained(result)
    say(f"4/4 timeline of the long video {data.long_video.name}")
    lines = timeline(
        root / "run", data.long_video, out=root / "timeline", annotations=data.long_events_csv
    )
    return DemoResult(
        report,
        result,
        lines,
        {t.video_id: matches(t) for t in lines},
        root / "timeline" / "report.html",
    )


def matches(t: Timeline, min_tiou: float = 0.1) -> tuple[int, int]:
    """``(true events found, false detections)`` of a timeline at ``tIoU >= min_tiou``."""
    found = sum(any(tiou(d, g) >= min_tiou for d in t.segments) for g in t.truth)
    false = sum(all(tiou(d, g) < min_tiou for g in t.truth) for d in t.segments)
    return found, false
