"""Test-time flip: each frame encoded as it is and mirrored left-right, the features combined.

With ``--backbone-option tta=hflip`` an appearance backbone encodes every frame twice, once
as decoded and once mirrored left-right (in one batch), and combines the two feature vectors
per frame as ``tta_pool`` says (:data:`POOLS`): ``mean`` (default) or element-wise ``max``.
Both are symmetric, so a mirrored video gets the same features as the original (up to float
rounding): a fight seen from the other side of the street looks the same to the head.

The option is part of the backbone's identity (so of the store key and of every run trained
on the store), so ``predict`` and ``timeline``, which rebuild the backbone from the store key
(:meth:`vidscope.features.StoreKey.extract_config`), apply the same flip. The width and the
layout do not change. Cost: 2 encoder passes per frame; decoding is unchanged. With
``tiles=RxC`` the flip applies to the whole tiled frame (global view and tiles are mirrored).
In a fused backbone (``efficientnet_lite0+flow``) only the appearance part takes the option.
A clip backbone (``i3d``) flips whole windows: every frame of a window is mirrored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ..errors import InputError
from ._base import Backbone, check_clips, check_frames
from ._options import add_options

#: The augmentations ``tta`` accepts: name -> what it does (for messages and docs).
TTAS: dict[str, str] = {"hflip": "the frame and its left-right mirror image"}
#: Ways to combine a frame's views: name -> reducer over axis 0 of ``[2, N, D]``.
POOLS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "mean": lambda f: f.mean(axis=0),
    "max": lambda f: f.max(axis=0),
}
DEFAULT_POOL = "mean"

F = TypeVar("F", bound=Callable[..., Backbone])


class FlipBackbone(Backbone):
    """A frame backbone run on each frame and its mirror image (module docstring).

    Args:
        inner: The appearance backbone (one that does not need frame pairs); may be tiled.
        tta: The augmentation, a key of :data:`TTAS` (only ``"hflip"`` today).
        pool: How the two views are combined: a key of :data:`POOLS`.

    Raises:
        InputError: for a motion backbone, an unknown augmentation or an unknown pool, naming
            the ``--backbone-option`` to fix.
    """

    def __init__(self, inner: Backbone, *, tta: str = "hflip", pool: str = DEFAULT_POOL) -> None:
        if tta not in TTAS:
            raise InputError(
                f"--backbone-option tta={tta!r}: known test-time augmentations are "
                f"{', '.join(TTAS)}, e.g. tta=hflip"
            )
        if pool not in POOLS:
            raise InputError(
                f"--backbone-option tta_pool={pool!r}: known pools are {', '.join(POOLS)}"
            )
        if inner.needs_next_frame:
            raise InputError(
                f"--backbone-option tta: {inner.name} measures motion and cannot be flipped "
                "(only appearance backbones can)"
            )
        self.inner = inner
        self.tta = tta
        self.pool = pool
        self.name = inner.name
        self.num_features = inner.num_features
        self.preprocess = inner.preprocess
        self.clip_frames = inner.clip_frames
        self.clip_fps = inner.clip_fps
        self.clip_stride = inner.clip_stride

    @property
    def runtime(self) -> str:
        return self.inner.runtime

    def identity(self) -> dict[str, object]:
        return {**self.inner.identity(), "tta": self.tta, "tta_pool": self.pool}

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """``float32 [N, num_features]``: the pooled features of the frames and their mirrors.

        Args:
            frames: ``uint8 [N, H, W, 3]`` frames as the inner backbone takes them.
        """
        check_frames(frames)
        n = len(frames)
        both = np.concatenate([frames, frames[:, :, ::-1]], axis=0)  # [2N, H, W, 3]
        feats = np.asarray(self.inner.encode(both), np.float32).reshape(2, n, -1)
        return np.ascontiguousarray(POOLS[self.pool](feats), dtype=np.float32)

    def encode_clips(self, clips: np.ndarray) -> np.ndarray:
        """As :meth:`encode`, for a clip backbone: ``uint8 [N, K, H, W, 3]`` windows and the
        same windows mirrored."""
        check_clips(clips, self.clip_frames)
        n = len(clips)
        both = np.concatenate([clips, clips[:, :, :, ::-1]], axis=0)  # [2N, K, H, W, 3]
        feats = np.asarray(self.inner.encode_clips(both), np.float32).reshape(2, n, -1)
        return np.ascontiguousarray(POOLS[self.pool](feats), dtype=np.float32)


def flippable(factory: F) -> F:
    """Give a backbone factory the options ``tta`` (``"hflip"``; ``None`` = off) and
    ``tta_pool`` (:data:`POOLS`), which wrap what it builds in a :class:`FlipBackbone`.

    The options are added to the factory's signature, so ``create_backbone`` and fused
    backbones route ``--backbone-option tta=hflip`` to it by name. Apply it outside
    :func:`vidscope.backbones._tiles.tileable`, so a tiled frame is flipped as a whole.
    """

    def check(o: dict[str, Any]) -> None:
        if o["tta"] is None and o["tta_pool"] != DEFAULT_POOL:
            raise InputError("--backbone-option tta_pool needs tta too, e.g. tta=hflip")

    def wrap(inner: Backbone, o: dict[str, Any]) -> Backbone:
        if o["tta"] is None:
            return inner
        return FlipBackbone(inner, tta=str(o["tta"]), pool=o["tta_pool"])

    return add_options(factory, {"tta": None, "tta_pool": DEFAULT_POOL}, wrap, check=check)
