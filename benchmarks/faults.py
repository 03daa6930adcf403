"""The standing fault suite: inject faults into ``vidscope extract`` runs on a 30-clip store and
check that nothing is lost and nothing is silently wrong.

Every run is the real command line (``python -m vidscope.cli extract``) in its own process, with
the small random-weight test backbone (``timm:test_efficientnet --weights random``, seeded, so
every process computes the same features) and 2 decode workers. A clean run first gives the
reference features. Then, each on a fresh store:

* ``kill-main``     SIGKILL of the main process after a random number (1-25) of finished videos;
                    recovery: rerun the same command.
* ``kill-worker``   SIGKILL of one decode worker at a random point; the run goes on (that video
                    is recorded as failed); recovery: rerun.
* ``two-writers``   two runs started together on one store (clips 0-19 and 10-29); the second
                    waits for the store lock (``VIDSCOPE_LOCK_WAIT_S``); no rerun.
* ``busy-store``    the first writer is stopped (SIGSTOP) mid-run and a second may wait only
                    1 s: it must stop with a one-line "another vidscope extract is writing"
                    error; recovery: the first resumes (SIGCONT), the second is rerun.
* ``disk-full``     the store on a 160 KiB tmpfs (where mounting is allowed; else a
                    ``RLIMIT_FSIZE`` of 8 KiB on the run, which the journal outgrows): the run
                    must stop with exit status 2 and a one-line error; recovery: grow the
                    tmpfs (or lift the limit) and rerun.
* ``torn-journal``  SIGKILL of the main process, then half a manifest row appended to the
                    journal (a kill in mid-write); recovery: rerun.
* ``corrupt-array`` on a finished store, three arrays damaged (one bit flipped, truncated,
                    replaced by text) and a stale ``.tmp-*`` file left; recovery: rerun.

One line per fault: what was injected, whether the run recovered, videos lost (must be 0:
a video is lost if it has no loadable features after recovery) and whether every video's
features and timestamps are bit-identical to the clean run's (must be true). The script exits
1 if any fault loses a video or changes a feature.

Run::

    python benchmarks/faults.py [--workdir DIR] [--seed S] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

N_CLIPS = 30
EXTRACT = ["--frames", "6", "--backbone", "timm:test_efficientnet", "--weights", "random",
           "--workers", "2", "--quiet"]  # fmt: skip


class Suite:
    """Clips, the clean reference store and helpers to run and judge extraction."""

    def __init__(self, work: Path, seed: int) -> None:
        self.work = work
        self.rng = random.Random(seed)
        self.clips = work / "clips"
        self.env = {**os.environ, "VIDSCOPE_CACHE": str(work / "cache"), "PYTHONUNBUFFERED": "1"}
        self.env.setdefault("VIDSCOPE_LOCK_WAIT_S", "900")
        self.reference: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    # ---- set-up ---------------------------------------------------------------------------
    def make_clips(self) -> None:
        """30 small H.264 clips of 20-60 frames (64x48, 25 fps), different content each."""
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.conftest import numbered_frames, write_video

        for i in range(N_CLIPS):
            path = self.clips / f"clip{i:02d}.mp4"
            if not path.exists():
                write_video(path, numbered_frames(20 + (i * 7) % 41, (64, 48), seed=i))

    def command(self, out: Path, clips: list[int] | None = None) -> list[str]:
        src: Path = self.clips
        if clips is not None:
            src = self.work / f"list-{clips[0]}-{clips[-1]}.txt"
            src.write_text("".join(f"{self.clips}/clip{i:02d}.mp4\n" for i in clips))
        return [sys.executable, "-m", "vidscope.cli", "extract", str(src), "--out", str(out),
                *EXTRACT]  # fmt: skip

    def start(self, out: Path, clips: list[int] | None = None, **kw) -> subprocess.Popen:
        env = {**self.env, **kw.pop("env", {})}
        pipe = subprocess.PIPE
        return subprocess.Popen(
            self.command(out, clips), env=env, stdout=pipe, stderr=pipe, text=True, **kw
        )

    def run(self, out: Path, clips: list[int] | None = None, **kw) -> subprocess.CompletedProcess:
        env = {**self.env, **kw.pop("env", {})}
        return subprocess.run(self.command(out, clips), env=env, capture_output=True, text=True,
                              timeout=1800, **kw)  # fmt: skip

    def clean(self) -> None:
        out = self.work / "clean"
        shutil.rmtree(out, ignore_errors=True)
        done = self.run(out)
        if done.returncode != 0:
            raise SystemExit(f"clean run failed:\n{done.stderr}")
        self.reference = self.load(out)
        assert len(self.reference) == N_CLIPS, f"clean run gave {len(self.reference)} videos"

    # ---- judging --------------------------------------------------------------------------
    @staticmethod
    def load(out: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        from vidscope.errors import StoreError
        from vidscope.features import open_store

        store = open_store(out)
        got = {}
        for vid in store.ids():
            with contextlib.suppress(StoreError):
                seq = store.load(vid)
                got[vid] = (seq.features, seq.times_s)
        return got

    def judge(self, out: Path) -> tuple[int, bool]:
        """(videos lost, every video's features and times equal to the clean run's)."""
        got = self.load(out)
        lost = sum(1 for v in self.reference if v not in got)
        equal = all(
            np.array_equal(got[v][0], f) and np.array_equal(got[v][1], t)
            for v, (f, t) in self.reference.items()
            if v in got
        )
        temps = list(out.rglob(".tmp-*"))
        return lost, equal and not temps

    # ---- fault helpers ----------------------------------------------------------------------
    @staticmethod
    def journal_rows(out: Path) -> int:
        path = out / "manifest.journal.jsonl"
        try:
            return len(path.read_bytes().splitlines())
        except OSError:
            return 0

    def wait_rows(self, proc: subprocess.Popen, out: Path, rows: int) -> bool:
        """Wait until the journal holds ``rows`` rows; False if the run ended first."""
        while proc.poll() is None:
            if self.journal_rows(out) >= rows:
                return True
            time.sleep(0.02)
        return False


def workers_of(pid: int) -> list[int]:
    """Decode worker processes of the extract process ``pid`` (spawned multiprocessing
    children, not the resource tracker)."""
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    out = []
    for k in kids:
        with contextlib.suppress(OSError):
            cmd = Path(f"/proc/{k}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"spawn_main" in cmd and b"resource_tracker" not in cmd:
                out.append(int(k))
    return out


@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[bool]:
    """A tmpfs of ``size`` at ``path``; yields False (and nothing mounted) where not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                        capture_output=True).returncode == 0  # fmt: skip
    try:
        yield ok
    finally:
        if ok:
            subprocess.run(["umount", "-l", str(path)], check=False)


# ---- the faults: each returns (what was injected, how it recovered, the store) --------------
def kill_main(s: Suite, out: Path) -> tuple[str, str]:
    k = s.rng.randint(1, 25)
    proc = s.start(out, start_new_session=True)
    if not s.wait_rows(proc, out, k):
        return f"SIGKILL main after {k} videos: run ended first", "n/a"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)  # orphaned workers see their pipe close and exit
    rows = s.journal_rows(out)
    done = s.run(out)
    return f"SIGKILL main process after {rows} finished videos", f"rerun exit {done.returncode}"


def kill_worker(s: Suite, out: Path) -> tuple[str, str]:
    k = s.rng.randint(1, 20)
    proc = s.start(out)
    if not s.wait_rows(proc, out, k):
        return f"SIGKILL worker after {k} videos: run ended first", "n/a"
    victims = workers_of(proc.pid)
    if victims:
        os.kill(s.rng.choice(victims), signal.SIGKILL)
    first = proc.wait()
    failed = _failed_rows(out)
    done = s.run(out)
    return (
        f"SIGKILL 1 of {len(victims)} decode workers after {k} videos; run exit {first}, "
        f"{failed} video(s) recorded failed",
        f"rerun exit {done.returncode}",
    )


def two_writers(s: Suite, out: Path) -> tuple[str, str]:
    a = s.start(out, list(range(0, 20)))
    b = s.start(out, list(range(10, 30)))
    ra, rb = a.wait(), b.wait()
    return "two runs at once on one store (clips 0-19, 10-29)", f"both exit {ra}/{rb}, no rerun"


def busy_store(s: Suite, out: Path) -> tuple[str, str]:
    a = s.start(out, list(range(0, 20)))
    running = s.wait_rows(a, out, 2)
    if running:
        os.kill(a.pid, signal.SIGSTOP)  # a stalled writer: it holds the lock, does nothing
    try:
        b = s.run(out, list(range(10, 30)), env={"VIDSCOPE_LOCK_WAIT_S": "1"})
    finally:
        if running:
            os.kill(a.pid, signal.SIGCONT)
    a.wait()
    said = b.stderr.strip().splitlines()
    refused = b.returncode == 2 and len(said) == 1 and "another vidscope extract" in said[0]
    again = s.run(out, list(range(10, 30)))
    return (
        f"second writer allowed 1 s while the first is stopped: exit {b.returncode}, one-line "
        f"refusal {refused}",
        f"first run exit {a.returncode}, second rerun exit {again.returncode}",
    )


def disk_full(s: Suite, out: Path) -> tuple[str, str]:
    mnt = out.parent / "disk"
    with small_disk(mnt, "160k") as mounted:
        store = mnt / "store" if mounted else out
        limit = {} if mounted else {"preexec_fn": _limit_files(8 * 1024)}
        first = s.run(store, **limit)
        said = first.stderr.strip().splitlines()
        clear = len(said) == 1 and "cannot write" in said[0] and "Traceback" not in first.stderr
        kept = len(s.load(store))
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
        again = s.run(store)
        how = "tmpfs 160 KiB" if mounted else "RLIMIT_FSIZE 8 KiB"
        if mounted:
            shutil.copytree(store, out)
    return (
        f"full disk ({how}): exit {first.returncode}, one-line error {clear}, {kept} kept",
        f"space freed, rerun exit {again.returncode}",
    )


def torn_journal(s: Suite, out: Path) -> tuple[str, str]:
    k = s.rng.randint(2, 20)
    proc = s.start(out, start_new_session=True)
    if not s.wait_rows(proc, out, k):
        return f"torn journal after {k} videos: run ended first", "n/a"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with open(out / "manifest.journal.jsonl", "a") as f:
        f.write('{"video_id": "clip29", "path": "/x", "sta')  # killed in mid-write
    done = s.run(out)
    return f"SIGKILL after {k} videos + half a row in the journal", f"rerun exit {done.returncode}"


def corrupt_array(s: Suite, out: Path) -> tuple[str, str]:
    shutil.copytree(s.work / "clean", out)
    feats = out / "features"
    flip = bytearray((feats / "clip03.npy").read_bytes())
    flip[-5] ^= 0x10
    (feats / "clip03.npy").write_bytes(bytes(flip))
    data = (feats / "clip11.npy").read_bytes()
    (feats / "clip11.npy").write_bytes(data[: len(data) // 2])
    (feats / "clip20.npy").write_text("not an array")
    (feats / ".tmp-stale.npy").write_bytes(b"left by a killed run")
    done = s.run(out)
    redone = (
        done.stdout.split("videos:")[1].split(",")[0].strip() if "videos:" in done.stdout else "?"
    )
    return (
        "3 arrays damaged (bit flip, truncated, text) + a stale .tmp file",
        f"rerun exit {done.returncode}, {redone} re-extracted",
    )


def _failed_rows(out: Path) -> int:
    """Videos the manifest (Parquet and journal) records as failed."""
    from vidscope.features import open_store

    return sum(r.get("status") == "failed" for r in open_store(out).rows.values())


def _limit_files(limit: int) -> Callable[[], None]:
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


FAULTS: dict[str, Callable[[Suite, Path], tuple[str, str]]] = {
    "kill-main": kill_main,
    "kill-worker": kill_worker,
    "two-writers": two_writers,
    "busy-store": busy_store,
    "disk-full": disk_full,
    "torn-journal": torn_journal,
    "corrupt-array": corrupt_array,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, help="keep clips and stores here (default: temp)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random kill points")
    ap.add_argument("--only", nargs="*", choices=sorted(FAULTS), help="run only these faults")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="vidscope-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    suite = Suite(work, args.seed)
    suite.make_clips()
    t0 = time.monotonic()
    suite.clean()
    print(f"clean run: {N_CLIPS} clips, {time.monotonic() - t0:.0f} s, store {work / 'clean'}")
    bad = 0
    for name in args.only or list(FAULTS):
        out = work / name / "store"
        shutil.rmtree(out.parent, ignore_errors=True)
        out.parent.mkdir(parents=True)
        t0 = time.monotonic()
        injected, recovered = FAULTS[name](suite, out)
        lost, equal = suite.judge(out)
        bad += lost > 0 or not equal
        print(
            f"{name:14s} injected: {injected} | recovered: {recovered} | videos lost: {lost} | "
            f"features equal to clean run: {equal} | {time.monotonic() - t0:.0f} s",
            flush=True,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
