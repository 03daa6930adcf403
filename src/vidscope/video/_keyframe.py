"""``--seek keyframe``: for each requested time, the cheapest frame to decode within a window.

A frame of a keyframe interval costs the reference frames fed to the decoder before it (the
reader skips non-reference frames it does not return), so within one interval a frame earlier
in decode order is cheaper. For each requested time ``t`` the candidates are the frames shown
within ``[t - before, t + after]`` (plus the frame on screen at ``t``). The choice, in order:

1. Times whose window holds no keyframe must decode their interval from its keyframe; each
   takes the candidate earliest in decode order. The latest of these per interval sets how
   far that interval is decoded.
2. Every time then takes the candidate nearest to it among the frames that decoding passes
   anyway (decode position up to that point of a visited interval; the frame on screen at
   ``t`` first), else the nearest keyframe in its window (one frame to decode). Times are
   taken in order and keep it (none takes a frame shown before an earlier time's), and a
   frame another time already took is used again only when the window
   holds no other such frame, no keyframe and no frame at most a B-frame group past the
   decode path: rather than share a frame, a sample costs one keyframe or a few frames more.

So a sample moves only as far as saving work needs, and never beyond its window. Where windows
hold a keyframe every sample snaps to one, as before; where they do not, the interval is
decoded up to the earliest frame the window allows instead of up to ``t`` itself.
"""

from __future__ import annotations

import numpy as np

from ._index import PacketIndex

_EPS_S = 1e-9  # seconds: a frame exactly at the window's edge is inside it
#: Default reach of ``--seek keyframe``: a sample may move as far as its neighbour's time.
DEFAULT_REACH = 1.0
#: Decode positions past an interval's reach that a sample may still take rather than share
#: a frame with a neighbour: one B-frame group of common encoders (x264's default: 3 B + 1 P).
_NEAR = 4


def keyframe_targets(
    index: PacketIndex, times_s: np.ndarray, before_s: np.ndarray, after_s: np.ndarray
) -> np.ndarray:
    """Timestamp of the frame to decode for each requested time in ``--seek keyframe`` mode.

    Args:
        index: The video's packet index (needs ``decode_pos``).
        times_s: ``float64 [T]`` requested times, seconds from the first frame, any order.
        before_s: ``float64 [T]`` how far each time may move earlier, in seconds (>= 0).
        after_s: ``float64 [T]`` how far each time may move later, in seconds (>= 0).

    Returns:
        ``int64 [T]`` presentation timestamps, all in ``index.pts``; each is the frame on
        screen at its time or a frame shown within its window.
    """
    pts = index.pts
    exact = np.searchsorted(pts, index.shown_at(times_s))  # frame on screen at each time
    if not len(times_s) or index.decode_pos is None:
        return pts[exact]
    secs = index.to_seconds(pts)
    lo = np.minimum(np.searchsorted(secs, times_s - before_s - _EPS_S, "left"), exact)
    hi = np.maximum(np.searchsorted(secs, times_s + after_s + _EPS_S, "right"), exact + 1)
    is_key = np.isin(pts, index.key_pts)
    key_count = np.concatenate([[0], np.cumsum(is_key)])
    bound = key_count[hi] == key_count[lo]  # no keyframe in the window
    gop = np.maximum(np.searchsorted(index.key_pts, pts, "right") - 1, 0)
    reach = _interval_reach(index.decode_pos, gop, len(index.key_pts), lo[bound], hi[bound])
    free = index.decode_pos <= reach[gop]  # frames the decoder passes anyway
    # frames a few decode positions past that: a B-frame group, at most _NEAR more to decode
    near = (reach[gop] >= 0) & (index.decode_pos <= reach[gop] + _NEAR)
    pools = (free, is_key, near)
    chosen = exact.copy()
    taken = np.zeros(len(pts), dtype=bool)
    taken[exact[free[exact]]] = True  # a time whose own frame is free keeps it
    floor = 0  # samples keep their order: none takes a frame before an earlier one's
    for i in np.argsort(times_s, kind="stable"):
        if not free[exact[i]]:
            start = max(lo[i], floor) if floor < hi[i] else lo[i]  # windows wider than 1x
            chosen[i] = _nearest(secs, times_s[i], start, hi[i], pools, taken)
            taken[chosen[i]] = True
        floor = max(floor, int(chosen[i]))
    return pts[chosen]


def _interval_reach(
    decode_pos: np.ndarray, gop: np.ndarray, num_keys: int, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Per keyframe interval, the decode position decoding must reach (-1: not visited).

    Each window ``[lo, hi)`` (frame positions, no keyframe inside) needs its candidate that is
    earliest in decode order; an interval is decoded up to the latest of these.
    """
    reach = np.full(num_keys, -1, dtype=np.int64)
    if not len(lo):
        return reach
    padded = np.append(decode_pos, np.iinfo(np.int64).max)
    bounds = np.column_stack([lo, hi]).ravel()
    need = np.minimum.reduceat(padded, bounds)[::2]  # min decode position in each window
    frame_of = np.zeros(int(decode_pos.max()) + 1, dtype=np.int64)
    frame_of[decode_pos] = np.arange(len(decode_pos))
    where = gop[frame_of[need]]
    np.maximum.at(reach, where, need)
    return reach


def _nearest(
    secs: np.ndarray,
    t: float,
    lo: int,
    hi: int,
    pools: tuple[np.ndarray, np.ndarray, np.ndarray],
    taken: np.ndarray,
) -> int:
    """Frame position in ``[lo, hi)`` nearest to ``t``, from the first non-empty pool of:
    free frames no other time took, such keyframes, such frames near the decode path; then
    free or near frames and keyframes even if taken (a window without either is not possible: see
    :func:`_interval_reach`)."""
    free, is_key, near = (p[lo:hi] for p in pools)
    fresh = ~taken[lo:hi]
    for pool in (free & fresh, is_key & fresh, near & fresh, free | near, is_key):
        cand = np.flatnonzero(pool)
        if len(cand):
            return lo + int(cand[np.argmin(np.abs(secs[lo + cand] - t))])
    raise AssertionError("a window holds neither a keyframe nor a frame on the decode path")


def snap_windows(
    times_s: np.ndarray, duration_s: float, reach: float = DEFAULT_REACH
) -> tuple[np.ndarray, np.ndarray]:
    """How far ``--seek keyframe`` may move each sample when no tolerance in seconds is given.

    Args:
        times_s: Requested times in seconds (any order, repeats allowed).
        duration_s: Video duration; a lone sample may move ``reach`` times half of it.
        reach: Fraction of the gap to the neighbouring requested time: 1 (the default) lets a
            sample move as far as its neighbour's time, 0.5 halfway (windows never overlap,
            so samples never merge).

    Returns:
        ``(before, after)``: ``float64 [T]`` seconds each time may move earlier and later:
        ``reach`` times the gap to the previous and the next distinct requested time. The
        first and last times mirror their one gap, so a uniform grid gets the same window
        everywhere.
    """
    t = np.asarray(times_s, dtype=np.float64)
    u = np.unique(t)
    if len(u) < 2:
        half = np.full(len(t), max(float(duration_s), 0.0) / 2 * reach)
        return half, half.copy()
    gaps = np.diff(u) * reach
    before_u = np.concatenate([[gaps[0]], gaps])
    after_u = np.concatenate([gaps, [gaps[-1]]])
    i = np.searchsorted(u, t)
    return before_u[i], after_u[i]
