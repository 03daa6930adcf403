"""Levers of issue 16 for ``accuracy_fight.py --levers``: feature sets made of extracted stores,
the heads and training settings tried on them, and the paired table against today's best.

Each *source* is one store extracted with ``vidscope.features.extract`` (a backbone and its
``--backbone-option`` settings, 16 uniform frames). A *lever* names the feature parts it uses
(columns of sources, or the tiles of a ``tiles=2x2, tile_pool=concat`` store pooled as
``tile_pool=max`` would pool them) and the head and settings it trains. Its parts are
concatenated per clip into a composed store under ``_work/fight_levers/<lever>/`` with the
layout the same fused extraction would record (``efficientnet_lite2+flow`` with
``--backbone-option grid=3`` gives exactly these columns, in this order), so the library's
own ``compare`` trains and scores it on the held-out folds, exactly as for any store. Composing
stores instead of extracting every combination saves hours on the 2-core machine; the
composed columns equal a fused extraction's up to decoder resizing (each part is decoded at
its own input size, as the fused extractor also does).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

D = 1280  # width of every EfficientNet-Lite


@dataclass(frozen=True)
class Source:
    """One extracted store: a backbone with ``--backbone-option`` settings."""

    backbone: str
    options: dict[str, Any] = field(default_factory=dict)
    frames: int | None = None  # uniform frames per clip; None: --frames (16)


#: The stores the levers draw on (extracted once, 16 uniform frames per clip unless a source
#: says otherwise; a lever reads sources of one sampling only).
SOURCES = {
    "lite0+flow": Source("efficientnet_lite0+flow"),
    "flowgrid": Source("flow", {"grid": 3}),
    "lite0_tiles": Source("efficientnet_lite0", {"tiles": "2x2", "tile_pool": "concat"}),
    "lite2": Source("efficientnet_lite2"),
    "lite0+flow_hflip": Source("efficientnet_lite0+flow", {"tta": "hflip"}),
    "lite0+flow_hflipmax": Source("efficientnet_lite0+flow", {"tta": "hflip", "tta_pool": "max"}),
    "lite0+flow_32": Source("efficientnet_lite0+flow", frames=32),
    "lite0_focus+flow": Source("efficientnet_lite0+flow", {"focus": "motion"}),
    "lite1": Source("efficientnet_lite1"),
    "mnv2": Source("mobilenet_v2"),
    "lite0+i3d+flow": Source("efficientnet_lite0+i3d+flow"),  # the accurate preset's store
    "i3d_hflip": Source("i3d", {"tta": "hflip"}),
    "i3d_160": Source("i3d", {"size": 160}),
    "i3d_s8": Source("i3d", {"clip_stride": 8}),
    "i3d_s32": Source("i3d", {"clip_stride": 32}),
    "i3d_meanmax": Source("i3d", {"pool": "mean_max"}),
    "i3d_w398": Source("i3d", {"width": 398}),
    "i3d_keep": Source("i3d", {"aspect": "keep"}),
}

#: A part: (layout name, function of the sources' ``[T, D_s]`` arrays -> ``[T, w]``).
Part = tuple[str, Callable[[dict[str, np.ndarray]], np.ndarray]]


def cols(source: str, start: int, stop: int | None = None) -> Callable[..., np.ndarray]:
    return lambda s: s[source][:, start:stop]


def tiles_max(s: dict[str, np.ndarray]) -> np.ndarray:
    """``[global | max over the 4 tiles]``: what ``tile_pool=max`` stores (2 D)."""
    x = s["lite0_tiles"]
    return np.concatenate([x[:, :D], x[:, D:].reshape(len(x), 4, D).max(axis=1)], axis=1)


LITE0: Part = ("efficientnet_lite0", cols("lite0+flow", 0, D))
FLOW: Part = ("flow", cols("lite0+flow", D))
FLOWGRID: Part = ("flow", cols("flowgrid", 0))
#: The fused ``efficientnet_lite0+flow`` extraction with ``tta=hflip`` (applied to lite0 only).
HFLIP: Part = ("efficientnet_lite0", cols("lite0+flow_hflip", 0, D))
HFLIP_FLOW: Part = ("flow", cols("lite0+flow_hflip", D))
HFLIPMAX: Part = ("efficientnet_lite0", cols("lite0+flow_hflipmax", 0, D))
#: Today's best sampled twice as densely (32 uniform frames per clip).
LITE0_32: Part = ("efficientnet_lite0", cols("lite0+flow_32", 0, D))
FLOW_32: Part = ("flow", cols("lite0+flow_32", D))
#: ``focus=motion``: ``[global | crop where the frame moves]`` (2 D), and its flow part.
FOCUS: Part = ("efficientnet_lite0", cols("lite0_focus+flow", 0, 2 * D))
FOCUS_FLOW: Part = ("flow", cols("lite0_focus+flow", 2 * D))
FOCUS_GLOBAL: Part = ("efficientnet_lite0", cols("lite0_focus+flow", 0, D))
FOCUS_CROP: Part = ("efficientnet_lite0", cols("lite0_focus+flow", D, 2 * D))
#: The ``accurate`` preset's fused store: Lite0 (1280), I3D (1024), flow (10).
I3D: Part = ("i3d", cols("lite0+i3d+flow", D, D + 1024))
I3D_FLOW: Part = ("flow", cols("lite0+i3d+flow", D + 1024))
#: I3D with ``tta=hflip`` (each window and its mirror image, averaged), its own store.
I3D_HFLIP: Part = ("i3d", cols("i3d_hflip", 0))
#: I3D on 160 x 160 windows (``--backbone-option size=160``: about half the pixels), its own store.
I3D_160: Part = ("i3d", cols("i3d_160", 0))
#: I3D windows on a grid 8 frames apart instead of 16 (``clip_stride=8``): more distinct
#: windows per clip, about 1.7x the encoder passes.
I3D_S8: Part = ("i3d", cols("i3d_s8", 0))
#: I3D windows 32 frames apart (``clip_stride=32``: windows that do not overlap, fewer passes).
I3D_S32: Part = ("i3d", cols("i3d_s32", 0))
#: I3D with ``pool=mean_max``: ``[spatial mean | spatial max]`` of ``Mixed_5c`` (2048), its own
#: store; the max half alone is what ``pool=max`` stores.
I3D_MEANMAX: Part = ("i3d", cols("i3d_meanmax", 0))
I3D_MAX: Part = ("i3d", cols("i3d_meanmax", 1024))
#: I3D on 398 x 224 windows (``width=398``): 16:9 footage, most of these clips, in proportion
#: instead of squashed to a square (4:3 clips are then stretched 1.33x instead of squeezed).
I3D_W398: Part = ("i3d", cols("i3d_w398", 0))
#: I3D on each clip at its own proportions (``aspect=keep``: short side 224, long side to
#: match, rounded to a multiple of 32: 384 x 224 for 16:9, 288 x 224 for 4:3).
I3D_KEEP: Part = ("i3d", cols("i3d_keep", 0))


@dataclass
class Lever:
    """One row of the levers table.

    Attributes:
        name: Row label (the equivalent ``--backbone`` / options / head).
        parts: Feature parts, appearance first (its layout tells the tree head what to project).
        head: Registered head.
        head_options: ``TrainConfig.head_options``.
        train: Other ``TrainConfig`` fields.
        refit: Tree heads only: after ``compare`` (fit on the inner train part, threshold on
            the inner val), fit again on train + inner val (the four other folds) and score
            the held-out fold with the threshold chosen before (:func:`refit_folds`).
    """

    name: str
    parts: tuple[Part, ...]
    head: str = "stats_xgboost"
    head_options: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    refit: bool = False


BASELINE = "lite0+flow | stats_xgboost (today's best)"
MNV2 = "mobilenet_v2 + flow"
I3D_ROW = "i3d + flow (the accurate preset's store)"
I3D_HFLIP_ROW = "i3d tta=hflip + flow"
I3D_LINEAR = "i3d + flow | linear_probe"
I3D_160_ROW = "i3d size=160 + flow"
I3D_160_LINEAR = "i3d size=160 + flow | linear_probe"
I3D_S8_ROW = "i3d clip_stride=8 + flow"
I3D_S8_LINEAR = "i3d clip_stride=8 + flow | linear_probe"
I3D_S32_ROW = "i3d clip_stride=32 + flow"
I3D_S32_LINEAR = "i3d clip_stride=32 + flow | linear_probe"
I3D_MAX_ROW = "i3d pool=max + flow"
I3D_MAX_LINEAR = "i3d pool=max + flow | linear_probe"
I3D_MEANMAX_ROW = "i3d pool=mean_max + flow"
I3D_MEANMAX_LINEAR = "i3d pool=mean_max + flow | linear_probe"
I3D_W398_ROW = "i3d width=398 + flow"
I3D_W398_LINEAR = "i3d width=398 + flow | linear_probe"
I3D_KEEP_ROW = "i3d aspect=keep + flow"
I3D_KEEP_LINEAR = "i3d aspect=keep + flow | linear_probe"


def levers() -> list[Lever | Ensemble]:
    """Today's best first, then every lever tried (row numbers for ``--levers 0,2,...``)."""
    lite2 = ("efficientnet_lite2", cols("lite2", 0))
    tmax = ("efficientnet_lite0", tiles_max)
    grid = "lite0 + flow grid=3"
    return [
        Lever(BASELINE, (LITE0, FLOW), refit=True),  # 0
        Lever("lite0 | stats_xgboost", (LITE0,)),  # 1
        Lever(grid, (LITE0, FLOWGRID), refit=True),  # 2
        Lever("lite2 + flow", (lite2, FLOW), refit=True),  # 3
        Lever("lite0 tiles=2x2 (max) + flow", (tmax, FLOW)),  # 4
        Lever("lite2 + flow grid=3", (lite2, FLOWGRID), refit=True),  # 5
        Lever("lite0 tiles=2x2 (max) + flow grid=3", (tmax, FLOWGRID)),  # 6
        Lever("lite0+lite2+flow (lite2 kept out of the PCA)", (LITE0, lite2, FLOW)),  # 7
        Lever(  # 8: one PCA over both appearance parts, motion kept out
            "lite0+lite2+flow, keep_last=10 (one PCA)",
            (LITE0, lite2, FLOW),
            head_options={"keep_last": 10},
        ),
        Ensemble("ensemble: rows 0 + 3 (lite0, lite2; refit)", (BASELINE, "lite2 + flow")),  # 9
        Ensemble(  # 10
            "ensemble: rows 2 + 5 + 6 (grid; 2, 5 refit)",
            (grid, "lite2 + flow grid=3", "lite0 tiles=2x2 (max) + flow grid=3"),
        ),
        Ensemble("ensemble: rows 0 + 2-6 (all trees; refit where done)", ALL_TREES),  # 11
        Lever("lite0 tta=hflip + flow", (HFLIP, HFLIP_FLOW), refit=True),  # 12: test-time flip
        Lever("lite0 tta=hflip, tta_pool=max + flow", (HFLIPMAX, HFLIP_FLOW), refit=True),  # 13
        Lever("lite0+flow, 32 frames per clip", (LITE0_32, FLOW_32), refit=True),  # 14
        Lever("lite0 focus=motion + flow", (FOCUS, FOCUS_FLOW), refit=True),  # 15
        Lever("focus crop view alone + flow", (FOCUS_CROP, FOCUS_FLOW), refit=True),  # 16
        Lever(  # 17: the same decoding route as row 15, without the crop
            "focus store: global view alone + flow", (FOCUS_GLOBAL, FOCUS_FLOW), refit=True
        ),
        Lever("lite1 + flow", (("efficientnet_lite1", cols("lite1", 0)), FLOW), refit=True),  # 18
        Lever(MNV2, (("mobilenet_v2", cols("mnv2", 0)), FLOW), refit=True),  # 19
        Ensemble("ensemble: rows 0 + 19 (lite0, mobilenet_v2; refit)", (BASELINE, MNV2)),  # 20
        Ensemble(  # 21: every backbone that ships weights offline, one tree each
            "ensemble: rows 0 + 3 + 18 + 19 (lite0, lite1, lite2, mobilenet_v2; refit)",
            (BASELINE, "lite2 + flow", "lite1 + flow", MNV2),
        ),
        Lever(I3D_ROW, (I3D, I3D_FLOW), refit=True),  # 22: the preset's second member
        Lever(I3D_HFLIP_ROW, (I3D_HFLIP, I3D_FLOW), refit=True),  # 23
        Ensemble("ensemble: rows 0 + 22 (lite0, i3d; refit)", (BASELINE, I3D_ROW)),  # 24
        Ensemble("ensemble: rows 0 + 23 (lite0, i3d tta=hflip; refit)", (BASELINE, I3D_HFLIP_ROW)),
        Lever(I3D_LINEAR, (I3D, I3D_FLOW), head="linear_probe", refit=True),  # 26
        Lever("lite0 + flow | linear_probe", (LITE0, FLOW), head="linear_probe", refit=True),  # 27
        Ensemble(  # 28: the accurate preset's members since 2026-12-02, composed
            "ensemble: rows 0 + 22 + 26 (lite0 tree, i3d tree, i3d linear probe; refit)",
            (BASELINE, I3D_ROW, I3D_LINEAR),
        ),
        Lever(I3D_160_ROW, (I3D_160, I3D_FLOW), refit=True),  # 29: a cheaper I3D
        Lever(I3D_160_LINEAR, (I3D_160, I3D_FLOW), head="linear_probe", refit=True),  # 30
        Ensemble(  # 31: the accurate preset's members with the cheaper I3D
            "ensemble: rows 0 + 29 + 30 (as row 28, i3d at 160 px; refit)",
            (BASELINE, I3D_160_ROW, I3D_160_LINEAR),
        ),
        Lever(I3D_S8_ROW, (I3D_S8, I3D_FLOW), refit=True),  # 32: denser I3D windows
        Lever(I3D_S8_LINEAR, (I3D_S8, I3D_FLOW), head="linear_probe", refit=True),  # 33
        Ensemble(  # 34: the accurate preset's members with denser windows
            "ensemble: rows 0 + 32 + 33 (as row 28, i3d clip_stride=8; refit)",
            (BASELINE, I3D_S8_ROW, I3D_S8_LINEAR),
        ),
        Lever(I3D_S32_ROW, (I3D_S32, I3D_FLOW), refit=True),  # 35: sparser I3D windows
        Lever(I3D_S32_LINEAR, (I3D_S32, I3D_FLOW), head="linear_probe", refit=True),  # 36
        Ensemble(  # 37: the accurate preset's members with sparser windows
            "ensemble: rows 0 + 35 + 36 (as row 28, i3d clip_stride=32; refit)",
            (BASELINE, I3D_S32_ROW, I3D_S32_LINEAR),
        ),
        Lever(I3D_MAX_ROW, (I3D_MAX, I3D_FLOW), refit=True),  # 38: spatial max of Mixed_5c
        Lever(I3D_MAX_LINEAR, (I3D_MAX, I3D_FLOW), head="linear_probe", refit=True),  # 39
        Ensemble(  # 40: the accurate preset's members with spatially max-pooled I3D
            "ensemble: rows 0 + 38 + 39 (as row 28, i3d pool=max; refit)",
            (BASELINE, I3D_MAX_ROW, I3D_MAX_LINEAR),
        ),
        Lever(I3D_MEANMAX_ROW, (I3D_MEANMAX, I3D_FLOW), refit=True),  # 41: mean and max
        Lever(I3D_MEANMAX_LINEAR, (I3D_MEANMAX, I3D_FLOW), head="linear_probe", refit=True),  # 42
        Ensemble(  # 43: the accurate preset's members with mean and max pooled I3D
            "ensemble: rows 0 + 41 + 42 (as row 28, i3d pool=mean_max; refit)",
            (BASELINE, I3D_MEANMAX_ROW, I3D_MEANMAX_LINEAR),
        ),
        Lever(I3D_W398_ROW, (I3D_W398, I3D_FLOW), refit=True),  # 44: 16:9 windows
        Lever(I3D_W398_LINEAR, (I3D_W398, I3D_FLOW), head="linear_probe", refit=True),  # 45
        Ensemble(  # 46: the accurate preset's members with 16:9 I3D windows
            "ensemble: rows 0 + 44 + 45 (as row 28, i3d width=398; refit)",
            (BASELINE, I3D_W398_ROW, I3D_W398_LINEAR),
        ),
        Lever(I3D_KEEP_ROW, (I3D_KEEP, I3D_FLOW), refit=True),  # 47: own proportions
        Lever(I3D_KEEP_LINEAR, (I3D_KEEP, I3D_FLOW), head="linear_probe", refit=True),  # 48
        Ensemble(  # 49: the accurate preset's members with each clip at its own proportions
            "ensemble: rows 0 + 47 + 48 (as row 28, i3d aspect=keep; refit)",
            (BASELINE, I3D_KEEP_ROW, I3D_KEEP_LINEAR),
        ),
    ]


#: Members of the all-trees ensemble.
ALL_TREES = (
    BASELINE,
    "lite0 + flow grid=3",
    "lite2 + flow",
    "lite0 tiles=2x2 (max) + flow",
    "lite2 + flow grid=3",
    "lite0 tiles=2x2 (max) + flow grid=3",
)


def tree_folds(
    data: Any, splits: list[Any], lever: Lever, seed: int, threads: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[tuple[np.ndarray, ...]]]:
    """The lever's tree (or linear probe) head on each fold, as ``compare`` trains it, without
    the run files.

    Per fold: the head (``random_state`` = the fold seed, as the tree trainer sets it) is fit
    on the inner train part, the threshold (max balanced accuracy, the library default) is
    chosen on the inner val, and the held-out fold is scored. With ``lever.refit`` the same
    head is also fit on train + inner val (the four other folds) and scored with that
    threshold. Nothing is chosen on the held-out fold. (Checked: today's best reproduces
    ``compare``'s per-fold ROC-AUC.)

    Returns:
        Test metrics per fold, the refit's per fold (empty without ``refit``), and per fold
        ``(val y, val scores, test y, test scores)`` for ensembles (of the refit when given).
    """
    from _fight_common import fold_metrics

    from vidscope.metrics import choose_threshold, classification_report
    from vidscope.models import create_head
    from vidscope.training import TrainConfig

    y, classes = data.labels.y, data.labels.classes
    plain, refit, scores = [], [], []

    def fitted(idx: np.ndarray) -> Any:
        options = {"random_state": seed, **lever.head_options}
        if lever.head == "stats_xgboost":
            options.setdefault("n_jobs", threads)
        model = create_head(lever.head, num_features=data.num_features, num_outputs=1,
                            layout=data.layout, **options)  # fmt: skip
        x, mask = data.padded(idx)
        if lever.head == "linear_probe":  # as its trainer does: inner CV split by group
            return model.fit(x, y[idx], mask=mask, groups=data.labels.groups[idx])
        return model.fit(x, y[idx], mask=mask)

    def proba(model: Any, idx: np.ndarray) -> np.ndarray:
        x, mask = data.padded(idx)
        return model.predict_proba(x, mask)[:, 1]

    for i, s in enumerate(splits):
        extra = {"seed": seed, "fold": i, "best_epoch": 0, "epochs_run": 1}
        model = fitted(s.train)
        pv, pt = proba(model, s.val), proba(model, s.test)
        thr = choose_threshold(y[s.val], pv, metric=TrainConfig().threshold)
        plain.append(fold_metrics(classification_report(y[s.test], pt, labels=classes,
                                                        threshold=thr), extra))  # fmt: skip
        if lever.refit:
            pt = proba(fitted(np.concatenate([s.train, s.val])), s.test)
            refit.append(fold_metrics(classification_report(y[s.test], pt, labels=classes,
                                                            threshold=thr), extra))  # fmt: skip
        scores.append((y[s.val], pv, y[s.test], pt))
    return plain, refit, scores


@dataclass
class Ensemble:
    """A row that averages the held-out probabilities of earlier levers' runs.

    Attributes:
        name: Row label.
        members: Names of the levers (earlier in the table) whose runs are averaged.
    """

    name: str
    members: tuple[str, ...]


def ensemble_folds(
    ens: Ensemble,
    scores: dict[str, list[tuple[np.ndarray, ...]]],
    folds: list[dict[str, Any]],
    classes: list[str],
    truth: list[tuple[np.ndarray, np.ndarray]],
) -> list[dict[str, Any]]:
    """Per-fold test metrics of the mean of the members' probabilities.

    The averaged inner-val scores choose the threshold (max balanced accuracy, the library
    default), so nothing is chosen on the held-out fold. Each member's scores are first put in
    today's class order: a member cached by a library version that made the other class
    positive has exactly flipped targets, and its probabilities are flipped to match.

    Args:
        ens: The ensemble.
        scores: Per lever name, per fold ``(val y, val scores, test y, test scores)``.
        folds: The first member's per-fold records (for the seed and fold numbers).
        classes: Today's class names (index 1 = the positive class).
        truth: Per fold, today's ``(val y, test y)``.

    Raises:
        RuntimeError: if a member's targets are neither today's nor their flip.
    """
    from _fight_common import fold_metrics

    from vidscope.metrics import choose_threshold, classification_report

    out = []
    for k, ref in enumerate(folds):
        yv, yt = truth[k]
        pv, pt = [], []
        for m in ens.members:
            mv, sv, mt, st = (np.asarray(a) for a in scores[m][k])
            if np.array_equal(mv, yv) and np.array_equal(mt, yt):
                pv.append(sv), pt.append(st)
            elif np.array_equal(mv, 1 - yv) and np.array_equal(mt, 1 - yt):
                pv.append(1 - sv), pt.append(1 - st)
            else:
                raise RuntimeError(f"{ens.name}: {m} was scored on other clips in fold {k}")
        thr = choose_threshold(yv, np.mean(pv, axis=0), metric="balanced_accuracy")
        report = classification_report(yt, np.mean(pt, axis=0), labels=classes, threshold=thr)
        extra = {"seed": ref["seed"], "fold": ref["fold"], "best_epoch": 0, "epochs_run": 1}
        out.append(fold_metrics(report, extra))
    return out


def slug(name: str) -> str:
    """A folder name for a lever."""
    import re

    return re.sub(r"\W+", "_", name).strip("_")


def needed(chosen: list[Lever | Ensemble]) -> list[str]:
    """Source names the ``chosen`` levers read, in :data:`SOURCES` order."""
    probe = {name: _Probe(name) for name in SOURCES}
    used: set[str] = set()
    for lever in chosen:
        if isinstance(lever, Ensemble):
            continue
        for _, fn in lever.parts:
            try:
                fn(probe)  # type: ignore[arg-type]
            except _Used as hit:
                used.add(hit.args[0])
    return [n for n in SOURCES if n in used]


class _Used(Exception):
    pass


class _Probe:
    """Stands in for a source array and reports which source a part reads."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, key: Any) -> Any:
        raise _Used(self.name)


def compose(lever: Lever, stores: dict[str, Path], out: Path) -> Path:
    """Write the lever's composed store to ``out`` (replacing it) and return its path.

    Raises:
        RuntimeError: if the sources hold different clips or sample times (never mixed).
    """
    from vidscope.features import FeatureStore, open_store

    opened = {n: open_store(p) for n, p in stores.items()}
    first = next(iter(opened.values()))
    ids = first.ids()
    if any(s.ids() != ids for s in opened.values()):
        raise RuntimeError(f"{lever.name}: the source stores hold different clips")
    shutil.rmtree(out, ignore_errors=True)
    arrays = {vid: {n: s.load(vid) for n, s in opened.items()} for vid in ids}
    sample = arrays[ids[0]]
    widths = [(name, fn({n: q.features for n, q in sample.items()}).shape[1]) for name, fn in
              lever.parts]  # fmt: skip
    layout = _merge(widths)
    meta = dict(first.meta)
    meta["backbone"] = {
        "name": lever.name,
        "composed_from": {n: dict(s.meta["backbone"]) for n, s in opened.items()},
    }
    meta["layout"] = [[n, w] for n, w in layout]
    meta["backbone_options"] = {}
    store = FeatureStore.create(out, meta)
    rows = first.rows
    for vid in ids:
        seqs = arrays[vid]
        times = next(iter(seqs.values())).times_s
        if any(not np.allclose(q.times_s, times, atol=1e-3) for q in seqs.values()):
            raise RuntimeError(f"{lever.name}: {vid} was sampled at other times in some source")
        feats = {n: q.features for n, q in seqs.items()}
        x = np.concatenate([fn(feats) for _, fn in lever.parts], axis=1).astype(np.float32)
        rel = store.write(vid, x, times)
        store.record({**rows[vid], "features": rel, "checksum": None, "bytes": None})
    store.compact()
    return out


def _merge(widths: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Layout entries, neighbouring entries of one name joined (tiles pooled with the global)."""
    out: list[tuple[str, int]] = []
    for name, w in widths:
        if out and out[-1][0] == name:
            out[-1] = (name, out[-1][1] + w)
        else:
            out.append((name, w))
    return out
