"""A linear probe: logistic regression on each sequence's mean (and optionally std) features.

The standard way to transfer a strong pretrained representation with few labels: pool, then a
standardised, L2-regularised logistic regression whose strength is chosen by an inner
cross-validation of the training videos, split by source group when groups are given. On
Kinetics-400 I3D features of fight-surv-dev it beats boosted trees (ROC-AUC 0.909 against
0.876 for ``stats_xgboost`` on the same parts; ``benchmarks/README.md``); on ImageNet frame
features trees stay better. Scoring is numpy only; fitting uses scikit-learn.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ._forest import decode_array, sigmoid_or_softmax
from ._layout import Layout, check_head_spec, layout_config
from ._registry import register_head
from ._stats import as_padded

MODEL_FILE = "linear.json"
POOLINGS = ("mean", "mean_std")
#: Regularisation strengths the inner cross-validation chooses from (sklearn's ``C``).
DEFAULT_CS = "0.001,0.003,0.01,0.03,0.1,0.3,1"


class LinearProbe:
    """Standardised pooled features into an L2 logistic regression (scikit-learn contract).

    Args:
        pooling: ``mean`` (one D-vector per video) or ``mean_std`` (2D: mean and standard
            deviation of the valid frames).
        C: Inverse regularisation strength; None chooses it from ``Cs`` by inner
            cross-validation (ROC-AUC for two classes, log-loss for more).
        Cs: Candidate strengths: comma-separated text, a number or a sequence (sorted; ties
            go to the strongest regularisation, i.e. the smallest C).
        cv: Inner folds (fewer when a class or the groups are too few; a single candidate
            or fewer than 2 usable folds skips the search and takes the middle ``C``).
        class_weight: ``balanced`` (classes weighted inversely to their counts) or ``none``.
        max_iter: Solver iterations.
        random_state: Seed of the inner fold assignment when there are no groups.

    Attributes:
        classes_: Sorted class labels seen in :meth:`fit`.
        n_features_in_: D, the per-frame feature width.
        mean_, scale_: Standardisation of the pooled features ``[P]``.
        coef_: ``[1, P]`` (binary, log-odds of ``classes_[1]``) or ``[C, P]``.
        intercept_: ``[1]`` or ``[C]``.
        C_: The strength used; ``cv_scores_``: the inner score of each candidate.
    """

    kind = "linear"

    def __init__(
        self,
        pooling: str = "mean",
        C: float | None = None,
        Cs: str | float | tuple[float, ...] = DEFAULT_CS,
        cv: int = 4,
        class_weight: str = "balanced",
        max_iter: int = 3000,
        random_state: int | None = 0,
    ) -> None:
        self.pooling = pooling
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state
        self._check_params()

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments (``Cs`` as a list), as scikit-learn's estimators give them."""
        return {
            "pooling": self.pooling,
            "C": self.C,
            "Cs": list(self._cs()),
            "cv": self.cv,
            "class_weight": self.class_weight,
            "max_iter": self.max_iter,
            "random_state": self.random_state,
        }

    @property
    def config(self) -> dict[str, Any]:
        """``create_head("linear_probe", **config)`` rebuilds this (unfitted) estimator."""
        return {**dict(getattr(self, "_head_spec", {})), **self.get_params()}

    def fit(
        self,
        X: np.ndarray | list[np.ndarray],
        y: np.ndarray,
        mask: np.ndarray | None = None,
        groups: np.ndarray | None = None,
    ) -> LinearProbe:
        """Pool, standardise, choose ``C`` (unless given) and fit; returns ``self``.

        Args:
            X: Padded ``[N, T, D]`` (with ``mask``) or a list of ``[T_i, D]``.
            y: ``[N]`` labels.
            mask: ``[N, T]``, True = real frame.
            groups: ``[N]`` source groups: the inner folds never split a group, so the
                chosen strength is the one that generalises to new sources.

        Raises:
            InputError: fewer than two classes, a width other than the head's, NaN features.
        """
        from sklearn.linear_model import LogisticRegression

        x, mask = as_padded(X, mask)
        y = np.asarray(y)
        if y.shape != (len(x),):
            raise InputError(f"y must be [N] = [{len(x)}] labels, got shape {y.shape}")
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise InputError(f"need at least two classes to train, got {classes.tolist()}")
        check_head_spec(getattr(self, "_head_spec", None), x.shape[2], len(classes))
        pooled = self._pool(x, mask)
        if not np.isfinite(pooled).all():
            raise InputError("features hold NaN or infinite values; re-extract or clean them")
        self.mean_ = pooled.mean(axis=0)
        scale = pooled.std(axis=0)
        # a dimension that varies below float32 precision is constant: leave it unscaled
        flat = scale <= 1e-6 * np.maximum(np.abs(self.mean_), 1e-3)
        self.scale_ = np.where(flat, 1.0, scale)
        z = (pooled - self.mean_) / self.scale_
        self.C_, self.cv_scores_ = self._choose_c(z, codes, groups)
        model = LogisticRegression(C=self.C_, max_iter=self.max_iter, class_weight=self._cw())
        model.fit(z, codes)
        self.coef_ = np.asarray(model.coef_, dtype=np.float64)
        self.intercept_ = np.asarray(model.intercept_, dtype=np.float64)
        self.classes_ = classes
        self.n_features_in_ = int(x.shape[2])
        return self

    def decision_function(self, X: Any, mask: np.ndarray | None = None) -> np.ndarray:
        """Margins: ``[N]`` log-odds of ``classes_[1]`` (binary) or ``[N, C]``."""
        if not hasattr(self, "coef_"):
            raise InputError("this linear probe is not fitted yet")
        x, mask = as_padded(X, mask)
        if x.shape[2] != self.n_features_in_:
            raise InputError(
                f"features are {x.shape[2]} wide but the model was trained on "
                f"{self.n_features_in_}; use features from the same backbone and store"
            )
        z = (self._pool(x, mask) - self.mean_) / self.scale_
        margin = z @ self.coef_.T + self.intercept_
        return margin[:, 0] if margin.shape[1] == 1 else margin

    def predict_proba(self, X: Any, mask: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities ``[N, C]`` in ``classes_`` order (C = 2 for binary)."""
        return sigmoid_or_softmax(self.decision_function(X, mask))

    def predict(self, X: Any, mask: np.ndarray | None = None) -> np.ndarray:
        """Most probable class label per sequence, ``[N]``."""
        return self.classes_[self.predict_proba(X, mask).argmax(1)]

    def torch_module(self) -> Any:
        """This fitted probe as a float32 torch module, ``(x [B, T, D], mask [B, T]) ->
        margins [B, 1 or C]``: what ``vidscope export`` traces into an ONNX graph."""
        import torch

        if not hasattr(self, "coef_"):
            raise InputError("this linear probe is not fitted yet")
        probe = self

        class Probe(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                for k in ("mean", "scale", "coef", "intercept"):
                    value = torch.tensor(getattr(probe, k + "_"), dtype=torch.float32)
                    self.register_buffer(k, value)
                self.with_std = probe.pooling == "mean_std"

            def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
                m = mask.unsqueeze(-1)  # [B, T, 1]
                x = torch.where(m, x, torch.zeros_like(x))  # padding may hold anything
                n = m.to(x.dtype).sum(dim=1).clamp_min(1.0)
                mean = x.sum(dim=1) / n  # [B, D]
                pooled = mean
                if self.with_std:
                    dev = torch.where(m, x - mean.unsqueeze(1), torch.zeros_like(x))
                    var = (dev**2).sum(dim=1) / n
                    pooled = torch.cat([mean, var.sqrt()], dim=1)
                z = (pooled - self.mean) / self.scale
                return z @ self.coef.T + self.intercept

        return Probe().eval()

    def num_params(self) -> int:
        """Fitted weights and biases."""
        return int(self.coef_.size + self.intercept_.size) if hasattr(self, "coef_") else 0

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to the JSON file ``path`` (no pickle; arrays as base64 of
        little-endian float64, so scores reload bit for bit), atomically. Returns the path."""
        if not hasattr(self, "coef_"):
            raise InputError("this linear probe is not fitted yet")
        meta = {
            "params": self.get_params(),
            "classes": self.classes_.tolist(),
            "n_features_in": self.n_features_in_,
            "head_spec": getattr(self, "_head_spec", None),
            "C": self.C_,
            "cv_scores": self.cv_scores_,
            **{k: _encode(getattr(self, k + "_")) for k in ("mean", "scale", "coef", "intercept")},
        }
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(meta))
        os.replace(tmp, out)
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LinearProbe:
        """Rebuild a model written by :meth:`save` (numpy only; no scikit-learn import).

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            InputError: if it is not a saved linear probe.
        """
        meta = json.loads(Path(path).read_text())
        try:
            est = cls(**meta["params"])
            if meta.get("head_spec"):
                est._head_spec = meta["head_spec"]
            for k in ("mean", "scale", "coef", "intercept"):
                setattr(est, k + "_", _decode(meta[k]))
            est.classes_ = np.asarray(meta["classes"])
            est.n_features_in_ = int(meta["n_features_in"])
            est.C_, est.cv_scores_ = float(meta["C"]), meta.get("cv_scores") or {}
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: not a saved linear_probe model ({exc})") from None
        return est

    # -- internals ---------------------------------------------------------------------------

    def _check_params(self) -> None:
        if self.pooling not in POOLINGS:
            raise InputError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.C is not None and not float(self.C) > 0:
            raise InputError(f"C must be > 0, got {self.C}")
        if not self._cs() or any(not c > 0 for c in self._cs()):
            raise InputError(f"Cs must be positive numbers, got {self.Cs!r}")
        if int(self.cv) < 2:
            raise InputError(f"cv must be >= 2 inner folds, got {self.cv}")
        if self.class_weight not in ("balanced", "none"):
            raise InputError(f"class_weight must be balanced or none, got {self.class_weight!r}")

    def _cs(self) -> tuple[float, ...]:
        raw = self.Cs.split(",") if isinstance(self.Cs, str) else self.Cs
        if isinstance(raw, (int, float)):
            raw = [raw]
        try:
            return tuple(sorted(float(c) for c in raw if str(c).strip()))
        except (TypeError, ValueError):
            raise InputError(f"Cs must be numbers, e.g. 0.01,0.1,1; got {self.Cs!r}") from None

    def _cw(self) -> str | None:
        return "balanced" if self.class_weight == "balanced" else None

    def _pool(self, x: np.ndarray, mask: np.ndarray, chunk: int = 256) -> np.ndarray:
        """``[N, D]`` masked means (``[N, 2D]`` with the standard deviations), ``chunk``
        videos at a time; padded steps may hold anything (NaN included), a video without
        valid steps pools to zeros."""
        out = []
        for i in range(0, len(x), chunk):
            m = mask[i : i + chunk, :, None]
            xs = np.where(m, x[i : i + chunk], 0.0).astype(np.float64)
            n = np.maximum(m.sum(axis=1), 1)
            mean = xs.sum(axis=1) / n
            if self.pooling == "mean":
                out.append(mean)
                continue
            var = (np.where(m, xs - mean[:, None, :], 0.0) ** 2).sum(axis=1) / n
            out.append(np.concatenate([mean, np.sqrt(var)], axis=1))
        return np.concatenate(out) if out else np.zeros((0, self._width(x.shape[2])))

    def _width(self, d: int) -> int:
        return d if self.pooling == "mean" else 2 * d

    def _choose_c(
        self, z: np.ndarray, codes: np.ndarray, groups: np.ndarray | None
    ) -> tuple[float, dict[str, float]]:
        """The given ``C``, or the candidate with the best inner cross-validated score."""
        cs = self._cs()
        if self.C is not None:
            return float(self.C), {}
        folds = self._inner_folds(codes, groups)
        if len(cs) == 1 or len(folds) < 2:
            return cs[len(cs) // 2], {}
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import log_loss, roc_auc_score

        seen = np.zeros(len(codes), bool)  # rows some kept fold held out
        for _, held in folds:
            seen[held] = True
        n_classes = int(codes.max()) + 1
        if len(np.unique(codes[seen])) < n_classes:
            return cs[len(cs) // 2], {}
        scores = {}
        for c in cs:
            out = np.zeros((len(codes), n_classes))
            for train, held in folds:
                m = LogisticRegression(C=c, max_iter=self.max_iter, class_weight=self._cw())
                m.fit(z[train], codes[train])
                out[np.ix_(held, m.classes_)] = m.predict_proba(z[held])
            y, p = codes[seen], out[seen]
            if n_classes == 2:
                scores[repr(c)] = float(roc_auc_score(y, p[:, 1]))
            else:
                scores[repr(c)] = -float(log_loss(y, p, labels=np.arange(n_classes)))
        best = max(cs, key=lambda c: scores[repr(c)])  # the first (strongest) among ties
        return float(best), scores

    def _inner_folds(
        self, codes: np.ndarray, groups: np.ndarray | None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """Inner folds whose training parts hold every class: grouped when groups are given."""
        from sklearn.model_selection import GroupKFold, StratifiedKFold

        k = min(int(self.cv), int(np.bincount(codes).min()))
        grouped = groups is not None and len(set(np.asarray(groups).tolist())) >= 2
        if grouped:
            k = min(k, len(set(np.asarray(groups).tolist())))
        if k < 2:
            return []
        if grouped:
            split = GroupKFold(n_splits=k).split(codes, codes, groups)
        else:
            skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=self.random_state)
            split = skf.split(codes, codes)
        n_classes = int(codes.max()) + 1
        return [(a, b) for a, b in split if len(np.unique(codes[a])) == n_classes]


def _encode(a: np.ndarray) -> dict[str, Any]:
    data = np.ascontiguousarray(a, dtype="<f8").tobytes()
    return {"dtype": "<f8", "shape": list(np.shape(a)), "base64": base64.b64encode(data).decode()}


def _decode(obj: dict[str, Any]) -> np.ndarray:
    if obj.get("dtype") == "<f4":
        return decode_array(obj).astype(np.float64)
    if obj.get("dtype") != "<f8":
        raise ValueError(f"array dtype {obj.get('dtype')!r}, expected '<f8'")
    flat = np.frombuffer(base64.b64decode(obj["base64"]), dtype="<f8")
    return flat.reshape(obj["shape"]).copy()


@register_head("linear_probe", trainer="linear")
def linear_probe(
    *, num_features: int, num_outputs: int, layout: Layout | None = None, **kwargs: Any
) -> LinearProbe:
    """Linear probe: logistic regression on pooled, standardised features.

    Its strength is chosen by a grouped inner cross-validation; ``num_features``,
    ``num_outputs`` and ``layout`` are checked and recorded."""
    if num_outputs < 1:
        raise InputError(f"num_outputs must be >= 1, got {num_outputs}")
    est = LinearProbe(**kwargs)
    est._head_spec = {
        "num_features": num_features,
        "num_outputs": num_outputs,
        "layout": layout_config(num_features, layout),
    }
    return est
