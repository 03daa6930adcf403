"""CoOp prompt-learning throughput on CPU: frames/s of a training epoch, and of scoring.

The ``coop`` head with a MobileCLIP2-S0-sized text tower (open_clip's ``MobileCLIP2-S0``
config: 12 layers, width 512, 77 tokens, bidirectional attention; random weights, as no CLIP
weights can be downloaded; the speed does not depend on the weights), for ``n_ctx`` 4 and 16,
with and without class-specific context (CSC):

* training frames/s: one epoch over ``--videos`` synthetic videos of ``--frames`` frames
  (512-d unit vectors), in batches of 32 videos (CoOp's batch size) as ``vidscope.train``
  runs them: padding, ``training_loss`` (every valid frame a sample), backward, gradient
  clipping and CoOp's SGD step. Every step re-runs the text tower forward and backward on
  the ``--classes`` prompts, so a step costs about the same whatever the frames per batch;
  seconds per step are printed too, to extrapolate to other batch shapes;
* scoring frames/s: ``forward`` in eval mode under ``inference_mode``, 20 passes over the
  videos in batches of 64 (the class text features are cached while the context is
  unchanged, so this is the image-side matmul and pooling).

The machine may be shared: before each measurement the script waits (``--max-wait`` seconds
in all) for other processes to leave the CPUs idle, measures ``--rounds`` epochs and keeps the
fastest; it records wall and CPU time and the share of the CPUs other processes took. Both
are upper bounds of the time on an idle machine (CPU time because a thread is busy at any
moment), so "bound" figures use the smaller of the two, as ``train_throughput.py`` does. Runs
itself with ``OMP_WAIT_POLICY=PASSIVE`` (see ``train_throughput.py`` for why).

Prints a table and writes ``benchmarks/_work/coop_throughput_<model>.json``. ``--model
ViT-B-32`` measures a plain ``CLIP`` text tower of the same size with a causal mask, where
prompts are cut after their end-of-text token.

Run::

    python benchmarks/coop_throughput.py [--videos 64] [--frames 16] [--classes 2]
        [--rounds 2] [--threads 2] [--max-wait 120] [--model MobileCLIP2-S0]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import QuietGate, cpu_seconds, environment, foreign_share, machine_busy_seconds

WORK = Path(__file__).resolve().parent / "_work"
SETTINGS = [(4, False), (4, True), (16, False), (16, True)]


def make_head(model: str, classes: int, n_ctx: int, csc: bool) -> Any:
    """A coop head on random ``model`` weights (the weights do not change the speed)."""
    import torch

    from vidscope.models import create_head

    torch.manual_seed(0)
    names = [f"class {i}" for i in range(classes)]
    return create_head(
        "coop", num_features=512, num_outputs=1 if classes == 2 else classes, classes=names,
        backbone={"name": f"clip:{model}", "weights": "random(seed=0)"}, n_ctx=n_ctx, csc=csc,
    )  # fmt: skip


def data(videos: int, frames: int, classes: int) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((videos, frames, 512)).astype(np.float32)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return list(x), rng.integers(0, classes, videos)


def train_epoch(head: Any, seqs: list[np.ndarray], y: np.ndarray, optimizer: Any) -> int:
    """One epoch in batches of 32 videos; returns the number of steps."""
    import torch

    from vidscope.data import pad

    head.train()
    steps = 0
    for s in range(0, len(seqs), 32):
        x, mask = pad(seqs[s : s + 32])
        loss = head.training_loss(torch.from_numpy(x), torch.from_numpy(mask),
                                  torch.from_numpy(y[s : s + 32]))  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(head.parameters(), 5.0)
        optimizer.step()
        steps += 1
    return steps


def score(head: Any, seqs: list[np.ndarray]) -> None:
    import torch

    from vidscope.data import pad

    head.eval()
    with torch.inference_mode():
        for s in range(0, len(seqs), 64):
            x, mask = pad(seqs[s : s + 64])
            head(torch.from_numpy(x), torch.from_numpy(mask))


def timed(fn: Any, gate: QuietGate, rounds: int) -> dict[str, float]:
    """The fastest of ``rounds`` calls: wall and CPU seconds, other processes' CPU share."""
    best: dict[str, float] | None = None
    for _ in range(rounds):
        gate.wait()
        busy, own, t0 = machine_busy_seconds(), cpu_seconds(), time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
        row = {"wall_s": wall, "cpu_s": cpu_seconds() - own,
               "foreign_share": foreign_share(busy, own, wall)}  # fmt: skip
        if best is None or wall < best["wall_s"]:
            best = row
    assert best is not None
    return best


def _bound(t: dict[str, float]) -> float:
    """The smaller of wall and CPU seconds (CPU time is counted in 10 ms ticks)."""
    return min(t["wall_s"], t["cpu_s"]) if t["cpu_s"] > 0.05 else t["wall_s"]


def measure(args: argparse.Namespace, n_ctx: int, csc: bool, gate: QuietGate) -> dict[str, Any]:
    import torch

    head = make_head(args.model, args.classes, n_ctx, csc)
    recipe = head.train_defaults  # CoOp's: SGD, lr 0.002, momentum 0.9, weight decay 5e-4
    seqs, y = data(args.videos, args.frames, args.classes)
    optimizer = torch.optim.SGD(
        head.parameters(), lr=recipe["lr"], momentum=recipe["momentum"],
        weight_decay=recipe["weight_decay"],
    )  # fmt: skip
    frames = args.videos * args.frames
    train_epoch(head, seqs[:32], y[:32], optimizer)  # warm-up: allocations, lazy init
    steps = -(-args.videos // 32)
    tr = timed(lambda: train_epoch(head, seqs, y, optimizer), gate, args.rounds)
    reps = 20  # scoring an epoch's frames takes milliseconds: time 20 passes
    sc = timed(lambda: [score(head, seqs) for _ in range(reps)], gate, args.rounds)
    return {
        "n_ctx": n_ctx, "csc": csc, "trainable_params": int(head.prompts.ctx.numel()),
        "train_frames_per_s": frames / tr["wall_s"], "train_s_per_step": tr["wall_s"] / steps,
        "train_frames_per_s_bound": frames / _bound(tr),
        "train_cpu_s": tr["cpu_s"], "train_foreign_share": tr["foreign_share"],
        "score_frames_per_s": reps * frames / sc["wall_s"],
        "score_foreign_share": sc["foreign_share"],
        "score_frames_per_s_bound": reps * frames / _bound(sc),
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--videos", type=int, default=64)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-wait", type=float, default=120.0)
    p.add_argument("--model", default="MobileCLIP2-S0")
    args = p.parse_args()
    if os.environ.get("OMP_WAIT_POLICY") is None:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    import torch

    torch.set_num_threads(args.threads)
    gate = QuietGate(args.max_wait)
    rows = [measure(args, n_ctx, csc, gate) for n_ctx, csc in SETTINGS]
    print(f"coop on {args.model}: {args.videos} videos x {args.frames} frames, "
          f"{args.classes} classes, batch 32 videos, {args.threads} threads")  # fmt: skip
    print(f"{'n_ctx':>5} {'csc':>5} {'params':>7} {'train fr/s':>10} {'(bound)':>8} "
          f"{'s/step':>7} {'busy':>5} {'score fr/s':>10} {'(bound)':>8}")  # fmt: skip
    for r in rows:
        train, score = r["train_frames_per_s"], r["score_frames_per_s"]
        print(f"{r['n_ctx']:>5} {r['csc']!s:>5} {r['trainable_params']:>7} {train:>10.0f} "
              f"{r['train_frames_per_s_bound']:>8.0f} {r['train_s_per_step']:>7.2f} "
              f"{r['train_foreign_share']:>5.0%} {score:>10.0f} "
              f"{r['score_frames_per_s_bound']:>8.0f}")  # fmt: skip
    WORK.mkdir(exist_ok=True)
    out = WORK / f"coop_throughput_{args.model}.json"
    env = environment(torch, threads=args.threads, omp_wait=os.environ["OMP_WAIT_POLICY"])
    out.write_text(json.dumps({"args": vars(args), "rows": rows, "environment": env}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
