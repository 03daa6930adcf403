"""Public training API: ``train``, ``evaluate``, ``compare``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..data import (
    LabelSet,
    SequenceSet,
    Split,
    load_sequences,
    make_splits,
    read_annotation_groups,
    read_annotations,
    read_labels,
    window_sequences,
)
from ..errors import ConfigError, InputError
from ..features import FeatureStore, StoreKey, atomic_write_json, open_store, store_key
from ..metrics import aggregate_folds
from ._callbacks import default_callbacks
from ._config import TrainConfig
from ._fit import SplitResult, fit_split, trainer_for
from ._heads import check_head_options
from ._run import Run, load_run
from ._spec import RunSpec

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
        normal_class: Name of the class of windows without an event (``--normal-class``);
            the classes are this one, then the event labels sorted.
        group_column: The annotations' column of source groups (``--group-column``; default:
            ``source_group``, ``group`` or ``groups`` when present, else each video alone).
    """

    annotations: str | os.PathLike[str]
    window_s: float = 1.0
    overlap: float = 0.5
    min_overlap: float = 0.5
    drop_after_event: bool = False
    normal_class: str = "normal"
    group_column: str | None = None

    def __post_init__(self) -> None:
        if not self.window_s > 0:
            raise InputError(f"--window must be > 0, got {self.window_s}")
        if not 0 <= self.overlap < 1:
            raise InputError(f"--overlap must be in [0, 1), got {self.overlap}")

    @property
    def stride_s(self) -> float:
        return self.window_s * (1.0 - self.overlap)


def load_windows(store: StoreLike, opts: WindowOptions) -> tuple[FeatureStore, SequenceSet]:
    """Windows of every stored video, labelled from the annotations."""
    st = store if isinstance(store, FeatureStore) else open_store(store)
    ids = st.ids()
    durations = {v: float(st.rows[v]["duration_s"]) for v in ids if st.rows[v].get("duration_s")}
    events = read_annotations(opts.annotations, video_ids=ids, durations_s=durations)
    found = sorted({e.label for segs in events.values() for e in segs})
    if opts.normal_class in found:
        raise ConfigError(f"--normal-class {opts.normal_class!r} is also an event label")
    data = window_sequences(
        st,
        events,
        window_s=opts.window_s,
        stride_s=opts.stride_s,
        min_overlap=opts.min_overlap,
        drop_after_event=opts.drop_after_event,
        classes=[opts.normal_class, *found],
        groups=read_annotation_groups(
            opts.annotations, video_ids=ids, group_column=opts.group_column
        ),
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
    """Open the store, read the labels, load the labelled features.

    A labels CSV may name videos whose extraction failed: they are matched here (not reported
    as unknown ids) so that :func:`load_sequences` names them and ``allow_missing`` drops them.
    """
    st = store if isinstance(store, FeatureStore) else open_store(store)
    opts = labels if isinstance(labels, LabelOptions) else LabelOptions(labels)
    labelset: LabelSet = read_labels(
        st.ids(("ok", "partial", "failed")) if opts.labels is not None else st.ids(),
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
    overwrite: bool = False,
    progress: Callable[[dict[str, float]], None] | None = None,
    callbacks: list[Any] | None = None,
    windows: WindowOptions | None = None,
    on_start: Callable[[Any], None] | None = None,
    **overrides: Any,
) -> TrainResult:
    """Train a video classifier on cached features.

    ``head="auto"`` chooses the head per split by cross-validation on its training part
    (:func:`~vidscope.training.train_auto`; neither ``resume`` nor ``callbacks`` apply).

    Args:
        store: Feature store (path or object), or a ``root/split/class/*.npy`` folder.
        labels: Label CSV path or :class:`LabelOptions`; ``None`` = class folders.
        out: Run directory to write; it must be new or empty unless ``resume``/``overwrite``.
        config: Settings; keyword ``overrides`` replace single fields.
        resume: Continue from ``out``'s last checkpoints.
        overwrite: Clear an existing run in ``out`` first.
        progress: Called with each epoch's row of metrics (for progress display).
        callbacks: Extra training callbacks (see :mod:`vidscope.training`'s callbacks),
            after early stopping, checkpoints, TensorBoard and progress.
        windows: Train a window-level head from event annotations instead of video labels.
        on_start: Called with the loaded data (a :class:`SequenceSet`: classes, positive
            class, counts) before training starts.

    Raises:
        ConfigError: ``out`` holds another run (or other files) and neither ``resume`` nor
            ``overwrite`` was given.
    """
    cfg = replace(config or TrainConfig(), **overrides)
    if cfg.head == "auto":  # chosen by inner CV: see train_auto
        if resume or callbacks:
            raise ConfigError(
                "head='auto' takes neither resume nor callbacks: train the head it chose"
            )
        from ._auto import train_auto

        return train_auto(
            store, labels, out=out, config=cfg, overwrite=overwrite, progress=progress,
            windows=windows, on_start=on_start,
        )  # fmt: skip
    trainer_for(cfg)  # an unknown head fails before any work
    check_head_options([cfg.head], cfg.head_options)  # so does a misspelt option
    if windows is not None:
        st, data = load_windows(store, windows)
    else:
        st, data = load_data(store, labels, allow_missing=cfg.allow_missing)
    splits = splits_for(data, cfg)
    root = prepare_run_dir(out, resume=resume, overwrite=overwrite)
    if on_start is not None:
        on_start(data)
    many = len(splits) > 1
    results = []
    for s in splits:
        folder = root / s.name if many else root
        cbs = callbacks_for(cfg, progress, callbacks)
        results.append(fit_split(data, s, cfg, folder, resume=resume, callbacks=cbs))
    return finish_run(root, st, data, cfg, results, [s.name for s in splits] if many else None)


def callbacks_for(
    cfg: TrainConfig, progress: Callable[[dict[str, float]], None] | None, extra: list[Any] | None
) -> list[Any]:
    """The standard callbacks for ``cfg`` plus ``extra`` (fresh objects for every split)."""
    return default_callbacks(cfg, progress, extra)


def finish_run(
    root: Path,
    store: FeatureStore | None,
    data: Any,
    cfg: TrainConfig,
    results: list[SplitResult],
    folds: list[str] | None,
    *,
    extra: dict[str, Any] | None = None,
) -> TrainResult:
    """Write the run-level files (``config.json``, ``metrics.json``, k-fold's summed confusion
    matrix and ``oof_predictions.csv``) after every split was fitted; any trainer."""
    report, scope = headline_report(results)
    write_spec(root, store, data, cfg, results, folds, extra=extra)
    test = combined([r.test_report for r in results]) if scope == "test" else None
    metrics = {"val": combined([r.report for r in results]), "test": test, "scope": scope}
    atomic_write_json(root / "metrics.json", {**metrics, "splits": [r.name for r in results]})
    if folds:
        from ..metrics import plot_confusion_matrix

        cm = np.array(report["confusion_matrix"])  # summed over the folds
        plot_confusion_matrix(cm, data.labels.classes, root / "confusion_matrix.png")
        if scope == "test":
            _write_out_of_fold(root, folds)
    return TrainResult(root, report, results, list(data.labels.notes), scope)


#: Files whose presence marks a folder as a (possibly partial) vidscope run.
RUN_MARKERS = ("config.json", "split.json", "member.json", "checkpoints", "metrics.json")


def prepare_run_dir(out: str | os.PathLike[str], *, resume: bool, overwrite: bool) -> Path:
    """Create ``out``, or check it may be written: a new training run never mixes with an old
    one (whose stale model files a loader could otherwise pick up).

    Raises:
        ConfigError: ``out`` is a file, or holds files and neither ``resume`` nor
            ``overwrite`` applies; ``overwrite`` on a folder that is not a vidscope run.
    """
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root}: is a file, not a folder; choose another --out")
    present = sorted(p.name for p in root.iterdir()) if root.is_dir() else []
    if present and not resume:
        is_run = any((root / m).exists() for m in RUN_MARKERS) or any(
            (root / p / "member.json").exists() for p in present
        )
        if not overwrite:
            what = "a vidscope run" if is_run else f"other files ({', '.join(present[:3])})"
            raise ConfigError(
                f"--out {root} already holds {what}; pass --overwrite to replace it, --resume "
                "to continue it, or choose another --out"
            )
        if not is_run:
            raise ConfigError(
                f"--out {root} holds files that are not a vidscope run ({', '.join(present[:3])})"
                "; --overwrite only replaces runs: choose another --out"
            )
        shutil.rmtree(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {root}: cannot create ({exc.strerror or exc})") from None
    return root


def splits_for(data: SequenceSet, cfg: TrainConfig) -> list[Split]:
    """The splits ``cfg`` asks for (k-fold with an inner validation split unless told not to).

    Fewer folds than ``cfg.folds`` (a class with fewer videos than folds) adds a note to
    ``data.labels.notes`` saying so and why.
    """
    splits = make_splits(
        data.labels,
        mode=cfg.split,
        val_fraction=cfg.val_fraction,
        folds=cfg.folds,
        seed=cfg.seed,
        inner_val=cfg.inner_val,
    )
    if cfg.split == "kfold" and len(splits) < cfg.folds:
        labels = data.labels
        counts = np.bincount(labels.y, minlength=len(labels.classes))
        smallest = int(counts.argmin())
        labels.notes.append(
            f"--folds {cfg.folds} capped at {len(splits)}: the smallest class "
            f"({labels.classes[smallest]!r}) has {int(counts[smallest])} video(s), and each "
            "fold needs at least one video of every class"
        )
    return splits


def combined(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report as is; several (folds) as mean and ``<metric>_std``."""
    if len(reports) == 1:
        return reports[0]
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


def write_spec(
    root: Path,
    store: FeatureStore | None,
    data: Any,
    cfg: TrainConfig,
    results: list[SplitResult],
    folds: list[str] | None,
    *,
    extra: dict[str, Any] | None = None,
) -> RunSpec:
    """Write ``root/config.json``: the :class:`RunSpec` of a finished run."""
    first = results[0]
    trainer = first.trainer
    key = store_key(store) if store is not None else StoreKey()
    durations = [store.rows.get(v, {}).get("duration_s") for v in data.labels.ids] if store else []
    known = [float(d) for d in durations if d is not None and np.isfinite(d)]
    spec = RunSpec(
        head=cfg.head,
        trainer=getattr(trainer, "name", "neural"),
        head_config=trainer.head_config(first.model, data) if trainer else {},
        classes=list(data.labels.classes),
        num_features=int(getattr(data, "num_features", 0) or 0),
        layout=list(getattr(data, "layout", []) or []),
        store=key,
        train=cfg.record(getattr(first.model, "train_defaults", None)),
        folds=folds,
        num_params=first.num_params,
        clip_duration_s=float(np.median(known)) if known else None,
        window=getattr(data, "window", None),
        extra=dict(extra or {}),
        vidscope_version=__version__,
    )
    atomic_write_json(root / "config.json", spec.to_json())
    return spec
