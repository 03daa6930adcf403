"""A saved run: ``config.json`` + weights (safetensors, or XGBoost JSON); loading and scoring.

A run never unpickles anything: the config rebuilds the head, the weights are tensors.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data import pad
from ..errors import StoreError, VidscopeError

TREE_FILE = "model.xgb"  # a folder: booster.json + estimator.json
TORCH_FILE = "model.safetensors"


@dataclass
class Member:
    """One fitted model of a run (a k-fold run has one per fold)."""

    model: Any  # torch head or StatsXGBoost
    kind: str  # "torch" | "tree"
    threshold: float | None


class Run:
    """A trained classifier loaded from a run directory.

    Attributes:
        path: The run directory.
        config: Its ``config.json``.
        classes: Class names (binary: class 1 is the positive class).
    """

    def __init__(self, path: Path, config: dict[str, Any], members: list[Member]) -> None:
        self.path = path
        self.config = config
        self.classes: list[str] = list(config["classes"])
        self.members = members

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def threshold(self) -> float | None:
        """Binary decision threshold (mean over folds), chosen on validation at training."""
        values = [m.threshold for m in self.members if m.threshold is not None]
        return float(np.mean(values)) if values else None

    def check_store(self, meta: dict[str, Any], where: str) -> None:
        """:meth:`check_backbone` for a store's ``meta``, including its backbone options.

        A plain ``.npy`` folder (``meta["format"] == "npy"``) records no backbone and is not
        checked, nor is a run trained on one.
        """
        if meta.get("format") == "npy" or self.config.get("store_format") == "npy":
            return
        mine = self.config.get("backbone_options") or {}
        theirs = json.loads(json.dumps(meta.get("backbone_options") or {}))
        if mine != theirs:
            raise StoreError(
                f"{where} was extracted with backbone options {theirs}, but run {self.path} "
                f"with {mine}; extract them with the run's --backbone-option settings"
            )
        self.check_backbone(meta.get("backbone"), where)

    def check_backbone(self, identity: dict[str, Any] | None, where: str) -> None:
        """Refuse features made by another backbone than the run's, even of the same width.

        Args:
            identity: The backbone identity that made the features (a store's
                ``meta["backbone"]``, or a rebuilt backbone's ``identity()``); ``None`` or
                empty (e.g. a plain ``.npy`` folder) is not checked.
            where: Names the features in the error (a store path, "the rebuilt backbone").

        Raises:
            StoreError: listing the first fields that differ (name, weights, preprocessing,
                feature version, ...).
        """
        from ..features._npy_folder import NPY_BACKBONE

        mine = self.config.get("backbone") or {}
        names = (mine.get("name"), (identity or {}).get("name"))
        if not identity or not names[0] or NPY_BACKBONE in names:
            return
        theirs = json.loads(json.dumps(identity))  # tuples -> lists, as config.json has them
        diff = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
        if diff:
            shown = "; ".join(f"{k}: {theirs.get(k)!r} vs {mine.get(k)!r}" for k in diff[:3])
            raise StoreError(
                f"{where} holds features of another backbone than run {self.path} was trained "
                f"on ({shown}); extract them with the run's backbone and settings"
            )

    def scores(self, sequences: list[np.ndarray]) -> np.ndarray:
        """Probabilities for ``[T_i, D]`` sequences: ``[N]`` (binary) or ``[N, C]``.

        Raises:
            StoreError: if the feature width differs from the run's.
        """
        d = int(self.config["num_features"])
        bad = {s.shape[1] for s in sequences} - {d}
        if bad:
            raise StoreError(
                f"features have width {sorted(bad)} but run {self.path} was trained on D={d} "
                f"({self.config['backbone'].get('name')}); extract with the run's backbone"
            )
        out = [self._member_scores(m, sequences) for m in self.members]
        return np.mean(out, axis=0)

    def _member_scores(self, member: Member, sequences: list[np.ndarray]) -> np.ndarray:
        from ._scores import scores_from_logits

        parts = []
        for s in range(0, len(sequences), 256):
            x, mask = pad([q.astype(np.float32) for q in sequences[s : s + 256]])
            if member.kind == "tree":
                proba = member.model.predict_proba(x, mask)
                parts.append(proba[:, 1] if self.binary else proba)
            else:
                import torch

                member.model.eval()
                with torch.inference_mode():
                    logits = member.model(torch.from_numpy(x), torch.from_numpy(mask))
                parts.append(scores_from_logits(logits, self.binary))
        return np.concatenate(parts)

    def predict_sequences(self, ids: list[str], sequences: list[np.ndarray]) -> pd.DataFrame:
        """Binary: ``id,score`` (+ ``label``); multi-class: ``id,label,score_<class>...``."""
        scores = self.scores(sequences)
        if self.binary:
            label = np.where(scores >= (self.threshold or 0.5), self.classes[1], self.classes[0])
            return pd.DataFrame({"id": ids, "score": scores, "label": label})
        df = pd.DataFrame({"id": ids, "label": [self.classes[i] for i in scores.argmax(1)]})
        for j, c in enumerate(self.classes):
            df[f"score_{c}"] = scores[:, j]
        return df

    def predict(self, source: Any, **kwargs: Any) -> pd.DataFrame:
        """Predictions for a feature store, or for videos extracted on the fly.

        See :func:`vidscope.training.predict` for the arguments.
        """
        from ._predict import predict

        return predict(self, source, **kwargs)


def load_run(path: str | os.PathLike[str]) -> Run:
    """Load a run directory written by ``vidscope train``.

    Raises:
        VidscopeError: missing or unreadable run files.
    """
    root = Path(path)
    cfg_path = root / "config.json"
    if not cfg_path.is_file():
        raise VidscopeError(f"{root}: not a vidscope run (no config.json); train one first")
    config = json.loads(cfg_path.read_text())
    dirs = [root / f for f in config.get("folds") or []] or [root]
    return Run(root, config, [_load_member(d, config) for d in dirs])


def _load_member(folder: Path, config: dict[str, Any]) -> Member:
    from ..models import StatsXGBoost, create_head

    meta = json.loads((folder / "member.json").read_text())
    if (folder / TREE_FILE).exists():
        return Member(StatsXGBoost.load(folder / TREE_FILE), "tree", meta.get("threshold"))
    import torch

    from ._checkpoint import load_weights

    head_cfg = {k: v for k, v in config["head_config"].items()}
    head = create_head(config["head"], **head_cfg)
    if not isinstance(head, torch.nn.Module) or not (folder / TORCH_FILE).exists():
        raise VidscopeError(f"{folder}: run weights {TORCH_FILE} missing")
    load_weights(head, folder / TORCH_FILE)
    head.eval()
    return Member(head, "torch", meta.get("threshold"))
