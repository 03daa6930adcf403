"""Helpers of ``accuracy_fight.py``: per-fold metrics, the logistic-regression floor, summaries,
tables and the run environment. Not a benchmark of its own."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import _common
import numpy as np

TARGET = "fight"  # the class whose F1 the table shows
FLOOR = "logreg_mean"


def fold_metrics(report: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The numbers kept per fold from a ``classification_report``."""
    per_class = {r["label"]: r for r in report["per_class"]}
    return {
        "accuracy": report["accuracy"],
        "balanced_accuracy": report["balanced_accuracy"],
        "f1_fight": per_class[TARGET]["f1"],
        "f1_positive": report["f1"],
        "roc_auc": report["roc_auc"],
        "threshold": report["threshold"],
        "num_samples": report["num_samples"],
        **(extra or {}),
    }


def logreg() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def run_floor(data: Any, splits: list[Any], seed: int) -> dict[str, list[dict[str, Any]]]:
    """Logistic regression on standardised mean-pooled features, scored on each ``test`` fold.

    ``logreg_mean`` selects nothing, so it fits on train + val and scores at 0.5;
    ``logreg_mean@valthr`` fits on train and takes its threshold from the inner val, as the
    heads do."""
    import time

    from vidscope.metrics import choose_threshold, classification_report
    from vidscope.training import TrainConfig

    x = np.stack([f.mean(axis=0) for f in data.features])  # [N, D]
    y, classes = data.labels.y, data.labels.classes
    out: dict[str, list[dict[str, Any]]] = {FLOOR: [], f"{FLOOR}@valthr": []}
    for i, s in enumerate(splits):
        start = time.monotonic()
        fit = np.concatenate([s.train, s.val])
        p = logreg().fit(x[fit], y[fit]).predict_proba(x[s.test])[:, 1]  # P(classes[1])
        extra = {"seed": seed, "fold": i, "fit_s": time.monotonic() - start}
        report = classification_report(y[s.test], p, labels=classes, threshold=0.5)
        out[FLOOR].append(fold_metrics(report, extra))
        model = logreg().fit(x[s.train], y[s.train])
        val_p = model.predict_proba(x[s.val])[:, 1]
        thr = choose_threshold(y[s.val], val_p, metric=TrainConfig().threshold)  # as the heads
        p = model.predict_proba(x[s.test])[:, 1]
        report = classification_report(y[s.test], p, labels=classes, threshold=thr)
        out[f"{FLOOR}@valthr"].append(fold_metrics(report, extra))
    return out


def part_floor(data: Any, splits: list[Any], seed: int) -> dict[str, list[float]]:
    """Test-fold ROC-AUC of logistic regression (fit on train + val) on mean/max/std-pooled
    features of each part of a fused layout alone and of all parts together."""
    from vidscope.metrics import classification_report

    pooled = np.stack(
        [np.concatenate([f.mean(0), f.max(0), f.std(0)]) for f in data.features]
    )  # [N, 3D]: columns mean(D) | max(D) | std(D)
    dims, start, cols = sum(w for _, w in data.layout), 0, {}
    for name, width in data.layout:
        part = np.arange(start, start + width)
        cols[name] = np.concatenate([part, part + dims, part + 2 * dims])
        start += width
    cols["+".join(cols)] = np.arange(3 * dims)
    y, out = data.labels.y, {name: [] for name in cols}
    for s in splits:
        fit = np.concatenate([s.train, s.val])
        for name, c in cols.items():
            p = logreg().fit(pooled[fit][:, c], y[fit]).predict_proba(pooled[s.test][:, c])[:, 1]
            rep = classification_report(y[s.test], p, labels=data.labels.classes, threshold=0.5)
            out[name].append(rep["roc_auc"])
    return out


def last_epoch_folds(
    data: Any, splits: list[Any], run_dir: Path, head: str, cfg: Any
) -> list[dict[str, Any]]:
    """Score each fold's last-epoch weights (``checkpoints/last``) on its test fold at 0.5."""
    import torch
    from safetensors.torch import load_file

    from vidscope.data import pad
    from vidscope.metrics import classification_report
    from vidscope.models import create_head

    folds = []
    for i, s in enumerate(splits):
        shape = {"num_features": data.num_features, "num_outputs": 1, "layout": data.layout}
        model = create_head(head, **shape, **cfg.head_options)
        tensors = load_file(str(run_dir / head / f"fold{i}" / "checkpoints" / "last.safetensors"))
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        model.eval()
        x, mask = pad([data.features[j] for j in s.test])
        with torch.inference_mode():
            p = torch.sigmoid(model(torch.from_numpy(x), torch.from_numpy(mask))[:, 0]).double()
        report = classification_report(
            data.labels.y[s.test], p.numpy(), labels=data.labels.classes, threshold=0.5
        )
        folds.append(fold_metrics(report, {"fold": i}))
    return folds


def summarise(name: str, folds: list[dict[str, Any]], params: int, train_s: float) -> dict:
    """Mean ± population std over all folds x seeds of the table's metrics."""
    row: dict[str, Any] = {"method": name, "params": params, "train_s": round(train_s, 2)}
    for key in ("accuracy", "balanced_accuracy", "f1_fight", "f1_positive", "roc_auc"):
        values = np.array([f[key] for f in folds if f[key] is not None], dtype=float)
        row[key] = float(values.mean())
        row[f"{key}_std"] = float(values.std(ddof=0))
    seeds = sorted({f.get("seed", 0) for f in folds})
    per_seed = [np.mean([f["roc_auc"] for f in folds if f.get("seed", 0) == s]) for s in seeds]
    row["roc_auc_per_seed"] = [float(v) for v in per_seed]
    epochs = [f["best_epoch"] for f in folds if f.get("epochs_run", 0) > 1]  # neural only
    row["best_epoch_mean"] = float(np.mean(epochs)) if epochs else None
    row["num_folds"] = len(folds)
    row["folds"] = folds
    return row


def paired_delta(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> tuple[float, float]:
    """Mean and standard error of the per-fold ROC-AUC difference ``a - b`` (same folds)."""
    d = np.array([x["roc_auc"] - y["roc_auc"] for x, y in zip(a, b, strict=True)])
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(d.mean()), se


def pm(row: dict[str, Any], key: str) -> str:
    return f"{row[key]:.3f} ± {row[key + '_std']:.3f}"


def print_table(rows: list[dict[str, Any]], title: str) -> None:
    head = (
        f"{'method':<38} {'accuracy':>15} {'F1 (fight)':>15} {'ROC-AUC':>15} "
        f"{'ΔAUC (paired)':>15} {'params':>9} {'train s':>8} {'best ep':>7}"
    )
    print(f"\n{title}\n{head}\n{'-' * len(head)}")
    for r in rows:
        delta = r.get("delta_auc_vs_best")
        d = f"{delta:+.3f} ± {r['delta_auc_se']:.3f}" if delta is not None else ""
        ep = f"{r['best_epoch_mean']:.1f}" if r.get("best_epoch_mean") is not None else ""
        print(
            f"{r['method']:<38} {pm(r, 'accuracy'):>15} {pm(r, 'f1_fight'):>15} "
            f"{pm(r, 'roc_auc'):>15} {d:>15} {r['params']:>9} {r['train_s']:>8.1f} {ep:>7}"
        )


def environment() -> dict[str, Any]:
    import sklearn
    import torch

    return _common.environment(torch, sklearn, torch_threads=torch.get_num_threads())


def write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=str))
    print(f"\nwrote {path}")


def set_threads_and_warm_up(threads: int) -> None:
    """Training threads (1 by default: on 2 shared cores more threads only wait for each other),
    then the one-off imports (matplotlib for the confusion-matrix plots, torch's optimizer
    machinery, scikit-learn's splitters), so that they do not land in the first head's time."""
    import matplotlib.pyplot  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import torch

    torch.set_num_threads(threads)
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=1e-3)


def manifest_timing(store: Path) -> dict[str, Any]:
    """Extraction time of a store made elsewhere: the sum of its clips' recorded seconds (one
    decode worker on 2 cores, so about the wall time)."""
    from vidscope import open_store

    manifest = open_store(store).manifest()
    return {
        "extracted": len(manifest),
        "extract_s": round(float(manifest["seconds"].sum()), 1),
        "source": "sum of the manifest's per-clip seconds",
    }
