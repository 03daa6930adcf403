"""The ``neural`` trainer: temporal heads on ``[B, T, D]`` features, by gradient descent."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import SequenceSet, Split
from ..errors import RunError
from ..models import create_head
from ._config import TrainConfig
from ._heads import rebuild_head
from ._onnx_head import (
    CHECK_FILE,
    OnnxHead,
    export_head,
    load_onnx_head,
    probabilities,
    probe_sequences,
)
from ._trainer import FitResult, register_trainer

WEIGHTS_FILE = "model.safetensors"


@register_trainer("neural")
class NeuralTrainer:
    """Fits a registered torch head with :func:`fit_neural`; weights in safetensors."""

    def build(self, cfg: TrainConfig, data: SequenceSet) -> Any:
        """The configured head, seeded, given the class names and backbone identity."""
        import torch

        torch.manual_seed(cfg.seed)
        return create_head(
            cfg.head,
            num_features=data.num_features,
            num_outputs=1 if data.labels.num_classes == 2 else data.labels.num_classes,
            layout=data.layout,
            classes=list(data.labels.classes),
            backbone=dict(data.backbone or {}),
            **cfg.head_options,
        )

    def fit(
        self,
        model: Any,
        data: SequenceSet,
        split: Split,
        cfg: TrainConfig,
        out: Path,
        *,
        resume: bool,
        callbacks: list[Any],
    ) -> FitResult:
        from ._checkpoint import load_weights
        from ._loop import fit_neural

        fit = fit_neural(model, data, split, cfg, out, resume=resume, callbacks=callbacks)
        load_weights(model, out / WEIGHTS_FILE)  # the best epoch
        if cfg.export_onnx and getattr(model, "onnx_export", True):
            idx = split.val if len(split.val) else split.train
            export_head(model, out, [data.features[i] for i in idx])
        return fit

    def refit(
        self,
        model: Any,
        data: SequenceSet,
        split: Split,
        cfg: TrainConfig,
        out: Path,
        fit: FitResult,
    ) -> Any:
        """A fresh head trained on train + validation for the epochs the first fit chose
        (its best epoch + 1), saved over the first fit's weights (and ONNX export)."""
        from ._callbacks import EarlyStopping
        from ._checkpoint import save_weights
        from ._loop import fit_neural

        epochs = max(1, fit.best_epoch + 1)
        both = Split(split.name, np.concatenate([split.train, split.val]), split.val, split.test)
        again = replace(cfg, epochs=epochs, patience=epochs + 1)
        head = self.build(again, data)
        fit_neural(head, data, both, again, out / "refit", callbacks=[EarlyStopping(epochs + 1)])
        save_weights(head, out / WEIGHTS_FILE)
        if cfg.export_onnx and getattr(head, "onnx_export", True):
            export_head(head, out, [data.features[i] for i in split.val])
        return head

    def scores(self, model: Any, data: SequenceSet, idx: np.ndarray) -> np.ndarray:
        from ._loop import predict_logits
        from ._scores import scores_from_logits

        logits = predict_logits(model, data, idx, 64)
        return scores_from_logits(logits, data.labels.num_classes == 2)

    def score_padded(self, model: Any, x: np.ndarray, mask: np.ndarray, binary: bool) -> np.ndarray:
        """Probabilities of padded features ``x [B, T, D]`` with ``mask [B, T]`` (in ONNX
        Runtime when the member loaded as an :class:`OnnxHead`)."""
        if isinstance(model, OnnxHead):
            return probabilities(model.logits(x, mask), binary)
        import torch

        from ._scores import scores_from_logits

        model.eval()
        with torch.inference_mode():
            logits = model(torch.from_numpy(x), torch.from_numpy(mask))
        return scores_from_logits(logits, binary)

    def save(self, model: Any, folder: Path) -> None:
        from ._checkpoint import save_weights

        save_weights(model, folder / WEIGHTS_FILE)

    def load(self, folder: Path, spec: Any) -> Any:
        """The member's checked ONNX head when there is one (no torch needed); else the torch
        head rebuilt from ``spec.head_config`` with its weights, exporting it to ONNX for
        later loads when the run folder has no export yet and is writable."""
        path = folder / WEIGHTS_FILE
        if not path.is_file():
            raise RunError(f"{path}: run weights missing (was training interrupted?)")
        onnx = load_onnx_head(folder)
        if onnx is not None:
            return onnx
        head = self._load_torch(folder, spec)
        exportable = getattr(head, "onnx_export", True)  # coop keeps its text tower in torch
        if exportable and not (folder / CHECK_FILE).exists() and os.access(folder, os.W_OK):
            export_head(head, folder, probe_sequences(int(spec.num_features)))
        return head

    def _load_torch(self, folder: Path, spec: Any) -> Any:
        from ._checkpoint import load_weights

        path = folder / WEIGHTS_FILE
        head = rebuild_head(spec, folder)
        try:
            load_weights(head, path)
        except Exception as exc:  # safetensors raises its own types for damaged files
            raise RunError(f"{path}: unreadable or not this head's weights ({exc})") from None
        head.eval()
        return head

    def head_config(self, model: Any, data: SequenceSet) -> dict[str, Any]:
        return dict(model.config)

    def num_params(self, model: Any) -> int:
        params = getattr(model, "parameters", None)
        return int(sum(p.numel() for p in params())) if callable(params) else 0
