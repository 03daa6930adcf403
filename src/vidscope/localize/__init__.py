"""Sliding-window scores over long videos, score curves, and curve-to-segment post-processing.

The ``timeline`` workflow (extract + score + segment + report) is in :mod:`vidscope.pipelines`.
"""

from ..types import Segment, Timeline
from ._calibrate import calibrate_timeline
from ._calibrate_clips import calibrate_timeline_on_clips
from ._calibration import Calibration, read_calibration
from ._compose import (
    ClipFeatures,
    ComposedVideo,
    check_compose_options,
    compose_clips,
    compose_store,
)
from ._postprocess import SegmentConfig, curve_to_segments, nms, off_level, smooth_curve
from ._signals import feature_signal
from ._timeline import TimelineConfig, WindowPlan, plan_windows, score_video

__all__ = [
    "Calibration",
    "ClipFeatures",
    "ComposedVideo",
    "Segment",
    "SegmentConfig",
    "Timeline",
    "TimelineConfig",
    "WindowPlan",
    "calibrate_timeline",
    "calibrate_timeline_on_clips",
    "check_compose_options",
    "compose_clips",
    "compose_store",
    "curve_to_segments",
    "feature_signal",
    "nms",
    "off_level",
    "plan_windows",
    "read_calibration",
    "score_video",
    "smooth_curve",
]
