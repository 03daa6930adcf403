"""``calibrate``: choose a run's timeline settings, from labelled clips or annotated videos."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.console import Console

from ..errors import ConfigError
from ._common import add_label_options, command, label_options

#: Below this many annotated events a calibration says its settings are uncertain.
FEW_EVENTS = 30


def add_parser(sub: Any) -> dict[str, Any]:
    """Register ``calibrate``."""
    p = command(
        sub,
        "calibrate",
        "choose a run's timeline threshold, smoothing, hysteresis and boundaries: on long "
        "videos composed of labelled clips (--labels, cross-fitted) or on annotated long "
        "videos (--annotations); saved in RUN/timeline.json, the default of later timelines",
    )
    p.add_argument("run", help="binary run directory (from `vidscope train`)")
    p.add_argument(
        "store",
        help="features of the clips (--labels: usually the run's training store) or of the "
        "annotated videos, extracted at the timeline's rate (`vidscope extract --fps F`)",
    )
    p.add_argument(
        "--annotations",
        help="events CSV (file_name,start_time,end_time) of long videos the run did not train on",
    )
    add_label_options(p)
    p.add_argument(
        "--folds",
        type=int,
        default=5,
        help="--labels: fold models, each scoring the clips it left out",
    )
    add_composition_options(p, "--labels: ")
    c = command(
        sub,
        "compose",
        "compose long videos of labelled clips into a feature store with events.csv: window-"
        "level training data when only clips are labelled",
    )
    c.add_argument("store", help="features of the labelled clips (extracted with --fps)")
    c.add_argument("--out", required=True, help="new folder for the composed store")
    add_label_options(c)
    c.add_argument(
        "--folds",
        type=int,
        default=5,
        help="grouped folds of the clips composed apart (a video holds one fold's clips; "
        "events.csv names it as the video's group, so a window-level run validates on clips "
        "it did not train on)",
    )
    add_composition_options(c, "")
    return {"calibrate": cmd_calibrate, "compose": cmd_compose}


def add_composition_options(p: argparse.ArgumentParser, scope: str) -> None:
    """How labelled clips are composed into long videos (``scope`` prefixes the help)."""
    p.add_argument(
        "--shuffles", type=int, default=4, help=f"{scope}arrangements of each set of clips"
    )
    p.add_argument(
        "--gap",
        default="3,10",
        help=f"{scope}MIN,MAX seconds of background between events (as the footage has)",
    )
    p.add_argument(
        "--event-clips", type=int, default=2, help=f"{scope}most clips per event stretch"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the folds and arrangements")


def cmd_compose(args: argparse.Namespace) -> int:
    from ..localize import compose_store

    notes: list[str] = []
    out, videos = compose_store(
        args.store, label_options(args), args.out, shuffles=args.shuffles,
        gap_s=_gap(args.gap), max_event_clips=args.event_clips, seed=args.seed,
        folds=args.folds, notes=notes, allow_missing=args.allow_missing,
    )  # fmt: skip
    events = sum(len(v.events) for v in videos)
    seconds = sum(v.duration_s for v in videos)
    console = Console()
    for note in notes:
        console.print(f"note: {note}", highlight=False)
    console.print(
        f"{len(videos)} composed video(s), {seconds / 60:.1f} min, {events} event(s) in {out} "
        f"(events in {out / 'events.csv'}); train a window-level run on them with `vidscope "
        f"train {out} --annotations {out / 'events.csv'} --window W --overlap 0.75 --out RUN`, "
        f"then `vidscope calibrate RUN {args.store} --labels ...`",
        highlight=False,
    )
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from ..localize import calibrate_timeline, calibrate_timeline_on_clips

    console = Console()
    if bool(args.annotations) == bool(args.labels):
        raise ConfigError(
            "give --labels (clip labels: composed videos, cross-fitted) or --annotations "
            "(events of annotated long videos), not both"
            if args.labels
            else "give --labels (clip labels) or --annotations (events of long videos)"
        )
    start = time.monotonic()
    if args.annotations:
        clip_only = [
            flag
            for flag, dest, default in (
                ("--folds", "folds", 5), ("--shuffles", "shuffles", 4), ("--gap", "gap", "3,10"),
                ("--event-clips", "event_clips", 2), ("--seed", "seed", 0),
            )
            if getattr(args, dest) != default
        ]  # fmt: skip
        if clip_only:
            raise ConfigError(
                f"{', '.join(clip_only)}: only with --labels (composed clips); --annotations "
                "scores the annotated videos as they are"
            )
        cal = calibrate_timeline(args.run, args.store, args.annotations)
    else:
        console.print(
            f"training fold models as {args.run} was trained (--folds {args.folds}), each "
            "scoring long videos composed of the clips it left out ...",
            highlight=False,
        )
        cal = calibrate_timeline_on_clips(
            args.run, args.store, label_options(args), folds=args.folds,
            shuffles=args.shuffles, gap_s=_gap(args.gap), max_event_clips=args.event_clips,
            seed=args.seed, allow_missing=args.allow_missing,
            on_fold=lambda line: console.print(line, highlight=False),
        )  # fmt: skip
    print_calibration(cal, args.run, console)
    console.print(f"took {time.monotonic() - start:.0f} s", highlight=False)
    return 0


def _gap(text: str) -> tuple[float, float]:
    """``MIN,MAX`` seconds (one number: both)."""
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        values = []
    if len(values) == 1:
        values *= 2
    if len(values) != 2:
        raise ConfigError(f"--gap expects MIN,MAX seconds, got {text!r}")
    return values[0], values[1]


def print_calibration(cal: Any, run: str, console: Console) -> None:
    """The chosen settings, their F1 on the calibration videos, and notes."""
    chosen = ", ".join(
        f"{k} {getattr(cal.segments, k):.3g}" if isinstance(getattr(cal.segments, k), float)
        else f"{k} {getattr(cal.segments, k)}"
        for k in ("threshold", "smooth", "smooth_s", "hysteresis", "refine")
    )  # fmt: skip
    f1 = ", ".join(f"{f:.2f} at tIoU {t:g}" for f, t in zip(cal.f1, cal.tious, strict=True))
    if cal.source == "clips":
        where = (
            f"{cal.num_videos} video(s) composed of {cal.num_clips} labelled clips "
            f"({cal.num_events} events over the shuffles), each scored by one of {cal.folds} "
            "fold models that did not train on its clips"
        )
    else:
        where = f"{cal.num_videos} video(s), {cal.num_events} event(s)"
    console.print(
        f"calibrated on {where}: {chosen}; segment F1 {f1} on these videos (optimistic: the "
        f"settings were chosen on them); saved in {run}/timeline.json",
        highlight=False,
    )
    for note in cal.notes:
        console.print(f"note: {note}", highlight=False)
    if cal.source != "clips" and cal.num_events < FEW_EVENTS:
        console.print(
            f"note: {cal.num_events} event(s) are few to calibrate on. On fight-surv-dev, "
            "settings chosen on about 10 events gave segment F1 0.51 at tIoU 0.5 on new videos "
            "where the best settings gave 0.71 (benchmarks/README.md, timeline_fight); "
            "annotate more events, or calibrate on the run's labelled clips "
            "(vidscope calibrate RUN STORE --labels LABELS)",
            highlight=False,
        )
