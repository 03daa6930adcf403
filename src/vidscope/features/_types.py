"""Re-export: :class:`FeatureSequence` lives in :mod:`vidscope.types`."""

from ..types import FeatureSequence

__all__ = ["FeatureSequence"]
