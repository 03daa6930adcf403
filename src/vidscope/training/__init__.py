"""Training on cached features with registered trainers; saved runs; prediction.

Trainers (``neural``, ``tree``, ...) are registered by name (:func:`register_trainer`); every
run's ``config.json`` is a :class:`RunSpec` naming its trainer. Evaluating a run on a store
and timelines are workflows in :mod:`vidscope.pipelines`.

Names load on first use (like :mod:`vidscope.metrics`), so loading a run to predict
imports only what scoring needs: no pandas for the CLI's ``predict``, no torch for tree or
ONNX-exported heads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from ._auto import train_auto
    from ._callbacks import Checkpoint, EarlyStopping, FitContext, Progress, TensorBoard
    from ._compare import compare
    from ._config import TrainConfig
    from ._crossfit import CrossFit, crossfit_scores
    from ._fit import SplitResult, fit_split
    from ._heads import check_head_options
    from ._predict import (
        build_backbone,
        check_weights,
        extractor_for,
        predict,
        predict_columns,
    )
    from ._presets import (
        PRESETS,
        Preset,
        check_preset_store,
        get_preset,
        preset_config,
        presets_help,
    )
    from ._run import Member, Run, load_run
    from ._spec import RunSpec
    from ._trainer import FitResult, Trainer, get_trainer, list_trainers, register_trainer

_EXPORTS = {
    "LabelOptions": "._api",
    "TrainResult": "._api",
    "WindowOptions": "._api",
    "callbacks_for": "._api",
    "finish_run": "._api",
    "load_data": "._api",
    "prepare_run_dir": "._api",
    "splits_for": "._api",
    "train": "._api",
    "train_auto": "._auto",
    "Checkpoint": "._callbacks",
    "EarlyStopping": "._callbacks",
    "FitContext": "._callbacks",
    "Progress": "._callbacks",
    "TensorBoard": "._callbacks",
    "compare": "._compare",
    "TrainConfig": "._config",
    "CrossFit": "._crossfit",
    "crossfit_scores": "._crossfit",
    "SplitResult": "._fit",
    "fit_split": "._fit",
    "check_head_options": "._heads",
    "build_backbone": "._predict",
    "check_weights": "._predict",
    "extractor_for": "._predict",
    "predict": "._predict",
    "predict_columns": "._predict",
    "Member": "._run",
    "Run": "._run",
    "load_run": "._run",
    "RunSpec": "._spec",
    "PRESETS": "._presets",
    "Preset": "._presets",
    "check_preset_store": "._presets",
    "get_preset": "._presets",
    "preset_config": "._presets",
    "presets_help": "._presets",
    "FitResult": "._trainer",
    "Trainer": "._trainer",
    "get_trainer": "._trainer",
    "list_trainers": "._trainer",
    "register_trainer": "._trainer",
}
__all__ = [
    "PRESETS",
    "Checkpoint",
    "CrossFit",
    "EarlyStopping",
    "FitContext",
    "FitResult",
    "LabelOptions",
    "Member",
    "Preset",
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
    "check_head_options",
    "check_preset_store",
    "check_weights",
    "compare",
    "crossfit_scores",
    "extractor_for",
    "finish_run",
    "fit_split",
    "get_preset",
    "get_trainer",
    "list_trainers",
    "load_data",
    "load_run",
    "predict",
    "predict_columns",
    "prepare_run_dir",
    "preset_config",
    "presets_help",
    "register_trainer",
    "splits_for",
    "train",
    "train_auto",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
