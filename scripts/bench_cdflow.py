"""Benchmark CD-Flow: training step time and inference pairs/s of the paper's 60.49 M-parameter flow.

    python scripts/bench_cdflow.py                                   # CPU, 256 px, batch 1 pair, 2 timed steps
    python scripts/bench_cdflow.py --device cuda --image-size 768 --batch-size 4 --eval-batch 4 --steps 10
    python scripts/bench_cdflow.py --preset small --image-size 64 --batch-size 8 --steps 20

What is timed is what `cdflow train` / `cdflow test` do per batch, on random images (no data loading):

- training step: one forward of both images of every pair (2·batch images), the loss of `loss.py` (all partial
  distances + both NLLs), backward, Adam step, EMA update; reported as seconds per step and pairs per second;
- inference: `CDFlow.distance` under no_grad on `--eval-batch` pairs; reported as pairs per second.

Mixed precision follows `--precision` (auto: bf16/fp16 autocast on CUDA, fp32 elsewhere), as in training.
`--synthetic-load N` runs N busy-loop processes meanwhile (the effect of `--threads` on a shared machine:
compare `--threads 1` and the default with and without it). `--warmup` untimed iterations come first (allocator, cuDNN autotuning); CUDA timings synchronise. On CUDA the
peak memory is printed too. The model is built (on the CPU, then moved), ActNorm initialised on one random batch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cdreasoning.cdflow import CDFlow, cdflow_loss, count_parameters, preset_config
from cdreasoning.cdflow.config import PRESETS
from cdreasoning.cdflow.ema import EMA
from cdreasoning.cdflow.options import resolve_amp_dtype
from cdreasoning.runtime import resolve_device


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device: torch.device, warmup: int, steps: int) -> float:
    """Mean seconds per call of fn over `steps` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return (time.perf_counter() - started) / steps


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps (default auto)")
    parser.add_argument("--image-size", type=int, default=256, help="square image side (default 256)")
    parser.add_argument("--batch-size", type=int, default=1, help="pairs per training step (default 1)")
    parser.add_argument("--eval-batch", type=int, default=2, help="pairs per inference batch (default 2)")
    parser.add_argument("--steps", type=int, default=2, help="timed iterations of each (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations first (default 1)")
    parser.add_argument(
        "--preset", choices=tuple(PRESETS), default="paper", help="architecture (default paper)"
    )
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"))
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: runtime.choose_threads)"
    )
    parser.add_argument(
        "--gradient-checkpointing", action="store_true", help="recompute flow-step activations in backward"
    )
    parser.add_argument("--skip-train", action="store_true", help="time inference only")
    parser.add_argument("--channels-last", action="store_true", help="channels-last activations and weights")
    parser.add_argument(
        "--synthetic-load",
        type=int,
        default=0,
        help="start this many busy-loop processes for the run and stop them after (a shared machine)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import subprocess

    load = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.synthetic_load)]
    try:
        return _run(args)
    finally:
        for proc in load:
            proc.terminate()
            proc.wait(timeout=10)


def _run(args) -> int:
    from cdreasoning.cdflow.allocator import tune_allocator
    from cdreasoning.runtime import apply_threads

    tune_allocator()  # as `cdflow train` does (cdflow/allocator.py)
    apply_threads(args.threads, prog="bench_cdflow")
    device = resolve_device(args.device)
    amp_dtype = resolve_amp_dtype(args.precision, device)
    config = preset_config(args.preset)
    size = args.image_size
    if size % config.multiple:
        raise SystemExit(f"--image-size must be a multiple of {config.multiple} for the {args.preset} preset")
    torch.manual_seed(0)
    started = time.perf_counter()
    model = CDFlow.from_config(config).to(device)  # built on the CPU, as training does
    build_s = time.perf_counter() - started
    generator = torch.Generator(device="cpu").manual_seed(0)

    layout = torch.channels_last if args.channels_last else torch.contiguous_format

    def images(n: int) -> torch.Tensor:
        return torch.rand(n, 3, size, size, generator=generator).to(device, memory_format=layout)

    model.data_init(images(2 * max(args.batch_size, 1)))
    model.gradient_checkpointing = args.gradient_checkpointing
    model.to(memory_format=layout)
    amp = "fp32" if amp_dtype is None else str(amp_dtype).removeprefix("torch.")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(
        f"CD-Flow {args.preset} {config}: {count_parameters(model):,} parameters (built in {build_s:.1f} s); "
        f"device {name}, {amp}, {torch.get_num_threads()} CPU threads; {size}×{size} px"
        + (", gradient checkpointing" if args.gradient_checkpointing else "")
    )

    def autocast():
        return torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None)

    if not args.skip_train:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-5, eps=1e-7)
        scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
        ema = EMA(model, 0.999)
        x, y = images(args.batch_size), images(args.batch_size)
        delta_v = torch.rand(args.batch_size, device=device) * 10

        def train_step() -> None:
            model.train()
            with autocast():
                out = model(torch.cat([x, y]).contiguous(memory_format=layout))
            terms = cdflow_loss(out, delta_v)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(terms.total).backward()
            scaler.step(optimizer)
            scaler.update()
            ema.update(model)

        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        step_s = _timed(train_step, device, args.warmup, args.steps)
        memory = (
            f", peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB"
            if device.type == "cuda"
            else ""
        )
        print(
            f"training: {step_s:.3f} s/step at batch {args.batch_size} pair(s) ({2 * args.batch_size} images), "
            f"{args.batch_size / step_s:.3f} pairs/s{memory}"
        )
        del optimizer, ema

    model.eval()
    x, y = images(args.eval_batch), images(args.eval_batch)

    @torch.no_grad()
    def infer() -> None:
        with autocast():
            model.distance(x, y)

    infer_s = _timed(infer, device, args.warmup, args.steps)
    print(
        f"inference: {infer_s:.3f} s per batch of {args.eval_batch} pair(s), {args.eval_batch / infer_s:.3f} pairs/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
