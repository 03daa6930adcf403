"""How an existing store's settings differ from the ones an extraction asks for, in one line.

``extract --out STORE`` into a store made with other settings is refused (features made
differently are never mixed); the message names each difference in the user's terms (``4
frames uniform`` rather than a dump of both ``store.json`` dicts) and the flags that would
add to the store instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..video import SamplingSpec
from ._config import ExtractConfig
from ._key import StoreKey


def mismatch_error(root: Path, old: dict[str, Any], new: dict[str, Any]) -> StoreError:
    """The error for extracting with key ``new`` into the store at ``root`` keyed ``old``.

    Returns:
        A :class:`StoreError` whose one-line message says, per differing setting, what the
        store has and what this run asks (``(the default)`` when the run did not choose it),
        then the flags that match the store, or another ``--out``.
    """
    have = StoreKey.from_json(old, where=f"{root}/store.json")
    want = StoreKey.from_json(new, where="the settings asked")
    parts: list[str] = []
    flags: list[str] = []
    for describe in (_backbone, _sampling, _seek, _simple):
        p, f = describe(have, want)
        parts += p
        flags += f
    if not parts:  # a difference no rule words: fall back on the raw fields
        parts = have.differences(want)
    give = " ".join(f for f in flags if not f.startswith(LEAVE))
    drop = ", ".join(f.removeprefix(LEAVE) for f in flags if f.startswith(LEAVE))
    ways = [w for w in (give and f"pass {give}", drop and f"leave out {drop}") if w]
    hint = f"{' and '.join(ways)} to add to it, or give" if ways else "give"
    return StoreError(
        f"{root} was made with different settings: {'; '.join(parts)}. Features from different "
        f"settings are never mixed: {hint} another --out (or delete the store)."
    )


#: (what differs, in words; the flags that match the store). A flag to leave out starts
#: with LEAVE.
Wording = tuple[list[str], list[str]]
LEAVE = "leave out "


def _backbone(have: StoreKey, want: StoreKey) -> Wording:
    if have.backbone_name != want.backbone_name:
        return (
            [f"store has backbone {have.backbone_name}, this run asks {want.backbone_name}"],
            [f"--backbone {have.backbone_name}"],
        )
    parts, flags = [], []
    diff = have.differences(want, keys=("backbone",))
    if any(d.startswith("backbone.weights:") for d in diff):
        parts.append(f"the {have.backbone_name} weights differ (store {_short(have)}, "
                     f"this run {_short(want)})")  # fmt: skip
        flags.append("the store's --weights file")
    a, b = have.backbone_options, want.backbone_options
    options = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    if not options:  # the identity's own fields (preprocessing, ...) follow from the options
        parts += [d for d in diff if not d.startswith("backbone.weights:")]
    for k in options:
        parts.append(f"backbone option {k}: store has {_opt(a, k)}, this run asks {_opt(b, k)}")
        flags.append(f"--backbone-option {k}={a[k]}" if k in a else f"{LEAVE}--backbone-option {k}")
    if not parts and have.layout != want.layout:
        parts.append(f"store has D={have.num_features}, this run makes D={want.num_features}")
    return parts, flags


def _sampling(have: StoreKey, want: StoreKey) -> Wording:
    a, b = have.sampling_spec(), want.sampling_spec()
    if a == b:
        return [], []
    default = " (the default)" if b == ExtractConfig().sampling else ""
    text = f"store has {_spec(a)}, this run asks {_spec(b)}{default}"
    if a is None:
        return [text], []
    flag = {"uniform": "--frames", "fps": "--fps", "every": "--every"}[a.mode]
    value = int(a.value) if a.mode == "uniform" else f"{a.value:g}"
    cap = f" --max-frames {a.max_frames}" if a.max_frames else ""
    return [text], [f"{flag} {value}{cap}"]


def _seek(have: StoreKey, want: StoreKey) -> Wording:
    if have.seek != want.seek:
        default = " (the default)" if want.seek == ExtractConfig().seek else ""
        return (
            [f"store seeks {have.seek}, this run {want.seek}{default}"],
            [f"--seek {have.seek}"],
        )
    a, b = _tolerance(have), _tolerance(want)
    if have.seek != "keyframe" or a == b:
        return [], []
    return ([f"store has --keyframe-tolerance {a}, this run {b}"], [f"--keyframe-tolerance {a}"])


def _simple(have: StoreKey, want: StoreKey) -> Wording:
    parts, flags = [], []
    for name, flag in (("dtype", "--dtype"), ("image_fps", "--image-fps")):
        a, b = getattr(have, name), getattr(want, name)
        if a != b:
            parts.append(f"store has {flag} {a}, this run {b}")
            flags.append(f"{flag} {a}")
    return parts, flags


def _tolerance(key: StoreKey) -> str:
    if key.keyframe_tolerance_s is not None:
        return f"{key.keyframe_tolerance_s:g}"
    return f"{key.keyframe_reach if key.keyframe_reach is not None else 1.0:g}x"


def _spec(spec: SamplingSpec | None) -> str:
    return "unknown sampling" if spec is None else spec.describe()


def _short(key: StoreKey) -> str:
    return str(key.backbone.get("weights") or "-")[:8]


def _opt(options: dict[str, Any], key: str) -> str:
    return repr(options[key]) if key in options else "its default"
