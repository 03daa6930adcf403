"""The ``ensemble`` trainer: member heads fitted by their own trainers on the same split.

``--head ensemble --head-option members=stats_xgboost@efficientnet_lite0+flow,mlp@flow``: each
member is any registered feature head (tree or neural) on some of the store's layout parts
(``vidscope.models``' ``ensemble`` head plans and checks them). Every member is fitted on the
split's training part by its own trainer (its own epochs and early stopping), the run scores a
video as the **mean of the members' probabilities**, and the shared code chooses the threshold
on the validation part from those averaged scores, as for any run. ``--refit`` refits every
member on train + validation (each as its trainer refits) and keeps that threshold.

A run (or each fold of one) is a normal run folder plus one sub-folder per member::

    RUN/config.json            head "ensemble", trainer "ensemble"; head_config["members"]:
                               each member's head, trainer, parts, columns, layout, head_config
    RUN/member.json, metrics.json, predictions.csv, ...   (as for any run)
    RUN/ensemble.json          per member: best epoch, epochs run, seconds, validation ROC-AUC
    RUN/members/m0_stats_xgboost/model.xgb
    RUN/members/m1_mlp/model.safetensors (+ model.onnx)

``compare --ensemble K`` writes the same format from heads it already fitted (copied, not
refitted; :mod:`._assemble`), choosing the members of each fold on that fold's validation part:
``head_config["fold_members"]`` then names the member folders of each fold folder.

Loading needs only the members' trainers: tree members predict through XGBoost without torch,
neural members through their checked ONNX export when there is one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..data import SequenceSet, Split
from ..errors import ConfigError, RunError
from ..features import atomic_write_json
from ._config import TrainConfig
from ._trainer import FitResult, Trainer, get_trainer, register_trainer

MEMBERS_DIR = "members"
ENSEMBLE_FILE = "ensemble.json"


@dataclass
class EnsembleMember:
    """One fitted member.

    Attributes:
        head: Registered head name.
        trainer: Its trainer.
        model: Its fitted model (whatever its trainer's ``load`` returns).
        folder: Sub-folder name under ``members/`` (``m<k>_<head>``).
        columns: ``[(start, stop), ...]`` of the run's features it reads.
        layout: ``[(part, width), ...]`` of its own features.
        parts: Layout parts as named in ``members=`` (empty: every part).
        options: Its head options.
        cfg: Its resolved training settings (``None`` for a loaded member).
        fit: Its first fit (``None`` for a loaded member).
    """

    head: str
    trainer: Trainer
    model: Any
    folder: str
    columns: list[tuple[int, int]]
    layout: list[tuple[str, int]]
    parts: list[str]
    options: dict[str, Any]
    cfg: TrainConfig | None = None
    fit: FitResult | None = None

    @property
    def label(self) -> str:
        return f"{self.head}@{'+'.join(self.parts)}" if self.parts else self.head

    def take(self, x: np.ndarray) -> np.ndarray:
        """The member's columns of ``x [..., D]`` (contiguous)."""
        if len(self.columns) == 1:
            start, stop = self.columns[0]
            if start == 0 and stop == x.shape[-1]:
                return x
            return np.ascontiguousarray(x[..., start:stop])
        idx = np.concatenate([np.arange(a, b) for a, b in self.columns])
        return np.ascontiguousarray(x[..., idx])

    def view(self, data: SequenceSet) -> SequenceSet:
        """``data`` restricted to the member's columns, with its layout."""
        if len(self.columns) == 1 and self.columns[0] == (0, data.num_features):
            return data
        return replace(data, features=[self.take(f) for f in data.features], layout=self.layout)


@dataclass
class EnsembleModel:
    """The members of one fitted ensemble; its score is their mean probability."""

    members: list[EnsembleMember]


@register_trainer("ensemble")
class EnsembleTrainer:
    """Fits each member with its own trainer; scores with the mean of their probabilities."""

    def build(self, cfg: TrainConfig, data: SequenceSet) -> EnsembleModel:
        """The planned members, each built (seeded) by its trainer on its columns.

        Raises:
            ConfigError: a bad ``members=`` (see :mod:`vidscope.models`' ``ensemble``), or a
                member head that does not train on features.
        """
        from ..models import create_head, head_trainer

        plan = create_head(
            cfg.head,
            num_features=data.num_features,
            num_outputs=1 if data.labels.num_classes == 2 else data.labels.num_classes,
            layout=data.layout or None,
            **cfg.head_options,
        )
        members = []
        for k, p in enumerate(plan.members):
            trainer = get_trainer(head_trainer(p.head))
            if not hasattr(trainer, "score_padded") or not hasattr(trainer, "refit"):
                raise ConfigError(
                    f"--head-option members: {p.head!r} trains on raw clips, not on features; "
                    "members must be feature heads (`vidscope heads`: trainer neural, tree or "
                    "linear)"
                )
            member = EnsembleMember(
                p.head, trainer, None, f"m{k}_{p.head}", list(p.columns), list(p.layout),
                list(p.parts), dict(p.options),
                cfg=replace(cfg, head=p.head, head_options=dict(p.options)),
            )  # fmt: skip
            member.model = trainer.build(member.cfg, member.view(data))
            members.append(member)
        return EnsembleModel(members)

    def fit(
        self,
        model: EnsembleModel,
        data: SequenceSet,
        split: Split,
        cfg: TrainConfig,
        out: Path,
        *,
        resume: bool,
        callbacks: list[Any],
    ) -> FitResult:
        """Fit every member on ``split.train`` (neural ones select their epoch on
        ``split.val``); write ``out/ensemble.json``."""
        start = time.monotonic()
        for m in model.members:
            folder = out / MEMBERS_DIR / m.folder
            folder.mkdir(parents=True, exist_ok=True)
            m.cfg = (m.cfg or cfg).resolved(getattr(m.model, "train_defaults", None))
            sub = m.view(data)
            m.fit = m.trainer.fit(
                m.model, sub, split, m.cfg, folder, resume=resume, callbacks=callbacks
            )
        self._write_summary(model, data, split, out)
        fits = [m.fit for m in model.members if m.fit is not None]
        return FitResult(
            best_epoch=max(f.best_epoch for f in fits),
            best_value=float("nan"),
            epochs_run=max(f.epochs_run for f in fits),
            seconds=time.monotonic() - start,
        )

    def _write_summary(
        self, model: EnsembleModel, data: SequenceSet, split: Split, out: Path
    ) -> None:
        from ..metrics import classification_report

        rows = []
        for m in model.members:
            row: dict[str, Any] = {"member": m.label, "folder": f"{MEMBERS_DIR}/{m.folder}"}
            if m.fit is not None:
                row.update(best_epoch=m.fit.best_epoch, epochs_run=m.fit.epochs_run,
                           seconds=round(m.fit.seconds, 3))  # fmt: skip
            if len(split.val):
                scores = m.trainer.scores(m.model, m.view(data), split.val)
                y = data.labels.y[split.val]
                rep = classification_report(y, scores, labels=list(data.labels.classes))
                row["val_roc_auc"] = rep.get("roc_auc")
            rows.append(row)
        atomic_write_json(out / ENSEMBLE_FILE, {"members": rows, "score": "mean probability"})

    def refit(
        self,
        model: EnsembleModel,
        data: SequenceSet,
        split: Split,
        cfg: TrainConfig,
        out: Path,
        fit: FitResult,
    ) -> EnsembleModel:
        """Every member refitted on train + validation by its trainer (saved over its fit)."""
        for m in model.members:
            assert m.fit is not None and m.cfg is not None, "refit before fit"
            folder = out / MEMBERS_DIR / m.folder
            m.model = m.trainer.refit(m.model, m.view(data), split, m.cfg, folder, m.fit)
        return model

    def scores(self, model: EnsembleModel, data: SequenceSet, idx: np.ndarray) -> np.ndarray:
        """Mean of the members' probabilities: ``[N]`` (binary) or ``[N, C]``."""
        return np.mean([m.trainer.scores(m.model, m.view(data), idx) for m in model.members], 0)

    def score_padded(
        self, model: EnsembleModel, x: np.ndarray, mask: np.ndarray, binary: bool
    ) -> np.ndarray:
        """Mean of the members' probabilities of padded ``x [B, T, D]``, ``mask [B, T]``."""
        out = [m.trainer.score_padded(m.model, m.take(x), mask, binary) for m in model.members]
        return np.mean(out, axis=0)

    def save(self, model: EnsembleModel, folder: Path) -> None:
        for m in model.members:
            path = folder / MEMBERS_DIR / m.folder
            path.mkdir(parents=True, exist_ok=True)
            m.trainer.save(m.model, path)

    def load(self, folder: Path, spec: Any) -> EnsembleModel:
        """Each member loaded by its own trainer from ``members/<folder>`` with a spec of its
        own (its head, head_config, width and layout). A run assembled by ``compare
        --ensemble`` may use other members in each fold: ``head_config["fold_members"]``
        names each fold folder's.

        Raises:
            RunError: ``head_config["members"]`` missing or malformed (naming the file).
        """
        where = folder / "config.json" if (folder / "config.json").exists() else folder
        records = spec.head_config.get("members")
        if not isinstance(records, list) or not records:
            raise RunError(f"{where}: an ensemble run needs head_config.members; train again")
        per_fold = spec.head_config.get("fold_members")  # compare --ensemble: chosen per fold
        if per_fold:
            names = per_fold.get(folder.name) if isinstance(per_fold, dict) else None
            if not isinstance(names, list) or not names:
                raise RunError(f"{where}: head_config.fold_members names no members for "
                               f"{folder.name!r}; train again")  # fmt: skip
            records = [r for r in records if isinstance(r, dict) and r.get("folder") in names]
            if len(records) != len(names):
                raise RunError(f"{where}: head_config.fold_members of {folder.name!r} names "
                               f"members that head_config.members lacks: {names}")  # fmt: skip
        return EnsembleModel([self._load_member(folder, spec, r, where) for r in records])

    def _load_member(self, folder: Path, spec: Any, record: Any, where: Any) -> EnsembleMember:
        try:
            columns = [(int(a), int(b)) for a, b in record["columns"]]
            layout = [(str(n), int(w)) for n, w in record["layout"]]
            head, name, sub_dir = str(record["head"]), str(record["trainer"]), record["folder"]
            head_config = dict(record["head_config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RunError(f"{where}: malformed ensemble member {record!r} ({exc})") from None
        width = sum(b - a for a, b in columns)
        d = int(spec.num_features)
        if any(a < 0 or b > d or a >= b for a, b in columns) or width != sum(w for _, w in layout):
            raise RunError(f"{where}: ensemble member {head!r} has columns {columns} that do "
                           f"not fit D={d} or its layout {layout}")  # fmt: skip
        trainer = get_trainer(name)
        sub = replace(spec, head=head, trainer=name, head_config=head_config,
                      num_features=width, layout=layout)  # fmt: skip
        model = trainer.load(folder / MEMBERS_DIR / str(sub_dir), sub)
        parts, options = list(record.get("parts") or []), dict(record.get("options") or {})
        return EnsembleMember(head, trainer, model, str(sub_dir), columns, layout, parts, options)

    def head_config(self, model: EnsembleModel, data: SequenceSet) -> dict[str, Any]:
        members = [
            {
                "head": m.head,
                "trainer": getattr(m.trainer, "name", ""),
                "parts": list(m.parts),
                "options": dict(m.options),
                "folder": m.folder,
                "columns": [list(c) for c in m.columns],
                "layout": [list(p) for p in m.layout],
                "head_config": m.trainer.head_config(m.model, m.view(data)),
            }
            for m in model.members
        ]
        return {"members": members, "num_features": data.num_features, "layout": data.layout}

    def num_params(self, model: EnsembleModel) -> int:
        return sum(m.trainer.num_params(m.model) for m in model.members)
