"""``calibrate_timeline_on_clips``: timeline calibration from clip labels alone, cross-fitted.

Annotated long videos are what a timeline should be calibrated on, but most users have
labelled clips. This composes long videos from the clips (:mod:`._compose`) and scores each
with a model that never trained on its clips: the labelled clips are cut into K grouped
folds, a model is trained on K - 1 of them exactly as the run was (head, options, preset,
``--refit``), and it scores videos composed of the fold left out. Every clip's events then
count (about 5x the events of a validation part), and the score level the search sees is
that of a model meeting new footage, which is what the run's own model meets on new videos.

Measured on fight-surv-dev (``benchmarks/timeline_fight.py``, recipe ``clips cv+cal``), see
``benchmarks/README.md``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, VidscopeError
from ..features import FeatureStore, open_store
from ._calibrate import settle
from ._calibration import TIOUS, Calibration, VideoCurve
from ._compose import (
    check_compose_options,
    compose_clips,
    compose_grouped,
    fold_count,
    stored_clip,
    write_composed,
)
from ._timeline import TimelineConfig, WindowPlan, plan_windows, window_scores

#: Below this many distinct event clips the calibration notes that its settings are uncertain.
FEW_EVENT_CLIPS = 30


def calibrate_timeline_on_clips(
    run: Any,
    store: FeatureStore | str | os.PathLike[str],
    labels: Any,
    *,
    folds: int = 5,
    shuffles: int = 4,
    gap_s: tuple[float, float] = (3.0, 10.0),
    max_event_clips: int = 2,
    seed: int = 0,
    allow_missing: bool = False,
    config: TimelineConfig | None = None,
    tious: tuple[float, ...] = TIOUS,
    write: bool = True,
    on_fold: Callable[[str], None] | None = None,
) -> Calibration:
    """Choose a binary run's timeline settings on long videos composed of labelled clips,
    each scored by a fold model that did not see its clips, and (``write``) save them as
    ``RUN/timeline.json``.

    Args:
        run: A binary clip-level run on cached features (path or loaded).
        store: Features of the labelled clips (usually the run's training store), made with
            the run's backbone. Sampled at a fixed rate (``vidscope extract --fps F``) the
            compositions match what the timeline extracts; a note says when they do not.
        labels: Label CSV path or :class:`vidscope.training.LabelOptions` of those clips,
            with the run's two classes; a group column keeps each source in one fold.
        folds: Fold models (fewer when there are fewer groups or clips per class).
        shuffles: Compositions of every fold's clips (other orders, gaps and backgrounds).
        gap_s: Background seconds before each event stretch and after the last, drawn
            uniformly: set it to what the footage to be scored has between events.
        max_event_clips: Most consecutive event clips per event stretch.
        seed: Seed of the folds, the fold models and the compositions.
        allow_missing: Leave out labelled clips whose extraction failed (as ``train`` does).
        config: Window plan and the settings that are not searched (merge gap, ...).
        tious: tIoU thresholds the segment F1 is averaged over.
        write: Save the result in the run.
        on_fold: Called with a line of progress (fold models trained, videos scored).

    Raises:
        ConfigError: a multi-class, window-level or raw-clip run, labels with other classes
            than the run's or fewer than 2 sources of a class, or bad ``shuffles``, ``gap_s``
            or ``max_event_clips`` (all before any training).
        VidscopeError: ``write`` and the run folder cannot be written (before training).
    """
    from ..training import Run, load_run

    r = run if isinstance(run, Run) else load_run(run)
    _check_run(r)
    if shuffles < 1:
        raise ConfigError(f"--shuffles must be >= 1, got {shuffles}")
    if seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {seed}")
    check_compose_options(gap_s, max_event_clips)  # before any training
    if write:
        _check_writable(r.path)
    st = store if isinstance(store, FeatureStore) else open_store(store)
    r.check_store(st.meta, f"store {st.root}")
    cfg = config or TimelineConfig()
    plan = plan_windows(r.config, cfg)
    say = on_fold or (lambda line: None)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vidscope-calibrate-") as tmp:
        recipe = {"gap_s": gap_s, "max_event_clips": max_event_clips, "label": r.classes[1]}
        fold_runs, notes = _fold_runs(
            r, st, labels, folds, seed, Path(tmp) / "cv", allow_missing,
            recipe=recipe, shuffles=shuffles,
        )  # fmt: skip
        say(f"{len(fold_runs)} fold models trained in {time.monotonic() - start:.0f} s")
        rng = np.random.default_rng(seed)
        videos: list[VideoCurve] = []
        for fold_run, test_ids in fold_runs:
            clips = [stored_clip(st, v, y == 1) for v, y in test_ids]
            if len({c.event for c in clips}) < 2:  # a fold the grouping left one-sided
                notes.append(f"a fold of {len(clips)} clips held out one class only: skipped")
                continue
            for _ in range(shuffles):
                for comp in compose_clips(clips, rng, **recipe):
                    bounds, scores = window_scores(fold_run, comp, plan, comp.duration_s)
                    videos.append(
                        VideoCurve(bounds.mean(axis=1), scores[:, 0], comp.events, comp.duration_s)
                    )
    say(f"{len(videos)} composed videos scored; searching the settings")
    note = _sampling_note(st, plan)
    events = sum(y == 1 for _, ids in fold_runs for _, y in ids)
    if events < FEW_EVENT_CLIPS:
        notes.append(
            f"only {events} {r.classes[1]} clip(s) to compose events of (each reused in "
            f"every shuffle): settings chosen on so few events may not transfer; label more"
        )
    return settle(
        r,
        videos,
        plan,
        cfg,
        tious=tious,
        write=write,
        source="clips",
        folds=len(fold_runs),
        num_clips=sum(len(ids) for _, ids in fold_runs),
        notes=notes + ([note] if note else []),
    )


def _check_run(r: Any) -> None:
    """Refuse runs that fold models cannot be trained like."""
    if not r.binary:
        raise ConfigError(f"run {r.path}: timeline calibration needs a binary run")
    if hasattr(r.members[0].trainer, "window_scores") or not r.spec.num_features:
        raise ConfigError(
            f"run {r.path} scores raw clips, not cached features: calibrate it on annotated "
            "long videos (vidscope timeline --calibrate)"
        )


def _labelled(st: FeatureStore, labels: Any, r: Any) -> tuple[Any, Any]:
    """The label options without a split column (the event class the run's), and the labels.

    Raises:
        ConfigError: the labels' classes are not the run's (in the run's order).
    """
    from ..data import read_labels
    from ..training import LabelOptions

    opts = labels if isinstance(labels, LabelOptions) else LabelOptions(labels)
    opts = replace(opts, split_column="")  # the folds are the split: ignore any column

    def read(positive: str | None) -> Any:
        return read_labels(
            st.ids(("ok", "partial", "failed")),
            opts.labels,
            id_column=opts.id_column,
            label_column=opts.label_column,
            split_column="",
            group_column=opts.group_column,
            manifest=st.manifest(),
            positive_class=positive,
        )

    if opts.positive_class not in (None, r.classes[1]):
        raise ConfigError(
            f"--positive-class {opts.positive_class!r}: the run's event class is "
            f"{r.classes[1]!r}; the calibration scores that class"
        )
    ls = read(opts.positive_class)
    # a window-level run's classes are its normal class and the event: the clips need the event
    ok = r.classes[1] in ls.classes if r.spec.window else sorted(ls.classes) == sorted(r.classes)
    if not ok or ls.num_classes != 2:
        want = f"the event {r.classes[1]!r} and one other" if r.spec.window else list(r.classes)
        raise ConfigError(
            f"the labels' classes {list(ls.classes)} do not match the run's (needed: {want}): "
            "give the labels of clips of the run's classes"
        )
    if ls.classes[1] != r.classes[1]:  # the same classes, the other one as the event
        ls = read(r.classes[1])
    opts = replace(opts, positive_class=r.classes[1])
    return opts, ls


def _fold_runs(
    r: Any,
    st: FeatureStore,
    labels: Any,
    folds: int,
    seed: int,
    out: Path,
    allow_missing: bool = False,
    *,
    recipe: dict[str, Any] | None = None,
    shuffles: int = 4,
) -> tuple[list[tuple[Any, list[tuple[str, int]]]], list[str]]:
    """K runs trained as ``r`` was, each on all folds but one, with the (id, class) pairs of
    the fold it left out; and the notes of the labels and split (e.g. folds capped).

    A window-level run's fold models are trained on ``shuffles`` compositions (``recipe``:
    :func:`compose_clips` keywords) of their folds' clips, with the run's window and stride.
    """
    from ..training import Run, TrainConfig, load_run, train

    opts, ls = _labelled(st, labels, r)
    y_of = {v: int(y) for v, y in zip(ls.ids, ls.y, strict=True)}
    folds, capped = fold_count(ls, folds, r.classes[1])
    base = TrainConfig.from_record(r.spec.train)
    cfg = replace(
        base,
        split="kfold",
        folds=folds,
        inner_val=True,
        seed=seed,
        allow_missing=allow_missing or base.allow_missing,
        threshold="fixed",  # the fold models' thresholds are never used
        threshold_from="val",
        tensorboard=False,
        export_onnx=False,
    )
    if r.spec.window:
        runs, notes = _window_fold_runs(
            r, st, ls, replace(cfg, split="auto"), out, recipe or {}, shuffles
        )
        return runs, ([capped] if capped else []) + notes
    result = train(st, opts, out=out, config=cfg)
    cv = load_run(out)
    runs = []
    for k, name in enumerate(cv.spec.folds or []):
        test = json.loads((out / name / "split.json").read_text())["test"]
        runs.append((Run(out / name, cv.spec, [cv.members[k]]), [(v, y_of[v]) for v in test]))
    if not runs:  # pragma: no cover - a k-fold train always records its folds
        raise VidscopeError(f"{out}: the cross-fitted training recorded no folds")
    return runs, ([capped] if capped else []) + list(result.notes)


def _window_fold_runs(
    r: Any,
    st: FeatureStore,
    ls: Any,
    cfg: Any,
    out: Path,
    recipe: dict[str, Any],
    shuffles: int,
) -> tuple[list[tuple[Any, list[tuple[str, int]]]], list[str]]:
    """Window-level fold runs: each trained on windows of long videos composed of the other
    folds' clips (``shuffles`` arrangements, in grouped parts), as ``vidscope compose`` +
    ``train --annotations --window`` make them; with the (id, class) pairs of the fold it
    left out."""
    from ..data import make_splits
    from ..training import WindowOptions, load_run, train

    have = set(st.ids())
    missing = [v for v in ls.ids if v not in have]
    keep = np.array([v in have for v in ls.ids])
    sub = ls.subset(np.flatnonzero(keep)) if missing else ls
    notes = [f"{len(missing)} labelled clip(s) without features left out"] if missing else []
    notes.append(
        "window-level run: its fold models were trained on compositions of the labelled clips "
        "(as `vidscope compose` makes them); if the run was trained on annotated long videos, "
        "calibrate it on those (--annotations) instead"
    )
    window = r.spec.window
    overlap = max(0.0, 1.0 - float(window["stride_s"]) / float(window["window_s"]))
    runs = []
    for k, part in enumerate(
        make_splits(sub, mode="kfold", folds=cfg.folds, seed=cfg.seed, inner_val=False)
    ):
        rng = np.random.default_rng([cfg.seed, k])
        inner = sub.subset(part.train)
        inner.notes = []
        clips = [stored_clip(st, v, bool(y == 1)) for v, y in zip(inner.ids, inner.y, strict=True)]
        # the fold's clips composed in grouped parts, so its own validation is clean
        try:
            parts, _ = fold_count(inner, cfg.folds, r.classes[1])
        except ConfigError:  # too few sources left to part: composed together, by video
            parts = 1
            note = (
                "a fold model's training clips hold one source of a class: its compositions "
                "were made without folds (its validation shares clips with its training)"
            )
            notes += [note] if note not in notes else []
        videos, groups = compose_grouped(
            inner, clips, rng, folds=parts, shuffles=shuffles, seed=cfg.seed, **recipe
        )
        comp = write_composed(videos, dict(st.meta), out / f"fold{k}" / "store", groups=groups)
        win = WindowOptions(comp / "events.csv", window_s=float(window["window_s"]),
                            overlap=overlap, normal_class=r.classes[0])  # fmt: skip
        train(comp, out=out / f"fold{k}" / "run", config=cfg, windows=win)
        test = [(sub.ids[i], int(sub.y[i])) for i in part.val]
        runs.append((load_run(out / f"fold{k}" / "run"), test))
    return runs, notes


def _check_writable(run_dir: Path) -> None:
    """Fail before any training when the run folder cannot take ``timeline.json``.

    Raises:
        VidscopeError: naming the folder and the system's reason.
    """
    try:
        with tempfile.NamedTemporaryFile(dir=run_dir, prefix=".vidscope-write-check-"):
            pass
    except OSError as exc:
        raise VidscopeError(
            f"run {run_dir}: cannot write timeline.json there ({exc.strerror or exc}); make "
            "the folder writable or copy the run"
        ) from None


def _sampling_note(st: FeatureStore, plan: WindowPlan) -> str | None:
    """A note when the clips were not sampled at the rate the timeline extracts at."""
    sampling = (st.meta.get("sampling") or {}) if isinstance(st.meta, dict) else {}
    mode, value = sampling.get("mode"), sampling.get("value")
    if mode == "fps" and value and abs(float(value) - plan.fps) <= 1e-6 * plan.fps:
        return None
    have = f"{mode} {value}" if mode else "an unknown rate"
    return (
        f"the clips were sampled with {have}, the timeline samples {plan.fps:g} frames/s: "
        f"extract the clips with --fps {plan.fps:g} for compositions that match new videos"
    )
