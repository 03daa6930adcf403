"""Gradient-boosted trees on pooled sequence statistics, as a scikit-learn classifier.

Wide frames (D > ``max_dims``) are first projected on their principal axes, fitted on the
training frames, so the booster sees 5 x 128 statistics instead of 5 x D: at D = 1280 a fit is
over 10x faster with no loss of accuracy (see ``benchmarks/README.md``, ``train_throughput``).
Narrow fused parts (the 10 motion dims of ``efficientnet_lite0+flow``) skip the projection:
a PCA fitted on 1290 dims keeps almost nothing of them, and kept raw they lift fight-surv-dev
ROC-AUC from 0.816 to 0.848 (appearance alone: 0.816).
XGBoost is imported lazily (on fit and load), so listing the heads does not need it.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import InputError
from ._forest import Forest, decode_array, sigmoid_or_softmax
from ._layout import Layout, appearance_width, check_head_spec, layout_config
from ._registry import register_head
from ._stats import as_padded, fit_pca, pool_stats, project

BOOSTER_FILE = "booster.json"
PARAMS_FILE = "estimator.json"


class StatsXGBoost(ClassifierMixin, BaseEstimator):
    """XGBoost on per-dimension mean/std/max/min (and deltas) of each sequence's valid frames.

    Frames wider than ``max_dims`` are first reduced to their ``max_dims`` principal axes
    (a PCA of up to 10,000 training frames, numpy only, saved with the model).

    Follows the scikit-learn estimator contract: constructor arguments are stored as given,
    :meth:`fit` returns ``self``, fitted attributes end in ``_``. ``X`` is a padded
    ``[N, T, D]`` array with ``mask [N, T]`` (True = real frame), or a list of ``[T_i, D]``.

    Args:
        n_estimators: Boosting rounds.
        max_depth: Maximum tree depth.
        learning_rate: Shrinkage (XGBoost ``eta``).
        subsample: Row fraction sampled per tree.
        colsample_bytree: Column fraction sampled per tree.
        deltas: Add the mean absolute frame-to-frame difference (5D instead of 4D features).
        max_dims: Project frames wider than this on their first ``max_dims`` principal axes
            before pooling; 0 (or None) pools the raw features whatever their width. Use 0
            in ``create_head``/``--head-option``, which drop None values.
        max_bin: Histogram bins per feature (XGBoost ``max_bin``, ``tree_method="hist"``).
        keep_last: The last ``keep_last`` dims stay out of the PCA and are pooled as they are
            (narrow fused parts such as 10 motion dims, which a PCA dominated by 1280
            appearance dims would wash out). ``create_head`` sets it from a fused layout.
        random_state: Seed of XGBoost's sampling.
        n_jobs: XGBoost threads; None lets XGBoost decide.

    Attributes:
        classes_: Sorted class labels seen in :meth:`fit`.
        n_features_in_: D, the per-frame feature width seen in :meth:`fit`.
        booster_: The trained ``xgboost.Booster``.
        pca_mean_: Frame mean ``[D]`` subtracted before the projection, or None (no PCA).
        pca_components_: Principal axes ``[max_dims, D]`` (float32), or None (no PCA).
    """

    kind = "tree"

    def __init__(
        self,
        n_estimators: int = 300,
        max_depth: int = 4,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        colsample_bytree: float = 0.5,
        deltas: bool = True,
        max_dims: int | None = 128,
        max_bin: int = 64,
        keep_last: int = 0,
        random_state: int | None = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.deltas = deltas
        self.max_dims = max_dims
        self.max_bin = max_bin
        self.keep_last = keep_last
        self.random_state = random_state
        self.n_jobs = n_jobs

    @property
    def config(self) -> dict[str, Any]:
        """``create_head("stats_xgboost", **config)`` rebuilds this (unfitted) estimator."""
        spec = dict(getattr(self, "_head_spec", {}))
        if not spec and hasattr(self, "classes_"):
            n_classes = len(self.classes_)
            spec = {"num_features": self.n_features_in_, "num_outputs": _outputs(n_classes)}
        return {**spec, **self.get_params()}

    def fit(
        self,
        X: np.ndarray | list[np.ndarray],
        y: np.ndarray,
        mask: np.ndarray | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> StatsXGBoost:
        """Pool each sequence and boost trees on the statistics; returns ``self``.

        Raises:
            ValueError: for fewer than two classes, or a shape that disagrees with the head.
        """
        import xgboost as xgb

        x, mask = as_padded(X, mask)
        y = np.asarray(y)
        if y.shape != (len(x),):
            raise InputError(f"y must be [N] = [{len(x)}] labels, got shape {y.shape}")
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InputError(f"need at least two classes to train, got {classes.tolist()}")
        check_head_spec(getattr(self, "_head_spec", None), x.shape[2], len(classes))
        wide = x.shape[2] - self._kept(x.shape[2])
        pca = fit_pca(x[:, :, :wide], mask, self.max_dims, seed=self.random_state)
        self.pca_mean_, self.pca_components_ = pca if pca is not None else (None, None)
        pooled = self._pooled(x, mask)
        data = xgb.DMatrix(pooled, label=codes, weight=sample_weight)
        self.booster_ = xgb.train(
            self._xgb_params(len(classes)), data, num_boost_round=self.n_estimators
        )
        self.classes_ = classes
        self.n_features_in_ = int(x.shape[2])
        self.numpy_check_ = self._numpy_check(pooled, data)
        return self

    def _numpy_check(self, pooled: np.ndarray, data: Any) -> dict[str, Any] | None:
        """Score the training rows with :class:`~vidscope.models._forest.Forest` and with
        XGBoost: the bias (margin minus leaves) and the largest probability difference, which
        decide whether a saved run may score without XGBoost. None if the forest cannot be
        read (the run then always loads XGBoost)."""
        try:
            forest = Forest.from_json(json.loads(bytes(self.booster_.save_raw("json"))))
        except (InputError, KeyError, ValueError):
            return None
        margin = np.asarray(self.booster_.predict(data, output_margin=True), dtype=np.float64)
        leaves = forest.leaf_sum(pooled)
        bias = (margin - leaves).mean(axis=0)
        proba = np.asarray(self.booster_.predict(data), dtype=np.float64)
        ours = sigmoid_or_softmax(leaves + bias)
        theirs = proba if proba.ndim == 2 else np.stack([1 - proba, proba], axis=1)
        return {
            "bias": np.atleast_1d(bias).tolist(),
            "max_abs_diff": float(np.abs(ours - theirs).max()) if len(pooled) else 0.0,
            "rows": len(pooled),
        }

    def decision_function(
        self,
        X: np.ndarray | list[np.ndarray],
        mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Raw margins: ``[N]`` log-odds of ``classes_[1]`` (binary) or ``[N, C]``."""
        return self._predict(X, mask, margin=True)

    def predict_proba(
        self,
        X: np.ndarray | list[np.ndarray],
        mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Class probabilities ``[N, C]`` in ``classes_`` order (C = 2 for binary)."""
        p = self._predict(X, mask, margin=False)
        return np.stack([1.0 - p, p], axis=1) if p.ndim == 1 else p

    def predict(
        self,
        X: np.ndarray | list[np.ndarray],
        mask: np.ndarray | None = None,
    ) -> np.ndarray:
        """Most probable class label per sequence, ``[N]``."""
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X, mask).argmax(1)]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model into directory ``path`` as JSON (no pickle).

        Writes ``booster.json`` (XGBoost's own JSON model) and ``estimator.json``
        (constructor parameters, classes, feature width, and the PCA as base64 little-endian
        float32, so :meth:`load` reproduces the projection bit for bit). Returns the directory.
        """
        check_is_fitted(self)
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / BOOSTER_FILE))
        meta = {
            "params": self.get_params(),
            "classes": self.classes_.tolist(),
            "n_features_in": self.n_features_in_,
            "head_spec": getattr(self, "_head_spec", None),
            "pca": None
            if self.pca_components_ is None
            else {"mean": _encode(self.pca_mean_), "components": _encode(self.pca_components_)},
            "numpy_check": getattr(self, "numpy_check_", None),
        }
        (folder / PARAMS_FILE).write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> StatsXGBoost:
        """Rebuild a fitted estimator written by :meth:`save` into directory ``path``.

        Raises:
            FileNotFoundError: naming the missing file, if ``path`` is not a saved model.
        """
        import xgboost as xgb

        folder = Path(path)
        for name in (BOOSTER_FILE, PARAMS_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(
                    f"{folder / name} is missing: {folder} is not a saved stats_xgboost model"
                )
        meta = json.loads((folder / PARAMS_FILE).read_text())
        # Models saved before max_dims/max_bin existed pooled raw frames with 256 bins.
        est = cls(**{"max_dims": 0, "max_bin": 256, **meta["params"]})
        if meta.get("head_spec"):
            est._head_spec = meta["head_spec"]
        est.booster_ = xgb.Booster()
        est.booster_.load_model(str(folder / BOOSTER_FILE))
        est.classes_ = np.asarray(meta["classes"])
        est.n_features_in_ = int(meta["n_features_in"])
        pca = meta.get("pca")  # absent in models saved before the PCA existed
        est.pca_mean_ = None if pca is None else decode_array(pca["mean"])
        est.pca_components_ = None if pca is None else decode_array(pca["components"])
        est.numpy_check_ = meta.get("numpy_check")
        return est

    def _predict(self, X: Any, mask: np.ndarray | None, *, margin: bool) -> np.ndarray:
        """Booster output for pooled ``X``: ``[N]`` (binary) or ``[N, C]``."""
        import xgboost as xgb

        check_is_fitted(self)
        x, mask = as_padded(X, mask)
        if x.shape[2] != self.n_features_in_:
            raise InputError(
                f"features are {x.shape[2]} wide but the model was trained on "
                f"{self.n_features_in_}; use features from the same backbone and store"
            )
        data = xgb.DMatrix(self._pooled(x, mask))
        return self.booster_.predict(data, output_margin=margin)

    def _pooled(self, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Booster input: statistics of the (projected) frames, ``[N, 4k or 5k]``."""
        pca = getattr(self, "pca_components_", None)
        reduce = None if pca is None else (self.pca_mean_, pca)
        wide = x.shape[2] - self._kept(x.shape[2])
        frames = project(x[:, :, :wide], reduce)
        if wide < x.shape[2]:
            frames = np.concatenate([frames, x[:, :, wide:].astype(frames.dtype)], axis=2)
        return pool_stats(frames, mask, deltas=self.deltas)

    def _kept(self, width: int) -> int:
        """How many trailing dims skip the PCA (``keep_last``, checked against ``width``)."""
        kept = int(getattr(self, "keep_last", 0) or 0)
        if not 0 <= kept < width:
            raise InputError(f"keep_last must be in [0, {width}) for {width}-d frames, got {kept}")
        return kept

    def _xgb_params(self, n_classes: int) -> dict[str, Any]:
        """XGBoost training parameters for ``n_classes`` classes."""
        params: dict[str, Any] = {
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "tree_method": "hist",
            "max_bin": self.max_bin,
            "verbosity": 0,
        }
        if n_classes == 2:
            params.update(objective="binary:logistic", eval_metric="logloss")
        else:
            params.update(objective="multi:softprob", eval_metric="mlogloss", num_class=n_classes)
        if self.random_state is not None:
            params["seed"] = int(self.random_state)
        if self.n_jobs is not None:
            params["nthread"] = int(self.n_jobs)
        return params


def _encode(a: np.ndarray) -> dict[str, Any]:
    """A float32 array as JSON: shape plus base64 of its little-endian bytes (exact)."""
    data = np.ascontiguousarray(a, dtype="<f4").tobytes()
    return {"dtype": "<f4", "shape": list(a.shape), "base64": base64.b64encode(data).decode()}


def _outputs(n_classes: int) -> int:
    """``num_outputs`` of a neural head for ``n_classes`` classes (1 logit for binary)."""
    return 1 if n_classes == 2 else n_classes


@register_head("stats_xgboost", trainer="tree")
def stats_xgboost(
    *, num_features: int, num_outputs: int, layout: Layout | None = None, **kwargs: Any
) -> StatsXGBoost:
    """Pooled statistics into XGBoost; ``num_features``/``num_outputs``/``layout`` are only
    checked (at creation, and against the data in ``fit``)."""
    if num_outputs < 1:
        raise InputError(f"num_outputs must be >= 1, got {num_outputs}")
    if layout is not None and "keep_last" not in kwargs:  # narrow fused parts skip the PCA
        kwargs["keep_last"] = num_features - appearance_width(num_features, layout)
    est = StatsXGBoost(**kwargs)
    est._head_spec = {
        "num_features": num_features,
        "num_outputs": num_outputs,
        "layout": layout_config(num_features, layout),
    }
    return est
