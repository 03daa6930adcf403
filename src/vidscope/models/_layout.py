"""Feature layouts (``[(part, width), ...]``): checked and split, with numpy only (the tree
head uses them without torch)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InputError

Layout = Sequence[tuple[str, int]] | Sequence[Sequence[object]]


def layout_config(num_features: int, layout: Layout | None) -> list[list[object]] | None:
    """Check ``layout`` against ``num_features`` and return it JSON-ready (``[[name, width]]``).

    Raises:
        ValueError: if the part widths do not add up to ``num_features``.
    """
    if num_features < 1:
        raise InputError(f"num_features must be >= 1, got {num_features}")
    if layout is None:
        return None
    parts = [[str(name), int(width)] for name, width in layout]  # type: ignore[misc]
    total = sum(width for _, width in parts)  # type: ignore[misc]
    if total != num_features:
        raise InputError(
            f"feature layout {parts} adds up to {total} dims but the features have "
            f"{num_features}; the store's layout and its arrays disagree (re-extract the store)"
        )
    return parts


def appearance_width(num_features: int, layout: Layout | None) -> int:
    """Width of the appearance part: the first layout part when there are several, else all."""
    parts = layout_config(num_features, layout)
    if parts is None or len(parts) < 2:
        return num_features
    return int(parts[0][1])  # type: ignore[call-overload]


def check_head_spec(spec: dict | None, width: int, n_classes: int) -> None:
    """Check the feature width ``D`` and the class count of fitting data against the spec a
    head factory recorded (``num_features``, ``num_outputs``); nothing to check without one.

    Raises:
        InputError: naming the mismatch.
    """
    if not spec:
        return
    if width != spec["num_features"]:
        raise InputError(f"head built for {spec['num_features']} features, got {width}")
    outputs = 1 if n_classes == 2 else n_classes
    if outputs != spec["num_outputs"]:
        raise InputError(
            f"head built for num_outputs={spec['num_outputs']} but the labels have "
            f"{n_classes} classes (binary needs 1 output, C classes need C)"
        )
