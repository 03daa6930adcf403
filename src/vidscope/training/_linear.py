"""The ``linear`` trainer: ``linear_probe`` (pooled features into a logistic regression).

It fits like the ``tree`` trainer (one ``fit``, no epochs, ``--refit`` on train + val) and
passes the training videos' source groups to the head, whose inner cross-validation of the
regularisation strength then never splits a group. The model is one JSON file, loaded with
numpy only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data import SequenceSet
from ..errors import InputError, RunError
from ._trainer import register_trainer
from ._tree import TreeTrainer

LINEAR_FILE = "linear.json"


@register_trainer("linear")
class LinearTrainer(TreeTrainer):
    """Fits a :class:`~vidscope.models.LinearProbe` on the training videos."""

    def save(self, model: Any, folder: Path) -> None:
        model.save(folder / LINEAR_FILE)

    def load(self, folder: Path, spec: Any) -> Any:
        from ..models import LinearProbe

        path = folder / LINEAR_FILE
        if not path.is_file():
            raise RunError(f"{path}: run model missing (was training interrupted?)")
        try:
            return LinearProbe.load(path)
        except (OSError, ValueError, InputError) as exc:
            raise RunError(f"{path}: unreadable linear_probe model ({exc})") from None

    def num_params(self, model: Any) -> int:
        return int(model.num_params())

    def fit_rows(self, model: Any, data: SequenceSet, idx: np.ndarray) -> None:
        """Fit on the videos ``idx`` with their source groups (for the inner CV); where those
        hold a single group, with the labels' units (e.g. the windows' videos), so the inner
        CV never splits overlapping windows of one video."""
        x, mask = data.padded(idx)
        labels = data.labels
        groups = None if labels.groups is None else labels.groups[idx]
        if (groups is None or len(set(groups.tolist())) < 2) and labels.units is not None:
            groups = labels.units[idx]
        model.fit(x, labels.y[idx], mask=mask, groups=groups)
