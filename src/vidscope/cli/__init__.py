"""Command line: one subcommand = one public library function.

Each command group is a module here with ``add_parser(subparsers) -> {name: function}``;
:data:`MODULES` lists them in ``--help`` order. A new command is a new module added there.

Errors: a :class:`~vidscope.errors.VidscopeError` (the user's mistake: a bad file, flag or
run) and an ``OSError`` (disk full, permissions, a path that is a file) print one line and
exit 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence

from rich.console import Console

from ..errors import VidscopeError, VidscopeWarning

#: Command modules (``vidscope.cli.<name>``), in the order ``--help`` lists them.
MODULES = [
    "_extract",
    "_train",
    "_finetune",
    "_predict",
    "_export",
    "_zeroshot",
    "_timeline",
    "_calibrate",
    "_label",
    "_demo",
]

Command = Callable[[argparse.Namespace], int]


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    """The ``vidscope`` argument parser and the function of every subcommand."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="vidscope",
        description="Video classification and event detection on frozen per-frame features.",
    )
    parser.add_argument("--version", action="version", version=f"vidscope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands: dict[str, Command] = {}
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        commands.update(module.add_parser(sub))
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    err = Console(stderr=True)
    with warnings.catch_warnings():
        warnings.simplefilter("always", VidscopeWarning)
        warnings.showwarning = _show_warning(err)  # type: ignore[assignment]
        try:
            return commands[args.command](args)
        except VidscopeError as exc:
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            return 2
        except OSError as exc:
            err.print(f"[bold red]error:[/] {os_error_message(exc)}", highlight=False)
            return 2
        except KeyboardInterrupt:
            err.print(f"interrupted: {_AFTER_INTERRUPT.get(args.command, _RESUMES)}")
            return 130


#: What an interrupted command kept and how to go on (default: :data:`_RESUMES`).
_RESUMES = "finished work is saved; rerun the same command to resume"
_AFTER_INTERRUPT = {
    "train": "checkpoints are kept; rerun with --resume to continue (or --overwrite to restart)",
    "finetune": "checkpoints are kept; rerun with --resume to continue (or --overwrite to restart)",
    "compare": "the heads finished so far are in --out; a rerun trains every head again",
    "predict": "nothing was written; rerun the command (--features-cache DIR keeps features)",
    "evaluate": "nothing was written; rerun the command (--features-cache DIR keeps features)",
    "export": "nothing was written; rerun the command",
}


def os_error_message(exc: OSError) -> str:
    """One line for an OS error: what went wrong, where, and what to do."""
    where = exc.filename or ""
    what = exc.strerror or str(exc)
    hint = {
        errno.ENOSPC: "free some space and rerun: finished work is kept",
        errno.EROFS: "the location is read-only: choose a writable --out",
        errno.EACCES: "check the permissions, or choose another --out",
        errno.ENOTDIR: "a path component is a file, not a folder: choose another --out",
        errno.EEXIST: "choose another --out, or remove the file",
    }.get(exc.errno or 0, "")
    text = f"{where}: {what}" if where else what
    return f"{text}; {hint}" if hint else text


def _show_warning(console: Console) -> Callable[..., None]:
    original = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # type: ignore[no-untyped-def]
        if issubclass(category, VidscopeWarning):
            console.print(f"[yellow]warning:[/] {message}", highlight=False, soft_wrap=True)
        else:
            original(message, category, filename, lineno, file, line)

    return show


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
