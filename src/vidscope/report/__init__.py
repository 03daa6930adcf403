"""Timeline plots (PNG, matplotlib) and the self-contained HTML report of ``vidscope timeline``.

::

    plot_timeline(timeline, "out/clip/timeline.png")      # curve, threshold, segments, truth
    write_report([timeline, ...], "out/report.html")       # players + clickable curves, offline
"""

from __future__ import annotations

from ._axis import format_time
from ._html import write_report
from ._plot import plot_timeline

__all__ = ["format_time", "plot_timeline", "write_report"]
