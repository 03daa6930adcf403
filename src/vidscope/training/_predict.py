"""Predicting with a run: on a feature store, or on videos extracted on the fly."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import VidscopeError
from ..features import FeatureStore, open_store
from ._run import Run


def predict(
    run: Run,
    source: FeatureStore | str | os.PathLike[str] | list[str],
    *,
    features_cache: str | os.PathLike[str] | None = None,
    weights: str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Scores for every video of a store, or of videos (extracted with the run's settings).

    Args:
        run: A loaded run.
        source: A feature store (or ``.npy`` folder), or videos: a folder, a list/CSV file,
            a video file or a list of paths.
        features_cache: Where to keep features of extracted videos (default: a temporary
            folder, removed afterwards).
        weights: Backbone weights file, for ``timm:`` backbones (the run records their hash).
        progress: Show extraction progress.

    Returns:
        Binary: ``id, score, label``; multi-class: ``id, label, score_<class>...``.
    """
    if isinstance(source, FeatureStore) or _is_store(source):
        store = source if isinstance(source, FeatureStore) else open_store(source)  # type: ignore[arg-type]
        return _predict_store(run, store)
    if features_cache is not None:
        return _predict_store(run, _extract_for(run, source, features_cache, weights, progress))
    with tempfile.TemporaryDirectory(prefix="vidscope-predict-") as tmp:
        return _predict_store(
            run, _extract_for(run, source, Path(tmp) / "store", weights, progress)
        )


def _is_store(source: Any) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    p = Path(source)
    return (p / "store.json").exists() or (p.is_dir() and any(p.rglob("*.npy")))


def _predict_store(run: Run, store: FeatureStore) -> pd.DataFrame:
    run.check_store(store.meta, f"store {store.root}")
    ids = store.ids()
    if not ids:
        raise VidscopeError(f"{store.root}: no videos with features to predict")
    seqs = [store.load(v).features for v in ids]
    return run.predict_sequences(ids, seqs)


def _extract_for(
    run: Run, source: Any, out: str | os.PathLike[str], weights: str | None, progress: bool
) -> FeatureStore:
    from ..backbones import create_backbone
    from ..features import ExtractConfig, extract
    from ..video import SamplingSpec

    cfg = run.config
    backbone_id = cfg["backbone"]
    options = cfg.get("backbone_options") or {}
    backbone = create_backbone(backbone_id["name"], weights=weights, **options)
    check_weights(run, backbone.identity())
    ecfg = ExtractConfig(
        backbone=backbone_id["name"],
        backbone_options=dict(options),
        sampling=SamplingSpec(**cfg["sampling"]),
        seek=cfg.get("seek", "exact"),
        keyframe_tolerance_s=cfg.get("keyframe_tolerance_s") or 0.5,
        image_fps=cfg.get("image_fps", 25.0),
    )
    report = extract(source, out, ecfg, backbone=backbone, progress=progress)
    if report.failed and progress:
        print(f"{len(report.failed)} video(s) failed to extract and get no prediction")
    return open_store(out)


def check_weights(run: Run, identity: dict[str, Any]) -> None:
    """The backbone rebuilt for ``run`` must have the run's weights, then all of its identity.

    Raises:
        VidscopeError: weights differ (pass the same ``--weights`` file).
        StoreError: anything else differs (see :meth:`Run.check_backbone`).
    """
    expected = run.config["backbone"]
    if identity.get("weights") != expected.get("weights"):
        raise VidscopeError(
            f"run {run.path} was trained on {expected['name']} features with weights "
            f"{expected.get('weights')}, but the backbone built here has weights "
            f"{identity.get('weights')}; pass the same --weights file"
        )
    run.check_backbone(identity, f"the {expected['name']} backbone built here")
