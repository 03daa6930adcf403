"""The ``ensemble`` head: several registered heads, each on some of the store's layout parts.

This module only plans an ensemble (which heads, with which options, on which feature
columns) and checks the plan against the store's layout; the ``ensemble`` trainer
(:mod:`vidscope.training`) builds, fits and averages the members with their own trainers.
Numpy-free and torch-free: listing and planning need nothing heavy.

Members are written ``HEAD[:KEY=VALUE...][@PART+PART...]``, comma-separated, e.g.
``stats_xgboost@efficientnet_lite0+flow,stats_xgboost@efficientnet_lite2+flow`` or
``mlp:hidden=64@efficientnet_lite0,stats_xgboost``; without ``@`` a member reads every part.
A JSON list of ``{"head": ..., "parts": [...], "options": {...}}`` objects works too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ._layout import Layout, layout_config
from ._registry import head_trainer, register_head

#: The ``--head-option`` key that lists the members.
MEMBERS_FLAG = "--head-option members"


@dataclass(frozen=True)
class MemberPlan:
    """One member of an ensemble.

    Attributes:
        head: Registered head name.
        options: Its head options (``--head-option`` values of that head).
        parts: Layout parts it reads (empty: every part), as the user named them.
        columns: ``[(start, stop), ...]`` column ranges of the run's features it reads, in
            layout order.
        layout: ``[(part, width), ...]`` of the member's own features.
    """

    head: str
    options: dict[str, Any] = field(default_factory=dict)
    parts: tuple[str, ...] = ()
    columns: tuple[tuple[int, int], ...] = ()
    layout: tuple[tuple[str, int], ...] = ()

    @property
    def num_features(self) -> int:
        return sum(stop - start for start, stop in self.columns)

    @property
    def label(self) -> str:
        """``head@part+part`` (or the head alone when it reads every part)."""
        return f"{self.head}@{'+'.join(self.parts)}" if self.parts else self.head


@dataclass(frozen=True)
class EnsemblePlan:
    """What ``create_head("ensemble", ...)`` returns: the members, checked against the layout.

    Attributes:
        members: The member plans, in the order given.
        num_features: D of the run's features.
        num_outputs: 1 for binary, C for C classes.
        layout: ``[(part, width), ...]`` of the run's features.
    """

    members: tuple[MemberPlan, ...]
    num_features: int
    num_outputs: int
    layout: tuple[tuple[str, int], ...]


def parse_members(members: Any) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """``(head, options, parts)`` of each member, from the compact text or a JSON list.

    Raises:
        ConfigError: empty, malformed, or naming another ensemble, with the syntax.
    """
    syntax = (
        f"{MEMBERS_FLAG}=HEAD[:KEY=VALUE...][@PART+PART...],... (e.g. "
        "members=stats_xgboost@efficientnet_lite0+flow,mlp:hidden=64@efficientnet_lite0)"
    )
    if isinstance(members, str) and members.strip().startswith("["):
        try:
            members = json.loads(members)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{MEMBERS_FLAG}: not valid JSON ({exc}); or use {syntax}") from None
    if isinstance(members, str):
        items: list[Any] = [m.strip() for m in members.split(",") if m.strip()]
    elif isinstance(members, (list, tuple)):
        items = list(members)
    else:
        items = []
    if not items:
        raise ConfigError(f"--head ensemble needs its members: {syntax}")
    out = [_member(item, syntax) for item in items]
    nested = [h for h, _, _ in out if h == "ensemble"]
    if nested:
        raise ConfigError(f"{MEMBERS_FLAG}: a member cannot be another ensemble")
    return out


def _member(item: Any, syntax: str) -> tuple[str, dict[str, Any], tuple[str, ...]]:
    if isinstance(item, dict):
        unknown = sorted(set(item) - {"head", "parts", "options"})
        if unknown or not isinstance(item.get("head"), str):
            raise ConfigError(
                f"{MEMBERS_FLAG}: each JSON member is {{'head': NAME, 'parts': [...], "
                f"'options': {{...}}}}, got {item!r}"
            )
        parts = item.get("parts") or []
        options = item.get("options") or {}
        if not isinstance(parts, list) or not isinstance(options, dict):
            raise ConfigError(f"{MEMBERS_FLAG}: 'parts' must be a list, 'options' an object")
        return item["head"], dict(options), tuple(str(p) for p in parts)
    if not isinstance(item, str):
        raise ConfigError(f"{MEMBERS_FLAG}: cannot read member {item!r}; use {syntax}")
    spec, _, parts_text = item.partition("@")
    head, *pairs = spec.split(":")
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{MEMBERS_FLAG}: {item!r}: expected KEY=VALUE after ':'; {syntax}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    parts = tuple(p.strip() for p in parts_text.split("+") if p.strip())
    if not head.strip() or ("@" in item and not parts):
        raise ConfigError(f"{MEMBERS_FLAG}: cannot read member {item!r}; use {syntax}")
    return head.strip(), options, parts


def member_columns(
    layout: list[tuple[str, int]], parts: tuple[str, ...], num_features: int, *, label: str
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[str, int], ...]]:
    """Column ranges and sub-layout of the layout entries named ``parts`` (all when empty).

    Raises:
        ConfigError: a part the layout does not have, naming the parts it has.
    """
    if not parts:
        whole = tuple((n, w) for n, w in layout) or (("features", num_features),)
        return ((0, num_features),), whole
    have = [n for n, _ in layout]
    missing = [p for p in parts if p not in have]
    if missing:
        shown = ", ".join(f"{n} ({w})" for n, w in layout) or "none (the store records no layout)"
        raise ConfigError(
            f"{MEMBERS_FLAG}: member {label!r} reads part(s) {', '.join(missing)}, but the "
            f"store's features have the parts: {shown}. Name parts of this store, or extract "
            "with a --backbone that fuses them (e.g. efficientnet_lite0+efficientnet_lite2+flow)"
        )
    columns, sub, start = [], [], 0
    for name, width in layout:
        if name in parts:
            columns.append((start, start + width))
            sub.append((name, width))
        start += width
    return tuple(columns), tuple(sub)


@register_head("ensemble", trainer="ensemble")
def ensemble(
    *, num_features: int, num_outputs: int, layout: Layout | None = None, members: Any = None
) -> EnsemblePlan:
    """Mean probability of member heads, each on some layout parts (members=HEAD@PART+PART,...).

    Raises:
        ConfigError: no members, an unknown member head, or a part the store's layout does
            not have (naming the parts it has).
    """
    parts = [(str(n), int(w)) for n, w in layout_config(num_features, layout) or []]  # type: ignore[misc]
    plans = []
    for head, options, wanted in parse_members(members):
        try:
            head_trainer(head)
        except ConfigError as exc:
            raise ConfigError(f"{MEMBERS_FLAG}: {exc}") from None
        label = f"{head}@{'+'.join(wanted)}" if wanted else head
        columns, sub = member_columns(parts, wanted, num_features, label=label)
        plans.append(MemberPlan(head, options, wanted, columns, sub))
    return EnsemblePlan(tuple(plans), num_features, num_outputs, tuple(parts))
