"""XGBoost trees evaluated with numpy, and a tree head that predicts without XGBoost.

``import xgboost`` costs about 190 MB of memory and 1.5-2 s (it loads scikit-learn, SciPy,
pandas and PyArrow), far more than scoring a few hundred shallow trees. :class:`Forest` reads
the trees from XGBoost's own JSON model (``booster.json``) and walks all of them at once for a
batch of rows; :class:`TreeScorer` is the saved ``stats_xgboost`` head (PCA, pooled
statistics, forest) as plain numpy. :meth:`StatsXGBoost.fit <vidscope.models.StatsXGBoost.fit>`
checks the forest against ``Booster.predict`` on the training rows and records the largest
probability difference; runs load a :class:`TreeScorer` only when that check passed.

The split rule is XGBoost's: go left when ``x < threshold`` in float32, and a missing value
(NaN) goes the node's default way. The bias (XGBoost's ``base_score`` as a margin) is not
decoded from the model's parameters but measured at fit time as margin minus the sum of leaves,
so it is right whatever the objective and version.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ._stats import as_padded, pool_stats, project


@dataclass(frozen=True)
class Forest:
    """Every tree of a booster packed into flat node arrays.

    Attributes:
        left, right: Child node per node (global index), ``-1`` at leaves.
        feature: Split feature per node.
        threshold: float32 split value per node; the leaf value at leaves.
        default_left: Where a missing value goes, per node.
        roots: Global index of each tree's root, ``[n_trees]``.
        group: Output (class) each tree adds to, ``[n_trees]``.
        depth: Longest root-to-leaf path over all trees.
        outputs: Number of margins per row (1 for binary).
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    default_left: np.ndarray
    roots: np.ndarray
    group: np.ndarray
    depth: int
    outputs: int

    @classmethod
    def from_json(cls, model: dict[str, Any]) -> Forest:
        """Read XGBoost's JSON model (``Booster.save_model("x.json")``, gbtree only).

        Raises:
            InputError: another booster (``gblinear``, ``dart``) or categorical splits.
        """
        booster = model["learner"]["gradient_booster"]
        if booster.get("name") != "gbtree":
            raise InputError(f"only gbtree boosters run without XGBoost, not {booster.get('name')}")
        trees = booster["model"]["trees"]
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("l", "r", "f", "t", "d")}
        roots, offset, depth = [], 0, 0
        for tree in trees:
            if any(tree.get("split_type") or []):
                raise InputError("categorical splits are not supported without XGBoost")
            left = np.asarray(tree["left_children"], np.int64)
            right = np.asarray(tree["right_children"], np.int64)
            leaf = left < 0
            parts["l"].append(np.where(leaf, -1, left + offset))
            parts["r"].append(np.where(leaf, -1, right + offset))
            parts["f"].append(np.asarray(tree["split_indices"], np.int64))
            parts["t"].append(np.asarray(tree["split_conditions"], np.float32))
            parts["d"].append(np.asarray(tree["default_left"], bool))
            roots.append(offset)
            offset += len(left)
            depth = max(depth, _depth(left, right))
        info = np.asarray(booster["model"].get("tree_info") or [0] * len(trees), np.int64)
        num_class = int(model["learner"]["learner_model_param"].get("num_class", "0") or 0)
        return cls(
            left=np.concatenate(parts["l"]) if trees else np.zeros(0, np.int64),
            right=np.concatenate(parts["r"]) if trees else np.zeros(0, np.int64),
            feature=np.concatenate(parts["f"]) if trees else np.zeros(0, np.int64),
            threshold=np.concatenate(parts["t"]) if trees else np.zeros(0, np.float32),
            default_left=np.concatenate(parts["d"]) if trees else np.zeros(0, bool),
            roots=np.asarray(roots, np.int64),
            group=info,
            depth=depth,
            outputs=max(num_class, 1),
        )

    def leaf_sum(self, x: np.ndarray) -> np.ndarray:
        """Sum of the leaves ``x [N, F]`` reaches, per output: ``[N]`` or ``[N, C]`` (float64;
        add the bias for XGBoost's margin)."""
        x = np.asarray(x, dtype=np.float32)
        node = np.broadcast_to(self.roots, (len(x), len(self.roots))).copy()  # [N, n_trees]
        rows = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            inner = self.left[node] >= 0
            if not inner.any():
                break
            value = x[rows, np.where(inner, self.feature[node], 0)]
            go_left = np.where(
                np.isnan(value), self.default_left[node], value < self.threshold[node]
            )
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        leaves = self.threshold[node].astype(np.float64)  # [N, n_trees]
        out = np.zeros((len(x), self.outputs))
        for g in range(self.outputs):
            out[:, g] = leaves[:, self.group == g].sum(axis=1)
        return out[:, 0] if self.outputs == 1 else out


def _depth(left: np.ndarray, right: np.ndarray) -> int:
    """Edges on the longest root-to-leaf path of one tree (node 0 is the root)."""
    depth, level = 0, np.array([0])
    while True:
        inner = level[left[level] >= 0]
        if not len(inner):
            return depth
        level = np.concatenate([left[inner], right[inner]])
        depth += 1


class TreeScorer:
    """A fitted ``stats_xgboost`` head as numpy: projection, pooled statistics, forest.

    What :meth:`StatsXGBoost.load <vidscope.models.StatsXGBoost.load>` returns when the model
    records a passed numpy check (:func:`load_scorer`); it scores like the estimator
    (``predict_proba``, ``decision_function``, ``predict``) but cannot be refitted.
    """

    def __init__(self, estimator: dict[str, Any], forest: Forest, bias: np.ndarray) -> None:
        self.params: dict[str, Any] = estimator["params"]
        self.classes_ = np.asarray(estimator["classes"])
        self.n_features_in_ = int(estimator["n_features_in"])
        self.deltas = bool(self.params.get("deltas", True))
        self.keep_last = int(self.params.get("keep_last", 0) or 0)
        self.pca: tuple[np.ndarray, np.ndarray] | None = estimator.get("_pca")
        self.forest = forest
        self.bias = bias

    def get_params(self) -> dict[str, Any]:
        """The estimator's constructor parameters."""
        return dict(self.params)

    def decision_function(self, X: Any, mask: np.ndarray | None = None) -> np.ndarray:
        """XGBoost's margin of each sequence: ``[N]`` (binary) or ``[N, C]``."""
        x, mask = as_padded(X, mask)
        if x.shape[2] != self.n_features_in_:
            raise InputError(
                f"features are {x.shape[2]} wide but the model was trained on "
                f"{self.n_features_in_}; use features from the same backbone and store"
            )
        wide = x.shape[2] - self.keep_last
        frames = project(x[:, :, :wide], self.pca)
        if wide < x.shape[2]:
            frames = np.concatenate([frames, x[:, :, wide:].astype(frames.dtype)], axis=2)
        return self.forest.leaf_sum(pool_stats(frames, mask, deltas=self.deltas)) + self.bias

    def predict_proba(self, X: Any, mask: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities ``[N, C]`` (sigmoid or softmax of the margin)."""
        return sigmoid_or_softmax(self.decision_function(X, mask))

    def predict(self, X: Any, mask: np.ndarray | None = None) -> np.ndarray:
        """Most probable class label per sequence, ``[N]``."""
        return self.classes_[self.predict_proba(X, mask).argmax(1)]

    def num_trees(self) -> int:
        """Trees in the forest."""
        return len(self.forest.roots)


def sigmoid_or_softmax(margin: np.ndarray) -> np.ndarray:
    """XGBoost's probabilities ``[N, C]`` from margins ``[N]`` (binary) or ``[N, C]``."""
    if margin.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-margin))
        return np.stack([1 - p, p], axis=1)
    e = np.exp(margin - margin.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def decode_array(obj: dict[str, Any]) -> np.ndarray:
    """A float32 array saved as shape + base64 of its little-endian bytes (exact)."""
    if obj.get("dtype") != "<f4":
        raise InputError(f"saved stats_xgboost PCA has dtype {obj.get('dtype')!r}, expected '<f4'")
    flat = np.frombuffer(base64.b64decode(obj["base64"]), dtype="<f4")
    return flat.reshape(obj["shape"]).astype(np.float32)


#: Largest probability difference from XGBoost for which a run scores with numpy.
TOLERANCE = 1e-5


def load_scorer(folder: Path) -> TreeScorer | None:
    """The saved ``stats_xgboost`` model in ``folder`` as a :class:`TreeScorer` if its
    recorded numpy check passed, else None (models saved before the check existed, or a
    failed check: those load XGBoost).

    Raises:
        OSError, ValueError, KeyError: unreadable files (the caller names the run).
    """
    estimator = json.loads((folder / "estimator.json").read_text())
    check = estimator.get("numpy_check")
    if not isinstance(check, dict) or not check.get("max_abs_diff", 1.0) <= TOLERANCE:
        return None
    forest = Forest.from_json(json.loads((folder / "booster.json").read_text()))
    pca = estimator.get("pca")
    estimator["_pca"] = (
        None if pca is None else (decode_array(pca["mean"]), decode_array(pca["components"]))
    )
    bias = np.asarray(check["bias"], dtype=np.float64)
    return TreeScorer(estimator, forest, bias[0] if bias.size == 1 else bias)
