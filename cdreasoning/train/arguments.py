"""Run arguments of `cdreasoning/train/finetune.py`, as dataclasses read by `transformers.HfArgumentParser`.

The flags are those of the original mPLUG-Owl2 / Q-Align / CD-Reasoning training scripts (so their command lines
work), plus Hugging Face `TrainingArguments` (learning rate, schedule, batch sizes, bf16, DeepSpeed, saving,
logging, …). Every flag also has its dashed spelling (`--image-folder`, `--data-path`, HfArgumentParser adds
them), and the concepts shared with the other commands have their names: `--model-path` (=
`--model_name_or_path`) and `--batch-size` (= `--per_device_train_batch_size`). Meaning of the tuning flags, which the originals did not honour consistently:

- full fine-tuning (`--lora_enable False`): the LLM trains unless `--freeze_llm`; the visual abstractor trains
  when `--tune_visual_abstractor` (default True); the vision tower trains unless `--freeze_vision_model`
  (default True, i.e. frozen).
- LoRA (`--lora_enable True`): the LLM's weights are frozen and adapters of rank `--lora_r` are trained on
  `--lora_target_modules` (default `q_proj` and `v_proj.multiway.1`, CD-Reasoning's choice); the abstractor and
  the vision tower additionally train (as full copies saved with the adapter) only when the two flags above ask.
- `--visual_abstractor_lr` really gives the abstractor's parameters their own learning rate.

Score-task options (see docs/training.md): `--score-loss ce|soft` (hard level word, or the DeQA-Score style
distribution over the level words built from the record's human ΔV `gt_score`), `--score-loss-weight`,
`--soft-label-std` (Gaussian soft labels instead of two adjacent levels) and `--swap-pair-prob` (random image
order for score records).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import transformers


@dataclass
class ModelArguments:
    """Which checkpoint to start from, the prompt template and the attention implementation."""

    model_name_or_path: str = field(
        default=None,
        metadata={
            "help": "checkpoint folder in the mPLUG-Owl2 layout to start from (required)",
            "aliases": ["--model-path"],  # the spelling of every other cdreasoning command
        },
    )
    version: str = field(
        default="v1",
        metadata={"help": "conversation template: v1 (vicuna, with system prompt) or mplug_owl2 (without)"},
    )
    attention: str = field(default="auto", metadata={"help": "auto, sdpa, eager or flash_attention_2"})


@dataclass
class DataArguments:
    """The training conversations and their images."""

    data_path: list[str] = field(
        default=None,
        metadata={
            "help": "one or more conversation JSON files (M-SPCD / LLaVA style), concatenated",
            "nargs": "+",
        },
    )
    image_folder: str = field(
        default=None, metadata={"help": "folder the records' image names are relative to"}
    )
    image_aspect_ratio: str = field(
        default="pad",
        metadata={"help": "pad (mean-colour borders, as trained) or resize (squash) non-square images"},
    )
    max_pixels: int = field(
        default=None,
        metadata={
            "help": "HF Qwen-VL family: cap the pixels per image (dynamic resolution: ~1 token per 28×28 px "
            "on Qwen2.5-VL, per 32×32 px on Qwen3-VL and Qwen3.5); default: the checkpoint's preprocessor_config.json"
        },
    )
    skip_data_check: bool = field(
        default=False,
        metadata={
            "help": "skip the up-front check of every record and image (`cdreasoning data check`) before step 0; "
            "for huge sets already checked"
        },
    )
    lazy_preprocess: bool = field(
        default=True,
        metadata={
            "help": "tokenise each record when it is used (True) or all records before training "
            "starts, which also validates every one up front (False)"
        },
    )


@dataclass
class TrainingArguments(transformers.TrainingArguments):
    """Hugging Face `TrainingArguments` plus the mPLUG-Owl2 tuning flags (see the module docstring)."""

    # Redeclared only to add `--batch-size`, the spelling of every other cdreasoning command (HF's default kept).
    per_device_train_batch_size: int = field(
        default=8, metadata={"help": "training samples per device and step", "aliases": ["--batch-size"]}
    )
    model_max_length: int = field(
        default=2048,
        metadata={"help": "longest tokenised sample (images expanded); longer ones are an error"},
    )
    tune_visual_abstractor: bool = field(default=True, metadata={"help": "train the visual abstractor"})
    freeze_vision_model: bool = field(default=True, metadata={"help": "keep the vision tower frozen"})
    freeze_llm: bool = field(default=False, metadata={"help": "keep the language model frozen (full mode)"})
    visual_abstractor_lr: float = field(
        default=None, metadata={"help": "learning rate of the abstractor (default: --learning_rate)"}
    )
    group_by_modality_length: bool = field(
        default=False,
        metadata={"help": "batch samples of similar length together (all CD samples have images)"},
    )
    lora_enable: bool = field(
        default=False, metadata={"help": "train LoRA adapters instead of the LLM weights"}
    )
    lora_r: int = field(default=128, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=256, metadata={"help": "LoRA alpha (scale = alpha / r)"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA input"})
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "v_proj.multiway.1"],
        metadata={"help": "module name suffixes that get adapters", "nargs": "+"},
    )
    lora_bias: str = field(default="none", metadata={"help": "none, all or lora_only"})
    bits: int = field(default=16, metadata={"help": "16, or 8 / 4 for QLoRA (CUDA + bitsandbytes)"})
    fresh: bool = field(
        default=False,
        metadata={
            "help": "start over: delete the checkpoints already in --output_dir (listed first) instead of "
            "resuming from the newest complete one (the default)"
        },
    )
    # As the original scripts: the Trainer passes samples through as the dataset builds them (soft-label keys
    # included) instead of dropping keys forward() does not name.
    remove_unused_columns: bool = field(default=False, metadata={"help": "keep pixel_values in batches"})
    threads: int = field(
        default=None,
        metadata={"help": "torch CPU threads (default: one per core that other processes leave free)"},
    )
    score_loss: str = field(
        default=None,
        metadata={
            "help": "score records: soft (the default for mPLUG-Owl2; KL to a distribution over the level words "
            "whose expectation is the record's grade G from gt_score; other answer tokens keep their "
            "cross-entropy) or ce (cross-entropy on the hard level word, as Q-Align / CD-Reasoning; the default, "
            "and the only choice, for transformers-native backbones); soft won the benchmark in docs/training.md"
        },
    )
    score_loss_weight: float = field(
        default=1.0, metadata={"help": "weight of the soft-label KL term (with --score-loss soft)"}
    )
    soft_label_std: float = field(
        default=0.0,
        metadata={
            "help": "std (grade units) of a discretised Gaussian soft label; 0 = the two adjacent levels "
            "(with --score-loss soft)"
        },
    )
    swap_pair_prob: float = field(
        default=0.5,
        metadata={"help": "probability of giving a score record's two images in the order (B, A)"},
    )
    identical_pair_prob: float = field(
        default=0.0,
        metadata={
            "help": "probability of showing a one-round score record as one of its images against itself, "
            "answered 'negligible' (ΔV 0): teaches that identical images do not differ"
        },
    )
    # Flags of the original scripts that newer transformers renamed; accepted and mapped so their command lines run.
    warmup_ratio: float = field(
        default=None, metadata={"help": "fraction of steps for LR warmup (→ --warmup_steps)"}
    )
    evaluation_strategy: str = field(default=None, metadata={"help": "old name of --eval_strategy"})

    def __post_init__(self):
        native = transformers.TrainingArguments.__dataclass_fields__
        # Mapped only when this transformers version no longer has the flag itself.
        if self.warmup_ratio is not None and "warmup_ratio" not in native:
            if not 0 <= self.warmup_ratio < 1:
                raise ValueError(f"--warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
            if self.warmup_steps:
                raise ValueError("give --warmup_ratio or --warmup_steps, not both")
            # transformers 5 reads a warmup_steps below 1 as a fraction of the total steps.
            self.warmup_steps = self.warmup_ratio
        if self.evaluation_strategy is not None and "evaluation_strategy" not in native:
            self.eval_strategy = self.evaluation_strategy
        super().__post_init__()
        if self.bits not in (4, 8, 16):
            raise ValueError(f"--bits must be 4, 8 or 16, not {self.bits}")
        if self.bits in (4, 8) and not self.lora_enable:
            raise ValueError("--bits 4/8 (QLoRA) needs --lora_enable True")
        if self.lora_bias not in ("none", "all", "lora_only"):
            raise ValueError(f"--lora_bias must be none, all or lora_only, not {self.lora_bias!r}")
        from cdreasoning.train.soft_labels import SCORE_LOSSES

        if self.score_loss is not None and self.score_loss not in SCORE_LOSSES:
            raise ValueError(f"--score-loss must be one of {SCORE_LOSSES}, not {self.score_loss!r}")
        if not 0.0 <= self.swap_pair_prob <= 1.0:
            raise ValueError(f"--swap-pair-prob must be in [0, 1], got {self.swap_pair_prob}")
        if not 0.0 <= self.identical_pair_prob <= 1.0:
            raise ValueError(f"--identical-pair-prob must be in [0, 1], got {self.identical_pair_prob}")
        if self.soft_label_std < 0 or self.score_loss_weight < 0:
            raise ValueError("--soft-label-std and --score-loss-weight must be ≥ 0")
        if self.lora_enable and self.freeze_llm:
            raise ValueError(
                "--freeze_llm has no meaning with --lora_enable (the LLM weights are frozen already)"
            )
