"""Sequence MixUp (``train --mixup``) on fight-surv-dev: a paired, grouped comparison.

Usage: python benchmarks/mixup_fight.py [--store benchmarks/_work/fight_store_16_efficientnet_lite2]
    [--head mlp] [--alpha 0.4] [--seeds 0,1,2]

Grouped 5-fold CV with the library's inner validation (epoch and threshold picked on an inner
split of the training folds, each held-out fold only scored), once without and once with
MixUp, same folds and seeds. Prints ROC-AUC and accuracy (mean ± std over folds x seeds) and
the paired ROC-AUC difference with its standard error and the folds won. The store is made by
``benchmarks/accuracy_fight.py`` (16 uniform frames per clip).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from vidscope.training import LabelOptions, TrainConfig, train

LABELS = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fight-surv-dev" / "labels.csv"
)


def folds(store: Path, head: str, seed: int, alpha: float) -> list[dict[str, float]]:
    cfg = TrainConfig(head=head, split="kfold", folds=5, seed=seed, mixup=alpha,
                      tensorboard=False, export_onnx=False)  # fmt: skip
    opts = LabelOptions(str(LABELS), group_column="source_group")
    with tempfile.TemporaryDirectory() as tmp:
        result = train(store, opts, out=Path(tmp) / "run", config=cfg)
    return [{"auc": s.test_report["roc_auc"], "acc": s.test_report["accuracy"]}
            for s in result.splits]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="benchmarks/_work/fight_store_16_efficientnet_lite2")
    ap.add_argument("--head", default="mlp")
    ap.add_argument("--alpha", type=float, default=0.4)
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {}
    for alpha in (0.0, args.alpha):
        rows[alpha] = [f for s in seeds for f in folds(Path(args.store), args.head, s, alpha)]
        auc = np.array([f["auc"] for f in rows[alpha]])
        acc = np.array([f["acc"] for f in rows[alpha]])
        print(f"{args.head} mixup={alpha:g}: ROC-AUC {auc.mean():.3f} ± {auc.std():.3f}, "
              f"accuracy {acc.mean():.3f} ± {acc.std():.3f} ({len(auc)} folds)")  # fmt: skip
    d = np.array([b["auc"] - a["auc"] for a, b in zip(rows[0.0], rows[args.alpha], strict=True)])
    se = d.std(ddof=1) / np.sqrt(len(d))
    print(
        f"paired ΔROC-AUC (mixup - none): {d.mean():+.3f} (SE {se:.3f}, std {d.std():.3f}), "
        f"better on {(d > 0).sum()} of {len(d)} folds"
    )


if __name__ == "__main__":
    main()
