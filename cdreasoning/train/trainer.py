"""`CDTrainer`: Hugging Face's Trainer with the few changes this task needs.

- `--visual_abstractor_lr` puts the abstractor's parameters in their own optimizer groups with that learning
  rate (the schedule scales every group alike). The original meant to and silently did not.
- `--group_by_modality_length` batches records of similar length, using the dataset's cheap length estimate
  instead of loading every sample to measure it, and shuffles the order of those batches (`length_grouped_order`).
- Logs carry `samples_per_second` and `tokens_per_second` (tokens with images expanded) at every logging step.
- Every save also writes the image preprocessor config, so each checkpoint folder is complete.
- The training dataset is told each epoch (`set_epoch`), which varies its image-order draws (`--swap-pair-prob`)
  without touching the global RNG.
- `--score-loss soft`: score records carry a target distribution over the level words
  (`cdreasoning.train.soft_labels`); the loss adds `--score-loss-weight` × the KL at the level position to the
  cross-entropy of the other answer tokens. The KL is a mean over the micro-batch's score records, so it is
  divided by the gradient-accumulation steps when the cross-entropy is normalised over the accumulated batch
  (as the Trainer does for the model's own loss); under data parallelism the gradient averaging makes it a mean
  over all ranks' score records. Logs carry `score_kl` (on the five-level softmax) and `score_off_levels`.
- Checkpoints are written into `.partial-checkpoint-N/` and renamed to `checkpoint-N` once complete, so a kill
  during a save never leaves a `checkpoint-N` that looks resumable (`cdreasoning.train.checkpoints`).
"""

from __future__ import annotations

import math
import time

import torch
from transformers import Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler

from cdreasoning.processing.tokenizer_files import copy_sentencepiece_files
from cdreasoning.train.checkpoints import publish_checkpoint, stage_dir
from cdreasoning.train.soft_labels import expanded_positions, level_distribution_loss


class _EpochToDataset(TrainerCallback):
    """Tells the training dataset the epoch that starts (for its per-epoch image-order draws). state.epoch is
    e exactly when epoch e starts, and e + k/steps when a run resumes inside epoch e."""

    def __init__(self, dataset):
        self.dataset = dataset

    def on_epoch_begin(self, args, state, control, **kwargs):
        # + 1e-6: state.epoch is a float sum of step fractions, so epoch 2 may arrive as 1.9999999.
        self.dataset.set_epoch(math.floor((state.epoch or 0.0) + 1e-6))


def length_grouped_order(batch_size: int, lengths: list[int], generator=None) -> list[int]:
    """Sample indices in batches of `batch_size` records of similar length, the batches in random order.

    transformers' LengthGroupedSampler sorts each mega-batch (up to 50 batches) by length, so a mixed file trains in
    blocks: all long records (descriptions) of a mega-batch first, then all short ones (scores). Training in such
    blocks lost a third of the held-out SRCC of the quickstart (docs/training.md, "The quickstart's recipe");
    the batches are kept and only their order is shuffled. A last, partial batch stays last, so every later
    batch still starts on a multiple of `batch_size` (micro-batches of gradient accumulation stay whole).
    """
    indices = list(LengthGroupedSampler(batch_size, lengths=lengths, generator=generator))
    batches = [indices[i : i + batch_size] for i in range(0, len(indices), batch_size)]
    partial = [batches.pop()] if batches and len(batches[-1]) < batch_size else []
    order = torch.randperm(len(batches), generator=generator).tolist()
    return [i for b in order for i in batches[b]] + [i for batch in partial for i in batch]


class ShuffledLengthGroupedSampler(torch.utils.data.Sampler):
    """`length_grouped_order` as a sampler (the global torch RNG, as transformers' samplers use, unless a
    generator is given)."""

    def __init__(self, batch_size: int, lengths: list[int], generator=None):
        self.batch_size, self.lengths, self.generator = batch_size, lengths, generator

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        return iter(length_grouped_order(self.batch_size, self.lengths, self.generator))


class CDTrainer(Trainer):
    """Hugging Face `Trainer` with the abstractor's own learning rate, the image processor saved with every
    checkpoint, throughput (samples, tokens) in the logs, and the soft-label score loss."""

    def __init__(
        self,
        *args,
        image_processor=None,
        image_tokens: int = 1,
        level_ids: list[int] | None = None,
        score_loss_weight: float = 1.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.image_processor = image_processor
        self.image_tokens = image_tokens
        self.level_ids, self.score_loss_weight = level_ids, score_loss_weight
        self._score_parts: dict[str, list[float]] = {"score_kl": [], "score_off_levels": []}
        if hasattr(self.train_dataset, "set_epoch"):
            self.add_callback(_EpochToDataset(self.train_dataset))
        self._samples = 0
        self._tokens = 0
        self._since = time.perf_counter()
        self._staging: str | None = None

    # -- optimizer ---------------------------------------------------------------------------------------------
    def create_optimizer(self, model=None):
        if self.args.visual_abstractor_lr is None:
            return super().create_optimizer(model) if model is not None else super().create_optimizer()
        if self.optimizer is None:
            opt_model = self.model if model is None else model
            # The Trainer's own rule: no weight decay on biases and norm weights.
            decay = set(self.get_decay_parameter_names(opt_model))
            groups: dict[tuple[bool, bool], list] = {}
            for name, param in opt_model.named_parameters():
                if param.requires_grad:
                    # Frozen parameters (LoRA's base weights, a frozen
                    # tower) get no group and no optimizer state.
                    groups.setdefault(("visual_abstractor" in name, name in decay), []).append(param)
            param_groups = []
            # Sorted keys give the same group order on every rank
            # and run, which resuming the optimizer state relies on.
            for (abstractor, decays), params in sorted(groups.items()):
                group = {"params": params, "weight_decay": self.args.weight_decay if decays else 0.0}
                if abstractor:
                    # Only the lr differs; the LR schedule scales every group's lr by the same factor.
                    group["lr"] = self.args.visual_abstractor_lr
                param_groups.append(group)
            # The optimizer class and its kwargs (betas, eps, lr)
            # from TrainingArguments, as the Trainer builds its own.
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer

    # -- batching ----------------------------------------------------------------------------------------------
    def _get_train_sampler(self, *args, **kwargs):
        if self.args.group_by_modality_length:
            # Records of similar estimated length share batches, so less of each batch is padding.
            return ShuffledLengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=self.train_dataset.lengths,
            )
        return super()._get_train_sampler(*args, **kwargs)

    # -- throughput ----------------------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        # Popped before the forward: the model does not take them (the soft-label loss is computed here).
        positions = inputs.pop("level_positions", None)
        targets = inputs.pop("level_targets", None)
        if model.training:
            # Throughput counts training steps only; evaluation batches would inflate it.
            images = inputs["pixel_values"].shape[0] if inputs.get("pixel_values") is not None else 0
            self._samples += int(inputs["input_ids"].shape[0])
            # Positions the decoder processes: real text tokens
            # plus each image's image_tokens − 1 extra positions.
            self._tokens += int(inputs["attention_mask"].sum()) + images * (self.image_tokens - 1)
        rows = None if positions is None else (positions >= 0).nonzero().flatten()
        # No score record with a soft label in this micro-batch: the model's own cross-entropy alone.
        if rows is None or rows.numel() == 0 or self.level_ids is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        # return_outputs=True: the logits at the level positions are needed below.
        loss, outputs = super().compute_loss(model, inputs, True, num_items_in_batch)
        # logits [b, L, V]; the level token sits at expanded position e, so position e − 1 predicts it
        at = expanded_positions(inputs["input_ids"][rows], positions[rows], self.image_tokens) - 1
        kl, parts = level_distribution_loss(outputs.logits[rows, at], self.level_ids, targets[rows])
        # The model's cross-entropy is a sum over the accumulated batch's token count, the KL a
        # per-micro-batch mean: dividing by the accumulation steps keeps the KL's weight per optimizer step.
        if num_items_in_batch is not None and self.model_accepts_loss_kwargs:
            kl = kl / getattr(self, "current_gradient_accumulation_steps", 1)
        loss = loss + self.score_loss_weight * kl.to(loss.dtype)
        if model.training:
            self._score_parts["score_kl"].append(parts["kl_levels"])
            self._score_parts["score_off_levels"].append(parts["out_of_levels"])
        return (loss, outputs) if return_outputs else loss

    def log(self, logs, *args, **kwargs):
        if "loss" in logs and self._samples:
            elapsed = max(time.perf_counter() - self._since, 1e-9)
            world = max(1, self.args.world_size)
            # Per-process counters, multiplied by the world size (the ranks run in lockstep).
            logs["samples_per_second"] = round(self._samples * world / elapsed, 3)
            logs["tokens_per_second"] = round(self._tokens * world / elapsed, 1)
            self._samples = self._tokens = 0
            self._since = time.perf_counter()
        if "loss" in logs:
            # Mean over the micro-batches since the last log.
            for key, values in self._score_parts.items():
                if values:
                    logs[key] = round(sum(values) / len(values), 5)
                    values.clear()
        return super().log(logs, *args, **kwargs)

    # -- saving -----------------------------------------------------------------------------------------------
    def _save(self, output_dir=None, state_dict=None):
        super()._save(output_dir, state_dict)
        # should_save: only the main process writes these small files.
        if self.image_processor is not None and self.args.should_save:
            self.image_processor.save_pretrained(output_dir or self.args.output_dir)
        if self.processing_class is not None and self.args.should_save:
            # transformers 5 saves tokenizer.json only; keep the SentencePiece model prompts are encoded with
            copy_sentencepiece_files(self.processing_class.name_or_path, output_dir or self.args.output_dir)

    # -- atomic checkpoints -------------------------------------------------------------------------------------
    def _get_output_dir(self, trial):
        # The Trainer asks this for the run folder when saving: during a checkpoint, it is the staging folder.
        return self._staging if self._staging is not None else super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial):
        """Save into the staging folder (the Trainer writes `<staging>/checkpoint-N`), then, on the main process
        once every rank is done, rename it into place and apply `--save_total_limit` to the real folder."""
        run_dir = super()._get_output_dir(trial)
        step = self.state.global_step
        self._staging = str(stage_dir(run_dir, step))
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging = None
        # Every rank must finish writing (ZeRO-3 saves per-rank shards) before the folder is renamed.
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            final = publish_checkpoint(run_dir, step)
            best = self.state.best_model_checkpoint
            # The best checkpoint was recorded under the staging path; point it at the published one.
            if best is not None and str(best).startswith(str(stage_dir(run_dir, step))):
                self.state.best_model_checkpoint = str(final)
            _rotate(self, run_dir)
        # No rank goes on until the rename and rotation are done.
        self.accelerator.wait_for_everyone()


def _rotate(trainer: Trainer, run_dir: str) -> None:
    """`--save_total_limit` over the published checkpoints (by step number)."""
    try:
        from transformers.trainer_utils import rotate_checkpoints
    except ImportError:  # older transformers 5.x keep it as a Trainer method
        trainer._rotate_checkpoints(use_mtime=False, output_dir=run_dir)
        return
    rotate_checkpoints(
        output_dir=run_dir,
        save_total_limit=trainer.args.save_total_limit,
        best_model_checkpoint=trainer.state.best_model_checkpoint,
        use_mtime=False,
    )
