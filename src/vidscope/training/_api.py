"""Public training API: ``train``, ``evaluate``, ``compare``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..data import LabelSet, SequenceSet, Split, load_sequences, make_splits, read_labels
from ..features import FeatureStore, open_store
from ..features._io import atomic_write_json
from ._config import TrainConfig
from ._fit import SplitResult, fit_split
from ._loop import EpochHook
from ._run import Run, load_run

StoreLike = FeatureStore | str | os.PathLike[str]


@dataclass
class LabelOptions:
    """Where labels come from (see :func:`vidscope.data.read_labels`)."""

    labels: str | os.PathLike[str] | None = None
    id_column: str | None = None
    label_column: str | None = None
    split_column: str | None = None
    group_column: str | None = None
    positive_class: str | None = None


@dataclass
class WindowOptions:
    """Window-level training from event annotations (``vidscope train --annotations``).

    Attributes:
        annotations: Events CSV (``file_name,start_time,end_time[,label]``) or a folder of
            ``<class>_timestamp.csv`` files; store videos without events are normal.
        window_s: Window length in seconds (``--window``).
        overlap: Fraction by which consecutive windows overlap (``--overlap``).
        min_overlap: Share of a window an event must cover to label it (``--min-overlap``).
        drop_after_event: Drop the normal windows of an event video that end after its first
            event starts (``--drop-after-event``).
    """

    annotations: str | os.PathLike[str]
    window_s: float = 1.0
    overlap: float = 0.5
    min_overlap: float = 0.5
    drop_after_event: bool = False

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise ValueError(f"--window must be > 0, got {self.window_s}")
        if not 0 <= self.overlap < 1:
            raise ValueError(f"--overlap must be in [0, 1), got {self.overlap}")

    @property
    def stride_s(self) -> float:
        return self.window_s * (1.0 - self.overlap)


def load_windows(store: StoreLike, opts: WindowOptions) -> tuple[FeatureStore, SequenceSet]:
    """Windows of every stored video, labelled from the annotations."""
    from ..data._annotations import read_annotations
    from ..data._windows import window_sequences

    st = store if isinstance(store, FeatureStore) else open_store(store)
    ids = st.ids()
    durations = {v: float(st.rows[v]["duration_s"]) for v in ids if st.rows[v].get("duration_s")}
    events = read_annotations(opts.annotations, video_ids=ids, durations_s=durations)
    data = window_sequences(
        st,
        events,
        window_s=opts.window_s,
        stride_s=opts.stride_s,
        min_overlap=opts.min_overlap,
        drop_after_event=opts.drop_after_event,
    )
    data.window = {"window_s": opts.window_s, "stride_s": opts.stride_s}
    return st, data


@dataclass
class TrainResult:
    """A finished training run.

    Attributes:
        run_dir: Where ``config.json``, weights, ``metrics.json`` and plots are.
        report: The report to quote (k-fold: mean ± std over folds, ``<metric>_std`` keys):
            on the held-out folds or given test split when there is one, else validation.
        splits: Per-split results.
        notes: Warnings worth showing (videos left out, ...).
        scope: ``"test"`` or ``"val"``: which videos ``report`` scored.
    """

    run_dir: Path
    report: dict[str, Any]
    splits: list[SplitResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scope: str = "val"

    def load(self) -> Run:
        """The trained run, ready to predict."""
        return load_run(self.run_dir)


def load_data(
    store: StoreLike, labels: LabelOptions | str | os.PathLike[str] | None, *, allow_missing: bool
) -> tuple[FeatureStore, SequenceSet]:
    """Open the store, read the labels, load the labelled features."""
    st = store if isinstance(store, FeatureStore) else open_store(store)
    opts = labels if isinstance(labels, LabelOptions) else LabelOptions(labels)
    labelset: LabelSet = read_labels(
        st.ids(),
        opts.labels,
        id_column=opts.id_column,
        label_column=opts.label_column,
        split_column=opts.split_column,
        group_column=opts.group_column,
        manifest=st.manifest(),
        positive_class=opts.positive_class,
    )
    return st, load_sequences(st, labelset, allow_missing=allow_missing)


def train(
    store: StoreLike,
    labels: LabelOptions | str | os.PathLike[str] | None = None,
    *,
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    resume: bool = False,
    progress: Any = None,
    on_epoch_end: EpochHook | None = None,
    windows: WindowOptions | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a video classifier on cached features.

    Args:
        store: Feature store (path or object), or a ``root/split/class/*.npy`` folder.
        labels: Label CSV path or :class:`LabelOptions`; ``None`` = class folders.
        out: Run directory to write.
        config: Settings; keyword ``overrides`` replace single fields.
        resume: Continue from ``out``'s last checkpoints.
        progress: Called with each epoch's row of metrics (for progress display).
        on_epoch_end: Called as ``on_epoch_end(epoch, row)`` after each epoch.
        windows: Train a window-level head from event annotations instead of video labels.
    """
    cfg = replace(config or TrainConfig(), **overrides)
    if windows is not None:
        st, data = load_windows(store, windows)
    else:
        st, data = load_data(store, labels, allow_missing=cfg.allow_missing)
    splits = splits_for(data, cfg)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    many = len(splits) > 1
    results = [
        fit_split(
            data,
            s,
            cfg,
            root / s.name if many else root,
            resume=resume,
            progress=progress,
            on_epoch_end=on_epoch_end,
        )
        for s in splits
    ]
    report, scope = headline_report(results)
    _write_config(root, st, data, cfg, results, [s.name for s in splits] if many else None)
    test = combined([r.test_report for r in results]) if scope == "test" else None
    metrics = {"val": combined([r.report for r in results]), "test": test, "scope": scope}
    atomic_write_json(root / "metrics.json", {**metrics, "splits": [r.name for r in results]})
    if many:
        from ..metrics import plot_confusion_matrix

        cm = np.array(report["confusion_matrix"])  # summed over the folds
        plot_confusion_matrix(cm, data.labels.classes, root / "confusion_matrix.png")
        if scope == "test":
            _write_out_of_fold(root, [s.name for s in splits])
    return TrainResult(root, report, results, list(data.labels.notes), scope)


def splits_for(data: SequenceSet, cfg: TrainConfig) -> list[Split]:
    """The splits ``cfg`` asks for (k-fold with an inner validation split unless told not to)."""
    return make_splits(
        data.labels,
        mode=cfg.split,
        val_fraction=cfg.val_fraction,
        folds=cfg.folds,
        seed=cfg.seed,
        inner_val=cfg.inner_val,
    )


def combined(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report as is; several (folds) as mean and ``<metric>_std``."""
    if len(reports) == 1:
        return reports[0]
    from ..metrics import aggregate_folds

    return aggregate_folds(reports)


def headline_report(results: list[SplitResult]) -> tuple[dict[str, Any], str]:
    """The report to quote and its scope: ``"test"`` when every split scored unseen videos
    (k-fold's held-out folds, a given test split), else ``"val"``."""
    if all(r.test_report is not None for r in results):
        return combined([r.test_report for r in results]), "test"  # type: ignore[misc]
    return combined([r.report for r in results]), "val"


def _write_out_of_fold(root: Path, folds: list[str]) -> None:
    """``root/oof_predictions.csv``: every video's score from the fold that held it out."""
    text = {"id": str, "true": str, "pred": str}  # class names stay as written ("NA", "01")
    parts = [
        pd.read_csv(root / f / "test_predictions.csv", dtype=text, keep_default_na=False)
        for f in folds
    ]
    for f, df in zip(folds, parts, strict=True):
        df.insert(1, "fold", f)
    pd.concat(parts, ignore_index=True).to_csv(root / "oof_predictions.csv", index=False)


def _write_config(
    root: Path,
    store: FeatureStore,
    data: SequenceSet,
    cfg: TrainConfig,
    results: list[SplitResult],
    folds: list[str] | None,
) -> None:
    model = results[0].model
    head_config = getattr(model, "config", None)
    if head_config is None:  # tree heads: sklearn params
        head_config = {
            **model.get_params(),
            "num_features": data.num_features,
            "num_outputs": 1 if data.labels.num_classes == 2 else data.labels.num_classes,
            "layout": data.layout,
        }
    meta = store.meta
    durations = [store.rows.get(v, {}).get("duration_s") for v in data.labels.ids]
    known = [float(d) for d in durations if d is not None and np.isfinite(d)]
    atomic_write_json(
        root / "config.json",
        {
            "vidscope_version": __version__,
            "head": cfg.head,
            "head_config": head_config,
            "num_features": data.num_features,
            "layout": data.layout,
            "classes": data.labels.classes,
            "backbone": meta.get("backbone", {}),
            "backbone_options": meta.get("backbone_options", {}),
            "store_format": meta.get("format", "store"),
            "sampling": meta.get("sampling"),
            "seek": meta.get("seek", "exact"),
            "keyframe_tolerance_s": meta.get("keyframe_tolerance_s"),
            "image_fps": meta.get("image_fps", 25.0),
            "store_layout": meta.get("layout"),
            "train": cfg.to_dict(),
            "folds": folds,
            "num_params": results[0].num_params,
            "clip_duration_s": float(np.median(known)) if known else None,
            "window": data.window,
        },
    )


def evaluate(
    run: Run | str | os.PathLike[str],
    store: StoreLike,
    labels: LabelOptions | str | os.PathLike[str] | None = None,
    *,
    allow_missing: bool = False,
) -> dict[str, Any]:
    """Score a saved run on a labelled store with the run's own threshold.

    Returns:
        The classification report (see :func:`vidscope.metrics.classification_report`).
    """
    from ..metrics import classification_report

    r = run if isinstance(run, Run) else load_run(run)
    st, data = load_data(store, labels, allow_missing=allow_missing)
    r.check_store(st.meta, f"store {st.root}")
    _check_classes(r, data)
    scores = r.scores(data.features)
    y = np.array([r.classes.index(data.labels.classes[i]) for i in data.labels.y])
    report = classification_report(y, scores, labels=r.classes, threshold=r.threshold)
    ev = data.labels.event_s
    if r.binary and ev is not None and np.isfinite(ev).any() and r.config.get("window") is None:
        from ._events import lead_time_ap

        report["lead_time_ap"] = lead_time_ap(r, st, data.labels.ids, y, ev)
    return report


def _check_classes(run: Run, data: SequenceSet) -> None:
    unknown = sorted(set(data.labels.classes) - set(run.classes))
    if unknown:
        raise ValueError(
            f"labels have class(es) {', '.join(unknown)} that run {run.path} never saw "
            f"(it knows {', '.join(run.classes)})"
        )
