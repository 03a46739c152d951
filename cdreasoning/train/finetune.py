"""Fine-tune an mPLUG-Owl2-layout model on colour-difference conversations (full or LoRA, DeepSpeed-ready).

An HF image-text-to-text checkpoint (Qwen2.5-VL, Qwen3-VL, Qwen3.5, Idefics3, …; from config.json's model_type)
takes the same flags and data through `cdreasoning.train.hf_training`.

    python cdreasoning/train/finetune.py --model_name_or_path CKPT --data_path train.json \\
        --image_folder images/ --output_dir runs/cd --version v1 --bf16 True --num_train_epochs 1 …
    cdreasoning train …                                    (the same)
    deepspeed cdreasoning/train/finetune.py --deepspeed scripts/zero3.json …   (multi-GPU / multi-node)

`sh scripts/finetune.sh` and `sh scripts/finetune_lora.sh` wrap this with the recipes' settings. Flags: the
original scripts' (see `cdreasoning.train.arguments`) plus every `transformers.TrainingArguments` option.
A rerun resumes from the newest complete `checkpoint-*` in `--output_dir` (`--resume_from_checkpoint auto`, the
default; same data order, optimizer and LR schedule); `--fresh` starts over after listing what it deletes; a run
from step 0 over another run's checkpoints is refused (see `cdreasoning.train.checkpoints`). Before step 0 the
data gets the checks of `cdreasoning data check` (cached per file; `--skip_data_check` for huge sets). Full runs
save a checkpoint in the released layout; LoRA runs save the adapter (with any other trained module); `cdreasoning export --merge-lora` turns that into a standalone checkpoint.

Steps: parse → check the checkpoint strictly → load the model (ZeRO-3-aware) → choose what trains → build the
data → train → save.
"""

from __future__ import annotations

import os
import sys

import torch

from cdreasoning.errors import report_errors


def _newest_checkpoint(output_dir: str) -> str | None:
    """The newest complete checkpoint folder of `output_dir` (None when there is none)."""
    from cdreasoning.train.checkpoints import scan_checkpoints

    newest = scan_checkpoints(output_dir).newest
    return None if newest is None else str(newest)


def _prepare_argv(argv: list[str]) -> list[str]:
    """Defaults that differ from transformers': TensorBoard logging, non-reentrant checkpointing, and the right
    process setup on machines without a GPU (see `_cpu_deepspeed_state`)."""
    argv = list(argv)
    if not any(a.startswith("--report_to") for a in argv):
        argv += ["--report_to", "tensorboard"]
    if not any(a.startswith("--gradient_checkpointing_kwargs") for a in argv):
        # non-reentrant checkpointing lets gradients reach LoRA adapters behind frozen embeddings
        argv += ["--gradient_checkpointing_kwargs", '{"use_reentrant": false}']
    if not torch.cuda.is_available():
        if any(a.startswith("--deepspeed") for a in argv):
            _cpu_deepspeed_state()
            # Tell the Trainer's accelerator to reuse the
            # PartialState created above instead of making its own.
            argv += ["--accelerator_config", '{"use_configured_state": true}']
        elif not any(a.startswith("--use_cpu") for a in argv):
            # without it, CPU ranks of a multi-process run would each train on the whole dataset
            argv += ["--use_cpu", "True"]
    return argv


def _cpu_deepspeed_state() -> None:
    """DeepSpeed on CPU processes (gloo). accelerate cannot set this up itself: with `use_cpu` it drops DeepSpeed
    (plain DDP), and without it it finds no backend and reports a world size of 1, so every rank would train on
    the whole dataset. Creating its process state with the gloo backend first gives a real DeepSpeed run."""
    if "LOCAL_RANK" not in os.environ:
        raise RuntimeError(
            "--deepspeed on a machine without GPU needs a launcher: use `deepspeed --num_gpus N "
            "cdreasoning/train/finetune.py …` (or NUM_GPUS=N sh scripts/finetune.sh)"
        )
    from accelerate import PartialState

    os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    PartialState(backend="gloo")


def load_model_for_training(path, training_args, attention: str):
    """The model with ZeRO-3-aware loading (transformers' from_pretrained, made strict by our class).
    `path`: a checkpoint folder or an open `CheckpointFolder` (its config is passed on, not read again)."""
    from cdreasoning.model import CheckpointFolder, MPLUGOwl2ForCausalLM
    from cdreasoning.runtime import resolve_attention

    checkpoint = CheckpointFolder.open(path)
    dtype = torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16 else torch.float32
    if training_args.deepspeed is None and dtype != torch.float32:
        dtype = torch.float32  # plain runs keep fp32 master weights; --bf16/--fp16 then means autocast
    kwargs = {"dtype": dtype, "local_files_only": True, "config": checkpoint.config}
    # QLoRA: the frozen decoder in 4 / 8 bits; the vision tower, abstractor and LM head keep the dtype.
    if training_args.bits in (4, 8):
        if not torch.cuda.is_available():
            raise RuntimeError("--bits 4/8 (QLoRA) needs a CUDA GPU and bitsandbytes")
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=training_args.bits == 4,
            load_in_8bit=training_args.bits == 8,
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            llm_int8_skip_modules=["vision_model", "visual_abstractor", "lm_head"],
        )
        # Each process's quantised copy goes straight onto its own GPU (its local process index).
        kwargs["device_map"] = {"": training_args.local_process_index}
    model = MPLUGOwl2ForCausalLM.from_pretrained(str(checkpoint.path), **kwargs)
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    model.set_attention_implementation(resolve_attention(attention, device))
    # No KV cache while training: each step runs the full sequence, and a cache conflicts with checkpointing.
    model.config.use_cache = False
    return model


@report_errors
def main(argv: list[str] | None = None) -> int:
    from transformers import HfArgumentParser

    from cdreasoning.errors import UsageError
    from cdreasoning.model import CheckpointFolder
    from cdreasoning.processing import get_template
    from cdreasoning.runtime import offline_hub
    from cdreasoning.train.arguments import DataArguments, ModelArguments, TrainingArguments
    from cdreasoning.train.checkpoints import resolve_resume
    from cdreasoning.train.data_validation import validate_training_data
    from cdreasoning.train.dataset import ConversationDataset, DataCollator
    from cdreasoning.train.soft_labels import SoftLabelConfig
    from cdreasoning.train.trainer import CDTrainer
    from cdreasoning.train.tuning import configure_tuning, trainable_parameter_summary

    offline_hub()
    argv = sys.argv[1:] if argv is None else argv
    parser = HfArgumentParser((ModelArguments, DataArguments, TrainingArguments))
    # Answered here so the help shows this module's docstring under the "cdreasoning train" name.
    if any(a in ("-h", "--help") for a in argv):
        parser.prog = "cdreasoning train"
        parser.description = __doc__
        parser.print_help()
        return 0
    try:
        model_args, data_args, training_args = parser.parse_args_into_dataclasses(args=_prepare_argv(argv))
    except ValueError as error:  # the arguments' own checks (__post_init__): a usage error, not a crash
        raise UsageError(str(error), hint="cdreasoning train --help lists the options") from error
    if not model_args.model_name_or_path:
        parser.error("--model_name_or_path is required")
    if not data_args.data_path:
        parser.error("--data_path is required")

    from cdreasoning.runtime import apply_threads

    apply_threads(
        training_args.threads, prog="cdreasoning train"
    )  # CPU threads chosen before any kernel runs
    if not data_args.skip_data_check:
        validate_training_data(
            data_args.data_path,
            data_args.image_folder,
            training_args.output_dir,
            # Local rank 0 alone writes the check cache (one writer per machine); every rank runs the checks.
            write_cache=os.environ.get("LOCAL_RANK", "0") == "0",
        )
    resume = resolve_resume(
        training_args.output_dir, training_args.resume_from_checkpoint, training_args.fresh
    )

    from cdreasoning.backbones import detect_backbone

    if detect_backbone(model_args.model_name_or_path) == "hf_vlm":  # Qwen-VL, Idefics3, … (config.json)
        from cdreasoning.train.hf_training import train_hf

        return train_hf(model_args, data_args, training_args, resume)
    # The soft-label loss is mPLUG-Owl2's default (it won the benchmark in docs/training.md).
    training_args.score_loss = training_args.score_loss or "soft"
    checkpoint = CheckpointFolder.open(
        model_args.model_name_or_path
    )  # config.json read once, for every loader
    config = checkpoint.config
    # Initialise the process group now: under ZeRO-3 the model is built inside deepspeed.zero.Init, which
    # partitions parameters over the ranks and so needs the group before from_pretrained runs.
    _ = training_args.device
    model = load_model_for_training(checkpoint, training_args, model_args.attention)
    model = configure_tuning(model, training_args)
    # local_process_index 0: one line per machine, not one per GPU.
    if training_args.local_process_index == 0:
        print(f"[train] trainable parameters: {trainable_parameter_summary(model)}", flush=True)

    tokenizer = checkpoint.load_tokenizer()
    # The tokenizer's limit follows --model_max_length (longer records are a DataError, never truncated).
    tokenizer.model_max_length = training_args.model_max_length
    processor = checkpoint.image_processor(aspect_ratio=data_args.image_aspect_ratio)
    dataset = ConversationDataset(
        data_args.data_path,
        tokenizer,
        get_template(model_args.version),
        processor,
        data_args.image_folder,
        training_args.model_max_length,
        config.image_tokens,
        lazy=data_args.lazy_preprocess,
        swap_pair_prob=training_args.swap_pair_prob,
        identical_pair_prob=training_args.identical_pair_prob,
        seed=training_args.seed,
        soft_labels=(
            # --soft-label-std 0 means the two-level target (None), as DeQA-Score for data without a spread.
            SoftLabelConfig(std=training_args.soft_label_std or None)
            if training_args.score_loss == "soft"
            else None
        ),
    )
    trainer = CDTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        # Pads with the tokenizer's pad id (<unk>, 0, for LLaMA);
        # padded positions are masked and never supervised.
        data_collator=DataCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
        image_processor=processor,
        image_tokens=config.image_tokens,
        # The level ids the dataset found in context, the same ones the scorer reads.
        level_ids=dataset.level_ids,
        score_loss_weight=training_args.score_loss_weight,
    )
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_state()
    trainer.save_model(training_args.output_dir)
    if training_args.local_process_index == 0:
        print(f"[train] saved to {training_args.output_dir}", flush=True)
    return 0


def _run_as_script() -> None:
    """Entry when launched by torchrun / deepspeed: tear the process group down and exit hard, which avoids
    a known abort at interpreter exit after CPU-offload runs (see ENVIRONMENT notes in the README)."""
    code = main()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    _run_as_script()
