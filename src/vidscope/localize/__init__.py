"""Sliding-window scores over long videos, score curves, and curve-to-segment post-processing."""

from ._api import timeline, write_outputs
from ._postprocess import SegmentConfig, curve_to_segments, nms, smooth_curve
from ._signals import feature_signal
from ._timeline import TimelineConfig, WindowPlan, plan_windows, score_video
from ..types import Segment, Timeline

__all__ = [
    "Segment",
    "SegmentConfig",
    "Timeline",
    "TimelineConfig",
    "WindowPlan",
    "curve_to_segments",
    "feature_signal",
    "nms",
    "plan_windows",
    "score_video",
    "smooth_curve",
    "timeline",
    "write_outputs",
]
