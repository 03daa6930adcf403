"""Averaging several tree heads (variance reduction) on fight-surv-dev: a paired, grouped check.

Usage: nice -n 10 python benchmarks/bagging_fight.py [--seeds 0,1,2] [--bags 5]

Does averaging tree heads give the +0.030 ROC-AUC of the two-backbone ensemble (levers row 9)
without a second backbone? Three settings, fixed before the first run, each paired per fold with
today's best (``stats_xgboost --refit`` on the ``efficientnet_lite0+flow`` store, levers row 0):

- ``seed bag``: ``--bags`` heads on the same clips with different XGBoost seeds (row and column
  subsampling differ), probabilities averaged;
- ``bootstrap bag``: ``--bags`` heads, each on a class-stratified bootstrap of the clips;
- ``two routes``: today's best averaged with the same head on the *other decoding route* of the
  same frames and network (the global view of the ``focus=motion`` store: decoded at 448 px,
  squashed to 224 by OpenCV), i.e. an ensemble whose members differ only by resizing noise.

Protocol as ``_fight_levers.tree_folds``: per grouped fold, the members are fit on the inner
train part, the threshold (library default) is chosen on the inner val from their mean
probability, then refit on train + inner val and the held-out fold is scored. The stores are
those of ``accuracy_fight.py --levers 0,15`` (extracted there).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

D = 1280  # EfficientNet-Lite0 width
FOCUS_STORE = "fight_store_16_flow_focusmotion"
PLAIN_STORE = "fight_store_16_flow"


def head(data: Any, seed: int, layout: Any = None) -> Any:
    from vidscope.models import create_head

    layout = data.layout if layout is None else layout
    width = sum(w for _, w in layout)
    return create_head("stats_xgboost", num_features=width, num_outputs=1, layout=layout,
                       random_state=seed, n_jobs=1)  # fmt: skip


def global_view(x: np.ndarray) -> np.ndarray:
    """The focus store's ``[global | crop | flow]`` frames without the crop."""
    return np.concatenate([x[..., :D], x[..., 2 * D :]], axis=-1)


def member(data: Any, seed: int, view: Callable[[np.ndarray], np.ndarray] | None = None):
    """``fit(idx) -> predict(idx) -> probabilities`` for one tree head on ``data``."""
    layout = None if view is None else [("efficientnet_lite0", D), ("flow", 10)]
    y = data.labels.y

    def fit(idx: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        x, mask = data.padded(idx)
        model = head(data, seed, layout).fit(x if view is None else view(x), y[idx], mask=mask)

        def predict(ev: np.ndarray) -> np.ndarray:
            x, mask = data.padded(ev)
            return model.predict_proba(x if view is None else view(x), mask)[:, 1]

        return predict

    return fit


def scores(setting: str, stores: dict[str, Any], tr: np.ndarray, ev: np.ndarray, seed: int,
           bags: int) -> np.ndarray:  # fmt: skip
    """Mean probability of the setting's members, fit on ``tr``, on ``ev``."""
    plain = stores["plain"]
    if setting == "today's best":
        return member(plain, seed)(tr)(ev)
    if setting == "seed bag":
        return np.mean([member(plain, seed * 100 + k)(tr)(ev) for k in range(bags)], axis=0)
    if setting == "bootstrap bag":
        y, rng, out = plain.labels.y, np.random.default_rng(seed), []
        for k in range(bags):
            boot = np.concatenate([rng.choice(tr[y[tr] == c], int((y[tr] == c).sum()))
                                   for c in np.unique(y[tr])])  # fmt: skip
            out.append(member(plain, seed * 100 + k)(boot)(ev))
        return np.mean(out, axis=0)
    other = member(stores["focus"], seed, global_view)(tr)(ev)
    return (member(plain, seed)(tr)(ev) + other) / 2


SETTINGS = ("today's best", "seed bag", "bootstrap bag", "two routes")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--bags", type=int, default=5)
    args = ap.parse_args()

    import accuracy_fight as af
    from _fight_common import fold_metrics, summarise
    from _fight_crops import paired, print_rows

    from vidscope.metrics import choose_threshold, classification_report
    from vidscope.training import TrainConfig, load_data

    labels_csv = af.require_data()
    stores = {}
    for key, name in (("plain", PLAIN_STORE), ("focus", FOCUS_STORE)):
        if not (af.WORK / name / "store.json").is_file():
            sys.exit(f"bagging_fight: {af.WORK / name} is missing; run "
                     "`python benchmarks/accuracy_fight.py --levers 0,15` first")  # fmt: skip
        _, stores[key] = load_data(af.WORK / name, af.label_options(labels_csv),
                                   allow_missing=False)  # fmt: skip
    y, classes = stores["plain"].labels.y, stores["plain"].labels.classes
    if not np.array_equal(y, stores["focus"].labels.y):
        sys.exit("bagging_fight: the two stores list the clips in different orders")
    per: dict[str, list[dict[str, Any]]] = {s: [] for s in SETTINGS}
    for seed in (int(s) for s in args.seeds.split(",")):
        for i, sp in enumerate(af.grouped_splits(stores["plain"].labels, seed)):
            extra = {"seed": seed, "fold": i, "best_epoch": 0, "epochs_run": 1}
            for s in SETTINGS:
                pv = scores(s, stores, sp.train, sp.val, seed, args.bags)
                thr = choose_threshold(y[sp.val], pv, metric=TrainConfig().threshold)
                pt = scores(s, stores, np.concatenate([sp.train, sp.val]), sp.test, seed,
                            args.bags)  # fmt: skip
                rep = classification_report(y[sp.test], pt, labels=classes, threshold=thr)
                per[s].append(fold_metrics(rep, extra))
        print(f"  seed {seed} done", flush=True)
    rows = [summarise(n, f, 0, 0.0) for n, f in per.items()]
    paired(rows, rows[0])
    print_rows(rows, f"tree-head averaging, refit on train + inner val; grouped {af.FOLDS}-fold "
               f"x seeds {args.seeds}, held-out folds; Δ paired with today's best")  # fmt: skip


if __name__ == "__main__":
    main()
