"""``--seek keyframe`` on other projects' and real footage (``../shared/media``): at every
reach, one real decoded frame per sample, inside the sample's window, and in order where
windows end at the neighbours (reach <= 1). Reads where a damaged frame was stood in for
follow the damage contract instead (``tests/test_reader_damage.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidscope.errors import VidscopeError
from vidscope.video import SamplingSpec, VideoReader, snap_windows

from .conftest import EDGE, REAL

SUFFIXES = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".ts", ".m4v", ".flv", ".3gp", ".ogv"}


def media() -> list[Path]:
    found = [p for d in (EDGE, REAL) if d.is_dir() for p in sorted(d.rglob("*"))]
    return [p for p in found if p.is_file() and p.suffix.lower() in SUFFIXES]


@pytest.mark.skipif(not media(), reason=f"shared media not found at {EDGE} and {REAL}")
@pytest.mark.parametrize("reach", [0.5, 1.0, 2.0])
def test_keyframe_samples_are_frames_within_their_windows(reach: float) -> None:
    read = 0
    for path in media():
        try:
            reader = VideoReader(path)
        except VidscopeError:  # unreadable on purpose (edge cases): its own tests cover it
            continue
        with reader:
            duration, shown = reader.info.duration_s, reader.frame_times_s()
            for n in (3, 16):
                times = SamplingSpec("uniform", n).times(duration)
                lost = reader.stats.get("lost", 0)
                try:
                    batch = reader.read(times, seek="keyframe", keyframe_reach=reach, size=(32, 32))
                except VidscopeError:  # damaged beyond reading at these times
                    continue
                assert len(batch) == n
                if reader.stats.get("lost", 0) > lost:  # a stand-in answered a lost frame:
                    continue  # the damage contract, not the window, applies (test_reader_damage)
                before, after = snap_windows(times, duration, reach)
                on_screen = shown[np.maximum(np.searchsorted(shown, times, "right") - 1, 0)]
                earliest = np.minimum(times - before, on_screen)  # the frame shown at t counts
                assert np.all(batch.times_s <= times + after + 1e-6), path.name
                assert np.all(batch.times_s >= earliest - 1e-6), path.name
                assert np.isin(np.round(batch.times_s, 6), np.round(shown, 6)).all(), path.name
                if reach <= 1:
                    assert np.all(np.diff(batch.times_s) >= 0), path.name
        read += 1
    assert read >= 10  # the shared media hold dozens of readable videos
