"""``--preset accurate`` with I3D frames in proportion (``--backbone-option width=398``: 16:9;
``aspect=keep``: each clip's own), through the library, paired with the preset as it is
(issue 16).

Both runs train ``preset_config("accurate")`` (the three-member ensemble, ``--refit``,
threshold from cross-fitted scores) with ``compare`` on the grouped 5-fold x seeds 0, 1, 2 of
``fight-surv-dev``, exactly as ``accuracy_fight.py --preset accurate`` does. The preset's store
is its fused ``efficientnet_lite0+i3d+flow`` extraction; the variant's store takes the Lite0 and
flow columns from that store and the I3D columns from an ``i3d`` extraction with the option
(a fused extraction decodes the frame parts at their own size whatever the clip part's window
size, so the composed store is what ``extract --preset accurate --backbone-option ...``
writes). Nothing is chosen on the scored folds.

    nice -n 5 python benchmarks/i3d_width_preset.py [--seeds 0,1,2] [--i3d-option width=398]
    nice -n 5 python benchmarks/i3d_width_preset.py --i3d-option aspect=keep

Prints both rows and the paired per-fold differences (ROC-AUC, accuracy: mean, SE, folds won /
lost); writes ``_work/i3d_width_preset_<key><value>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _fight_levers as fl  # noqa: E402
import accuracy_fight as af  # noqa: E402
from _fight_common import write_json  # noqa: E402


def paired(a: list[dict], b: list[dict], key: str) -> dict[str, float]:
    """Per-fold ``a - b`` of ``key`` over the same (seed, fold): mean, SE, won, lost."""
    pa = {(f["seed"], f["fold"]): f[key] for f in a}
    pb = {(f["seed"], f["fold"]): f[key] for f in b}
    if set(pa) != set(pb):
        raise RuntimeError("the two runs scored other folds: cannot pair")
    d = np.array([pa[k] - pb[k] for k in sorted(pa)])
    se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
    return {"delta": float(d.mean()), "se": se, "won": int((d > 0).sum()),
            "lost": int((d < 0).sum())}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--i3d-option",
        default="width=398",
        help="KEY=VALUE --backbone-option of the variant's i3d part (e.g. aspect=keep)",
    )
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument(
        "--probe",
        action="store_true",
        help="also the variant's linear_probe on i3d + flow alone (--refit, threshold from "
        "cross-fitted scores), without the trees",
    )
    parser.add_argument(
        "--fused",
        action="store_true",
        help="with --probe: also the probe on a real `i3d+flow` extraction with the option "
        "(its flow decoded at its own size, as that command does)",
    )
    args = parser.parse_args()
    from vidscope.training import preset_config

    seeds = [int(s) for s in args.seeds.split(",")]
    labels_csv = af.require_data()
    t0 = time.time()
    fused = Path(af.ensure_store(labels_csv, args.frames, "efficientnet_lite0+i3d+flow")["store"])
    key, _, text = args.i3d_option.partition("=")
    value: object = int(text) if text.isdigit() else text
    wide = Path(af.ensure_store(labels_csv, args.frames, "i3d", {key: value})["store"])
    name = f"accurate, i3d {key}={value}"
    part = ("i3d", fl.cols("wide", 0))
    lite0 = ("efficientnet_lite0", fl.cols("lite0+i3d+flow", 0, fl.D))
    lever = fl.Lever(name, (lite0, part, fl.I3D_FLOW))
    composed = fl.compose(
        lever, {"lite0+i3d+flow": fused, "wide": wide}, af.WORK / "fight_levers" / fl.slug(name)
    )
    cfg = preset_config("accurate")
    plan = [("--preset accurate", fused, cfg), (name, composed, cfg)]
    if args.probe:
        probe = fl.Lever(f"i3d {key}={value} + flow", (part, fl.I3D_FLOW))
        alone = fl.compose(probe, {"lite0+i3d+flow": fused, "wide": wide},
                           af.WORK / "fight_levers" / fl.slug(probe.name))  # fmt: skip
        lp = replace(cfg, head="linear_probe", head_options={})
        plan.append((f"{probe.name} | linear_probe (library)", alone, lp))
        if args.fused:
            real = af.ensure_store(labels_csv, args.frames, "i3d+flow", {key: value})
            plan.append((f"i3d+flow {key}={value} extracted | linear_probe", Path(real["store"]),
                         lp))  # fmt: skip
    rows = []
    for label, store, cfg in plan:
        folds, seconds = [], 0.0
        for seed in seeds:
            out = af.WORK / "fight_runs" / f"width_preset_{fl.slug(label)}"
            res = af.run_head(store, labels_csv, cfg.head, seed, cfg, out)
            folds += res["folds"]
            seconds += res["train_s"] / len(seeds)
        row = af.summarise(label, folds, res["params"], seconds)
        rows.append(row)
        scores = "  ".join(f"{k} {af.pm(row, k)}" for k in ("accuracy", "roc_auc", "f1_positive"))
        print(f"{label:36s} {scores}  ({seconds:.0f} s / seed)", flush=True)
    pairs = {}
    for row in rows[1:]:
        for k in ("roc_auc", "accuracy"):
            p = paired(row["folds"], rows[0]["folds"], k)
            pairs[f"{row['method']} | {k}"] = p
            print(f"{row['method']} - preset, {k}: {p['delta']:+.4f} (SE {p['se']:.4f}), "
                  f"won {p['won']}, lost {p['lost']}")  # fmt: skip
    wall = time.time() - t0
    print(f"wall time {wall:.0f} s")
    write_json(af.WORK / f"i3d_width_preset_{key}{value}{'_probe' if args.probe else ''}.json",
               {"rows": rows, "paired": pairs, "seeds": seeds, "i3d_option": {key: value},
                "wall_s": wall})  # fmt: skip


if __name__ == "__main__":
    main()
