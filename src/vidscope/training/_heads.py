"""Checking head names and options before training; rebuilding a saved head from a run's
spec, with errors that name the run file."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RunError
from ..models import create_head, head_parameters, list_heads


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


def check_head_options(heads: list[str], options: dict[str, Any], flag: str = "--head") -> None:
    """Refuse unknown head names and options a head does not take, before anything trains
    (``train``/``compare`` and their CLI commands; ``compare`` gives the same options to every
    head).

    Args:
        heads: Head names (``TrainConfig.head``; ``compare``'s heads).
        options: ``TrainConfig.head_options`` (``--head-option`` values).
        flag: How the heads were given, for the message (``--head``, ``--heads``).

    Raises:
        ConfigError: naming the head or option, the known ones and the closest match.
    """
    known_heads = list_heads()
    for head in heads:
        if head not in known_heads:
            raise ConfigError(
                f"unknown {flag} {head!r}{_did_you_mean(head, known_heads)}; known: "
                f"{', '.join(known_heads)} (`vidscope heads`)"
            )
        known = list(head_parameters(head))
        unknown = sorted(set(options) - set(known))
        if unknown:
            shared = " (compare gives its --head-option to every head)" if len(heads) > 1 else ""
            raise ConfigError(
                f"--head-option {unknown[0]}{_did_you_mean(unknown[0], known)}: head {head!r} "
                f"does not take it{shared}; it takes {', '.join(known) or 'no options'} "
                "(`vidscope heads`)"
            )


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
