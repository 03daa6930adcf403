"""A saved run: ``config.json`` (a :class:`RunSpec`) + one member per fold; loading and scoring.

A run never unpickles anything: the spec rebuilds the model, the weights are tensors (or
XGBoost JSON), and the trainer named in the spec loads them, nothing else.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data import pad
from ..errors import IncompatibleError, RunError, VidscopeError
from ..features import StoreKey
from ..metrics import classification_report
from ._spec import RunSpec
from ._trainer import Trainer, get_trainer

if TYPE_CHECKING:
    import pandas as pd

TREE_FILE = "model.xgb"
TORCH_FILE = "model.safetensors"


@dataclass
class Member:
    """One fitted model of a run (a k-fold run has one per fold)."""

    model: Any
    trainer: Trainer
    threshold: float | None


class Run:
    """A trained classifier loaded from a run directory.

    Attributes:
        path: The run directory.
        spec: Its ``config.json``.
        classes: Class names (binary: class 1 is the positive class).
    """

    def __init__(self, path: Path, spec: RunSpec, members: list[Member]) -> None:
        self.path = path
        self.spec = spec
        self.classes: list[str] = list(spec.classes)
        self.members = members

    @property
    def config(self) -> dict[str, Any]:
        """The spec as a flat dict (``head``, ``classes``, ``window``, ``clip_duration_s``,
        ``sampling``, ``backbone``, ...), for code that reads settings by name."""
        flat = self.spec.to_json()
        store = flat.pop("store")
        return {
            **{k: v for k, v in store.items() if k != "layout"},
            **flat,
            "store_layout": store.get("layout"),
        }

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def threshold(self) -> float | None:
        """Binary decision threshold (mean over folds), chosen on validation at training."""
        values = [m.threshold for m in self.members if m.threshold is not None]
        return float(np.mean(values)) if values else None

    def check_store(self, meta: dict[str, Any] | StoreKey, where: str) -> None:
        """Refuse features made with another backbone or backbone settings than the run's.

        A plain ``.npy`` folder records no backbone and is checked by width only (in
        :meth:`scores`), as is a run trained on one.

        Raises:
            IncompatibleError: naming both backbones and the settings that differ.
        """
        key = meta if isinstance(meta, StoreKey) else StoreKey.from_json(meta, where=where)
        mine = self.spec.store
        if key.is_npy or mine.is_npy or not key.backbone:
            return
        diff = mine.differences(key, keys=("backbone", "backbone_options"))
        if diff:
            raise IncompatibleError(
                f"run {self.path} was trained on {mine.describe()}; {where} holds "
                f"{key.describe()} (differs in {'; '.join(_short(d) for d in diff)}). "
                "Extract the videos with the run's backbone and settings"
            )

    def sampling_note(self, key: StoreKey, where: str) -> str | None:
        """A warning when ``key``'s sampling differs from the run's (scores stay valid but
        may shift), else ``None``."""
        mine, theirs = self.spec.store.sampling_spec(), key.sampling_spec()
        if mine is None or theirs is None or mine == theirs or self.spec.window is not None:
            return None
        return (
            f"{where} was sampled with {theirs.describe()}, the run's training videos with "
            f"{mine.describe()}; scores may shift (extract with the run's sampling to match)"
        )

    def check_backbone(self, identity: dict[str, Any] | None, where: str) -> None:
        """:meth:`check_store` for a rebuilt backbone's ``identity()``."""
        if identity:
            key = StoreKey(backbone=identity, backbone_options=self.spec.store.backbone_options)
            self.check_store(key, where)

    def scores(self, sequences: list[np.ndarray]) -> np.ndarray:
        """Probabilities for ``[T_i, D]`` sequences: ``[N]`` (binary) or ``[N, C]``.

        Raises:
            IncompatibleError: if the feature width differs from the run's.
            VidscopeError: an empty sequence or one with NaN/inf values.
        """
        d = int(self.spec.num_features)
        bad = {s.shape[1] for s in sequences} - {d}
        if bad:
            raise IncompatibleError(
                f"features have width {sorted(bad)} but run {self.path} was trained on D={d} "
                f"({self.spec.store.backbone_name}); extract with the run's backbone"
            )
        out = [self._member_scores(m, sequences) for m in self.members]
        return np.mean(out, axis=0)

    def _member_scores(self, member: Member, sequences: list[np.ndarray]) -> np.ndarray:
        parts = []
        for s in range(0, len(sequences), 256):
            x, mask = pad([q.astype(np.float32) for q in sequences[s : s + 256]])
            parts.append(member.trainer.score_padded(member.model, x, mask, self.binary))
        return np.concatenate(parts) if parts else np.zeros((0,) if self.binary else (0, 2))

    def frame_report(self, sequences: list[np.ndarray], y: np.ndarray) -> dict[str, Any] | None:
        """Frame-level classification report for heads with ``frame_logits`` (coop), else
        ``None``: every valid frame scored (members averaged) against its sequence's class
        index ``y``, at 0.5 for binary (the run's threshold was chosen for sequences)."""
        if not self.members or not all(hasattr(m.model, "frame_logits") for m in self.members):
            return None
        import torch  # only heads with frame logits (torch modules) get here

        from ._scores import scores_from_logits

        probs, truth = [], []
        for s in range(0, len(sequences), 256):
            x, mask = pad([q.astype(np.float32) for q in sequences[s : s + 256]])
            xt, mt = torch.from_numpy(x), torch.from_numpy(mask)
            per_member = []
            for m in self.members:
                m.model.eval()
                with torch.inference_mode():
                    frames = m.model.frame_logits(xt, mt)[mt]  # [valid frames, C]
                per_member.append(scores_from_logits(frames, self.binary))
            probs.append(np.mean(per_member, axis=0))
            truth.append(np.repeat(np.asarray(y[s : s + 256]), mask.sum(1)))
        return classification_report(
            np.concatenate(truth), np.concatenate(probs), labels=self.classes, threshold=0.5
        )

    def prediction_columns(
        self, ids: list[str], sequences: list[np.ndarray]
    ) -> dict[str, list[Any] | np.ndarray]:
        """The columns of :meth:`predict_sequences`, without pandas (the CLI's lean path)."""
        scores = self.scores(sequences)
        if self.binary:
            label = np.where(scores >= (self.threshold or 0.5), self.classes[1], self.classes[0])
            return {"id": list(ids), "score": scores, "label": label}
        cols: dict[str, list[Any] | np.ndarray] = {
            "id": list(ids),
            "label": [self.classes[i] for i in scores.argmax(1)],
        }
        for j, c in enumerate(self.classes):
            cols[f"score_{c}"] = scores[:, j]
        return cols

    def predict_sequences(self, ids: list[str], sequences: list[np.ndarray]) -> pd.DataFrame:
        """Binary: ``id,score`` (+ ``label``); multi-class: ``id,label,score_<class>...``."""
        import pandas as pd

        return pd.DataFrame(self.prediction_columns(ids, sequences))

    def predict(self, source: Any, **kwargs: Any) -> pd.DataFrame:
        """Predictions for a feature store, or for videos extracted on the fly.

        See :func:`vidscope.training.predict` for the arguments.
        """
        from ._predict import predict

        return predict(self, source, **kwargs)


def load_run(path: str | os.PathLike[str]) -> Run:
    """Load a run directory written by ``vidscope train`` (or another registered trainer).

    Raises:
        RunError: missing, unreadable or tampered run files, each named.
    """
    root = Path(path)
    cfg_path = root / "config.json"
    if not cfg_path.is_file():
        raise RunError(f"{root}: not a vidscope run (no config.json); train one first")
    spec = RunSpec.read(cfg_path)
    trainer = get_trainer(spec.trainer)
    dirs = [root / f for f in spec.folds or []] or [root]
    return Run(root, spec, [_load_member(d, spec, trainer) for d in dirs])


def _load_member(folder: Path, spec: RunSpec, trainer: Trainer) -> Member:
    path = folder / "member.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing (was training interrupted?); train again") from None
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: unreadable ({exc})") from None
    threshold = meta.get("threshold") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or not isinstance(threshold, (int, float, type(None))):
        raise RunError(f'{path}: expected {{"threshold": number or null, ...}}')
    try:
        return Member(trainer.load(folder, spec), trainer, threshold)
    except VidscopeError:
        raise
    except Exception as exc:  # a damaged weights file: name it, keep the cause
        raise RunError(f"{folder}: cannot load the model ({type(exc).__name__}: {exc})") from exc


def _short(diff: str) -> str:
    return diff if len(diff) < 160 else diff[:157] + "..."
