"""Spatial views at extraction: the whole frame plus a grid of tiles, each at full input size.

Frames are squashed whole to the network's input (224 px for EfficientNet-Lite0), so two people
80 px tall in a 1280x720 surveillance frame become a few pixels. With
``--backbone-option tiles=2x2`` an appearance backbone instead sees the frame decoded at
``2 x 224`` px per side: once squashed to 224 px (the *global* view, the same pixels as
without tiles) and as four 224 px tiles, each showing a quarter of the picture at twice the
resolution. The views go through the backbone in one batch and are combined per frame as
``tile_pool`` says (:data:`POOLS`):

- ``max`` (default): ``[global | max over tiles]``, ``2 D`` wide: where in the frame something
  happens does not matter, and the width does not grow with the grid;
- ``mean_max``: ``[global | mean over tiles | max over tiles]``, ``3 D``;
- ``concat``: ``[global | tile (0,0) | tile (0,1) | ...]`` in row-major order, ``(1 + R C) D``.

The tile grid and pooling are part of the backbone's identity (so of the store key), and its
layout stays one part named after the backbone, so a tree head projects all views together
and a fused motion part still stays out of that projection. Cost: ``1 + R C`` encoder passes
per frame (5 for ``2x2``) plus decoding at the larger size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ..errors import InputError
from ._base import Backbone, check_frames, resize_frames
from ._options import add_options

#: Ways to combine the views of one frame: name -> width in multiples of the backbone's D.
POOLS: dict[str, Callable[[int], int]] = {
    "max": lambda tiles: 2,
    "mean_max": lambda tiles: 3,
    "concat": lambda tiles: 1 + tiles,
}
DEFAULT_POOL = "max"
#: Largest grid side accepted (4x4 = 17 encoder passes per frame).
MAX_SIDE = 4

F = TypeVar("F", bound=Callable[..., Backbone])


def parse_tiles(tiles: str | int | tuple[int, int]) -> tuple[int, int]:
    """``(rows, cols)`` of a ``"RxC"`` text (``"2x2"``, ``"2x3"``), an int ``n`` (n x n) or a pair.

    Raises:
        ValueError: naming ``--backbone-option tiles`` for anything else, or a side outside
            1..:data:`MAX_SIDE`.
    """
    try:
        if isinstance(tiles, str):
            parts = tiles.lower().replace("×", "x").split("x")
            rows, cols = (int(parts[0]), int(parts[0])) if len(parts) == 1 else map(int, parts)
        elif isinstance(tiles, int):
            rows, cols = tiles, tiles
        else:
            rows, cols = (int(v) for v in tiles)
    except (TypeError, ValueError):
        raise InputError(
            f"--backbone-option tiles={tiles!r}: give the grid as ROWSxCOLS, e.g. tiles=2x2"
        ) from None
    if not (1 <= rows <= MAX_SIDE and 1 <= cols <= MAX_SIDE) or rows * cols < 2:
        raise InputError(
            f"--backbone-option tiles={tiles!r}: each side must be 1..{MAX_SIDE} and the grid "
            "must have at least 2 tiles, e.g. tiles=2x2"
        )
    return rows, cols


class TiledBackbone(Backbone):
    """A frame backbone run on the global view and on a grid of tiles (module docstring).

    Args:
        inner: The appearance backbone (one that does not need frame pairs).
        tiles: The grid, ``"RxC"`` (see :func:`parse_tiles`).
        pool: How views are combined: a key of :data:`POOLS`.

    Raises:
        ValueError: for a motion backbone, an unknown pool or a bad grid.
    """

    def __init__(self, inner: Backbone, *, tiles: str | int, pool: str = DEFAULT_POOL) -> None:
        if inner.needs_next_frame or inner.preprocess.resize in ("keep_aspect", "short_side"):
            raise InputError(
                f"--backbone-option tiles: {inner.name} cannot be tiled (only appearance "
                "backbones with a fixed input size can)"
            )
        if pool not in POOLS:
            raise InputError(
                f"--backbone-option tile_pool={pool!r}: known pools are {', '.join(POOLS)}"
            )
        self.rows, self.cols = parse_tiles(tiles)
        self.pool = pool
        self.inner = inner
        self.name = inner.name
        self.num_features = inner.num_features * POOLS[pool](self.rows * self.cols)
        pre = inner.preprocess
        h, w = pre.input_size
        self.preprocess = dataclasses.replace(pre, input_size=(self.rows * h, self.cols * w))

    @property
    def runtime(self) -> str:
        return self.inner.runtime

    def identity(self) -> dict[str, object]:
        return {
            **self.inner.identity(),
            "num_features": self.num_features,
            "tiles": [self.rows, self.cols],
            "tile_pool": self.pool,
            "view_preprocess": self.preprocess.to_dict(),
        }

    def views(self, frames: np.ndarray) -> np.ndarray:
        """``uint8 [1 + R C, N, h, w, 3]``: the global view, then the tiles in row-major order.

        Args:
            frames: ``uint8 [N, R h, C w, 3]`` frames at :attr:`preprocess`'s input size.
        """
        check_frames(frames)
        h, w = self.inner.preprocess.input_size
        if frames.shape[1:3] != (self.rows * h, self.cols * w):
            raise InputError(
                f"tiled frames must be {self.rows * h}x{self.cols * w} (HxW), got "
                f"{frames.shape[1]}x{frames.shape[2]}"
            )
        out = np.empty((1 + self.rows * self.cols, len(frames), h, w, 3), np.uint8)
        out[0] = resize_frames(frames, (w, h))  # the whole picture, as without tiles
        for r in range(self.rows):
            for c in range(self.cols):
                out[1 + r * self.cols + c] = frames[:, r * h : (r + 1) * h, c * w : (c + 1) * w]
        return out

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """``float32 [N, num_features]`` features of frames at :attr:`preprocess`'s input size."""
        views = self.views(frames)  # [V, N, h, w, 3]
        v, n = views.shape[:2]
        feats = self.inner.encode(views.reshape(v * n, *views.shape[2:]))
        feats = np.asarray(feats, np.float32).reshape(v, n, -1)  # [V, N, D]
        whole, tiles = feats[0], feats[1:]
        if self.pool == "concat":
            parts = [whole, *tiles]
        elif self.pool == "max":
            parts = [whole, tiles.max(axis=0)]
        else:
            parts = [whole, tiles.mean(axis=0), tiles.max(axis=0)]
        return np.concatenate(parts, axis=1)  # [N, num_features]


def tileable(factory: F) -> F:
    """Give a backbone factory the options ``tiles`` (e.g. ``"2x2"``; ``None`` = no tiles) and
    ``tile_pool`` (:data:`POOLS`), which wrap what it builds in a :class:`TiledBackbone`.

    The options are added to the factory's signature, so ``create_backbone`` and fused
    backbones route ``--backbone-option tiles=2x2`` to it by name.
    """

    def check(o: dict[str, Any]) -> None:
        if o["tiles"] is None and o["tile_pool"] != DEFAULT_POOL:
            raise InputError("--backbone-option tile_pool needs tiles too, e.g. tiles=2x2")

    def wrap(inner: Backbone, o: dict[str, Any]) -> Backbone:
        if o["tiles"] is None:
            return inner
        return TiledBackbone(inner, tiles=o["tiles"], pool=o["tile_pool"])

    return add_options(factory, {"tiles": None, "tile_pool": DEFAULT_POOL}, wrap, check=check)
