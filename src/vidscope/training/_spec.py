"""``RunSpec``: what a run's ``config.json`` holds, typed, with a versioned round-trip.

Every run format vidscope has written reads back (``spec_version`` 1 had the store's fields
flat at the top level and no ``trainer``); :meth:`RunSpec.to_json` writes version 2.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import RunError
from ..features import StoreKey

SPEC_VERSION = 2
#: Version-1 fields that described the store; version 2 keeps them under ``store``.
_FLAT_STORE = {
    "backbone": "backbone",
    "backbone_options": "backbone_options",
    "sampling": "sampling",
    "seek": "seek",
    "keyframe_tolerance_s": "keyframe_tolerance_s",
    "image_fps": "image_fps",
    "store_layout": "layout",
    "store_format": "format",
}


@dataclass
class RunSpec:
    """A trained run's recipe: enough to rebuild its models and the features they expect.

    Attributes:
        head: Registered head (or model) name, e.g. ``mlp`` or ``videomae``.
        trainer: Registered trainer that fitted it (``neural``, ``tree``, ...).
        head_config: Keyword arguments that rebuild the head (``create_head(head, **...)``).
        classes: Class names; for two classes, ``classes[1]`` is the positive (event) class.
        num_features: D of the features the head reads (0 for models on raw clips).
        layout: ``[(part, width), ...]`` of those features.
        store: Key of the store it was trained on; rebuilds the extractor for raw videos.
        train: The :class:`TrainConfig` as a dict.
        folds: Member folder names of a k-fold run (``None``: one member, the run folder).
        num_params: Parameters (trees: number of dumped trees).
        clip_duration_s: Median duration of the training videos (timeline window default).
        window: Window-level runs: ``{"window_s", "stride_s"}``.
        extra: Trainer-specific settings (e.g. frames and size of a video model).
        vidscope_version: Version that wrote it.
    """

    head: str
    trainer: str = "neural"
    head_config: dict[str, Any] = field(default_factory=dict)
    classes: list[str] = field(default_factory=list)
    num_features: int = 0
    layout: list[tuple[str, int]] = field(default_factory=list)
    store: StoreKey = field(default_factory=StoreKey)
    train: dict[str, Any] = field(default_factory=dict)
    folds: list[str] | None = None
    num_params: int = 0
    clip_duration_s: float | None = None
    window: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    vidscope_version: str | None = None

    @property
    def binary(self) -> bool:
        return len(self.classes) == 2

    @property
    def positive_class(self) -> str | None:
        return self.classes[1] if self.binary else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to ``config.json``."""
        out: dict[str, Any] = {"spec_version": SPEC_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.to_json() if isinstance(value, StoreKey) else value
        out["layout"] = [[n, w] for n, w in self.layout]
        return json.loads(json.dumps(out, default=str))

    @classmethod
    def from_json(cls, data: Any, *, where: str = "config.json") -> RunSpec:
        """Read any version; unknown top-level fields are an error naming them.

        Raises:
            RunError: not an object, a required field missing, or fields of the wrong type.
        """
        if not isinstance(data, dict):
            raise RunError(f"{where}: expected a JSON object, got {type(data).__name__}")
        data = dict(data)
        version = int(data.pop("spec_version", 1) or 1)
        if version == 1:
            data = _upgrade_v1(data)
        elif version > SPEC_VERSION:
            raise RunError(
                f"{where}: written by a newer vidscope (spec {version}); upgrade vidscope"
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RunError(f"{where}: unknown field(s) {', '.join(unknown)}; is it a vidscope run?")
        if "head" not in data or not data.get("classes"):
            raise RunError(f"{where}: 'head' and 'classes' are required")
        try:
            data["store"] = StoreKey.from_json(data.get("store") or {}, where=where)
            data["layout"] = [(str(n), int(w)) for n, w in data.get("layout") or []]
            data["classes"] = [str(c) for c in data["classes"]]
            if not isinstance(data.get("head_config", {}), dict):
                raise TypeError("'head_config' must be an object")
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise RunError(f"{where}: malformed ({exc})") from None

    @classmethod
    def read(cls, path: Path) -> RunSpec:
        """Load ``path`` (a run's ``config.json``), naming it in every error."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RunError(f"{path}: cannot read ({exc.strerror or exc})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunError(f"{path}: not valid JSON ({exc})") from None
        return cls.from_json(data, where=str(path))


def _upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 (before typed specs): store fields flat, trainer implied by the head."""
    store = {new: data.pop(old) for old, new in _FLAT_STORE.items() if old in data}
    data["store"] = store
    data.setdefault("trainer", "tree" if data.get("head") == "stats_xgboost" else "neural")
    return data
