"""Predicting with a run: on a feature store, or on videos extracted on the fly."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..data import scorable_sequences
from ..errors import IncompatibleError, VidscopeError, VidscopeWarning
from ..features import ExtractConfig, FeatureStore, open_store, store_key
from ._run import Run

if TYPE_CHECKING:
    import pandas as pd

#: Prediction columns by name, in output order: one value per video.
Columns = dict[str, list[Any]]


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
        Binary: ``id, score, label``; multi-class: ``id, label, score_<class>...``; plus
        ``error`` (empty when scored) when some video could not be scored, and ``note``
        (``partial: <what is damaged>``) when some video was scored on a partly damaged file.
    """
    import pandas as pd

    return pd.DataFrame(
        predict_columns(
            run, source, features_cache=features_cache, weights=weights, progress=progress
        )
    )


def predict_columns(
    run: Run,
    source: FeatureStore | str | os.PathLike[str] | list[str],
    *,
    features_cache: str | os.PathLike[str] | None = None,
    weights: str | None = None,
    progress: bool = False,
) -> Columns:
    """:func:`predict`'s table as plain columns (lists of numpy scalars or str, NaN where a
    video has no score), without importing pandas on a store: what the CLI writes."""
    if weights and run.spec.head_config.get("clip_model"):  # coop: its text tower's file
        from ..backbones import remember_clip_weights

        remember_clip_weights(weights)
    clip_trainer = run.members[0].trainer  # trainers on raw clips score videos themselves
    if hasattr(clip_trainer, "predict_videos"):
        df = clip_trainer.predict_videos(run, source)
        return {str(c): list(df[c]) for c in df.columns}
    if isinstance(source, FeatureStore) or _is_store(source):
        store = source if isinstance(source, FeatureStore) else open_store(source)  # type: ignore[arg-type]
        return _predict_store(run, store)
    if features_cache is not None:
        return _predict_store(run, _extract_for(run, source, features_cache, weights, progress))
    with tempfile.TemporaryDirectory(prefix="vidscope-predict-") as tmp:
        store = _extract_for(run, source, Path(tmp) / "store", weights, progress)
        return _predict_store(run, store, temporary=True)


def _is_store(source: Any) -> bool:
    if not isinstance(source, (str, os.PathLike)):
        return False
    p = Path(source)
    return (p / "store.json").exists() or (p.is_dir() and any(p.rglob("*.npy")))


def _predict_store(run: Run, store: FeatureStore, temporary: bool = False) -> Columns:
    """Scores of every stored video; a video whose features are empty, non-finite or
    unreadable gets a row with no score (NaN) and the reason in ``error``; a video scored on a
    partly damaged file says so in ``note``. ``temporary``: the store is a folder removed
    afterwards, so messages name the videos, not its path."""
    key = store_key(store)
    where = "the videos given" if temporary else f"store {store.root}"
    run.check_store(key, where)
    note = run.sampling_note(key, where)
    if note:
        warnings.warn(note, VidscopeWarning, stacklevel=2)
    ids = store.ids()
    if not ids:
        failed = [f"{v}: {store.rows[v].get('error')}" for v in store.ids(("failed",))[:3]]
        raise VidscopeError(
            f"{where}: no videos with features to predict"
            + (f" (extraction failed: {'; '.join(failed)})" if failed else "")
        )
    ids += store.ids(("failed",))
    seqs, errors = scorable_sequences(store, ids)
    errors = {vid: _reason(store, vid, why, temporary) for vid, why in errors.items()}
    good = [s.video_id for s in seqs]
    notes = {
        vid: f"partial: {store.rows[vid].get('error') or 'damaged file'}; scored on what decoded"
        for vid in good
        if store.rows[vid].get("status") == "partial"
    }
    cols = run.prediction_columns(good, [s.features for s in seqs]) if seqs else {"id": []}
    out: Columns = {name: list(values) for name, values in cols.items()}
    if not errors and not notes:
        return out
    row = {vid: i for i, vid in enumerate(good)}
    order = {vid: i for i, vid in enumerate(ids)}
    extra = [name for name, has in (("error", errors), ("note", notes)) if has]
    merged: Columns = {name: [] for name in [*out, *extra]}
    for vid in sorted([*good, *errors], key=order.__getitem__):
        i = row.get(vid)
        for name in out:
            if name == "id":
                merged[name].append(vid)
            else:
                merged[name].append(np.nan if i is None else out[name][i])
        if errors:
            merged["error"].append("" if i is not None else errors[vid])
        if notes:
            merged["note"].append(notes.get(vid, ""))
    return merged


def _reason(store: FeatureStore, video_id: str, why: str, temporary: bool) -> str:
    """Why a video got no score: a failed extraction's recorded reason (what failed and why),
    else the load error, without the path of a temporary store."""
    row = store.rows.get(video_id) or {}
    if row.get("status") == "failed":
        return f"extraction failed: {row.get('error') or 'no reason recorded'}"
    if temporary:
        why = why.replace(f"{store.root}/", "").replace(f"{store.root}: ", "")
    return why


def _extract_for(
    run: Run, source: Any, out: str | os.PathLike[str], weights: str | None, progress: bool
) -> FeatureStore:
    from ..features import extract

    ecfg = extractor_for(run, weights=weights)
    report = extract(source, out, ecfg, backbone=build_backbone(run, ecfg), progress=progress)
    if report.failed and progress:
        print(f"{len(report.failed)} video(s) failed to extract and get no prediction")
    return open_store(out)


def extractor_for(run: Run, **overrides: Any) -> ExtractConfig:
    """The one way to rebuild the extractor ``run`` expects: its store key's settings
    (backbone and options, sampling, seek mode and tolerance, image fps), plus ``overrides``
    (``weights``, or the timeline's ``sampling``)."""
    return run.spec.store.extract_config(**overrides)


def build_backbone(run: Run, cfg: ExtractConfig) -> Any:
    """The backbone of ``cfg``, checked to be the one ``run`` was trained on.

    Raises:
        IncompatibleError: weights or any other part of the identity differ.
    """
    from ..backbones import create_backbone

    model = create_backbone(cfg.backbone, weights=cfg.weights, **cfg.backbone_options)
    check_weights(run, model.identity())
    return model


def check_weights(run: Run, identity: dict[str, Any]) -> None:
    """The backbone rebuilt for ``run`` must have the run's weights, then all of its identity.

    Raises:
        IncompatibleError: weights differ (pass the same ``--weights`` file), or anything
            else differs (see :meth:`Run.check_store`).
    """
    expected = run.spec.store.backbone
    if identity.get("weights") != expected.get("weights"):
        raise IncompatibleError(
            f"run {run.path} was trained on {expected.get('name')} features with weights "
            f"{expected.get('weights')}, but the backbone built here has weights "
            f"{identity.get('weights')}; pass the same --weights file"
        )
    run.check_backbone(identity, f"the {expected.get('name')} backbone built here")
