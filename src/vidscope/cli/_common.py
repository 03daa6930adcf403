"""Flags shared by several commands, and turning parsed flags into library config objects.

Library code never sees argparse: these helpers build :class:`ExtractConfig`,
:class:`TrainConfig` and :class:`LabelOptions` from the flags. Every option has a help text;
``--help`` shows each default (``HelpFormatter``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import ConfigError


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` after every option's help that has a default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, [], argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


def command(sub: Any, name: str, help: str, **kw: Any) -> argparse.ArgumentParser:
    """A subcommand parser that shows defaults in ``--help``."""
    return sub.add_parser(name, help=help, description=help, formatter_class=HelpFormatter, **kw)


def key_values(items: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` flags as a dict; values are parsed as JSON when they can be (``3``,
    ``0.5``, ``true``), else kept as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def add_extract_options(p: argparse.ArgumentParser) -> None:
    """Flags of every command that extracts features."""
    _backbone_options(p)
    _sampling_options(p)
    _run_options(p)


def _backbone_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backbone",
        help="backbone name, timm:<model>, or a fusion like efficientnet_lite0+flow "
        "(see `vidscope backbones`) (default: efficientnet_lite0) or the --preset's",
    )
    p.add_argument("--weights", help="local weights file (.pth/.safetensors); never downloaded")
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow --weights to be a pickled whole model (runs its code: only files you trust)",
    )
    p.add_argument(
        "--backbone-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backbone setting, e.g. gap=0.12 for flow (keys: `vidscope backbones`); recorded "
        "in the store and the run",
    )
    p.add_argument(
        "--runtime",
        choices=["auto", "onnx", "torch"],
        default="auto",
        help="inference engine: auto = ONNX Runtime on CPU, torch on a GPU",
    )


def _sampling_options(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--frames", type=int, help="N frames spread uniformly over each video (default 16)"
    )
    group.add_argument("--fps", type=float, help="F frames per second, from t = 0")
    group.add_argument("--every", type=float, help="one frame every S seconds, from t = 0")
    p.add_argument("--max-frames", type=int, help="cap on samples per video for --fps/--every")
    p.add_argument(
        "--seek",
        choices=["exact", "keyframe"],
        default="exact",
        help="exact: the frame on screen at each time; keyframe: the frame within "
        "--keyframe-tolerance that is cheapest to decode (faster on long-GOP video)",
    )
    p.add_argument(
        "--keyframe-tolerance",
        type=_tolerance,
        metavar="SECONDS|Fx",
        help="how far --seek keyframe may move a sample: seconds, or a multiple of the "
        "spacing between samples such as 0.5x (halfway to the neighbours: samples stay "
        "apart). Default 1x: up to a neighbour's time, where neighbours may share a frame",
    )
    p.add_argument(
        "--image-fps", type=float, default=25.0, help="frame rate given to image-frame folders"
    )


def _tolerance(text: str) -> tuple[float, bool]:
    """``--keyframe-tolerance``: ``(seconds, False)`` or ``(multiple of the spacing, True)``."""
    is_reach = text.strip().lower().endswith("x")
    try:
        value = float(text.strip()[:-1] if is_reach else text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither seconds (e.g. 0.5) nor a multiple of the spacing (e.g. 0.5x)"
        ) from None
    return value, is_reach


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=int, default=32, help="frames per inference batch")
    p.add_argument(
        "--workers", type=int, help="decode processes (default: 1 per 4 cores, at least 1)"
    )
    p.add_argument(
        "--decode-threads", type=int, default=0, help="decoder threads each (0 = cores / workers)"
    )
    p.add_argument(
        "--dtype", choices=["float32", "float16"], default="float32", help="stored precision"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds without decoder progress before a video is abandoned",
    )
    p.add_argument("--path-column", help="CSV column holding video paths (default: detected)")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 if any video failed or was partial"
    )
    p.add_argument(
        "--engine",
        help="who decodes and encodes: local (worker processes here, the default) or ray "
        "(actors on a Ray cluster; pip install 'vidscope[ray]')",
    )
    p.add_argument(
        "--address",
        help="--engine ray: cluster to join, auto or ray://HOST:PORT (default: RAY_ADDRESS, "
        "else a new local cluster)",
    )
    p.add_argument(
        "--num-gpus-per-worker",
        type=float,
        help="--engine ray: GPUs each worker reserves (default 0: CPU workers)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def extract_config(args: argparse.Namespace) -> Any:
    """An :class:`ExtractConfig` from the extract flags."""
    from ..features import ExtractConfig
    from ..video import SamplingSpec

    spec = SamplingSpec.from_flags(
        frames=args.frames, fps=args.fps, every=args.every, max_frames=args.max_frames
    )
    kw: dict[str, Any] = dict(
        weights=args.weights,
        trust_checkpoint=args.trust_checkpoint,
        backbone_options=key_values(args.backbone_option, "--backbone-option"),
        runtime=args.runtime,
        sampling=spec,
        seek=args.seek,
        batch_size=args.batch_size,
        decode_threads=args.decode_threads,
        dtype=args.dtype,
        timeout_s=args.timeout,
        image_fps=args.image_fps,
        strict=args.strict,
    )
    backbone = args.backbone
    if getattr(args, "preset", None):  # an explicit other --backbone wins, without its options
        from ..training import get_preset

        preset = get_preset(args.preset)
        if backbone in (None, preset.backbone):  # its options, updated by --backbone-option
            backbone = preset.backbone
            kw["backbone_options"] = {**preset.backbone_options, **kw["backbone_options"]}
    if backbone is not None:
        kw["backbone"] = backbone
    if args.keyframe_tolerance is not None:
        value, is_reach = args.keyframe_tolerance
        kw["keyframe_reach" if is_reach else "keyframe_tolerance_s"] = value
    if args.workers is not None:
        kw["workers"] = args.workers
    for name in ("engine", "address", "num_gpus_per_worker"):  # engine flags, when present
        if getattr(args, name, None) is not None:
            kw[name] = getattr(args, name)
    return ExtractConfig(**kw)


def add_preset_option(p: argparse.ArgumentParser, what: str) -> None:
    """``--preset NAME``: a named recipe (``vidscope.training.PRESETS``), listed in the help."""
    from ..training import PRESETS, presets_help

    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        help=f"named recipe measured as a whole; sets {what} (explicit flags win): "
        + presets_help(),
    )


def add_label_options(p: argparse.ArgumentParser) -> None:
    """Where labels come from."""
    p.add_argument("--labels", help="CSV with id/path and label columns (default: class folders)")
    p.add_argument("--id-column", help="column of video ids or paths (default: detected)")
    p.add_argument("--label-column", help="column of labels (default: detected)")
    p.add_argument("--split-column", help="column of train/val/test (default: detected)")
    p.add_argument(
        "--group-column", help="source groups: a group never spans train/val/test or folds"
    )
    p.add_argument(
        "--positive-class",
        help="binary: the event class (default: the one named like an event, else the one "
        "that sorts last)",
    )
    p.add_argument(
        "--allow-missing", action="store_true", help="skip labelled videos without features"
    )


def label_options(args: argparse.Namespace) -> Any:
    """A :class:`LabelOptions` from the label flags."""
    from ..training import LabelOptions

    return LabelOptions(
        args.labels,
        args.id_column,
        args.label_column,
        args.split_column,
        args.group_column,
        args.positive_class,
    )


@contextmanager
def epoch_progress(total: int, enabled: bool, label: str = "train") -> Iterator[Any]:
    """A progress bar over epochs; yields the per-epoch callback for ``train``."""
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(label, total=total, info="")

        def update(row: dict[str, float]) -> None:
            shown = [k for k in row if k in ("loss", "val_loss") or _is_monitor(k)]
            info = "  ".join(f"{k} {row[k]:.4g}" for k in shown)
            bar.update(task, completed=row["epoch"] + 1, info=info)

        yield update


def _is_monitor(key: str) -> bool:
    return key.startswith("val_") and not key.startswith(("val_accuracy_", "val_loss"))


def check_head_options(heads: list[str], options: dict[str, Any], flag: str) -> None:
    """Refuse unknown head names and ``--head-option`` keys a head does not take, before
    anything trains (see :func:`vidscope.training.check_head_options`, which ``train`` and
    ``compare`` also call).

    Raises:
        ConfigError: naming the head or key, the known ones and the closest match.
    """
    from ..training import check_head_options as check

    check(heads, options, flag)
