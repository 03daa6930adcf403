"""``evaluate``: score a saved run on labelled features (or labelled raw videos)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..features import FeatureStore, open_store, store_key
from ..metrics import classification_report
from ..training import LabelOptions, Run, build_backbone, extractor_for, load_data, load_run
from ._events import lead_time_ap


def evaluate(
    run: Run | str | os.PathLike[str],
    store: FeatureStore | str | os.PathLike[str],
    labels: LabelOptions | str | os.PathLike[str] | None = None,
    *,
    allow_missing: bool = False,
    weights: str | None = None,
    features_cache: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Score a saved run on labelled videos with the run's own threshold.

    Args:
        run: A run directory or a loaded :class:`Run`.
        store: A feature store (or ``.npy`` folder), or videos (a folder, list, CSV or file),
            which are extracted first with the run's own extractor.
        labels: Label CSV or :class:`LabelOptions`; ``None`` = class folders.
        allow_missing: Skip labelled videos without features instead of failing.
        weights: Backbone weights (``timm:`` backbones) when extracting videos.
        features_cache: Keep extracted features here (default: a temporary folder).
        progress: Show extraction progress.

    Returns:
        The classification report (see :func:`vidscope.metrics.classification_report`),
        with ``lead_time_ap`` for binary labels that carry event times.
    """
    r = run if isinstance(run, Run) else load_run(run)
    if weights and r.spec.head_config.get("clip_model"):  # coop: its text tower's file
        from ..backbones import remember_clip_weights

        remember_clip_weights(weights)
    clip_trainer = r.members[0].trainer  # trainers on raw clips score videos themselves
    if hasattr(clip_trainer, "evaluate_videos"):
        return clip_trainer.evaluate_videos(r, store, labels, allow_missing=allow_missing)
    if isinstance(store, FeatureStore) or _looks_like_store(store):
        return _evaluate_store(r, store, labels, allow_missing)
    if features_cache is not None:
        st = _extract(r, store, Path(features_cache), weights, progress)
        return _evaluate_store(r, st, labels, allow_missing)
    with tempfile.TemporaryDirectory(prefix="vidscope-evaluate-") as tmp:
        st = _extract(r, store, Path(tmp) / "store", weights, progress)
        return _evaluate_store(r, st, labels, allow_missing)


def _evaluate_store(r: Run, store: Any, labels: Any, allow_missing: bool) -> dict[str, Any]:
    st, data = load_data(store, labels, allow_missing=allow_missing)
    r.check_store(store_key(st), f"store {st.root}")
    _check_classes(r, data.labels.classes)
    scores = r.scores(data.features)
    y = np.array([r.classes.index(data.labels.classes[i]) for i in data.labels.y])
    report = classification_report(y, scores, labels=r.classes, threshold=r.threshold)
    frames = r.frame_report(data.features, y)  # heads with frame logits (coop)
    if frames is not None:
        report["frame_level"] = frames
    ev = data.labels.event_s
    if r.binary and ev is not None and np.isfinite(ev).any() and r.spec.window is None:
        report["lead_time_ap"] = lead_time_ap(r, st, data.labels.ids, y, ev)
    return report


def _looks_like_store(source: Any) -> bool:
    p = Path(source)
    return (p / "store.json").exists() or (p.is_dir() and any(p.rglob("*.npy")))


def _extract(r: Run, videos: Any, out: Path, weights: str | None, progress: bool) -> FeatureStore:
    from ..features import extract

    if not Path(videos).exists():
        raise InputError(f"{videos}: no such feature store or videos")
    cfg = extractor_for(r, weights=weights)
    extract(videos, out, cfg, backbone=build_backbone(r, cfg), progress=progress)
    return open_store(out)


def _check_classes(run: Run, classes: list[str]) -> None:
    unknown = sorted(set(classes) - set(run.classes))
    if unknown:
        raise InputError(
            f"labels have class(es) {', '.join(unknown)} that run {run.path} never saw "
            f"(it knows {', '.join(run.classes)})"
        )
