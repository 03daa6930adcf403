"""Command line: one subcommand = one public library function.

vidscope extract VIDEOS --out STORE   -> vidscope.extract
vidscope info STORE                   -> vidscope.open_store + summary
vidscope demo [--out DIR]             -> make_collisions + extract + info
vidscope backbones                    -> list_backbones
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rich.console import Console

from .errors import VidscopeError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit status."""
    from ._commands import COMMANDS, build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except (VidscopeError, ValueError) as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("interrupted: finished videos are saved; rerun to resume")
        return 130


def _entry() -> None:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
