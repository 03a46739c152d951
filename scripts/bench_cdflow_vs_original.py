"""CD-Flow side by side: our training step and inference against the original code (haoychen3/CD-Flow).

    git clone https://github.com/haoychen3/CD-Flow /tmp/cdflow-orig          # any checkout with flow.py, model.py
    python scripts/bench_cdflow_vs_original.py --against-original /tmp/cdflow-orig               # 128 px, batch 2
    python scripts/bench_cdflow_vs_original.py --against-original /tmp/cdflow-orig --image-size 256 --rounds 4
    python scripts/bench_cdflow_vs_original.py --against-original /tmp/cdflow-orig --synthetic-load 2
    python scripts/bench_cdflow_vs_original.py --against-original /tmp/cdflow-orig --device cuda --image-size 768

Without --against-original it prints why it skips and exits 0 (`scripts/bench_cdflow.py` times ours alone).

How it compares (the paper's flow, 6 scales × 8 steps, width 512, on both sides):
- one process builds our model (seed 0), initialises ActNorm on the benchmark images, moves every parameter by
  N(0, 0.001²) (so that no coupling is the trivial initial scaling) and saves the weights and the inputs;
- the original's model is built from its own `model.py`/`flow.py`, run on current torch, and given those
  weights mapped name by name (`_to_original`); its ActNorm is marked initialised;
- rounds alternate the two sides in fresh processes (A B, then B A, …), each with the same thread count and
  inputs; a process times `--steps` training steps and inference batches after `--warmup` untimed ones;
- the training step is what each side's training loop does per batch: forward of x and y, the loss
  (10·(10·MSE(ΔE_1) + Σ MSE(ΔE_k)) + NLL(x) + NLL(y)), backward, Adam (eps 1e-7), EMA update. The original's
  NLL uses 3·768² pixels whatever the size; here it is given the real size, so the two losses are the same
  number (checked: relative difference ≤ 1e-3 on the first step). The original's
  `autograd.set_detect_anomaly(True)` is left off (it would only slow the original down);
- inference is each side's distance of `--eval-batch` pairs under no_grad.

Printed: per round the seconds per step of each side, then the ratio ours/original (min and median over the
rounds) for training and inference, in wall time and in process CPU time (user + system: on a machine shared
with other jobs, the work done rather than the waiting for a core; both sides run one thread by default), page faults and kernel time per step, and the loss check. `--synthetic-load
N` starts N busy-loop processes for the duration and stops them after (a machine shared with other jobs).
Our side runs as `cdflow train` does: malloc tuned (`cdflow/allocator.py`; `--no-allocator` to compare), and
`--channels-last`, `--compile`, `--precision` as the training flags of the same names.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCALES, STEPS, WIDTH = 6, 8, 512  # the original model.py hard-codes Glow(3, 8, 6) with width 512


# --- weights: ours → original -------------------------------------------------------------------------------

_INVCONV = {"perm": "w_p", "sign": "s_sign", "lower_mask": "l_mask", "upper_mask": "u_mask", "eye": "l_eye",
            "lower": "w_l", "log_s": "w_s", "upper": "w_u"}  # fmt: skip


def _to_original(state: dict) -> dict:
    """Our state dict under the original's names (scales.k.steps.j.* → glow.blocks.k.flows.j.*)."""
    import torch

    out = {}
    for key, value in state.items():
        if key == "actnorm_initialized":
            continue
        parts = key.split(".")
        assert parts[0] == "scales", key
        name = f"glow.blocks.{parts[1]}."
        if parts[2] == "steps":
            name += f"flows.{parts[3]}."
            layer, rest = parts[4], parts[5:]
            if layer == "invconv":
                rest = [_INVCONV[rest[0]]]
            name += ".".join([layer, *rest])
            if layer == "actnorm" and rest == ["loc"]:
                out[f"glow.blocks.{parts[1]}.flows.{parts[3]}.actnorm.initialized"] = torch.tensor(
                    1, dtype=torch.uint8
                )
        else:
            name += ".".join(parts[2:])
        out[name] = value
    return out


# --- the worker processes -----------------------------------------------------------------------------------


def _rusage() -> tuple[int, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_minflt, usage.ru_stime


def _time(fn, warmup: int, steps: int, sync) -> dict:
    for _ in range(warmup):
        fn()
    sync()
    times, cpu, faults0, kernel0 = [], [], *_rusage()
    for _ in range(steps):
        started, cpu_started = time.perf_counter(), time.process_time()
        fn()
        sync()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)  # work done, whatever the waiting for a core
    faults1, kernel1 = _rusage()
    return {
        "times": times,
        "cpu": cpu,
        "faults": (faults1 - faults0) / steps,
        "kernel_s": (kernel1 - kernel0) / steps,
    }


def _prepare(args) -> None:
    """Build our model, initialise and perturb it, save weights and inputs to args.state."""
    import torch

    from cdreasoning.cdflow import CDFlow

    torch.manual_seed(0)
    model = CDFlow(scales=SCALES, steps=STEPS, width=WIDTH)
    generator = torch.Generator().manual_seed(1)
    s, b, e = args.image_size, args.batch_size, args.eval_batch
    x, y = torch.rand(b, 3, s, s, generator=generator), torch.rand(b, 3, s, s, generator=generator)
    model.data_init(torch.cat([x, y]))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1e-3 * torch.randn(p.shape, generator=generator))
    delta_v = torch.rand(b, generator=generator) * 3
    x_eval, y_eval = torch.rand(e, 3, s, s, generator=generator), torch.rand(e, 3, s, s, generator=generator)
    torch.save({"state": model.state_dict(), "x": x, "y": y, "delta_v": delta_v, "x_eval": x_eval,
                "y_eval": y_eval}, args.state)  # fmt: skip


def _worker_ours(args, data) -> dict:
    import torch

    from cdreasoning.cdflow import CDFlow, CDFlowConfig
    from cdreasoning.cdflow.allocator import tune_allocator
    from cdreasoning.cdflow.ema import EMA
    from cdreasoning.cdflow.options import resolve_amp_dtype
    from cdreasoning.cdflow.train_loop import train_step
    from cdreasoning.cdflow.train_settings import TrainSettings
    from cdreasoning.cdflow.train_setup import Progress, Run
    from cdreasoning.runtime import resolve_device

    allocator = tune_allocator() if args.allocator else False
    device = resolve_device(args.device)
    amp_dtype = resolve_amp_dtype(args.precision, device)
    config = CDFlowConfig(scales=SCALES, steps=STEPS, width=WIDTH)
    model = CDFlow.from_config(config)
    model.load_state_dict(data["state"])
    model.to(device)
    settings = TrainSettings(training_datadir=Path("."), image_size=args.image_size, batch_size_train=args.batch_size,
                             precision=args.precision, channels_last=args.channels_last, compile=args.compile,
                             max_grad_norm=0.0, ema_warmup=False)  # fmt: skip
    if args.channels_last:
        model.to(memory_format=torch.channels_last)
    if args.compile:
        model.compile_couplings()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5, eps=1e-7)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 5, 0.5)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    ema = EMA(model, 0.999, warmup=False)
    run = Run(
        settings, config, device, amp_dtype, model, optimizer, scheduler, scaler, ema, Progress(), Path(".")
    )
    x, y, delta_v = data["x"], data["y"], data["delta_v"]
    losses = []

    def step():
        losses.append(train_step(run, x, y, delta_v).total.item())

    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    result = {"train": _time(step, args.warmup, args.steps, sync), "first_loss": losses[0]}
    model.eval()
    x_eval, y_eval = data["x_eval"].to(device), data["y_eval"].to(device)

    @torch.no_grad()
    def infer():
        with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            result["distance"] = model.distance(x_eval, y_eval).tolist()

    model.load_state_dict(data["state"])  # the distances compared are those of the initial weights
    result["inference"] = _time(infer, args.warmup, args.steps, sync)
    result["allocator"] = allocator
    return result


def _worker_original(args, data) -> dict:
    import math

    import torch

    sys.path.insert(0, str(Path(args.against_original).resolve()))
    from EMA import EMA  # the original's modules, from its checkout
    from model import CDFlow

    device = torch.device(
        args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    net = CDFlow()
    net.load_state_dict(_to_original(data["state"]), strict=True)
    net.to(device)
    optimizer = torch.optim.Adam([{"params": net.parameters(), "lr": 1e-5}], lr=1e-5, eps=1e-7)
    ema = EMA(net, 0.999)
    ema.register()
    x, y, gts = data["x"].to(device), data["y"].to(device), data["delta_v"].to(device)
    n_pixel = 3 * args.image_size**2

    def calc_loss(log_p, logdet):  # trainnet.calc_loss with the real image size
        loss = -math.log(2.0**5) * n_pixel + logdet + log_p
        return (-loss / (math.log(2) * n_pixel)).mean()

    def mse(score, label):  # loss.LossFunc
        return torch.mean((torch.squeeze(score) - label) ** 2)

    losses = []

    def step():  # trainnet.trainNet's loop body
        net.train()
        optimizer.zero_grad()
        score, s5, s4, s3, s2, s1, log_p_x, logdet_x, log_p_y, logdet_y = net(x, y)
        loss_x = calc_loss(log_p_x, logdet_x.mean())
        loss_y = calc_loss(log_p_y, logdet_y.mean())
        score_loss = (
            10 * mse(score, gts) + mse(s5, gts) + mse(s4, gts) + mse(s3, gts) + mse(s2, gts) + mse(s1, gts)
        )
        loss = 10 * score_loss + loss_x + loss_y
        loss.backward()
        optimizer.step()
        ema.update()
        losses.append(loss.item())

    sync = (lambda: torch.cuda.synchronize()) if device.type == "cuda" else (lambda: None)
    result = {"train": _time(step, args.warmup, args.steps, sync), "first_loss": losses[0]}
    net.load_state_dict(_to_original(data["state"]))
    net.eval()
    x_eval, y_eval = data["x_eval"].to(device), data["y_eval"].to(device)

    @torch.no_grad()
    def infer():
        result["distance"] = net(x_eval, y_eval)[0].flatten().tolist()

    result["inference"] = _time(infer, args.warmup, args.steps, sync)
    return result


def _worker(args) -> int:
    import torch

    torch.set_num_threads(args.threads)
    data = torch.load(args.state, weights_only=True)
    result = _worker_ours(args, data) if args.worker == "ours" else _worker_original(args, data)
    print("RESULT " + json.dumps(result))
    return 0


# --- the parent ---------------------------------------------------------------------------------------------


def _child(args, side: str, state: Path) -> dict:
    argv = [sys.executable, __file__, "--worker", side, "--state", str(state), "--against-original",
            str(args.against_original), "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
            "--eval-batch", str(args.eval_batch), "--steps", str(args.steps), "--warmup", str(args.warmup),
            "--threads", str(args.threads), "--device", args.device, "--precision", args.precision]  # fmt: skip
    argv += [flag for flag, on in (("--channels-last", args.channels_last), ("--compile", args.compile),
                                   ("--no-allocator", not args.allocator)) if on]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(args.threads)}
    env.pop("MALLOC_MMAP_MAX_", None)
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    done = subprocess.run(argv, check=False, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"{side} worker failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _start_load(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def _stop_load(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=10)


def _summary(name: str, ours: list[float], orig: list[float]) -> str:
    ratios = [a / b for a, b in zip(ours, orig)]
    return (
        f"{name}: ours {min(ours):.3f} s (median {statistics.median(ours):.3f}), original {min(orig):.3f} s "
        f"(median {statistics.median(orig):.3f}); ratio ours/original min {min(ratios):.3f}, median "
        f"{statistics.median(ratios):.3f}"
    )


def run_comparison(args) -> int:
    import torch

    with tempfile.TemporaryDirectory(prefix="cdflow_bench_") as tmp:
        state = Path(tmp) / "state.pt"
        args.state = str(state)
        load = _start_load(args.synthetic_load)
        try:
            print(
                f"CD-Flow paper model ({SCALES} scales × {STEPS} steps, width {WIDTH}), {args.image_size} px, "
                f"batch {args.batch_size} pairs, inference {args.eval_batch} pairs, {args.threads} thread(s), "
                f"device {args.device}, {args.rounds} alternating rounds of {args.steps} timed steps; load "
                f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.synthetic_load} synthetic busy loops",
                flush=True,
            )
            torch.set_num_threads(args.threads)
            _prepare(args)
            results: dict[str, list[dict]] = {"ours": [], "original": []}
            for round_index in range(args.rounds):
                order = ("ours", "original") if round_index % 2 == 0 else ("original", "ours")
                for side in order:
                    results[side].append(_child(args, side, state))
                o, g = results["ours"][-1], results["original"][-1]
                print(
                    f"round {round_index + 1}: train ours {min(o['train']['times']):.3f} s "
                    f"(CPU {min(o['train']['cpu']):.3f} s) / original {min(g['train']['times']):.3f} s "
                    f"(CPU {min(g['train']['cpu']):.3f} s); inference ours {min(o['inference']['times']):.3f} s / "
                    f"original {min(g['inference']['times']):.3f} s",
                    flush=True,
                )
        finally:
            _stop_load(load)

    ours, orig = results["ours"], results["original"]
    for name, key in (("training step", "train"), ("inference batch", "inference")):
        for measure, label in (("times", "wall"), ("cpu", "CPU")):
            print(_summary(f"{name} ({label} time)", [min(r[key][measure]) for r in ours],
                           [min(r[key][measure]) for r in orig]))  # fmt: skip
    for side, rs in results.items():
        print(
            f"{side}: {statistics.median(r['train']['faults'] for r in rs):,.0f} page faults and "
            f"{statistics.median(r['train']['kernel_s'] for r in rs):.2f} s kernel time per training step"
            + (f" (malloc tuned: {rs[0]['allocator']})" if side == "ours" else "")
        )
    loss_ours, loss_orig = ours[0]["first_loss"], orig[0]["first_loss"]
    rel = abs(loss_ours - loss_orig) / abs(loss_orig)
    dist_diff = max(abs(a - b) for a, b in zip(ours[0]["distance"], orig[0]["distance"]))
    same = rel <= 1e-3
    print(
        f"same loss: ours {loss_ours:.6f}, original {loss_orig:.6f}, relative difference {rel:.2e} "
        f"({'≤' if same else '>'} 1e-3); distances differ by at most {dist_diff:.2e}"
    )
    return 0 if same else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against-original", type=Path, default=None, help="a checkout of haoychen3/CD-Flow")
    parser.add_argument("--image-size", type=int, default=128, help="square image side (default 128)")
    parser.add_argument("--batch-size", type=int, default=2, help="pairs per training step (default 2)")
    parser.add_argument("--eval-batch", type=int, default=2, help="pairs per inference batch (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating A/B rounds (default 3)")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per process (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on both sides (default 1)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda")
    parser.add_argument("--precision", default="fp32", choices=("auto", "fp32", "bf16", "fp16"),
                        help="ours: autocast dtype (the original has none); default fp32")  # fmt: skip
    parser.add_argument("--synthetic-load", type=int, default=0, help="busy-loop processes to run meanwhile")
    parser.add_argument("--channels-last", action="store_true", help="ours: channels-last activations")
    parser.add_argument("--compile", action="store_true", help="ours: torch.compile the coupling networks")
    parser.add_argument(
        "--no-allocator", dest="allocator", action="store_false", help="ours: leave malloc alone"
    )
    parser.add_argument("--worker", choices=("ours", "original"), help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        return _worker(args)
    if args.against_original is None:
        print("bench_cdflow_vs_original: skipped — pass --against-original PATH (a checkout of "
              "https://github.com/haoychen3/CD-Flow) to compare; scripts/bench_cdflow.py times ours alone")  # fmt: skip
        return 0
    if (
        not (args.against_original / "model.py").is_file()
        or not (args.against_original / "flow.py").is_file()
    ):
        print(f"bench_cdflow_vs_original: error: {args.against_original}: no model.py and flow.py (not a CD-Flow "
              f"checkout)", file=sys.stderr)  # fmt: skip
        return 2
    sys.path.insert(0, str(REPO))
    return run_comparison(args)


if __name__ == "__main__":
    sys.exit(main())
