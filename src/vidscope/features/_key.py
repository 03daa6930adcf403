"""``StoreKey``: what a feature store's ``store.json`` holds, typed, with a versioned round-trip.

The key says how the features were made (backbone identity and options, layout, sampling,
seek mode, dtype). A run records the key of the store it was trained on, and
:meth:`StoreKey.extract_config` is the one way to rebuild the extractor that run expects
(``predict``, ``timeline`` and ``evaluate`` on raw videos all use it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any

from ..errors import StoreError
from ..video import SamplingSpec
from ._config import ExtractConfig

#: Version of the key's JSON form; files without ``key_version`` are version 1.
KEY_VERSION = 2
#: Backbone name recorded for plain ``.npy`` folders (no backbone is known); the same
#: string as ``_npy_folder.NPY_BACKBONE``, which writes it.
NPY_BACKBONE = "unknown (npy folder)"


@dataclass(frozen=True)
class StoreKey:
    """How a store's features were made.

    Attributes:
        backbone: The backbone's identity (``name``, ``weights`` hash, preprocessing, ...).
        layout: ``[(part name, width), ...]`` of the feature columns, in order.
        sampling: The sampling spec as a dict (``SamplingSpec.to_dict()``); ``None`` if unknown.
        seek: ``exact`` or ``keyframe``.
        keyframe_tolerance_s: How far ``keyframe`` seeking may move a sample, in seconds;
            ``None`` with ``seek='exact'``: not used; with ``keyframe``: ``keyframe_reach``.
        keyframe_reach: With ``keyframe`` and no tolerance in seconds, how far a sample may
            move as a fraction of the gap to its neighbouring sample times (1: up to them;
            keys written before the field existed imply 0.5, the rule of their day).
        image_fps: Frame rate given to image-frame folders.
        dtype: Stored feature precision.
        runtime: Which engine ran the backbone (informational: not part of the match).
        backbone_options: The backbone's own settings (``--backbone-option``).
        format: ``store`` (made by ``extract``) or ``npy`` (a plain folder of arrays).
        vidscope_version: Version that wrote the key (informational).
    """

    backbone: dict[str, Any] = field(default_factory=dict)
    layout: tuple[tuple[str, int], ...] = ()
    sampling: dict[str, Any] | None = None
    seek: str = "exact"
    keyframe_tolerance_s: float | None = None
    keyframe_reach: float | None = None
    image_fps: float = 25.0
    dtype: str = "float32"
    runtime: str | None = None
    backbone_options: dict[str, Any] = field(default_factory=dict)
    format: str = "store"
    vidscope_version: str | None = None

    #: Fields that must agree for features to be comparable (the rest is informational).
    MATCH = (
        "backbone",
        "backbone_options",
        "layout",
        "sampling",
        "seek",
        "keyframe_tolerance_s",
        "keyframe_reach",
        "image_fps",
        "dtype",
    )

    @classmethod
    def from_json(cls, data: Any, *, where: str = "store.json") -> StoreKey:
        """Read a key written by any vidscope version (missing fields take their defaults).

        Raises:
            StoreError: ``data`` is not a JSON object or a field has the wrong type.
        """
        if not isinstance(data, dict):
            raise StoreError(f"{where}: expected a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known and v is not None}
        try:
            kw["layout"] = tuple((str(n), int(w)) for n, w in kw.get("layout", ()))
            kw["backbone"] = dict(kw.get("backbone") or {})
            kw["backbone_options"] = dict(kw.get("backbone_options") or {})
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{where}: malformed layout or backbone ({exc})") from None
        if (
            kw.get("seek") == "keyframe"
            and "keyframe_tolerance_s" not in kw
            and "keyframe_reach" not in data
        ):
            kw["keyframe_reach"] = 0.5  # written when the default was halfway to a neighbour
        if "sampling" in kw and not isinstance(kw["sampling"], dict):
            raise StoreError(f"{where}: 'sampling' must be an object, got {kw['sampling']!r}")
        return cls(**kw)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``store.json``; ``config.json``'s ``store`` field)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["layout"] = [[n, w] for n, w in self.layout]
        out["key_version"] = KEY_VERSION
        return json.loads(json.dumps(out, default=str))

    @property
    def is_npy(self) -> bool:
        """A plain ``.npy`` folder: no backbone or sampling is known, only the width."""
        return self.format == "npy" or self.backbone.get("name") == NPY_BACKBONE

    @property
    def num_features(self) -> int:
        """D: the summed width of the layout."""
        return int(sum(w for _, w in self.layout))

    @property
    def backbone_name(self) -> str:
        return str(self.backbone.get("name") or "unknown")

    def sampling_spec(self) -> SamplingSpec | None:
        """The sampling as a :class:`SamplingSpec` (``None`` when not recorded)."""
        return SamplingSpec(**self.sampling) if self.sampling else None

    def describe(self) -> str:
        """``efficientnet_lite0 (D=1280, weights 1a2b3c4d, 16 frames uniform)`` for messages."""
        weights = str(self.backbone.get("weights") or "-")[:8]
        parts = [f"D={self.num_features}", f"weights {weights}"]
        if self.backbone_options:
            parts.append(", ".join(f"{k}={v}" for k, v in sorted(self.backbone_options.items())))
        spec = self.sampling_spec()
        if spec is not None:
            parts.append(spec.describe())
        return f"{self.backbone_name} ({'; '.join(parts)})"

    def differences(self, other: StoreKey, *, keys: tuple[str, ...] = MATCH) -> list[str]:
        """``["seek: 'exact' vs 'keyframe'", "backbone.preprocess: ... vs ...", ...]``: the
        matching fields that differ (dict fields by their differing sub-keys)."""
        mine, theirs = self.to_json(), other.to_json()
        out = []
        for k in keys:
            a, b = mine.get(k), theirs.get(k)
            if _norm(a) == _norm(b):
                continue
            if isinstance(a, dict) and isinstance(b, dict):
                subs = sorted(s for s in set(a) | set(b) if _norm(a.get(s)) != _norm(b.get(s)))
                out += [f"{k}.{s}: {a.get(s)!r} vs {b.get(s)!r}" for s in subs]
            else:
                out.append(f"{k}: {a!r} vs {b!r}")
        return out

    def extract_config(self, **overrides: Any) -> ExtractConfig:
        """The :class:`ExtractConfig` that makes features with this key.

        Args:
            overrides: Fields to set as well (``weights``, ``workers``, or another
                ``sampling`` such as the timeline's ``fps`` plan).

        Raises:
            StoreError: the key belongs to a plain ``.npy`` folder (nothing to rebuild).
        """
        if self.is_npy:
            raise StoreError(
                "the features were read from a plain .npy folder, so vidscope does not know "
                "the backbone that made them: give features made the same way instead of videos"
            )
        kw: dict[str, Any] = {
            "backbone": self.backbone_name,
            "backbone_options": dict(self.backbone_options),
            "seek": self.seek,
            "image_fps": self.image_fps,
            "dtype": self.dtype,
        }
        spec = self.sampling_spec()
        if spec is not None:
            kw["sampling"] = spec
        if self.seek == "keyframe" and self.keyframe_tolerance_s is not None:
            kw["keyframe_tolerance_s"] = self.keyframe_tolerance_s
        elif self.seek == "keyframe" and self.keyframe_reach is not None:
            kw["keyframe_reach"] = self.keyframe_reach
        kw.update(overrides)
        return ExtractConfig(**kw)


def _norm(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def store_key(store: Any) -> StoreKey:
    """The typed key of an open :class:`FeatureStore` (its ``meta``, i.e. ``store.json``)."""
    return StoreKey.from_json(store.meta, where=f"{store.root}/store.json")
