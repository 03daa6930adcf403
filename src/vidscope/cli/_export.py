"""``export``: a run as one ONNX graph (frames or features -> class scores) + JSON sidecar."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from ._common import command


def add_parser(sub: Any) -> dict[str, Any]:
    """Register ``export``."""
    ex = command(
        sub, "export", "export a run as one ONNX graph (frames -> scores) with a JSON sidecar"
    )
    ex.add_argument("run", help="run directory (from `vidscope train`)")
    ex.add_argument("out", help="the .onnx file to write; the sidecar goes next to it as .json")
    ex.add_argument(
        "--check",
        required=True,
        help="real clips to check the graph on against vidscope's own scores (the first 4 "
        "are used): videos (folder, list, CSV, file) or a feature store whose manifest names "
        "its videos",
    )
    ex.add_argument(
        "--from-features",
        action="store_true",
        help="export features [T, D] -> scores (no backbone; for runs whose backbone has "
        "no ONNX form)",
    )
    ex.add_argument("--weights", help="backbone weights file (timm: backbones)")
    return {"export": cmd_export}


def cmd_export(args: argparse.Namespace) -> int:
    from ..pipelines import export

    result = export(
        args.run, args.out, check=args.check, from_features=args.from_features,
        weights=args.weights,
    )  # fmt: skip
    Console().print(
        f"{result.onnx} (+ {result.sidecar.name}): max |score diff| vs vidscope "
        f"{result.max_abs_diff:.2g} on {len(result.checked)} clip(s)",
        highlight=False,
    )
    return 0
