"""The ``--preset`` run of ``accuracy_fight.py``: each ``vidscope.training.PRESETS`` recipe end
to end through the library, against today's best, and what its extraction costs.

For every preset: its store is extracted for real with its backbone (``efficientnet_lite0+
efficientnet_lite2+flow`` is ONE fused extraction, not a composition of stores), 16 uniform
frames, then trained with ``preset_config(name)`` through ``vidscope.training.compare`` on the
grouped 5-fold x seeds protocol (inner validation picks the threshold, and with ``--refit``
every member is refitted on train + inner val; the held-out fold is only scored). The baseline
is today's best, ``efficientnet_lite0+flow`` with ``stats_xgboost`` and library defaults (no
refit). Rows are paired per fold with the baseline (ΔAUC mean ± std, SE, folds won), and, when
``_work/accuracy_fight_levers.json`` exists, with the levers table's composed-store ensemble
(row 9), to show how close a fused extraction comes to the composition.

Extraction cost: the first ``--cost-clips`` clips are extracted again into temporary stores
with the default backbone and each preset's, one after the other (same machine load), by
``vidscope.features.extract`` (decode + encode, one decode worker): frames/s of each.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BASELINE = "today's best: lite0+flow | stats_xgboost"
ROW9 = "ensemble: rows 0 + 3 (lite0, lite2; refit)"
TWO_TREES = "accurate of 2026-12-01: two trees, no linear_probe"


def with_threads(name: str, cfg: Any, threads: int) -> Any:
    """The preset's config with every XGBoost head on ``threads`` threads (as the other tables
    run them; XGBoost's results do not depend on it)."""
    from dataclasses import replace

    if cfg.head == "stats_xgboost":
        return replace(cfg, head_options={**cfg.head_options, "n_jobs": threads})
    if cfg.head == "ensemble":
        members = [
            m.replace("stats_xgboost", f"stats_xgboost:n_jobs={threads}", 1)
            for m in cfg.head_options["members"].split(",")
        ]
        return replace(cfg, head_options={**cfg.head_options, "members": ",".join(members)})
    return cfg


def run_presets(args: argparse.Namespace, labels_csv: Path, af: Any) -> dict[str, Any]:
    """Today's best and every preset in ``args.preset`` on the held-out folds, paired."""
    from _fight_levers_run import paired, print_levers

    from vidscope.training import PRESETS, TrainConfig, get_preset, load_data, preset_config

    names = list(PRESETS) if args.preset == "all" else args.preset.split(",")
    for n in names:
        get_preset(n)  # an unknown name fails before any work
    base_info = af.ensure_store(labels_csv, args.frames, "efficientnet_lite0+flow")
    stores = {"efficientnet_lite0+flow": base_info}
    options: dict[str, dict[str, Any]] = {"efficientnet_lite0+flow": {}}
    rows, ids = [], None
    base_cfg = TrainConfig(head="stats_xgboost", head_options={"n_jobs": args.threads})
    plan = [(BASELINE, "efficientnet_lite0+flow", base_cfg)]
    for n in names:
        p = get_preset(n)
        spec = store_name(p.backbone, p.backbone_options)
        if spec not in stores:
            opts = p.backbone_options
            stores[spec] = af.ensure_store(labels_csv, args.frames, p.backbone, opts)
            options[spec] = dict(opts)
        plan.append((f"--preset {n}", spec, with_threads(n, preset_config(n), args.threads)))
        if n == "accurate":  # paired with the recipe it replaced
            two = with_threads(n, two_trees_accurate(), args.threads)
            plan.append((TWO_TREES, spec, two))
    for label, backbone, cfg in plan:
        store = Path(stores[backbone]["store"])
        _, data = load_data(store, af.label_options(labels_csv), allow_missing=False)
        fids = af.fold_ids(data.labels, args.seed_list)
        if ids is not None and fids != ids:
            raise RuntimeError(f"{label}: other folds than the baseline's: cannot pair")
        ids = fids
        folds, seconds = [], 0.0
        for seed in args.seed_list:
            tag = "_two_trees" if label == TWO_TREES else ""
            out = args.runs / f"preset_{af.suffix(backbone)}_{cfg.head}_{cfg.refit}{tag}"
            res = af.run_head(store, labels_csv, cfg.head, seed, cfg, out)
            folds += res["folds"]
            seconds += res["train_s"] / len(args.seed_list)
        row = af.summarise(label, folds, res["params"], seconds)
        row.update(backbone=backbone, head=cfg.head, refit=cfg.refit, preset=cfg.preset)
        rows.append(row)
        print(f"  {label}: ROC-AUC {af.pm(row, 'roc_auc')} ({seconds:.0f} s / seed)", flush=True)
    paired(rows, rows[0])
    title = (
        f"presets: grouped {af.FOLDS}-fold CV x seeds {args.seeds}, {args.frames} uniform frames, "
        "held-out folds; ΔAUC paired with today's best over the same folds"
    )
    print_levers(rows, title)
    against_two_trees(rows)
    composed = against_composed(rows, args.seed_list)
    cost = extraction_cost(labels_csv, args, {b: options[b] for _, b, _ in plan})
    return {"rows": rows, "stores": stores, "against_composed": composed, "extract_cost": cost}


def against_composed(rows: list[dict[str, Any]], seeds: list[int]) -> list[dict[str, Any]]:
    """Each preset row paired with the levers table's composed-store ensemble (row 9)."""
    from _fight_levers_run import paired

    af_dir = Path(__file__).parent / "_work"
    path = af_dir / "accuracy_fight_levers.json"
    if not path.is_file():
        return []
    levers = json.loads(path.read_text())["levers"]["rows"]
    ref = next((r for r in levers if r["method"] == ROW9), None)
    if ref is None or sorted({f["seed"] for f in ref["folds"]}) != sorted(seeds):
        return []
    order = {(f["seed"], f["fold"]): f for f in ref["folds"]}
    base = {"method": ROW9, "folds": [order[(f["seed"], f["fold"])] for f in rows[0]["folds"]]}
    others = [{"method": r["method"], "folds": r["folds"]} for r in rows[1:]]
    paired(others, base)
    ref_auc = np.mean([f["roc_auc"] for f in base["folds"]])
    print(f"\nagainst the composed-store ensemble (levers row 9, ROC-AUC {ref_auc:.3f}):")
    for r in others:
        print(f"  {r['method']:<24} ΔAUC {r['d_auc']:+.3f} ± {r['d_auc_std']:.3f} "
              f"(SE {r['d_auc_se']:.3f}), Δacc {r['d_acc']:+.3f}")  # fmt: skip
    return [{k: v for k, v in r.items() if k != "folds"} for r in others]


def store_name(backbone: str, options: dict[str, Any]) -> str:
    """``backbone`` and its options as one name (``"i3d+flow aspect=keep"``)."""
    return " ".join([backbone, *(f"{k}={v}" for k, v in sorted(options.items()))])


def extraction_cost(
    labels_csv: Path, args: argparse.Namespace, backbones: dict[str, dict[str, Any]]
) -> dict[str, dict[str, float]]:
    """Frames/s of ``vidscope.features.extract`` (decode + encode) on the first
    ``args.cost_clips`` clips, for the default backbone and each of ``backbones`` (store
    names: :func:`store_name`, to their backbone options)."""
    import pandas as pd

    from vidscope import ExtractConfig, SamplingSpec
    from vidscope.features import extract

    if args.cost_clips <= 0:
        return {}
    table = pd.read_csv(labels_csv)
    root = Path(tempfile.mkdtemp(prefix="preset-cost-"))
    try:
        subset, warm = root / "clips.csv", root / "warm.csv"
        paths = [str((labels_csv.parent / p).resolve()) for p in table["path"][: args.cost_clips]]
        pd.DataFrame({"path": paths}).to_csv(subset, index=False)
        pd.DataFrame({"path": paths[:2]}).to_csv(warm, index=False)
        out: dict[str, dict[str, float]] = {}
        for name, opts in {"efficientnet_lite0": {}, **backbones}.items():
            backbone = name.split(" ")[0]
            cfg = ExtractConfig(backbone=backbone, sampling=SamplingSpec("uniform", args.frames),
                                backbone_options=dict(opts))  # fmt: skip
            extract(str(warm), root / "warm", cfg, progress=False)  # ONNX export, caches
            shutil.rmtree(root / "warm")
            start = time.monotonic()
            report = extract(str(subset), root / f"store{len(out)}", cfg, progress=False)
            wall = time.monotonic() - start
            frames = len(report.done) * args.frames
            out[name] = {"frames": frames, "wall_s": round(wall, 2),
                             "frames_per_s": round(frames / wall, 2)}  # fmt: skip
        print(f"\nextraction cost ({args.cost_clips} clips x {args.frames} frames, decode + "
              "encode, one decode worker, back to back):")  # fmt: skip
        ref = out["efficientnet_lite0"]["frames_per_s"]
        for b, v in out.items():
            print(f"  {b:<44} {v['frames_per_s']:6.1f} frames/s  ({ref / v['frames_per_s']:.1f}x "
                  "the default's time)")  # fmt: skip
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


#: ``--preset-diagnose``: where each part's columns come from, per feature pipeline. Sources:
#: ``lite0+flow`` (an ``efficientnet_lite0+flow`` extraction: decoded at 224x224, flow resized
#: from that), ``lite2`` (``efficientnet_lite2`` alone), ``flow_own`` (the first 10 columns of
#: ``flow`` with ``grid=3``: the global descriptor, decoded at flow's own size) and ``fused``
#: (the preset's ``efficientnet_lite0+efficientnet_lite2+flow`` extraction: decoded at 260x260,
#: lite0 and flow resized from that).
D = 1280
SOURCE_STORES = {
    "lite0+flow": "fight_store_16_flow",
    "lite2": "fight_store_16_efficientnet_lite2",
    "flow_own": "fight_store_16_flow_grid3",
    "fused": "fight_store_16_efficientnet_lite0_efficientnet_lite2_flow",
}
PIPELINES = {
    "composed (flow via 224 px; levers row 9)": (("lite0+flow", 0, D), ("lite2", 0, D),
                                                 ("lite0+flow", D, D + 10)),
    "flow at its own size": (("lite0+flow", 0, D), ("lite2", 0, D), ("flow_own", 0, 10)),
    "lite0 from the fused store": (("fused", 0, D), ("lite2", 0, D), ("lite0+flow", D, D + 10)),
    "flow from the fused store": (("lite0+flow", 0, D), ("lite2", 0, D), ("fused", 2 * D, None)),
    "fused store (the preset)": (("fused", 0, D), ("fused", D, 2 * D), ("fused", 2 * D, None)),
}  # fmt: skip


def two_trees_accurate() -> Any:
    """``--preset accurate`` before its ``linear_probe`` member (2026-12-01): the mean of
    ``stats_xgboost`` on ``efficientnet_lite0+flow`` and on ``i3d+flow``, with the preset's
    refit and threshold rule."""
    from dataclasses import replace

    from vidscope.training import preset_config

    members = "stats_xgboost@efficientnet_lite0+flow,stats_xgboost@i3d+flow"
    return replace(preset_config("accurate"), head_options={"members": members})


def against_two_trees(rows: list[dict[str, Any]]) -> None:
    """``--preset accurate`` paired with the two-tree recipe it replaced (same folds)."""
    from _fight_levers_run import paired

    ref = next((r for r in rows if r["method"] == TWO_TREES), None)
    new = next((r for r in rows if r["method"] == "--preset accurate"), None)
    if ref is None or new is None:
        return
    probe = {"method": new["method"], "folds": new["folds"]}
    paired([probe], ref)
    d_acc = np.array([a["accuracy"] - b["accuracy"] for a, b in zip(new["folds"], ref["folds"],
                                                                    strict=True)])  # fmt: skip
    probe["d_acc_se"] = float(d_acc.std(ddof=1) / np.sqrt(len(d_acc)))
    probe["acc_won_lost"] = [int((d_acc > 0).sum()), int((d_acc < 0).sum())]
    print(f"\n--preset accurate against {TWO_TREES}: ΔAUC {probe['d_auc']:+.3f} ± "
          f"{probe['d_auc_std']:.3f} (SE {probe['d_auc_se']:.3f}), won {probe['folds_won']}/"
          f"lost {probe['folds_lost']}; Δacc {probe['d_acc']:+.3f} (SE {probe['d_acc_se']:.3f}), "
          f"won/lost {probe['acc_won_lost']}")  # fmt: skip
    new["against_two_trees"] = {k: v for k, v in probe.items() if k not in ("method", "folds")}


def former_accurate() -> Any:
    """The ``accurate`` preset before it took I3D (2026-12-01): two ``stats_xgboost`` heads on
    ``efficientnet_lite0+flow`` and ``efficientnet_lite2+flow``, averaged, ``--refit``."""
    from vidscope.training import TrainConfig

    members = "stats_xgboost@efficientnet_lite0+flow,stats_xgboost@efficientnet_lite2+flow"
    return TrainConfig(head="ensemble", head_options={"members": members}, refit=True)


def diagnose(args: argparse.Namespace, labels_csv: Path, af: Any) -> list[dict[str, Any]]:
    """The former ``accurate`` preset (:func:`former_accurate`) and its single lite0+flow tree
    on each feature pipeline of :data:`PIPELINES` (composed stores of parts of already
    extracted stores, layout ``efficientnet_lite0, efficientnet_lite2, flow``), paired: does the
    ensemble gain, and the gap between the fused extraction and the composition, come from the
    ensemble or from how each part's frames were resized? Sources are opened as they are (never
    re-extracted)."""
    import _fight_levers as fl
    from _fight_levers_run import paired, print_levers

    from vidscope.training import TrainConfig

    missing = [s for s in SOURCE_STORES.values() if not (af.WORK / s / "store.json").is_file()]
    if missing:
        raise SystemExit(f"--preset-diagnose needs the stores {missing} in {af.WORK}")
    stores = {n: af.WORK / s for n, s in SOURCE_STORES.items()}
    names = ("efficientnet_lite0", "efficientnet_lite2", "flow")
    single = TrainConfig(head="ensemble", head_options={"members": f"stats_xgboost:n_jobs="
                         f"{args.threads}@efficientnet_lite0+flow"})  # fmt: skip
    accurate = with_threads("former accurate", former_accurate(), args.threads)
    rows = []
    for label, cols in PIPELINES.items():
        parts = tuple((n, fl.cols(*c)) for n, c in zip(names, cols, strict=True))
        used = {c[0] for c in cols}
        store = fl.compose(fl.Lever(label, parts), {n: stores[n] for n in used},
                           af.WORK / "fight_preset_diagnose" / fl.slug(label))  # fmt: skip
        for what, cfg in (("lite0+flow tree", single), ("former --preset accurate", accurate)):
            folds = []
            for seed in args.seed_list:
                out = args.runs / "diagnose" / fl.slug(label) / fl.slug(what)
                folds += af.run_head(store, labels_csv, cfg.head, seed, cfg, out)["folds"]
            rows.append(af.summarise(f"{label}: {what}", folds, 0, 0.0))
            print(f"  {rows[-1]['method']}: ROC-AUC {af.pm(rows[-1], 'roc_auc')}", flush=True)
    paired(rows, rows[1])
    print_levers(rows, "feature pipelines: ΔAUC paired with the composed ensemble (row 9)")
    for single_row, ens_row in zip(rows[::2], rows[1::2], strict=True):
        paired([ens_row], single_row)
        print(f"  ensemble gain, {ens_row['method'].split(':')[0]}: ΔAUC {ens_row['d_auc']:+.3f}"
              f" ± {ens_row['d_auc_std']:.3f} (SE {ens_row['d_auc_se']:.3f}), won "
              f"{ens_row['folds_won']}/{len(ens_row['folds'])}")  # fmt: skip
    return rows
