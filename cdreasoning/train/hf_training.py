"""Fine-tuning transformers-native VLMs (Qwen2.5-VL, Qwen3-VL, Qwen3.5, Idefics3, …) with the same command and data.

    cdreasoning train --model_name_or_path /models/Qwen2.5-VL-7B-Instruct --data_path train_mix.json \\
        --image_folder images/ --output_dir runs/qwen-lora --lora_enable True --bf16 True …
    MODEL_PATH=/models/Qwen2.5-VL-7B-Instruct sh scripts/finetune_lora.sh       (DeepSpeed ZeRO-2/3)

`cdreasoning train` comes here when the checkpoint's config.json names an HF image-text-to-text model. The same
flags mean the same things, mapped onto the family's parts (`cdreasoning.backbones.hf_vlm.parameter_part`):

- full (`--lora_enable False`): the language model trains unless `--freeze_llm`; the projector / merger (the
  abstractor's counterpart: Qwen's `visual.merger`, Idefics3's `connector`) trains when `--tune_visual_abstractor`
  (default True); the vision tower trains unless `--freeze_vision_model` (default True, frozen);
- LoRA: adapters on the language model's attention and MLP projections (q/k/v/o, gate/up/down; Qwen3.5's
  linear-attention layers: in_proj_qkv, in_proj_z, out_proj; the vision tower and the projector get none) unless `--lora_target_modules` names others; projector and vision tower train as
  full copies saved with the adapter when the two flags above ask for it.

Data: the same conversation records (M-SPCD / LLaVA style). Each is rendered with the checkpoint's own chat
template, its two images in the first user turn; only the answers and their end-of-turn tokens are supervised
(`HFVisionLanguageBackbone.conversation`). Images go through the model's processor (dynamic resolution for Qwen).
`--version` and `--image_aspect_ratio` are mPLUG-Owl2 settings and are not used here. Score records get the same
`--swap-pair-prob` / `--identical-pair-prob` draws as for mPLUG-Owl2 (`cdreasoning.train.pair_draws`);
`--score-loss` defaults to `ce` here: the soft-label loss is mPLUG-Owl2's only, and asking for it is an error, not
a silent hard-label run.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from cdreasoning.backbones.base import read_model_type
from cdreasoning.backbones.hf_vlm import (
    LM_LORA_PATTERN,
    PROJECTOR_PREFIXES,
    VISION_PREFIXES,
    HFVisionLanguageBackbone,
    load_hf_processor,
    parameter_part,
)
from cdreasoning.constants import IGNORE_INDEX
from cdreasoning.data import DataError, read_conversations
from cdreasoning.data.images import load_image
from cdreasoning.errors import ImageError
from cdreasoning.train.pair_draws import PairDraws

# The mPLUG-Owl2 default of --lora_target_modules; for an HF model it stands for the LM's usual projections.
OWL2_DEFAULT_LORA_TARGETS = ["q_proj", "v_proj.multiway.1"]
# Files of a checkpoint folder besides config and weights: what the processor and generation need.
PROCESSOR_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "chat_template.jinja",
    "chat_template.json",
    "preprocessor_config.json",
    "video_preprocessor_config.json",
    "processor_config.json",
    "generation_config.json",
)
# LLaVA-style roles → the chat-template roles of HF processors.
_ROLES = {"human": "user", "gpt": "assistant"}


def copy_processor_files(source: str | Path, target: str | Path) -> None:
    """Copy the tokenizer / processor / chat-template / generation files so `target` is a complete checkpoint."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    for name in PROCESSOR_FILES:
        if (Path(source) / name).is_file():
            shutil.copy(Path(source) / name, target / name)


@dataclass
class ProcessorFiles:
    """Stands in for an image processor in `CDTrainer`: every save copies the base checkpoint's processor files."""

    source: Path

    def save_pretrained(self, folder) -> None:
        copy_processor_files(self.source, folder)


class HFConversationDataset(Dataset):
    """Item: {"text", "images" (RGB PIL), "spans" (supervised tokens, counted from the end), "answer_ids",
    "where"}. Records that cannot be used raise DataError naming the file and record."""

    def __init__(
        self,
        paths,
        backbone: HFVisionLanguageBackbone,
        image_folder,
        lazy: bool = True,
        draws: PairDraws | None = None,
    ):
        self.backbone = backbone
        self.draws = draws or PairDraws()
        self.image_folder = Path(image_folder) if image_folder else None
        self.items = [record for path in paths for record in read_conversations(path)]
        if not self.items:
            raise DataError(f"no training records in {paths}")
        self._rendered = None if lazy else [self._render(i) for i in range(len(self.items))]

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """The epoch the next items belong to (it varies the score pairs' draws between epochs)."""
        self.draws.epoch = int(epoch)

    @property
    def lengths(self) -> list[int]:
        # 64 positions per image: a rough constant for sorting only (Qwen's count depends on the resolution).
        return [sum(len(t.value.split()) for t in r.turns) + 64 * len(r.images) for r in self.items]

    def _render(self, index: int, answer: str | None = None):
        """Record `index` rendered; `answer` replaces the answer of a one-round record."""
        record = self.items[index]
        turns = [(_ROLES[turn.role], turn.value) for turn in record.turns]
        if answer is not None:
            turns[-1] = (turns[-1][0], answer)
        try:
            text, spans, ids = self.backbone.conversation(turns)
        except ValueError as exc:
            raise DataError(f"{record.where}: {exc}") from None
        if not spans:
            raise DataError(f"{record.where}: no assistant answer to learn from")
        # Spans count from the end: the processor expands image tokens
        # before the answers, so only end-relative offsets survive.
        answers = [ids[len(ids) - start : len(ids) - stop] for start, stop in spans]
        return text, spans, answers

    def __getitem__(self, index: int) -> dict:
        record = self.items[index]
        paths = [self.image_folder / n if self.image_folder else Path(n) for n in record.images]
        # The same score-pair draws as ConversationDataset (cdreasoning.train.dataset, module doc).
        paths, answer = self.draws.apply(index, record, paths)
        if answer is not None:
            text, spans, answers = self._render(index, answer=answer)
        else:
            text, spans, answers = self._rendered[index] if self._rendered else self._render(index)
        try:
            images = [load_image(p) for p in paths]
        except ImageError as exc:
            raise DataError(f"{record.where}: {exc}") from None
        return {"text": text, "images": images, "spans": spans, "answer_ids": answers, "where": record.where}


@dataclass
class HFDataCollator:
    """Samples → the processor's right-padded batch (input_ids / attention_mask [b, t], image tensors) plus
    labels [b, t]: IGNORE_INDEX except on the answers, located from each row's last real token."""

    backbone: HFVisionLanguageBackbone
    max_length: int

    def __call__(self, samples: list[dict]) -> dict:
        # Right padding keeps n − start valid below: each row's last real token sits at n − 1.
        batch = dict(
            self.backbone.inputs(
                [s["text"] for s in samples], [s["images"] for s in samples], padding_side="right"
            )
        )
        input_ids = batch["input_ids"]
        if input_ids.shape[1] > self.max_length:
            # Name the longest record: the batch width is its length.
            longest = max(range(len(samples)), key=lambda r: int(batch["attention_mask"][r].sum()))
            raise DataError(
                f"{samples[longest]['where']}: {input_ids.shape[1]} tokens (images expanded) exceed "
                f"--model_max_length {self.max_length}; lower the image resolution or raise the limit"
            )
        labels = torch.full_like(input_ids, IGNORE_INDEX)
        for row, sample in enumerate(samples):
            n = int(batch["attention_mask"][row].sum())
            for (start, stop), answer in zip(sample["spans"], sample["answer_ids"]):
                # The processor tokenises the whole text again: the answer's ids must
                # equal those rendered alone, or the labels would sit on other tokens.
                got = input_ids[row, n - start : n - stop].tolist()
                if got != answer:
                    raise DataError(
                        f"{sample['where']}: the processor's tokens of an answer differ from the text's"
                    )
                labels[row, n - start : n - stop] = input_ids[row, n - start : n - stop]
        batch["labels"] = labels
        return batch


def _module_names(model, prefixes) -> list[str]:
    """Names of the modules at `prefixes` (a ModuleList is listed by its items: peft copies modules, not lists)."""
    modules = dict(model.named_modules())
    names = []
    for prefix in prefixes:
        module = modules.get(prefix.rstrip("."))
        if isinstance(module, (torch.nn.ModuleList, torch.nn.ModuleDict)):
            names += [f"{prefix}{child}" for child, _ in module.named_children()]
        elif module is not None:
            names.append(prefix.rstrip("."))
    return names


def configure_hf_tuning(model, args):
    """requires_grad for full fine-tuning, or LoRA adapters (peft) on the language model; returns the model."""
    if not args.lora_enable:
        wanted = {"llm": not args.freeze_llm, "projector": args.tune_visual_abstractor}
        wanted["vision"] = not args.freeze_vision_model
        for name, param in model.named_parameters():
            param.requires_grad_(wanted[parameter_part(name)])
        if not any(p.requires_grad for p in model.parameters()):
            raise ValueError("nothing to train: the LLM, the projector and the vision tower are all frozen")
        return model
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise RuntimeError("LoRA needs peft: pip install 'cdreasoning[train]'") from exc
    # Freeze everything first; peft then adds trainable adapters and the modules_to_save copies.
    model.requires_grad_(False)
    targets = list(args.lora_target_modules)
    # The mPLUG-Owl2 default names multiway modules an HF model lacks: use the LM's own projection pattern.
    target_modules = LM_LORA_PATTERN if targets == OWL2_DEFAULT_LORA_TARGETS else targets
    # The first vision prefix that exists names the tower (modules_to_save takes whole modules).
    vision = _module_names(model, VISION_PREFIXES)[:1]
    modules_to_save = list(vision) if not args.freeze_vision_model else []
    if args.tune_visual_abstractor:
        # A projector inside the vision tower (Qwen's visual.merger) is saved with the tower already;
        # listing it too would have peft wrap a module inside a wrapped one.
        inside_vision = modules_to_save and any(
            p.startswith(modules_to_save[0] + ".") for p in _module_names(model, PROJECTOR_PREFIXES)
        )
        if not inside_vision:
            modules_to_save += _module_names(model, PROJECTOR_PREFIXES)
    config = LoraConfig(
        r=args.lora_r,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        target_modules=target_modules,
        bias=args.lora_bias,
        modules_to_save=modules_to_save or None,
    )
    peft_model = get_peft_model(model, config)
    # peft adds nothing, silently, when no name matches: check that some lora_A exists.
    if not any(name.endswith("lora_A") for name, _ in peft_model.named_modules()):
        raise ValueError(f"no module matches the LoRA targets {target_modules}")
    return peft_model


def trainable_parameter_summary(model) -> dict[str, int]:
    counts = {"vision": 0, "projector": 0, "llm": 0, "lora": 0}
    for name, param in model.named_parameters():
        if param.requires_grad:
            # ds_numel: under ZeRO-3 the local parameter is an empty shard; its full size is kept there.
            counts[parameter_part(name)] += getattr(param, "ds_numel", param.numel())
    counts["total"] = sum(counts.values())
    return counts


def train_hf(model_args, data_args, training_args, resume: str | None) -> int:
    """setup → train → save, for an HF image-text-to-text checkpoint (see the module docstring)."""
    from transformers import AutoModelForImageTextToText

    from cdreasoning.runtime import resolve_attention
    from cdreasoning.train.trainer import CDTrainer

    path = model_args.model_name_or_path
    model_type = read_model_type(path)
    _ = training_args.device  # process group first: ZeRO-3 partitions the weights while loading
    dtype = torch.bfloat16 if training_args.bf16 else torch.float16 if training_args.fp16 else torch.float32
    if training_args.deepspeed is None:
        dtype = torch.float32  # plain runs keep fp32 master weights; --bf16/--fp16 then means autocast
    if training_args.bits in (4, 8):
        raise ValueError(
            f"--bits 4/8 (QLoRA) is implemented for mPLUG-Owl2 checkpoints only, not {model_type}"
        )
    if training_args.score_loss not in (None, "ce"):
        raise ValueError(
            f"--score-loss {training_args.score_loss} is implemented for mPLUG-Owl2 checkpoints only; "
            f"train {model_type} with --score-loss ce"
        )
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    model = AutoModelForImageTextToText.from_pretrained(
        path,
        dtype=dtype,
        local_files_only=True,
        attn_implementation=resolve_attention(model_args.attention, device),
    )
    # No KV cache while training (and it conflicts with gradient checkpointing).
    model.config.use_cache = False
    model = configure_hf_tuning(model, training_args)
    if training_args.gradient_checkpointing and training_args.lora_enable:
        # With frozen embeddings the checkpointed blocks' inputs
        # need grad, or no gradient reaches the adapters.
        model.enable_input_require_grads()
    if training_args.local_process_index == 0:
        print(f"[train] {model_type}: trainable parameters {trainable_parameter_summary(model)}", flush=True)

    processor = load_hf_processor(path)
    backbone = HFVisionLanguageBackbone(model, processor, model_type, max_pixels=data_args.max_pixels)
    draws = PairDraws(training_args.seed, training_args.swap_pair_prob, training_args.identical_pair_prob)
    dataset = HFConversationDataset(
        data_args.data_path, backbone, data_args.image_folder, lazy=data_args.lazy_preprocess, draws=draws
    )
    trainer = CDTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        data_collator=HFDataCollator(backbone, training_args.model_max_length),
        processing_class=processor.tokenizer,
        # CDTrainer saves its "image processor" with every checkpoint: here, the base model's processor files.
        image_processor=ProcessorFiles(Path(path)),
    )
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_state()
    trainer.save_model(training_args.output_dir)
    if training_args.local_process_index == 0:
        print(f"[train] saved to {training_args.output_dir}", flush=True)
    return 0


def merge_hf_lora(adapter_dir: Path, out_dir: Path, base: Path, dtype: str = "float32") -> Path:
    """Apply a LoRA run's adapter to its HF base model, merge, and write a standalone checkpoint folder."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(
        str(base), dtype=getattr(torch, dtype), local_files_only=True
    )
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    if any("lora_" in name for name, _ in merged.named_parameters()):
        raise RuntimeError("merge left LoRA parameters behind")  # pragma: no cover - peft invariant
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir)
    copy_processor_files(base, out_dir)
    return out_dir
