"""Workflows that combine stages: the CLI calls these and the stages' public APIs.

::

    timeline(run, videos, out=...)       extract at the plan's rate + score + segment + report
    evaluate(run, store_or_videos, labels)   a run on labelled features (or raw videos)
    evaluate_events(run, store, annotations) frame-level and segment metrics
    predict(run, store_or_videos)        scores (extracting videos with the run's extractor)
    demo(out)                            the whole job on generated data
    finetune(videos, labels, weights=, out=) VideoMAE fine-tuned end to end on raw clips
    zeroshot(store, classes)             CLIP features scored against class prompts
"""

from ..training import predict
from ._demo import DemoResult, demo, matches
from ._evaluate import evaluate
from ._events import evaluate_events, lead_time_ap
from ._export import ExportResult, export
from ._finetune import finetune
from ._timeline import timeline, write_outputs
from ._zeroshot import ZeroShotResult, zeroshot

__all__ = [
    "DemoResult",
    "ExportResult",
    "ZeroShotResult",
    "demo",
    "evaluate",
    "evaluate_events",
    "export",
    "finetune",
    "lead_time_ap",
    "matches",
    "predict",
    "timeline",
    "write_outputs",
    "zeroshot",
]
