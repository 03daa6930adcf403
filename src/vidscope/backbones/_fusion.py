"""Fused backbones: ``--backbone a+b`` puts the parts' per-frame features side by side.

``create_backbone("efficientnet_lite0+flow")`` builds each part by its registered name and
concatenates their features in the order given: ``[N, 1280 + 10]``. The fused backbone's
``layout`` lists ``(part name, width)`` in that order (the store records it, so a head can
find the appearance part, which by convention comes first), and its ``identity()`` holds the
parts' identities, so a store made with ``efficientnet_lite0+flow`` never mixes with one made
with ``efficientnet_lite0``.

Options are routed to the parts: ``runtime`` and ``threads`` go to every part that takes
them; any other option (``weights``, ``gap``, ...) goes to the first part, in the given order,
that names it, else to the first that takes any keyword (``timm:`` passes those on to the
model). ``--weights`` thus applies to the appearance part of ``timm:resnet50+flow``, and
``gap`` to its flow part; one weights file serves only one part.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ._base import Backbone, check_frames
from ._registry import FUSE, accepts, list_backbones, resolve_factory

#: Options every part that takes them receives (the rest go to the first part that does).
SHARED_OPTIONS = ("runtime", "threads")


class FusedBackbone(Backbone):
    """Parts' features concatenated in order: ``[N, sum of widths]``.

    ``preprocess`` is the first part's (informational); every part keeps its own in
    :attr:`parts`, and the extractor prepares frames for each part separately.

    Args:
        name: The ``+``-joined registry id.
        parts: Built part backbones, in feature order.
    """

    def __init__(self, name: str, parts: Sequence[Backbone]) -> None:
        if len(parts) < 2:
            raise InputError(f"--backbone {name!r}: a fusion needs at least two parts")
        self.name = name
        self._parts = list(parts)
        self.num_features = sum(p.num_features for p in self._parts)
        self.preprocess = self._parts[0].preprocess
        self.needs_next_frame = any(p.needs_next_frame for p in self._parts)

    @property
    def parts(self) -> list[Backbone]:
        return list(self._parts)

    @property
    def layout(self) -> list[tuple[str, int]]:
        return [entry for part in self._parts for entry in part.layout]

    @property
    def runtime(self) -> str:
        return FUSE.join(p.runtime for p in self._parts)  # e.g. "onnx+opencv"

    def identity(self) -> dict[str, object]:
        """Name, the parts' identities in order, and the first weights id among them."""
        ids = [p.identity() for p in self._parts]
        return {
            "name": self.name,
            "weights": next((i["weights"] for i in ids if i.get("weights")), None),
            "num_features": self.num_features,
            "parts": ids,
        }

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """Features of full-view frames (any size, the source's aspect ratio).

        Each part gets the frames resized for it (:meth:`Preprocess.fit`). Fails for a
        fusion with a motion part: use :meth:`encode_pairs`.
        """
        check_frames(frames)
        feats = [p.encode(p.preprocess.fit(frames)) for p in self._parts]
        return np.concatenate(feats, axis=1)  # [N, D]

    def encode_pairs(
        self, frames: np.ndarray, next_frames: np.ndarray, dt_s: np.ndarray
    ) -> np.ndarray:
        """As :meth:`Backbone.encode_pairs`, frames as for :meth:`encode`."""
        check_frames(frames)
        feats = [
            p.encode_pairs(p.preprocess.fit(frames), p.preprocess.fit(next_frames), dt_s)
            if p.needs_next_frame
            else p.encode(p.preprocess.fit(frames))
            for p in self._parts
        ]
        return np.concatenate(feats, axis=1)  # [N, D]


def fuse(name: str, **options: Any) -> FusedBackbone:
    """Build the fused backbone ``name`` (``+``-joined registered names).

    Args:
        name: e.g. ``"efficientnet_lite0+flow"`` or ``"timm:resnet50+flow"``.
        **options: Routed to the parts as the module docstring says.

    Raises:
        ValueError: for an empty or repeated part, an unknown part (listing the known
            backbones), or an option no part takes.
    """
    names = [n.strip() for n in name.split(FUSE)]
    if "" in names:
        raise InputError(
            f"--backbone {name!r}: empty part name; join names with '{FUSE}', "
            "e.g. efficientnet_lite0+flow"
        )
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"--backbone {name!r}: each part may appear once, repeated: {repeated}")
    factories = [_factory(name, part) for part in names]
    routed = route_options(name, factories, options)
    parts = [make(**kw) for make, kw in zip(factories, routed, strict=True)]
    return FusedBackbone(FUSE.join(names), parts)


def route_options(
    name: str, factories: Sequence[Callable[..., Backbone]], options: dict[str, Any]
) -> list[dict[str, Any]]:
    """Per-part keyword arguments (see the module docstring).

    Raises:
        ValueError: if an option is taken by no part.
    """
    routed: list[dict[str, Any]] = [{} for _ in factories]
    for key, value in options.items():
        takers = [i for i, f in enumerate(factories) if accepts(f, key)]
        named = [i for i in takers if accepts(factories[i], key, by_name=True)]
        if key not in SHARED_OPTIONS and named:  # a part that names it beats a **kwargs one
            takers = named
        if not takers:
            flag = "--" + key.replace("_", "-")
            raise InputError(f"no part of --backbone {name!r} takes {flag}; leave it out")
        for i in takers if key in SHARED_OPTIONS else takers[:1]:
            routed[i][key] = value
    return routed


def _factory(name: str, part: str) -> Callable[..., Backbone]:
    try:
        return resolve_factory(part)
    except ValueError as exc:
        if not str(exc).startswith("unknown"):  # e.g. "timm:" with no model name
            raise InputError(f"--backbone {name!r}: {exc}") from None
        known = ", ".join(list_backbones())
        raise InputError(
            f"--backbone {name!r}: unknown part {part!r}; known backbones: {known}"
        ) from None
