"""Load an mPLUG-Owl2-layout checkpoint folder strictly: every weight present, nothing unexpected.

    from cdreasoning import load_pretrained
    model = load_pretrained("/models/one-align", device="auto", dtype="auto")   # eval mode

The folder is a Hugging Face checkpoint: `config.json` plus weights as `model.safetensors`, sharded
`model-0000k-of-0000n.safetensors` with `model.safetensors.index.json`, or the older `pytorch_model.bin`
(sharded with `pytorch_model.bin.index.json`), read with `torch.load(weights_only=True)` so a checkpoint cannot
run code. The model is built on the meta device and each tensor is cast and moved as its shard is read, so
peak host memory stays near one shard. A folder whose weights do not match the architecture raises
`CheckpointError` listing the missing and unexpected names. `CheckpointFolder.open(path)` reads config.json once
and hands it to the model, tokenizer and image-processor loaders. Saving is `model.save_pretrained(folder)`, which
writes the same layout back (the original code loads it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import torch

from cdreasoning.checkpoint_config import read_checkpoint_config
from cdreasoning.errors import CheckpointError
from cdreasoning.model.configuration import MPLUGOwl2Config
from cdreasoning.model.modeling import MPLUGOwl2ForCausalLM
from cdreasoning.runtime import offline_hub, resolve_attention, resolve_device, resolve_dtype

# Buffers some older LLaMA checkpoints saved; they hold nothing the config does not (recomputed here).
_DERIVED_KEY_SUFFIXES = (".rotary_emb.inv_freq",)
_LISTED = 40


def weight_files(folder: Path) -> list[Path]:
    """The weight files of a checkpoint folder, preferring safetensors; index files resolved to shards."""
    # safetensors first: it needs no unpickling, and its names can be listed without reading tensor data.
    for index_name, single_name in (
        ("model.safetensors.index.json", "model.safetensors"),
        ("pytorch_model.bin.index.json", "pytorch_model.bin"),
    ):
        index = folder / index_name
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise CheckpointError(f"{index}: not a valid weight index ({exc})") from None
            # Many names map to one shard: the set dedupes, sorting gives a stable read order.
            shards = sorted({folder / name for name in weight_map.values()})
            absent = [str(s) for s in shards if not s.is_file()]
            if absent:
                raise CheckpointError(f"{index} lists shards that are missing: {absent}")
            return shards
        if (folder / single_name).is_file():
            return [folder / single_name]
    raise CheckpointError(
        f"{folder}: no weights found (expected model.safetensors, model.safetensors.index.json, "
        "pytorch_model.bin or pytorch_model.bin.index.json)"
    )


def iter_tensors(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) for every tensor in the files, one shard at a time."""
    for file in files:
        if file.suffix == ".safetensors":
            from safetensors import safe_open

            try:
                with safe_open(str(file), framework="pt", device="cpu") as handle:
                    for name in handle.keys():  # noqa: SIM118 - a safe_open handle is not iterable
                        yield name, handle.get_tensor(name)
            except Exception as exc:  # safetensors raises its own error types
                if isinstance(exc, CheckpointError):
                    raise
                raise CheckpointError(
                    f"{file}: cannot read safetensors ({exc}); the file is damaged or was not written to the end",
                    hint="copy or save that file again",
                ) from exc
        else:
            try:
                # mmap: tensors are paged in from the file as they
                # are used, so host memory stays near one shard.
                state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
            except Exception as exc:
                raise CheckpointError(
                    f"{file}: cannot read with torch.load(weights_only=True) ({exc})"
                ) from exc
            if not isinstance(state, dict):
                raise CheckpointError(f"{file}: expected a state dict, got {type(state).__name__}")
            yield from state.items()


def checkpoint_keys(files: list[Path]) -> set[str]:
    """Names of all tensors in the files (without reading safetensors data)."""
    names: set[str] = set()
    for file in files:
        if file.suffix == ".safetensors":
            from safetensors import safe_open

            try:
                with safe_open(str(file), framework="pt", device="cpu") as handle:
                    names.update(handle.keys())
            except Exception as exc:  # safetensors raises its own error types
                raise CheckpointError(
                    f"{file}: cannot read safetensors ({exc}); the file is damaged or was not written to the end",
                    hint="copy or save that file again",
                ) from exc
        else:
            # A .bin has no header to read names from: unpickle it (weights_only, mmapped) and keep the names.
            names.update(name for name, _ in iter_tensors([file]))
    return names


def _listing(names: set[str]) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:_LISTED])
    more = f", … and {len(ordered) - _LISTED} more" if len(ordered) > _LISTED else ""
    return f"{len(ordered)}: [{shown}{more}]"


class CheckpointFolder:
    """One checkpoint folder, opened once: `config.json` is read and validated here, and the handle is passed to
    the model, tokenizer and image-processor loaders (none of them reads the config again).

        checkpoint = CheckpointFolder.open("/models/one-align")
        model = checkpoint.load_model(device="auto", dtype="auto")
        tokenizer = checkpoint.load_tokenizer()
        processor = checkpoint.image_processor()        # preprocessor_config.json, or CLIP defaults at the
                                                        # config's image size; a size mismatch is an error
    """

    def __init__(self, path: Path, config: MPLUGOwl2Config):
        self.path = path
        self.config = config
        self._weight_files: list[Path] | None = None

    @classmethod
    def open(cls, path: str | Path | CheckpointFolder, raw: dict | None = None) -> CheckpointFolder:
        """Read and check `path/config.json` (an already open handle is returned as it is). `raw`: that file's
        dict when the caller has read it already (`read_checkpoint_config`), so it is not read twice."""
        if isinstance(path, CheckpointFolder):
            return path
        # Before any transformers loader runs: a local folder must never trigger a hub request.
        offline_hub()
        folder = Path(path)
        if raw is None:
            raw = read_checkpoint_config(folder)
        if raw.get("model_type") != "mplug_owl2":
            raise CheckpointError(
                f"{folder / 'config.json'}: model_type is {raw.get('model_type')!r}; this loader takes "
                "'mplug_owl2' checkpoints (Q-Align, OneAlign, CD-Reasoning, Co-Instruct)"
            )
        # from_dict on the dict already read is what from_pretrained does after reading the file itself
        config = MPLUGOwl2Config.from_dict(raw)
        config.check_consistency()
        return cls(folder, config)

    def __repr__(self) -> str:
        return f"CheckpointFolder({str(self.path)!r})"

    @property
    def weight_files(self) -> list[Path]:
        """The weight files (safetensors preferred, index files resolved to shards), found once."""
        if self._weight_files is None:
            self._weight_files = weight_files(self.path)
        return self._weight_files

    def load_model(
        self,
        device: str | torch.device = "cpu",
        dtype: str | torch.dtype = torch.float32,
        attention: str = "auto",
    ) -> MPLUGOwl2ForCausalLM:
        """`load_pretrained` on this folder."""
        return load_pretrained(self, device=device, dtype=dtype, attention=attention)

    def load_tokenizer(self, padding_side: str = "right"):
        """The folder's tokenizer (`cdreasoning.processing.load_tokenizer`)."""
        from cdreasoning.processing import load_tokenizer

        return load_tokenizer(self.path, padding_side=padding_side, config=self.config)

    def image_processor(self, aspect_ratio: str = "pad"):
        """The folder's image preprocessing; its size must be the vision tower's image size."""
        from cdreasoning.processing import ImageProcessor

        size = self.config.vision.image_size
        processor = ImageProcessor.from_pretrained(self.path, default_size=size, aspect_ratio=aspect_ratio)
        if processor.size != size:
            raise CheckpointError(
                f"{self.path}: preprocessor size {processor.size} != model image_size {size}"
            )
        return processor


def read_config(folder: str | Path) -> MPLUGOwl2Config:
    """The checkpoint's config; raises with the path if the folder or its config.json is missing/wrong."""
    return CheckpointFolder.open(folder).config


def verify_weights(
    folder: str | Path | CheckpointFolder, model: MPLUGOwl2ForCausalLM | None = None, files=None
) -> set[str]:
    """Check (without reading tensor data from safetensors) that the folder's weights are exactly those of its
    architecture; raise CheckpointError listing missing and unexpected names. Returns the ignorable derived keys."""
    checkpoint = CheckpointFolder.open(folder)
    folder = checkpoint.path
    if model is None:
        # On the meta device: only the state_dict's names and shapes are needed, no memory.
        with torch.device("meta"):
            model = MPLUGOwl2ForCausalLM(checkpoint.config)
    files = files or checkpoint.weight_files
    expected = set(model.state_dict().keys())
    found = checkpoint_keys(files)
    # Derived buffers (an old rotary inv_freq) are tolerated in the files but never loaded.
    derived = {k for k in found if k.endswith(_DERIVED_KEY_SUFFIXES)}
    missing, unexpected = expected - found, found - expected - derived
    if missing or unexpected:
        parts = [f"{folder}: the weights do not match the mplug_owl2 architecture of its config.json."]
        if missing:
            parts.append(f"Missing {_listing(missing)}")
        if unexpected:
            parts.append(f"Unexpected {_listing(unexpected)}")
        raise CheckpointError("\n".join(parts))
    return derived


def load_pretrained(
    path: str | Path | CheckpointFolder,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = torch.float32,
    attention: str = "auto",
) -> MPLUGOwl2ForCausalLM:
    """Build the model from `path/config.json` and load its weights strictly; returns it in eval mode.

    path: a checkpoint folder or an open `CheckpointFolder` (then config.json is not read again).

    device: "cpu" | "cuda" | "cuda:1" | "mps" | "auto"; dtype: a torch dtype, "float32"/"bf16"/"fp16"/"auto";
    attention: "auto" (flash-attn 2 on CUDA when installed, else SDPA) | "sdpa" | "eager" | "flash_attention_2".
    """
    checkpoint = CheckpointFolder.open(path)
    folder = checkpoint.path
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    attention = resolve_attention(attention, device)
    files = checkpoint.weight_files
    # Built on the meta device (no memory), then each tensor is materialised as its shard is read.
    with torch.device("meta"):
        model = MPLUGOwl2ForCausalLM(checkpoint.config)
    derived = verify_weights(checkpoint, model, files)

    state: dict[str, torch.Tensor] = {}
    for name, tensor in iter_tensors(files):
        if name in derived:
            continue
        # Integer / bool tensors keep their dtype; only floating-point weights follow the requested dtype.
        target = dtype if tensor.is_floating_point() else tensor.dtype
        state[name] = tensor.to(device=device, dtype=target)
    # The meta model's state_dict still has shapes: checking here names the weight instead of a copy error.
    reference = model.state_dict()
    wrong_shape = [
        f"{k} {list(v.shape)} (expected {list(reference[k].shape)})"
        for k, v in state.items()
        if v.shape != reference[k].shape
    ]
    if wrong_shape:
        raise CheckpointError(
            f"{folder}: weights with the wrong shape for its config.json: {wrong_shape[:_LISTED]}"
        )
    # assign=True: the loaded tensors replace the meta
    # placeholders (copying into meta tensors would do nothing).
    model.load_state_dict(state, strict=True, assign=True)
    model.set_attention_implementation(attention)
    model.eval()
    return model
