"""Measurement helpers shared by the benchmark scripts: CPU accounting, a quiet-machine gate,
and the environment record every JSON result carries."""

from __future__ import annotations

import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) and its finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent busy (all processes, plus hypervisor steal)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait


def foreign_share(busy_before: float, own_before: float, wall_s: float) -> float:
    """Share of all CPUs that other processes took since ``machine_busy_seconds()`` was
    ``busy_before`` and ``cpu_seconds()`` was ``own_before``, ``wall_s`` seconds ago."""
    foreign = machine_busy_seconds() - busy_before - (cpu_seconds() - own_before)
    return max(0.0, foreign / max(wall_s * (os.cpu_count() or 1), 1e-9))


class QuietGate:
    """Waits, before each measurement, until other processes leave the CPUs (nearly) idle,
    spending at most ``budget_s`` seconds waiting in all."""

    def __init__(self, budget_s: float, threshold: float = 0.15) -> None:
        self.left = budget_s
        self.threshold = threshold

    def wait(self) -> None:
        while self.left > 0:
            busy, own = machine_busy_seconds(), cpu_seconds()
            time.sleep(0.5)
            if foreign_share(busy, own, 0.5) < self.threshold:
                return
            self.left -= 0.5


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` where none)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor()


def environment(*modules: Any, **extra: Any) -> dict[str, Any]:
    """What the figures were measured on: date, machine, Python, the given modules'
    versions (plus vidscope's), load average, and any ``extra`` fields."""
    import vidscope

    versions = {m.__name__: getattr(m, "__version__", "?") for m in modules}
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {"vidscope": vidscope.__version__, **versions},
        "loadavg": os.getloadavg(),
        **extra,
    }
