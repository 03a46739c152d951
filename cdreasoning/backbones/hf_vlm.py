"""transformers-native vision-language models as a backbone: Qwen2.5-VL, Qwen3-VL, Qwen3.5, Idefics3 / SmolVLM, ….

    backbone = load_hf_backbone("/models/Qwen2.5-VL-7B-Instruct", device="auto", dtype="auto")

The model is `AutoModelForImageTextToText`, the inputs come from the checkpoint's own processor: its chat template
(two images, then the question, in one user turn), its image tokens, its image preprocessing (dynamic resolution
for the Qwen-VL family; `max_pixels` caps the pixels per image, i.e. the image tokens and the memory). Nothing is
downloaded (`local_files_only`), no remote code runs.

Prompts are built the way training renders the conversation: the answer prefix is rendered *as an assistant
message* by the chat template and the text is cut right after it, so "…assistant\\nThe color difference between
these two images is" (Qwen) or "…Assistant: The color difference between these two images is" (Idefics3) is
exactly the beginning of a training answer. Batches are left-padded, so the last position is every pair's answer
position; a pair's score does not depend on its batch.

Without torchvision (the CPU torch build here has none), transformers cannot build the *video* processor that the
Qwen-VL and SmolVLM processor classes require, although images need only the PIL backend. `load_hf_processor`
then builds the same processor class with the video processor left out (`_without_video`): image and text
inputs are identical to the full processor's (tested against the processor's own formula of image tokens), only
videos are unavailable.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from cdreasoning.backbones.base import Prompt, read_model_type
from cdreasoning.constants import DEFAULT_IMAGE_TOKEN, IMAGE_TOKEN_ALIASES
from cdreasoning.data.images import load_image
from cdreasoning.runtime import offline_hub, resolve_attention, resolve_device, resolve_dtype

_PLACEHOLDER = re.compile("|".join(re.escape(t) for t in (DEFAULT_IMAGE_TOKEN, *IMAGE_TOKEN_ALIASES)))

# Parameter-name prefixes of the parts, per layout (transformers 5 names). The first prefix found wins.
VISION_PREFIXES = ("model.visual.", "model.vision_model.", "model.vision_tower.")
PROJECTOR_PREFIXES = (
    "model.visual.merger.",
    "model.visual.deepstack_merger_list.",
    "model.connector.",
    "model.multi_modal_projector.",
)
# LoRA by default: the language model's attention and MLP projections (vision tower and projector excluded).
# Qwen3.5's linear-attention (Gated DeltaNet) layers name theirs `linear_attn.in_proj_qkv` (q, k, v), `in_proj_z`
# (output gate) and `out_proj`; their `in_proj_a` / `in_proj_b` give one decay / step scalar per head (32–48 wide
# in the released models, narrower than the default rank 128) and stay frozen.
LM_LORA_PATTERN = (
    r"(?:.*\.)?(?:language_model|text_model)\.layers\.\d+\."
    r"(?:self_attn\.(?:q_proj|k_proj|v_proj|o_proj)|linear_attn\.(?:in_proj_qkv|in_proj_z|out_proj)"
    r"|mlp\.(?:gate_proj|up_proj|down_proj))"
)


def message_content(text: str) -> list[dict]:
    """A user message with image placeholders (`<|image|>` or `<image>`) → chat-template content items in the
    same order: {"type": "image"} per placeholder, {"type": "text"} for the text between them (stripped, empty
    pieces dropped). Training data and inference prompts both go through this, so they render alike."""
    content: list[dict] = []
    start = 0
    for match in _PLACEHOLDER.finditer(text):
        piece = text[start : match.start()].strip()
        if piece:
            content.append({"type": "text", "text": piece})
        content.append({"type": "image"})
        start = match.end()
    tail = text[start:].strip()
    if tail:
        content.append({"type": "text", "text": tail})
    return content


def count_images(content: list[dict]) -> int:
    return sum(1 for item in content if item["type"] == "image")


def assistant_message(text: str) -> dict:
    """An assistant turn in the content-list form every family's chat template reads."""
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def _without_video(processor_class):
    """The processor class, accepting video_processor=None (transformers checks every attribute's class, and
    the video processor class cannot be imported without torchvision)."""

    class ImageOnlyProcessor(processor_class):
        def check_argument_for_proper_class(self, argument_name, argument):
            if argument is None and argument_name == "video_processor":
                return None
            return super().check_argument_for_proper_class(argument_name, argument)

    # The original names, so saving and reprs show the checkpoint's processor class.
    ImageOnlyProcessor.__name__ = processor_class.__name__
    ImageOnlyProcessor.__qualname__ = processor_class.__qualname__
    return ImageOnlyProcessor


def _processor_class_name(folder: Path) -> str | None:
    """The processor class the checkpoint names, else transformers' default for its model_type."""
    for name in ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json"):
        path = folder / name
        if path.is_file():
            value = json.loads(path.read_text()).get("processor_class")
            if value:
                return value
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

    return PROCESSOR_MAPPING_NAMES.get(read_model_type(folder))


def load_hf_processor(path: str | Path):
    """The checkpoint's processor (offline); without torchvision, the same class minus its video processor."""
    offline_hub()
    import transformers
    from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer
    from transformers.utils import is_torchvision_available

    folder = Path(path)
    class_name = _processor_class_name(folder)
    if class_name is None:
        raise FileNotFoundError(
            f"{folder}: no processor_class in processor_config.json / preprocessor_config.json and none "
            "known for its model_type (an image-text-to-text checkpoint ships its processor)"
        )
    processor_class = getattr(transformers, class_name, None)
    needs_video = processor_class is not None and "video_processor" in processor_class.get_attributes()
    if is_torchvision_available() or not needs_video:
        return AutoProcessor.from_pretrained(str(folder), local_files_only=True)
    kwargs = {}
    config_file = folder / "processor_config.json"
    if config_file.is_file():
        # Everything the processor was saved with except its class name, which the constructor does not take.
        kwargs = {
            k: v for k, v in json.loads(config_file.read_text()).items() if k not in ("processor_class",)
        }
    chat_template = None
    if (folder / "chat_template.jinja").is_file():
        chat_template = (folder / "chat_template.jinja").read_text()
    elif (folder / "chat_template.json").is_file():
        chat_template = json.loads((folder / "chat_template.json").read_text())["chat_template"]
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    # Older checkpoints keep the chat template in tokenizer_config.json only.
    chat_template = chat_template or tokenizer.chat_template
    image_processor = AutoImageProcessor.from_pretrained(str(folder), local_files_only=True)
    return _without_video(processor_class)(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=None,
        chat_template=chat_template,
        **kwargs,
    )


def parameter_part(name: str) -> str:
    """ "vision", "projector" or "llm" for a parameter name of an HF VLM (LoRA weights count as "lora")."""
    if "lora_" in name:
        return "lora"
    # peft prefixes every name with "base_model.model."; the parts are named without it.
    bare = name.removeprefix("base_model.model.")
    # Projector before vision: Qwen's merger lives under the vision tower's prefix (model.visual.merger.).
    if any(bare.startswith(p) for p in PROJECTOR_PREFIXES):
        return "projector"
    if any(bare.startswith(p) for p in VISION_PREFIXES):
        return "vision"
    return "llm"


@dataclass
class HFVisionLanguageBackbone:
    model: torch.nn.Module
    processor: object
    model_type: str
    max_pixels: int | None = None
    kind: str = "hf_vlm"

    def __post_init__(self):
        # Left padding: the last column is every row's answer position (scoring) and where generation appends.
        self.processor.tokenizer.padding_side = "left"
        if self.max_pixels is not None:
            # Written into the processor's own size setting, so the cap holds wherever this processor is used.
            image_processor = self.processor.image_processor
            size = getattr(image_processor, "size", None)
            if size is None or getattr(size, "longest_edge", None) is None or not size.shortest_edge:
                raise ValueError(
                    f"max_pixels applies to dynamic-resolution processors (Qwen-VL family); {self.model_type}'s "
                    "image size is set in its preprocessor_config.json"
                )
            # The floor may not exceed the cap: a shortest_edge above max_pixels would override it.
            shortest = min(size.shortest_edge, self.max_pixels)
            image_processor.size = type(size)(shortest_edge=shortest, longest_edge=self.max_pixels)

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.get_output_embeddings().weight.dtype

    # -- prompts -------------------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def render(self, messages: list[dict], add_generation_prompt: bool = False) -> str:
        """The chat template's text, with thinking off: CD answers carry no reasoning, and a thinking template
        (Qwen3.5's) writes an answered turn as an empty, closed `<think>` block then the answer, while its
        generation prompt *opens* a block unless `enable_thinking=False`, which writes that same closed block.
        So the prompt is exactly what precedes a trained answer. Templates without the switch ignore it."""
        return self.processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt, enable_thinking=False
        )

    def prompt(self, user_message: str, conv_template: str = "", answer_prefix: str | None = None) -> Prompt:
        """The checkpoint's chat template around the user message (`conv_template` is Owl2's and unused here);
        the answer prefix, when given, is rendered as the start of the assistant's answer."""
        messages = [{"role": "user", "content": message_content(user_message)}]
        if not answer_prefix:
            text = self.render(messages, add_generation_prompt=True)
        else:
            full = self.render(messages + [assistant_message(answer_prefix)])
            # rfind: the answer's rendering is the prefix's last occurrence.
            end = full.rfind(answer_prefix)
            if end < 0:
                raise ValueError(
                    f"the chat template of {self.model_type} does not render the answer verbatim"
                )
            # Cut right after the prefix, dropping the template's
            # end-of-turn tokens, so the model continues the answer.
            text = full[: end + len(answer_prefix)]
        return Prompt(text, self.encode(text))

    def conversation(self, turns: list[tuple[str, str]]) -> tuple[str, list[tuple[int, int]], list[int]]:
        """Turns [("user" | "assistant", text with image placeholders), …] → (the rendered conversation, the
        supervised token spans counted from the end of its tokens [(start, stop)], the text's token ids).

        The supervised tokens of an answer are those between the chat template's rendering of the conversation up
        to the open assistant turn and up to the end of that answer (its end-of-turn tokens included), i.e.
        exactly what generation after `prompt()` has to produce. Spans are counted from the end because the
        processor expands each image placeholder into many tokens before them; images must therefore all come
        before the first answer (as in every CD record).
        """
        messages: list[dict] = []
        bounds: list[tuple[str, str]] = []
        answered = False
        for index, (role, text) in enumerate(turns):
            if role == "user":
                content = message_content(text)
                if answered and count_images(content):
                    raise ValueError(
                        f"turn {index}: images after an answer are not supported by {self.model_type}"
                    )
                messages.append({"role": "user", "content": content})
            elif role == "assistant":
                # The template's text up to the open assistant
                # turn: where the answer's supervised tokens begin.
                prefix = self.render(messages, add_generation_prompt=True)
                messages.append(assistant_message(text))
                bounds.append((prefix, self.render(messages)))
                answered = True
            else:
                raise ValueError(f"turn {index}: role must be user or assistant, not {role!r}")
        full = self.render(messages)
        ids = self.encode(full)
        spans = []
        for prefix, upto in bounds:
            start, stop = len(self.encode(prefix)), len(self.encode(upto))
            # A template that merges tokens across the boundary
            # would shift the supervised span: refuse instead.
            if ids[:stop] != self.encode(upto) or ids[:start] != self.encode(prefix):
                raise ValueError(
                    f"the chat template of {self.model_type} does not tokenise an answer as a continuation of "
                    "its prompt; cannot tell which tokens to supervise"
                )
            # Counted from the end (see the docstring): the processor expands images before the answers.
            spans.append((len(ids) - start, len(ids) - stop))
        return full, spans, ids

    # -- images ----------------------------------------------------------------------------------------------------
    def load_pair(self, image_a, image_b):
        """The two images decoded as RGB (ImageError names a missing or unreadable file)."""
        return (load_image(image_a), load_image(image_b))

    def collate(self, items: list) -> list:
        return list(items)

    def inputs(self, texts: list[str], image_lists: list[list], padding_side: str = "left") -> dict:
        """The processor's batch: input_ids / attention_mask [b, t] (image tokens expanded), the image tensors."""
        return self.processor(
            text=texts,
            images=image_lists,
            padding=True,
            padding_side=padding_side,
            add_special_tokens=False,  # the chat template already wrote every special token
            return_tensors="pt",
        )

    def batch_inputs(self, prompt: Prompt, batch: list) -> dict:
        inputs = self.inputs([prompt.text] * len(batch), [list(pair) for pair in batch])
        # The processor adds image tokens before it; the last token must still be the prompt's own.
        last = inputs["input_ids"][:, -1]
        if not bool((last == prompt.ids[-1]).all()):
            raise RuntimeError(
                f"the processor's prompt does not end with the prompt's last token ({prompt.ids[-1]}): "
                f"got {last.tolist()}"
            )
        moved = {}
        for key, value in inputs.items():
            if torch.is_tensor(value):
                value = value.to(self.device)
                if value.is_floating_point():
                    # Pixel tensors follow the model's dtype; integer
                    # tensors (ids, image grid sizes) keep theirs.
                    value = value.to(self.dtype)
            moved[key] = value
        return moved

    # -- model -----------------------------------------------------------------------------------------------------
    def answer_logits(self, prompt: Prompt, batch: list) -> torch.Tensor:
        """b image pairs → next-token logits [b, v] after the prompt (the last position of the left-padded batch)."""
        inputs = self.batch_inputs(prompt, batch)
        # use_cache=False: one forward and no generation after it, so a KV cache would only cost memory.
        return self.model(**inputs, logits_to_keep=1, use_cache=False).logits[:, -1]

    def generate(
        self,
        prompt: Prompt,
        batch: list,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[str]:
        inputs = self.batch_inputs(prompt, batch)
        if seed is not None:
            # HF generate samples from the global RNG (it takes no generator argument).
            torch.manual_seed(seed)
        # top_k 0 turns off HF's default top-k of 50, as in our own sampler (no top-k unless asked).
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
        tokens = self.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            **(sampling if temperature > 0 else {"do_sample": False}),
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
        )
        # The prompt comes back in the output: keep the new
        # tokens only (left padding aligns them in one column).
        new = tokens[:, inputs["input_ids"].shape[1] :]
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]


def load_hf_model(path: str | Path, device: torch.device, dtype: torch.dtype, attention: str = "auto"):
    offline_hub()
    from transformers import AutoModelForImageTextToText

    impl = resolve_attention(attention, device)
    model = AutoModelForImageTextToText.from_pretrained(
        str(path), dtype=dtype, local_files_only=True, attn_implementation=impl
    )
    return model.to(device).eval()


def load_hf_backbone(
    path: str | Path,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "auto",
    attention: str = "auto",
    max_pixels: int | None = None,
) -> HFVisionLanguageBackbone:
    """Model + processor of a transformers-native image-text-to-text checkpoint folder."""
    folder = Path(path)
    model_type = read_model_type(folder)
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    model = load_hf_model(folder, torch_device, torch_dtype, attention)
    return HFVisionLanguageBackbone(model, load_hf_processor(folder), model_type, max_pixels=max_pixels)
