"""VideoMAE fine-tuning throughput on CPU: one optimiser step, and how decoding keeps up.

Two parts, random weights built from real configs (no checkpoint needed):

* **step**: clips/s of one optimiser step (uint8 clips -> normalise -> forward -> BCE loss ->
  backward -> gradient clipping -> AdamW step), the same code path as the ``videomae``
  trainer (``VideoMAEClassifier`` + :func:`vidscope.training._device.optimiser_step`), in
  fp32 and bf16 autocast, for the *tiny* test shape (2 layers, hidden 32, 4 x 32 x 32,
  batch 8) and the *base* shape (VideoMAE-base: 12 layers, hidden 768, 16 x 224 x 224, and
  16 x 112 x 112 with the position table interpolated), batch 2 on CPU (``--base-batch``).
  Each figure is the fastest of ``--rounds`` timed steps after one warm-up step; the
  process's CPU seconds per step are recorded too: on a shared machine both wall and CPU
  time bound the idle-machine step time from above, so ``clips_per_s_bound`` uses the
  smaller (CPU time is counted in 10 ms ticks: meaningless for the tiny step).
* **loader**: ``vidscope.pipelines.finetune`` on generated H.264 clips (320 x 240, 25 fps,
  4 s, a square moving left or right), one epoch per setting; the trainer's own per-epoch
  row gives clips/s and ``data_wait``, the share of the epoch the model waited for decoded
  clips (DataLoader workers decode with vidscope's reader while it trains). Settings: the
  tiny model at 32 px with 0, 1 and 2 workers (decoding-bound: the model is nearly free) and
  the base model at 112 px with 2 workers (compute-bound).

Re-runs itself with ``OMP_WAIT_POLICY=PASSIVE`` (see ``train_throughput.py``: spinning
OpenMP threads are 4-10x slower on a shared machine). Writes
``benchmarks/_work/finetune_throughput.json``.

Run::

    python benchmarks/finetune_throughput.py [--quick] [--rounds R] [--threads N]
    python benchmarks/finetune_throughput.py --device cuda   # GPU: base step, batch 8

``--quick`` skips the 224-px base step and the base loader run (about 2 minutes on 2 cores;
the full run about 10).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import cpu_seconds, environment

WORK = Path(__file__).resolve().parent / "_work"
TINY = dict(
    image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=32,
    num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
)  # fmt: skip
BASE: dict[str, Any] = {}  # VideoMAEConfig() defaults are VideoMAE-base


def checkpoint(folder: Path, shape: dict[str, Any]) -> Path:
    """A random VideoMAE checkpoint of ``shape``, saved as a user's would be."""
    import torch
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    torch.manual_seed(0)
    VideoMAEForVideoClassification(VideoMAEConfig(**shape)).save_pretrained(str(folder))
    return folder


def step_figures(
    ckpt: Path, *, size: int | None, batch: int, precision: str, rounds: int, device: str = "cpu"
) -> dict[str, Any]:
    """Clips/s of one optimiser step (fastest of ``rounds``), with CPU s per step (and peak
    GPU memory on a GPU)."""
    import torch

    from vidscope.models import load_videomae
    from vidscope.training._device import device_plan, optimiser_step

    model, _ = load_videomae(ckpt, num_outputs=1, size=size)
    plan = device_plan(device, precision)
    model.to(plan.device)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.05)
    scaler = plan.scaler()
    t, s = model.num_frames, model.image_size
    x = plan.to(torch.randint(0, 256, (batch, t, s, s, 3), dtype=torch.uint8))
    y = plan.to(torch.randint(0, 2, (batch, 1)).float())
    if plan.is_cuda:
        torch.cuda.reset_peak_memory_stats(plan.device)
    model.train()
    best_wall = best_cpu = float("inf")
    for r in range(rounds + 1):
        w0, c0 = time.perf_counter(), cpu_seconds()
        with plan.autocast():
            logits = model(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
        scaler.scale(loss).backward()
        optimiser_step(plan, scaler, opt, model.parameters())
        opt.zero_grad(set_to_none=True)
        if plan.is_cuda:
            torch.cuda.synchronize(plan.device)
        if r:  # the first step is a warm-up
            best_wall = min(best_wall, time.perf_counter() - w0)
            best_cpu = min(best_cpu, cpu_seconds() - c0)
    peak = torch.cuda.max_memory_allocated(plan.device) / 2**30 if plan.is_cuda else None
    return {
        "device": plan.describe(),
        "peak_gpu_gib": round(peak, 2) if peak is not None else None,
        "frames": t,
        "size": s,
        "batch": batch,
        "precision": precision,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "step_wall_s": round(best_wall, 3),
        "step_cpu_s": round(best_cpu, 3),
        "clips_per_s": round(batch / best_wall, 3),
        # CPU time bounds the idle-machine wall time from above (a thread is always busy)
        "clips_per_s_bound": round(batch / min(best_wall, best_cpu), 3),
    }


def make_clips(root: Path, per_class: int) -> Path:
    """``root/left|right/*.mp4``: 4 s, 320 x 240, 25 fps H.264 of a square crossing."""
    import av

    for label, sign in (("left", -1), ("right", 1)):
        for k in range(per_class):
            rng = np.random.default_rng(10 * k + (sign > 0))
            path = root / label / f"{label}{k:02d}.mp4"
            path.parent.mkdir(parents=True, exist_ok=True)
            bg = rng.integers(0, 80, (240, 320, 3), dtype=np.uint8)
            y0 = int(rng.integers(0, 180))
            with av.open(str(path), "w") as out:
                st = out.add_stream("libx264", rate=25)
                st.width, st.height, st.pix_fmt = 320, 240, "yuv420p"
                st.options = {"g": "25", "crf": "23"}
                for i in range(100):
                    x = int(20 + 2.6 * i) if sign > 0 else int(280 - 2.6 * i)
                    img = bg.copy()
                    img[y0 : y0 + 60, x - 20 : x + 20] = 230
                    out.mux(st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
                out.mux(st.encode(None))
    return root


def loader_figures(
    ckpt: Path, clips: Path, out: Path, *, size: int | None, workers: int, batch: int
) -> dict[str, Any]:
    """One training epoch through ``finetune``; the trainer's row says clips/s and wait."""
    from vidscope.pipelines import finetune

    res = finetune(
        clips, weights=ckpt, out=out, size=size, epochs=1, batch_size=batch, workers=workers,
        val_fraction=0.25, tensorboard=False, device="cpu", overwrite=True,
    )  # fmt: skip
    row = res.splits[0].fit.history[0]
    return {
        "size": size,
        "workers": workers,
        "batch": batch,
        "clips_per_s": round(row["clips_per_s"], 3),
        "data_wait": round(row["data_wait"], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--base-batch", type=int, default=2)
    ap.add_argument(
        "--device",
        default="cpu",
        help="cuda[:N]: only the VideoMAE-base 16x224x224 step at batch 8 (samples/s, peak memory)",
    )
    args = ap.parse_args()
    if os.environ.get("OMP_WAIT_POLICY") is None:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="vidscope-ft-bench-"))
    tiny, base = checkpoint(tmp / "tiny", TINY), checkpoint(tmp / "base", BASE)
    if args.device != "cpu":
        gpu = [
            step_figures(base, size=None, batch=8, precision=p, rounds=5, device=args.device)
            for p in ("fp32", "bf16", "fp16")
        ]
        print(json.dumps(gpu, indent=1))
        WORK.mkdir(exist_ok=True)
        (WORK / "finetune_throughput_gpu.json").write_text(
            json.dumps({"environment": environment(torch, transformers), "step": gpu}, indent=2)
        )
        return
    steps = []
    plan = [(tiny, None, 8), (base, 112, args.base_batch)]
    if not args.quick:
        plan.append((base, None, args.base_batch))
    for ckpt, size, batch in plan:
        for precision in ("fp32", "bf16"):
            fig = step_figures(
                ckpt, size=size, batch=batch, precision=precision, rounds=args.rounds
            )
            fig["shape"] = ckpt.name
            steps.append(fig)
            print(json.dumps(fig), flush=True)
    clips = make_clips(tmp / "clips", 8)
    loaders = []
    runs = [(tiny, None, w, 8) for w in (0, 1, 2)]
    if not args.quick:
        runs.append((base, 112, 2, args.base_batch))
    for ckpt, size, workers, batch in runs:
        fig = loader_figures(ckpt, clips, tmp / "run", size=size, workers=workers, batch=batch)
        fig["shape"] = ckpt.name
        loaders.append(fig)
        print(json.dumps(fig), flush=True)
    env = environment(torch, transformers, threads=args.threads, omp=os.environ["OMP_WAIT_POLICY"])
    WORK.mkdir(exist_ok=True)
    result = {"environment": env, "step": steps, "loader": loaders}
    (WORK / "finetune_throughput.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(env))


if __name__ == "__main__":
    main()
