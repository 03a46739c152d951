"""The training loop of `cdflow train`: steps, epoch-end validation, best.pt, last.pt, Ctrl-C.

    status = train_epochs(run, train_set, val_set)      # 0: done (or --max-steps reached), 130: interrupted

Per step: the loss of `loss.py` on both images of each pair, Adam, EMA update. Per epoch: validation with
the EMA weights, best.pt when the validation SRCC improves, step decay of the learning rate, last.pt. A run
stopped by --max-steps validates there; the first Ctrl-C finishes the current step, saves last.pt and ends
the loop (status 130), a second one raises KeyboardInterrupt.
"""

from __future__ import annotations

import json
import math
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cdreasoning.cdflow.data import EvalPairs, TrainPairs, batches_per_epoch, epoch_batches
from cdreasoning.cdflow.loss import cdflow_loss
from cdreasoning.cdflow.options import default_workers
from cdreasoning.cdflow.predict import predict_pairs
from cdreasoning.cdflow.train_checkpoints import save_best, save_last
from cdreasoning.cdflow.train_settings import PROG
from cdreasoning.cdflow.train_setup import Run

__all__ = ["Logger", "StopFlag", "print_epoch", "train_epochs", "train_step"]


class StopFlag:
    """First Ctrl-C: finish the current step, save, stop. Second: the default KeyboardInterrupt."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self):
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not in the main thread (e.g. called from a worker thread): no handler
            self._previous = None
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            # Only a flag: the step in flight finishes, so the saved state lies on a step boundary.
            raise KeyboardInterrupt
        self.requested = True
        print(
            f"\n{PROG}: interrupt — finishing this step, saving last.pt (Ctrl-C again to abort)",
            file=sys.stderr,
        )

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Logger:
    """log.jsonl always; TensorBoard when installed and wanted."""

    def __init__(self, work: Path, tensorboard: bool) -> None:
        self.path = work / "log.jsonl"
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                print(
                    f"{PROG}: tensorboard is not installed (pip install tensorboard); logging to {self.path} only",
                    file=sys.stderr,
                )
            else:
                self.writer = SummaryWriter(str(work / "tensorboard"))

    def scalars(self, values: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for name, value in values.items():
                if value is not None and math.isfinite(value):
                    self.writer.add_scalar(name, value, step)

    def record(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def train_step(run: Run, x: torch.Tensor, y: torch.Tensor, delta_v: torch.Tensor):
    """One optimizer step on b pairs: x, y [b, 3, S, S] in [0, 1], delta_v [b]. Returns the LossTerms."""
    model, device = run.model, run.device
    # train() every step: validation switches the model to eval() in between.
    model.train()
    memory_format = torch.channels_last if run.settings.channels_last else torch.contiguous_format
    # x and y go through the flow as one batch of 2b images (fewer, larger kernels than two passes).
    images = torch.cat([x, y]).to(device, non_blocking=True, memory_format=memory_format)
    # non_blocking: with pinned batches the copy overlaps the work already queued.
    delta_v = delta_v.to(device, non_blocking=True)
    with torch.autocast(device_type=device.type, dtype=run.amp_dtype, enabled=run.amp_dtype is not None):
        out = model(images)
    # The loss outside autocast: distances and NLL in the flow's float32.
    terms = cdflow_loss(out, delta_v)
    if not torch.isfinite(terms.total):  # checked before the update, so the weights stay usable
        raise FloatingPointError(
            f"non-finite loss (distance MSE {terms.distance_mse.item()}, NLL {terms.nll_x.item()} / "
            f"{terms.nll_y.item()} bpd) at step {run.progress.global_step + 1}; {run.work / 'last.pt'} holds "
            f"the last saved state — try a lower --lr, --max-grad-norm, or --precision fp32"
        )
    run.optimizer.zero_grad(set_to_none=True)
    # GradScaler (a no-op unless fp16): scales the loss so fp16 gradients do not underflow.
    run.scaler.scale(terms.total).backward()
    if run.settings.max_grad_norm > 0:
        # Unscale before clipping, so the norm is that of the true gradients.
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), run.settings.max_grad_norm)
    # step() skips the update when the scaled gradients overflowed (fp16); update() adapts the scale.
    run.scaler.step(run.optimizer)
    run.scaler.update()
    # The EMA follows every step; validation and best.pt use the averaged weights.
    run.ema.update(model)
    return terms


def validate(run: Run, val_set: EvalPairs) -> dict[str, Any]:
    """The EMA model's ΔE on the validation pairs, and its SRCC / PLCC / STRESS against ΔV."""
    from cdreasoning import metrics as M

    s = run.settings
    with run.ema.applied(run.model):
        pred = predict_pairs(
            run.model,
            val_set,
            batch_size=s.batch_size_test,
            device=run.device,
            amp_dtype=run.amp_dtype,
            num_workers=default_workers(s.num_workers, run.device),
            progress=s.progress,
            desc="validation",
        )
    human = np.array([p.delta_v for p in val_set.pairs])
    result: dict[str, Any] = {"val_pairs": len(pred), "val_mean_delta_e": float(pred.mean())}
    for name, fn in (
        ("srcc", M.srcc),
        ("plcc", lambda p, h: M.plcc(p, h, fit="logistic5")),
        ("stress", M.stress),
    ):
        try:
            result[f"val_{name}"] = float(fn(pred, human))
        except ValueError as err:  # e.g. constant predictions: no correlation (recorded, not hidden)
            result[f"val_{name}"] = None
            result[f"val_{name}_error"] = str(err)
    return result


def validate_and_keep_best(run: Run, val_set: EvalPairs, logger: Logger, train_stats: dict) -> dict[str, Any]:
    result = validate(run, val_set)
    p = run.progress
    srcc = result["val_srcc"]
    # A failed SRCC (constant predictions) ranks below every real one.
    score = srcc if srcc is not None else -math.inf
    # The first validation always writes best.pt (the original compared against 0 and could leave none).
    improved = score > p.best_val_srcc or not (run.work / "best.pt").exists()
    if improved:
        p.best_val_srcc, p.best_epoch = score, p.epoch + 1
        save_best(run, srcc if srcc is not None else float("nan"))
    p.validated_at_step = p.global_step
    entry = {
        "epoch": p.epoch + 1,
        "global_step": p.global_step,
        **train_stats,
        **result,
        "best": improved,
        "lr": run.optimizer.param_groups[0]["lr"],
    }
    p.history.append(entry)
    logger.record(entry)
    logger.scalars(
        {f"val/{k[4:]}": v for k, v in result.items() if k.startswith("val_") and isinstance(v, float)},
        p.global_step,
    )
    return entry


def train_stats(losses: list[tuple[float, float, float, float]], delta_e: list[float], human: list[float]):
    """Means of the epoch's loss terms and the training SRCC of ΔE against ΔV (a trend, not a score)."""
    from cdreasoning import metrics as M

    if not losses:
        return {}
    arr = np.array(losses)
    # train_nll_bpd averages x's and y's NLL: one bits-per-dimension figure per image.
    stats = {
        "train_loss": float(arr[:, 0].mean()),
        "train_distance_mse": float(arr[:, 1].mean()),
        "train_nll_bpd": float((arr[:, 2] + arr[:, 3]).mean() / 2),
        "train_steps": len(losses),
    }
    try:
        stats["train_srcc"] = float(M.srcc(delta_e, human))
    except ValueError:
        stats["train_srcc"] = None
    return stats


def print_epoch(entry: dict[str, Any], epochs: int) -> None:
    def fmt(key, digits=4):
        value = entry.get(key)
        return "n/a" if value is None else f"{value:.{digits}f}"

    print(
        f"epoch {entry['epoch']}/{epochs} step {entry['global_step']}: train loss {fmt('train_loss')} "
        f"(distance MSE {fmt('train_distance_mse')}, NLL {fmt('train_nll_bpd', 3)} bpd, SRCC "
        f"{fmt('train_srcc')}); validation SRCC {fmt('val_srcc')} PLCC {fmt('val_plcc')} STRESS "
        f"{fmt('val_stress', 2)}" + ("  [best]" if entry["best"] else "")
    )


def _log_step(run: Run, logger: Logger, values: tuple[float, float, float, float]) -> None:
    names = ("train/loss", "train/distance_mse", "train/nll_x_bpd", "train/nll_y_bpd")
    scalars = dict(zip(names, values))
    scalars["train/lr"] = run.optimizer.param_groups[0]["lr"]
    logger.scalars(scalars, run.progress.global_step)


def _run_epoch(run: Run, train_set: TrainPairs, logger: Logger, stop: StopFlag, max_steps: float) -> dict:
    """Train the rest of the current epoch (or up to max_steps / Ctrl-C); returns its training statistics."""
    from tqdm import tqdm

    s, p = run.settings, run.progress
    steps_per_epoch = batches_per_epoch(len(train_set), s.batch_size_train)
    # The epoch's batch order is a function of (seed, epoch); step_in_epoch skips the batches already done.
    batches = epoch_batches(len(train_set), s.batch_size_train, s.seed, p.epoch, p.step_in_epoch)
    loader = torch.utils.data.DataLoader(
        train_set,
        batch_sampler=batches,
        num_workers=default_workers(s.num_workers, run.device),
        pin_memory=run.device.type == "cuda",
    )
    losses, delta_e, human = [], [], []
    bar = tqdm(
        total=steps_per_epoch,
        initial=p.step_in_epoch,
        desc=f"epoch {p.epoch + 1}/{s.epochs}",
        unit="step",
        disable=not s.progress,
        dynamic_ncols=True,
    )
    for x, y, delta_v, _ in loader:
        terms = train_step(run, x, y, delta_v)
        values = (terms.total.item(), terms.distance_mse.item(), terms.nll_x.item(), terms.nll_y.item())
        p.global_step += 1
        p.step_in_epoch += 1
        losses.append(values)
        # Training ΔE per pair, for the epoch's trend SRCC (free: the forward computed it anyway).
        delta_e.extend(terms.delta_e.cpu().tolist())
        human.extend(delta_v.tolist())
        bar.update(1)
        bar.set_postfix(loss=f"{values[0]:.4g}", dist=f"{values[1]:.4g}", nll=f"{values[2]:.3f}")
        if p.global_step % s.log_every == 0:
            _log_step(run, logger, values)
        if p.global_step >= max_steps or stop.requested:
            break
        if p.global_step % s.save_every == 0:
            save_last(run)
    bar.close()
    return train_stats(losses, delta_e, human)


def train_epochs(run: Run, train_set: TrainPairs, val_set: EvalPairs) -> int:
    """Train from run.progress to the last epoch (or --max-steps); returns 0, or 130 after Ctrl-C."""
    s, p = run.settings, run.progress
    logger = Logger(run.work, tensorboard=s.tensorboard)
    steps_per_epoch = batches_per_epoch(len(train_set), s.batch_size_train)
    max_steps = s.max_steps if s.max_steps is not None else math.inf
    try:
        with StopFlag() as stop:
            while p.epoch < s.epochs and p.global_step < max_steps and not stop.requested:
                stats = _run_epoch(run, train_set, logger, stop, max_steps)
                if p.step_in_epoch >= steps_per_epoch:  # the epoch is complete
                    print_epoch(validate_and_keep_best(run, val_set, logger, stats), s.epochs)
                    # Step decay once per completed epoch, after validation (a partial epoch does not decay).
                    run.scheduler.step()
                    p.epoch, p.step_in_epoch = p.epoch + 1, 0
                # --max-steps ended mid-epoch: validate there once, so best.pt reflects the final weights.
                elif p.global_step >= max_steps and p.validated_at_step != p.global_step:
                    print_epoch(validate_and_keep_best(run, val_set, logger, stats), s.epochs)
                save_last(run)
            if not stop.requested and not (run.work / "best.pt").exists():
                # no validation ran (--max-steps 0): validate and keep the initial model, so that best.pt exists
                print_epoch(validate_and_keep_best(run, val_set, logger, {}), s.epochs)
                save_last(run)
            if stop.requested:
                print(
                    f"{PROG}: stopped at step {p.global_step}; {run.work / 'last.pt'} saved — rerun the same "
                    f"command to resume",
                    file=sys.stderr,
                )
                return 130
    finally:
        logger.close()
    return 0
