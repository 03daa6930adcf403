"""Training on cached features with registered trainers; saved runs; prediction.

Trainers (``neural``, ``tree``, ...) are registered by name (:func:`register_trainer`); every
run's ``config.json`` is a :class:`RunSpec` naming its trainer. Evaluating a run on a store
and timelines are workflows in :mod:`vidscope.pipelines`.
"""

from ._api import (
    LabelOptions,
    TrainResult,
    WindowOptions,
    callbacks_for,
    finish_run,
    load_data,
    prepare_run_dir,
    splits_for,
    train,
)
from ._callbacks import Checkpoint, EarlyStopping, FitContext, Progress, TensorBoard
from ._compare import compare
from ._config import TrainConfig
from ._fit import SplitResult, fit_split
from ._predict import build_backbone, check_weights, extractor_for, predict
from ._run import Member, Run, load_run
from ._spec import RunSpec
from ._trainer import FitResult, Trainer, get_trainer, list_trainers, register_trainer

__all__ = [
    "Checkpoint",
    "EarlyStopping",
    "FitContext",
    "FitResult",
    "LabelOptions",
    "Member",
    "Progress",
    "Run",
    "RunSpec",
    "SplitResult",
    "TensorBoard",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "WindowOptions",
    "build_backbone",
    "callbacks_for",
    "check_weights",
    "compare",
    "extractor_for",
    "finish_run",
    "fit_split",
    "get_trainer",
    "list_trainers",
    "load_data",
    "load_run",
    "predict",
    "prepare_run_dir",
    "register_trainer",
    "splits_for",
    "train",
]
