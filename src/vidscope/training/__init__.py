"""Training temporal heads on cached features; saved runs; evaluation and prediction."""

from ._api import LabelOptions, TrainResult, WindowOptions, evaluate, load_data, train
from ._compare import compare
from ._config import TrainConfig
from ._events import evaluate_events
from ._predict import predict
from ._run import Run, load_run

__all__ = [
    "LabelOptions",
    "Run",
    "TrainConfig",
    "TrainResult",
    "WindowOptions",
    "compare",
    "evaluate",
    "evaluate_events",
    "load_data",
    "load_run",
    "predict",
    "train",
]
