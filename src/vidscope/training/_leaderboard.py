"""A finished run as a leaderboard row, so models trained elsewhere (``vidscope finetune`` on
raw clips) sit next to the heads ``compare`` trains on features."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..data import LabelSet, Split
from ..errors import ConfigError, RunError
from ._spec import RunSpec


def run_row(
    run: str | os.PathLike[str], labels: LabelSet, splits: list[Split], metrics: tuple[str, ...]
) -> dict[str, Any]:
    """The leaderboard row of the run in ``run``, checked to share ``splits``.

    Args:
        run: A finished run directory (any trainer).
        labels: The comparison's labels (their ids name the videos of each split part).
        splits: The comparison's splits; the run must have been fitted on the same ones.
        metrics: Report keys to copy (with their ``_std`` over folds when present).

    Raises:
        ConfigError: the run was fitted on other train/val/test videos.
        RunError: the run is unfinished or unreadable.
    """
    root = Path(run)
    spec = RunSpec.read(root / "config.json")
    folders = [root / s.name for s in splits] if len(splits) > 1 else [root]
    seconds = 0.0
    for folder, split in zip(folders, splits, strict=True):
        parts = {k: [labels.ids[i] for i in getattr(split, k)] for k in ("train", "val", "test")}
        if _read(folder / "split.json") != parts:
            raise ConfigError(
                f"--run {root}: fitted on other train/val/test videos than this comparison "
                f"({split.name}); train it with the same labels, --split, --folds and --seed"
            )
        seconds += float(_read(folder / "metrics.json").get("train_seconds") or 0.0)
    summary = _read(root / "metrics.json")
    scope = summary.get("scope", "val")
    report = summary.get(scope) or {}
    row: dict[str, Any] = {
        "head": spec.head,
        "scope": scope,
        "params": spec.num_params,
        "train_s": round(seconds, 2),
        "run": str(root),
    }
    for m in metrics:
        row[m] = report.get(m)
        if f"{m}_std" in report:
            row[f"{m}_std"] = report[f"{m}_std"]
    return row


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing (is the run finished?)") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: unreadable ({exc})") from None
