"""The ``--thresholds`` run of ``accuracy_fight.py``: decision-threshold policies on small data,
paired per fold against today's policy (issue 16).

Setups (stores already extracted by ``--levers`` / ``--preset``; none is extracted here):

- ``lite0+flow``: today's best single head (``stats_xgboost`` on the composed
  ``efficientnet_lite0+flow`` store of the levers table, row 0);
- ``row 9``: the levers table's best ensemble (mean probability of ``stats_xgboost`` on
  ``lite0+flow`` and on ``lite2+flow``, composed stores);
- ``former accurate``: the same two members on ONE fused
  ``efficientnet_lite0+efficientnet_lite2+flow`` store (the ``accurate`` preset until it took
  I3D);
- ``accurate``: the ``accurate`` preset's members (``stats_xgboost`` on ``lite0+flow`` and on
  ``i3d+flow``) on its fused ``efficientnet_lite0+i3d+flow`` store.

Per held-out fold (grouped 5-fold x seeds, the library's folds with an inner grouped ``val``),
each member's tree head (``random_state`` = fold seed, as the tree trainer sets it) is fit
(1) on the inner ``train`` part, scoring ``val`` and the held-out ``test`` fold; (2) on
``train + val`` (``--refit``), scoring ``test``; (3) **cross-fitted**: ``train + val`` is cut
into K grouped, stratified folds exactly as ``make_splits(kfold, inner_val=False)`` cuts them
(the library's cross-fit, :func:`vidscope.training.crossfit_scores`, does the same), a head is
fit on K-1 of them and scores the one left out, giving one out-of-fold score per clip of
``train + val`` (~120 clips instead of ~30). An ensemble's scores are its members' mean.
Nothing here ever sees the held-out fold's labels or scores before it is scored.

Policies (threshold rule x which model scores ``test``):

- ``val BA`` (today's default): max balanced accuracy on the inner ``val`` scores;
- ``0.5``: fixed;
- ``prior@val`` / ``prior@cv``: the threshold at which the share of ``val`` (or cross-fitted)
  scores at or above it equals the positive share of ``train + val`` (class-prior rule);
- ``cv<K> BA``: max balanced accuracy on the K-fold cross-fitted scores of ``train + val``;
- ``val logistic`` / ``cv<K> logistic``: ``choose_threshold(..., metric="logistic")`` (where a
  class-balanced logistic fit of the label on the score crosses 1/2) on those scores;

each with the model fit on ``train`` (no refit) and with the refit on ``train + val``.

Neural heads (:data:`LIBRARY_HEADS`, ``mlp``) are measured through the library itself:
``compare`` with ``threshold_from="cv"`` without and with ``refit`` (plus one plain run for the
cost), the same rules re-scored from the files every fold writes (:func:`library_folds`).
Results are cached per setup in ``_work/fight_thresholds/``; ``--no-cache`` recomputes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

#: The setup of the ``accurate`` preset (its fused store, its two members).
ACCURATE = "accurate preset: lite0+flow & i3d+flow, fused store"
#: Setups: name -> members, each (store folder under ``_work``, layout parts or None = all).
SETUPS: dict[str, list[tuple[str, list[str] | None]]] = {
    "lite0+flow | stats_xgboost": [("fight_levers/lite0_flow_stats_xgboost_today_s_best", None)],
    "row 9: lite0+flow & lite2+flow (composed)": [
        ("fight_levers/lite0_flow_stats_xgboost_today_s_best", None),
        ("fight_levers/lite2_flow", None),
    ],
    "lite0 & lite2 pair, fused store (former accurate)": [
        (
            "fight_store_16_efficientnet_lite0_efficientnet_lite2_flow",
            ["efficientnet_lite0", "flow"],
        ),
        (
            "fight_store_16_efficientnet_lite0_efficientnet_lite2_flow",
            ["efficientnet_lite2", "flow"],
        ),
    ],
    ACCURATE: [
        ("fight_store_16_efficientnet_lite0_i3d_flow", ["efficientnet_lite0", "flow"]),
        ("fight_store_16_efficientnet_lite0_i3d_flow", ["i3d", "flow"]),
    ],
}
FOLDS_K = (5, 10)  # cross-fitting folds measured (5 = the library default)


def view(data: Any, parts: list[str] | None) -> Any:
    """``data`` restricted to the named layout parts (in layout order)."""
    if parts is None:
        return data
    cols, layout, start = [], [], 0
    for name, width in data.layout:
        if name in parts:
            cols.append(np.arange(start, start + width))
            layout.append((name, width))
        start += width
    idx = np.concatenate(cols)
    return replace(data, features=[np.ascontiguousarray(f[:, idx]) for f in data.features],
                   layout=layout)  # fmt: skip


def member_scores(data: Any, splits: list[Any], seed: int, threads: int) -> list[dict[str, Any]]:
    """Per fold the member's scores: ``val``, ``test`` (fit on train), ``test_refit`` (fit on
    train + val) and ``cv<K>`` (out-of-fold scores of train + val, in ``trval`` order)."""
    from vidscope.data import make_splits
    from vidscope.models import create_head

    y = data.labels.y

    def fitted(idx: np.ndarray) -> Any:
        model = create_head("stats_xgboost", num_features=data.num_features, num_outputs=1,
                            layout=data.layout, random_state=seed, n_jobs=threads)  # fmt: skip
        x, mask = data.padded(idx)
        return model.fit(x, y[idx], mask=mask)

    def proba(model: Any, idx: np.ndarray) -> np.ndarray:
        x, mask = data.padded(idx)
        return model.predict_proba(x, mask)[:, 1]

    out = []
    for s in splits:
        trval = np.concatenate([s.train, s.val])
        first = fitted(s.train)
        rec = {"val": proba(first, s.val), "test": proba(first, s.test)}
        rec["test_refit"] = proba(fitted(trval), s.test)
        sub = data.labels.subset(trval)
        sub.notes = []
        for k in FOLDS_K:
            oof = np.full(len(trval), np.nan)
            for inner in make_splits(sub, mode="kfold", folds=k, seed=seed, inner_val=False):
                oof[inner.val] = proba(fitted(trval[inner.train]), trval[inner.val])
            rec[f"cv{k}"] = oof
        out.append(rec)
    return out


def prior_threshold(scores: np.ndarray, positive_share: float) -> float:
    """The score at which the share of ``scores`` at or above it is ``positive_share``."""
    ranked = np.sort(scores)[::-1]
    k = int(np.clip(round(positive_share * len(ranked)), 1, len(ranked)))
    return float(ranked[k - 1])


def policies(
    yv: np.ndarray, ytv: np.ndarray, sc: dict[str, np.ndarray]
) -> dict[str, tuple[str, float]]:
    """Each policy's (test scores key, threshold) for one fold.

    Args:
        yv: Targets of the inner ``val`` part; ``ytv``: of ``train + val`` in cross-fit order.
        sc: Scores: ``val``, ``test`` and, when measured, ``test_refit`` and ``cv<K>``.
    """
    from vidscope.metrics import choose_threshold

    prev = float(ytv.mean())
    ba, lg = "balanced_accuracy", "logistic"
    rules = {"val BA": choose_threshold(yv, sc["val"], metric=ba), "0.5": 0.5,
             "prior@val": prior_threshold(sc["val"], prev),
             "val logistic": choose_threshold(yv, sc["val"], metric=lg)}  # fmt: skip
    for k in FOLDS_K:
        if f"cv{k}" in sc:
            rules[f"cv{k} BA"] = choose_threshold(ytv, sc[f"cv{k}"], metric=ba)
            rules[f"cv{k} logistic"] = choose_threshold(ytv, sc[f"cv{k}"], metric=lg)
    if "cv5" in sc:
        rules["prior@cv5"] = prior_threshold(sc["cv5"], prev)
    out: dict[str, tuple[str, float]] = {}
    for key, tag in (("test", ""), ("test_refit", " + refit")):
        if key in sc:
            out.update({f"{name}{tag}": (key, thr) for name, thr in rules.items()})
    return out


def setup_folds(
    name: str, args: argparse.Namespace, labels_csv: Path, af: Any
) -> tuple[dict[str, list[dict[str, Any]]], list[list[str]]]:
    """Per policy the per-fold test metrics of one setup (cached in ``_work/fight_thresholds``)."""
    from _fight_common import fold_metrics

    from vidscope.metrics import classification_report
    from vidscope.training import load_data

    members = SETUPS[name]
    loaded = [(view(load_data(af.WORK / p, af.label_options(labels_csv),
                              allow_missing=False)[1], parts)) for p, parts in members]  # fmt: skip
    data = loaded[0]
    cache = cache_path(name, members, args, af)
    saved = json.loads(cache.read_text()) if cache.is_file() and not args.no_cache else None
    y, classes = data.labels.y, list(data.labels.classes)
    results: dict[str, list[dict[str, Any]]] = {}
    seconds = 0.0
    for seed in args.seed_list:
        splits = af.grouped_splits(data.labels, seed)
        if saved is not None:
            per = [{k: np.asarray(v) for k, v in f.items()} for f in saved[str(seed)]]
        else:
            start = time.monotonic()
            each = [member_scores(d, splits, seed, args.threads) for d in loaded]
            per = [{k: np.mean([m[i][k] for m in each], axis=0) for k in each[0][i]}
                   for i in range(len(splits))]  # fmt: skip
            seconds += time.monotonic() - start
            payload = json.loads(cache.read_text()) if cache.is_file() else {}
            payload[str(seed)] = [{k: v.tolist() for k, v in f.items()} for f in per]
            cache.write_text(json.dumps(payload))
        for i, (s, sc) in enumerate(zip(splits, per, strict=True)):
            extra = {"seed": seed, "fold": i, "best_epoch": 0, "epochs_run": 1}
            ytv = y[np.concatenate([s.train, s.val])]
            for pol, (key, thr) in policies(y[s.val], ytv, sc).items():
                rep = classification_report(y[s.test], sc[key], labels=classes, threshold=thr)
                results.setdefault(pol, []).append(fold_metrics(rep, extra))
        if saved is None:
            saved_now = json.loads(cache.read_text())
            saved_now["seconds"] = saved_now.get("seconds", 0.0) + seconds
            cache.write_text(json.dumps(saved_now))
    return results, af.fold_ids(data.labels, args.seed_list)


def cache_path(name: str, members: list[Any], args: argparse.Namespace, af: Any) -> Path:
    """The cache file of one setup, keyed by its stores, seeds, K values and this code."""
    import inspect

    h = hashlib.sha256()
    h.update(json.dumps([name, members, args.seed_list, FOLDS_K]).encode())
    h.update(inspect.getsource(member_scores).encode())
    for p, _ in members:
        h.update((af.WORK / p / "manifest.parquet").read_bytes())
    folder = af.WORK / "fight_thresholds"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{re.sub(r'[^A-Za-z0-9]+', '_', name)[:40]}_{h.hexdigest()[:12]}.json"


#: Heads measured through the library itself (``compare`` with ``threshold_from="cv"``).
LIBRARY_HEADS = ("mlp",)


def library_folds(
    head: str, args: argparse.Namespace, labels_csv: Path, af: Any
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, float]]:
    """Per policy the per-fold test metrics of ``head`` trained by the library on
    ``lite0+flow``: ``compare`` with ``threshold_from="cv"`` (5 inner folds), without and with
    ``--refit``, and once with ``threshold_from="val"`` for the cost. The policies are then
    re-scored from the files each fold wrote (``predictions.csv``: val, ``test_predictions.csv``,
    ``crossfit_predictions.csv``), so every rule sees the same fits.

    Returns:
        The per-policy folds and the training seconds per seed of each configuration.
    """
    import pandas as pd
    from _fight_common import fold_metrics

    from vidscope.metrics import classification_report
    from vidscope.training import TrainConfig

    store = af.WORK / SETUPS["lite0+flow | stats_xgboost"][0][0]
    cache = (
        af.WORK / "fight_thresholds" / f"library_{head}_{'_'.join(map(str, args.seed_list))}.json"
    )
    key = hashlib.sha256((store / "manifest.parquet").read_bytes()).hexdigest()[:12]
    saved = json.loads(cache.read_text()) if cache.is_file() and not args.no_cache else {}
    if saved.get("key") != key:
        saved = {"key": key, "folds": {}, "seconds": {}}
        configs = {"val": TrainConfig(head=head), "cv": TrainConfig(head=head, threshold_from="cv"),
                   "cv+refit": TrainConfig(head=head, threshold_from="cv", refit=True)}  # fmt: skip
        files = {}
        for name, cfg in configs.items():
            saved["seconds"][name] = 0.0
            for seed in args.seed_list:
                res = af.run_head(store, labels_csv, head, seed, cfg, runs_dir(af) / f"thr_{name}")
                saved["seconds"][name] += res["train_s"] / len(args.seed_list)
                for i in range(af.FOLDS):
                    folder = res["dir"] / head / f"fold{i}"
                    read = {f: pd.read_csv(folder / f"{f}.csv") for f in
                            ("predictions", "test_predictions", "crossfit_predictions")
                            if (folder / f"{f}.csv").is_file()}  # fmt: skip
                    files[(name, seed, i)] = read
        for seed in args.seed_list:
            for i in range(af.FOLDS):
                cv, rf = files[("cv", seed, i)], files[("cv+refit", seed, i)]
                assert np.allclose(cv["crossfit_predictions"]["score"],
                                   rf["crossfit_predictions"]["score"])  # fmt: skip
                pos = {k: cv[f]["true"].eq(af_target()).astype(int).tolist() for k, f in
                       (("yv", "predictions"), ("ytv", "crossfit_predictions"),
                        ("yt", "test_predictions"))}  # fmt: skip
                fold = {**pos,
                        "val": cv["predictions"]["score"].tolist(),
                        "test": cv["test_predictions"]["score"].tolist(),
                        "test_refit": rf["test_predictions"]["score"].tolist(),
                        "cv5": cv["crossfit_predictions"]["score"].tolist()}  # fmt: skip
                saved["folds"][f"{seed}/{i}"] = fold
        cache.write_text(json.dumps(saved))
    classes = ["noFight", "fight"]
    results: dict[str, list[dict[str, Any]]] = {}
    for name, f in saved["folds"].items():
        seed, i = map(int, name.split("/"))
        sc = {k: np.asarray(f[k]) for k in ("val", "test", "test_refit", "cv5")}
        extra = {"seed": seed, "fold": i, "best_epoch": 0, "epochs_run": 1}
        for pol, (k, thr) in policies(np.asarray(f["yv"]), np.asarray(f["ytv"]), sc).items():
            rep = classification_report(np.asarray(f["yt"]), sc[k], labels=classes, threshold=thr)
            results.setdefault(pol, []).append(fold_metrics(rep, extra))
    return results, saved["seconds"]


def library_check(
    args: argparse.Namespace, labels_csv: Path, af: Any, bench: list[dict[str, Any]]
) -> dict[str, Any]:
    """``--preset accurate --threshold-from cv --threshold logistic`` through the library
    (``compare`` on the fused store), fold by fold against this benchmark's own
    ``cv5 logistic + refit`` row of the same setup: the library's cross-fit must give the
    same thresholds and accuracies. Cached like the other rows."""
    import _fight_preset as fp

    from vidscope.training import preset_config

    store = af.WORK / SETUPS[ACCURATE][0][0]
    seeds = "_".join(map(str, args.seed_list))
    cache = af.WORK / "fight_thresholds" / f"library_accurate_cv_logistic_{seeds}.json"
    key = hashlib.sha256((store / "manifest.parquet").read_bytes()).hexdigest()[:12]
    saved = json.loads(cache.read_text()) if cache.is_file() and not args.no_cache else {}
    if saved.get("key") != key:
        cfg = fp.with_threads("accurate", preset_config("accurate"), args.threads)
        cfg = replace(cfg, threshold_from="cv", threshold="logistic")
        folds, seconds = [], 0.0
        for seed in args.seed_list:
            res = af.run_head(store, labels_csv, cfg.head, seed, cfg, runs_dir(af) / "thr_accurate")
            folds += res["folds"]
            seconds += res["train_s"] / len(args.seed_list)
        saved = {"key": key, "folds": folds, "seconds": seconds}
        cache.write_text(json.dumps(saved, default=float))
    same = sum(
        abs(a["threshold"] - b["threshold"]) < 1e-6 and abs(a["accuracy"] - b["accuracy"]) < 1e-9
        for a, b in zip(saved["folds"], bench, strict=True)
    )
    acc = float(np.mean([f["accuracy"] for f in saved["folds"]]))
    print(f"\nlibrary check: --preset accurate --threshold-from cv --threshold logistic through "
          f"compare: accuracy {acc:.3f}, {saved['seconds']:.0f} s per seed; threshold and "
          f"accuracy identical to the benchmark's row on {same}/{len(bench)} folds")  # fmt: skip
    return {"accuracy": acc, "identical_folds": same, "seconds_per_seed": saved["seconds"]}


def runs_dir(af: Any) -> Path:
    """Where this script's library runs go: its own folder (other modes of
    ``accuracy_fight.py`` remove theirs, ``_work/accuracy_fight_runs``, when they end)."""
    return af.WORK / "fight_thresholds" / "runs"


def af_target() -> str:
    from _fight_common import TARGET

    return TARGET


def paired_acc(rows: list[dict[str, Any]], base: dict[str, Any], tag: str) -> None:
    """Each row's paired accuracy difference against ``base`` (mean, std, SE, folds won/lost)."""
    b = np.array([f["accuracy"] for f in base["folds"]])
    for r in rows:
        d = np.array([f["accuracy"] for f in r["folds"]]) - b
        r[f"d_acc_{tag}"] = float(d.mean())
        r[f"d_acc_{tag}_std"] = float(d.std(ddof=1))
        r[f"d_acc_{tag}_se"] = float(d.std(ddof=1) / np.sqrt(len(d)))
        r[f"won_{tag}"], r[f"lost_{tag}"] = int((d > 0).sum()), int((d < 0).sum())


def run_thresholds(args: argparse.Namespace, labels_csv: Path, af: Any) -> dict[str, Any]:
    """Every policy on every setup (those whose stores exist), paired per fold with today's
    policy (``val BA``, no refit) and with today's ``--refit`` (``val BA + refit``)."""
    out: dict[str, Any] = {}
    ids = None
    for name, members in SETUPS.items():
        missing = [p for p, _ in members if not (af.WORK / p / "manifest.parquet").is_file()]
        if missing:
            print(f"\n{name}: skipped, store(s) missing: {missing} (run --levers / --preset)")
            continue
        results, fids = setup_folds(name, args, labels_csv, af)
        if ids is not None and fids != ids:
            raise RuntimeError(f"{name}: other folds than the first setup: cannot pair")
        ids = fids
        rows = [af.summarise(p, f, 0, 0.0) for p, f in results.items()]
        by = {r["method"]: r for r in rows}
        paired_acc(rows, by["val BA"], "today")
        paired_acc(rows, by["val BA + refit"], "refit")
        print_rows(name, rows, len(args.seed_list))
        out[name] = rows
    if ACCURATE in out:
        bench = next(r for r in out[ACCURATE] if r["method"] == "cv5 logistic + refit")
        out["library check"] = library_check(args, labels_csv, af, bench["folds"])
    for head in LIBRARY_HEADS:
        results, seconds = library_folds(head, args, labels_csv, af)
        rows = [af.summarise(p, f, 0, 0.0) for p, f in results.items()]
        by = {r["method"]: r for r in rows}
        paired_acc(rows, by["val BA"], "today")
        paired_acc(rows, by["val BA + refit"], "refit")
        name = f"{head} on lite0+flow (library, threshold_from=cv)"
        print_rows(name, rows, len(args.seed_list))
        cost = ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items())
        print(f"  training time per seed (5 folds): {cost}")
        out[name] = rows
        out[f"{name} seconds"] = seconds
    if not args.keep_runs:
        shutil.rmtree(runs_dir(af), ignore_errors=True)
    return out


def print_rows(name: str, rows: list[dict[str, Any]], seeds: int) -> None:
    n = len(rows[0]["folds"])
    print(f"\n{name}: {n} held-out folds ({seeds} seeds x 5); Δacc paired per fold, "
          "mean ± std (SE), folds won/lost")  # fmt: skip
    head = (f"{'policy':<22} {'accuracy':>13} {'bal. acc':>13} {'F1 (fight)':>13} "
            f"{'ROC-AUC':>13} {'Δacc vs val BA':>24} {'w/l':>6} {'Δacc vs val BA+refit':>24} "
            f"{'w/l':>6}")  # fmt: skip
    print(head + "\n" + "-" * len(head))
    for r in rows:
        cells = [f"{r['method']:<22}"]
        for key in ("accuracy", "balanced_accuracy", "f1_fight", "roc_auc"):
            cells.append(f"{r[key]:.3f}±{r[key + '_std']:.3f}")
        for tag in ("today", "refit"):
            mean, std, se = (r[f"d_acc_{tag}{x}"] for x in ("", "_std", "_se"))
            d = f"{mean:+.3f} ± {std:.3f} ({se:.3f})"
            cells += [f"{d:>24}", f"{r[f'won_{tag}']:>2}/{r[f'lost_{tag}']:<2}"]
        print(" ".join(cells))
