"""Rebuilding a saved head from a run's spec, with errors that name the run file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError, RunError
from ..models import create_head, head_parameters


def rebuild_head(spec: Any, folder: Path) -> Any:
    """``create_head(spec.head, **spec.head_config)``, refusing options the head does not take.

    Raises:
        RunError: unknown head, or ``head_config`` keys the head does not take (a tampered
            or foreign ``config.json``), naming the file.
    """
    where = folder / "config.json" if (folder / "config.json").exists() else folder
    try:
        known = head_parameters(spec.head)
    except ConfigError as exc:
        raise RunError(f"{where}: {exc}") from None
    base = {"num_features", "num_outputs", "layout", "classes", "backbone"}
    cfg = dict(spec.head_config)
    unknown = sorted(set(cfg) - set(known) - base)
    if unknown and known:
        raise RunError(
            f"{where}: head_config has option(s) {', '.join(unknown)} that head "
            f"{spec.head!r} does not take (it takes {', '.join(sorted(known)) or 'none'})"
        )
    extra: dict[str, Any] = {"classes": list(spec.classes), "backbone": dict(spec.store.backbone)}
    try:
        return create_head(spec.head, **{**extra, **cfg})
    except (TypeError, ValueError) as exc:
        raise RunError(f"{where}: cannot rebuild head {spec.head!r} ({exc})") from None
