"""`CDTrainer`: Hugging Face's Trainer with the few changes this task needs.

- `--visual_abstractor_lr` puts the abstractor's parameters in their own optimizer groups with that learning
  rate (the schedule scales every group alike). The original meant to and silently did not.
- `--group_by_modality_length` batches records of similar length, using the dataset's cheap length estimate
  instead of loading every sample to measure it.
- Logs carry `samples_per_second` and `tokens_per_second` (tokens with images expanded) at every logging step.
- Every save also writes the image preprocessor config, so each checkpoint folder is complete.
- Checkpoints are written into `.partial-checkpoint-N/` and renamed to `checkpoint-N` once complete, so a kill
  during a save never leaves a `checkpoint-N` that looks resumable (`cdreasoning.train.checkpoints`).
"""

from __future__ import annotations

import time

from transformers import Trainer
from transformers.trainer_pt_utils import LengthGroupedSampler

from cdreasoning.processing.tokenizer_files import copy_sentencepiece_files
from cdreasoning.train.checkpoints import publish_checkpoint, stage_dir


class CDTrainer(Trainer):
    """Hugging Face `Trainer` with the abstractor's own learning rate, the image processor saved with every
    checkpoint, and throughput (samples, tokens) in the logs."""

    def __init__(self, *args, image_processor=None, image_tokens: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.image_processor = image_processor
        self.image_tokens = image_tokens
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
            decay = set(self.get_decay_parameter_names(opt_model))
            groups: dict[tuple[bool, bool], list] = {}
            for name, param in opt_model.named_parameters():
                if param.requires_grad:
                    groups.setdefault(("visual_abstractor" in name, name in decay), []).append(param)
            param_groups = []
            for (abstractor, decays), params in sorted(groups.items()):
                group = {"params": params, "weight_decay": self.args.weight_decay if decays else 0.0}
                if abstractor:
                    group["lr"] = self.args.visual_abstractor_lr
                param_groups.append(group)
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer

    # -- batching ----------------------------------------------------------------------------------------------
    def _get_train_sampler(self, *args, **kwargs):
        if self.args.group_by_modality_length:
            return LengthGroupedSampler(
                self.args.train_batch_size * self.args.gradient_accumulation_steps,
                lengths=self.train_dataset.lengths,
            )
        return super()._get_train_sampler(*args, **kwargs)

    # -- throughput ----------------------------------------------------------------------------------------------
    def compute_loss(self, model, inputs, *args, **kwargs):
        if model.training:
            images = inputs["pixel_values"].shape[0] if inputs.get("pixel_values") is not None else 0
            self._samples += int(inputs["input_ids"].shape[0])
            self._tokens += int(inputs["attention_mask"].sum()) + images * (self.image_tokens - 1)
        return super().compute_loss(model, inputs, *args, **kwargs)

    def log(self, logs, *args, **kwargs):
        if "loss" in logs and self._samples:
            elapsed = max(time.perf_counter() - self._since, 1e-9)
            world = max(1, self.args.world_size)
            logs["samples_per_second"] = round(self._samples * world / elapsed, 3)
            logs["tokens_per_second"] = round(self._tokens * world / elapsed, 1)
            self._samples = self._tokens = 0
            self._since = time.perf_counter()
        return super().log(logs, *args, **kwargs)

    # -- saving -----------------------------------------------------------------------------------------------
    def _save(self, output_dir=None, state_dict=None):
        super()._save(output_dir, state_dict)
        if self.image_processor is not None and self.args.should_save:
            self.image_processor.save_pretrained(output_dir or self.args.output_dir)
        if self.processing_class is not None and self.args.should_save:
            # transformers 5 saves tokenizer.json only; keep the SentencePiece model prompts are encoded with
            copy_sentencepiece_files(self.processing_class.name_or_path, output_dir or self.args.output_dir)

    # -- atomic checkpoints -------------------------------------------------------------------------------------
    def _get_output_dir(self, trial):
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
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            final = publish_checkpoint(run_dir, step)
            best = self.state.best_model_checkpoint
            if best is not None and str(best).startswith(str(stage_dir(run_dir, step))):
                self.state.best_model_checkpoint = str(final)
            _rotate(self, run_dir)
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
