"""Encode prompt text exactly as the released checkpoints were trained and evaluated: SentencePiece, chunk by chunk.

mPLUG-Owl2, Q-Align and CD-Reasoning tokenised with transformers 4.3x's *slow* `LlamaTokenizer`
(`use_fast=False`) and split every prompt on its image placeholders first (`tokenizer_image_token`). Each chunk
between two placeholders was encoded on its own, so each chunk got SentencePiece's dummy prefix "▁":

    " ASSISTANT:"  →  ▁ · ▁ASSISTANT · :        (LLaMA's tokenizer keeps the space *and* adds the prefix)

transformers ≥ 5 has no slow tokenizer, and its converted fast one drops the prefix in that case (one piece,
`▁ASSISTANT`), so the same text gives other ids than the checkpoint was trained on. This module reproduces the
slow tokenizer from the checkpoint's own `tokenizer.model`, with the `sentencepiece` library alone:

- the text is split on the special tokens written in it (`<s>`, `</s>`, `<unk>`; e.g. the `</s>` that ends each
  answer in a training conversation), which become their ids;
- `legacy=True` (the behaviour the checkpoints were built with, and the default when `tokenizer_config.json`
  says nothing): every other piece is `SentencePieceProcessor.encode(piece)`, dummy prefix included;
- `legacy=False` (a checkpoint whose tokenizer_config.json says `"legacy": false`): transformers 4.36's
  non-legacy rule — one "▁" before the whole text, none after a special token unless the text there starts
  with a space.

`ChunkEncoder.encode(text)` returns the ids without BOS; `encode_with_offsets` also gives each token's character
span in `text` (for training labels). `chunk_encoder(tokenizer)` finds the encoder of a tokenizer loaded by
`load_tokenizer` (None when the checkpoint ships only a `tokenizer.json`; then the tokenizer itself is used).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

SPIECE_UNDERLINE = "▁"


@dataclass(frozen=True)
class ChunkEncoder:
    """SentencePiece encoding with the slow LLaMA tokenizer's rules. `model_file`: a `tokenizer.model`."""

    model_file: str
    legacy: bool = True
    # Special-token texts split out of the input, with their ids (default: the model's <s>, </s>, <unk>).
    special_tokens: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        import sentencepiece as spm

        processor = spm.SentencePieceProcessor(model_file=self.model_file)
        # object.__setattr__: the dataclass is frozen (hashable, so
        # lru_cache can hold encoders); private state is set once here.
        object.__setattr__(self, "_sp", processor)
        if not self.special_tokens:
            specials = {}
            # An id of -1 means the model has no such piece (disabled when it was trained).
            for index in (processor.unk_id(), processor.bos_id(), processor.eos_id()):
                if index >= 0:
                    specials[processor.id_to_piece(index)] = index
            object.__setattr__(self, "special_tokens", specials)
        # Longest first, so a special token that is a prefix of another never wins the alternation.
        pattern = "|".join(re.escape(t) for t in sorted(self.special_tokens, key=len, reverse=True))
        object.__setattr__(self, "_split", re.compile(f"({pattern})") if pattern else None)
        if not self.legacy:
            # legacy=False encodes with a copy of the model without
            # the dummy prefix (transformers 4.36's sp_model).
            object.__setattr__(self, "_sp_plain", _without_dummy_prefix(self.model_file))
            unk = processor.id_to_piece(processor.unk_id())
            object.__setattr__(self, "_unk_text", unk)
            # How many pieces "<unk>" itself becomes: they are dropped
            # from the front of each segment encoded after it.
            object.__setattr__(self, "_unk_length", len(self._sp_plain.encode(unk)))

    @property
    def bos_id(self) -> int:
        return self._sp.bos_id()

    @property
    def eos_id(self) -> int:
        return self._sp.eos_id()

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no BOS), as the slow tokenizer's `tokenizer(text).input_ids[1:]`."""
        return self.encode_with_offsets(text)[0]

    def decode(self, ids: list[int]) -> str:
        """Text of `ids` with the special tokens skipped, as the slow tokenizer's
        `decode(ids, skip_special_tokens=True)`: SentencePiece's own decoding, so an invalid byte-fallback
        sequence becomes one "�" per bad byte, as in the original (transformers 5 may differ there)."""
        special = set(self.special_tokens.values())
        return self._sp.decode([i for i in ids if i not in special])

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """(ids, [(start, end) character span of each token in `text`]). A byte-fallback character split over
        several tokens gives the first ones an empty span at its start; the dummy prefix has no span."""
        if not text:
            return [], []
        if self.legacy:
            return self._encode_legacy(text)
        return self._encode_non_legacy(text)

    # -- the two rules ---------------------------------------------------------------------------------------
    def _segments(self, text: str) -> list[tuple[int, str]]:
        """(offset, segment) with special tokens as their own segments; empty segments dropped."""
        if self._split is None:
            return [(0, text)]
        out, offset = [], 0
        for part in self._split.split(text):
            if part:
                out.append((offset, part))
            offset += len(part)
        return out

    def _encode_legacy(self, text: str):
        ids, offsets = [], []
        for offset, segment in self._segments(text):
            # A special token's text maps to its one id, never through
            # SentencePiece (which would spell "<", "s", ">").
            if segment in self.special_tokens:
                ids.append(self.special_tokens[segment])
                offsets.append((offset, offset + len(segment)))
                continue
            # Each segment is encoded on its own and so gets the
            # dummy prefix "▁": the legacy slow tokenizer's rule.
            piece_ids, piece_offsets = _pieces_with_offsets(self._sp, segment)
            ids += piece_ids
            offsets += [(offset + s, offset + e) for s, e in piece_offsets]
        return ids, offsets

    def _encode_non_legacy(self, text: str):
        # transformers 4.36 LlamaTokenizer(legacy=False).tokenize: "▁" + text (existing "▁" read as spaces),
        # then per segment: one that starts with "▁"/space is encoded after "<unk>" (whose pieces are dropped)
        # so that SentencePiece adds no prefix of its own; any other is encoded as it is. No dummy prefix.
        prefixed = SPIECE_UNDERLINE + text.replace(SPIECE_UNDERLINE, " ")
        ids, spans = [], []  # spans in `prefixed`
        for offset, segment in self._segments(prefixed):
            if segment in self.special_tokens:
                ids.append(self.special_tokens[segment])
                spans.append((offset, offset + len(segment)))
                continue
            shift = 0
            if segment.startswith((SPIECE_UNDERLINE, " ")):
                segment, shift = self._unk_text + segment, len(self._unk_text)
            piece_ids, piece_spans = _pieces_with_offsets(self._sp_plain, segment)
            # Drop the "<unk>" pieces: what remains is the segment's
            # encoding with no prefix added by SentencePiece.
            if shift:
                piece_ids, piece_spans = piece_ids[self._unk_length :], piece_spans[self._unk_length :]
            ids += piece_ids
            spans += [(offset + s - shift, offset + e - shift) for s, e in piece_spans]
        # back to `text`: the added "▁" is character −1
        offsets = [(max(s - 1, 0), max(e - 1, 0)) for s, e in spans]
        # "▁" followed by a special token (text that starts
        # with "<s>"): transformers 4.36 drops that lone "▁".
        first_is_special = len(ids) > 1 and ids[1] in self.special_tokens.values()
        if first_is_special and self._sp.id_to_piece(ids[0]) == SPIECE_UNDERLINE:
            ids, offsets = ids[1:], offsets[1:]
        return ids, offsets


def _pieces_with_offsets(processor, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """SentencePiece ids and character spans (its spans are UTF-8 byte offsets)."""
    # The proto gives each piece's UTF-8 byte span; the map below turns byte offsets into str indices.
    proto = processor.encode(text, return_type="proto")
    encoded = text.encode("utf-8")
    char_at = {}  # byte offset → character offset
    position = 0
    for index, char in enumerate(text):
        char_at[position] = index
        position += len(char.encode("utf-8"))
    char_at[len(encoded)] = len(text)

    def to_char(byte_offset: int) -> int:
        while byte_offset not in char_at:  # inside a multi-byte character: its start
            byte_offset -= 1
        return char_at[byte_offset]

    ids = [piece.id for piece in proto.pieces]
    offsets = [(to_char(piece.begin), to_char(piece.end)) for piece in proto.pieces]
    return ids, offsets


def _without_dummy_prefix(model_file: str):
    """The same SentencePiece model with `add_dummy_prefix` off (what transformers 4.36 loads when legacy=False)."""
    import sentencepiece as spm

    try:
        from sentencepiece import sentencepiece_model_pb2 as model_pb2
    except ImportError as exc:  # pragma: no cover - protobuf is a dependency
        raise ImportError("a tokenizer with legacy=false needs protobuf: pip install protobuf") from exc
    model = model_pb2.ModelProto()
    model.ParseFromString(Path(model_file).read_bytes())
    # What transformers 4.36 does for legacy=False: edit the normalizer spec and reload from the proto.
    model.normalizer_spec.add_dummy_prefix = False
    return spm.SentencePieceProcessor(model_proto=model.SerializeToString())


def read_legacy_flag(folder: str | Path) -> bool:
    """`legacy` of the folder's tokenizer_config.json; True when absent (transformers 4.3x's default)."""
    path = Path(folder) / "tokenizer_config.json"
    if not path.is_file():
        return True
    try:
        value = json.loads(path.read_text()).get("legacy")
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from None
    if value is None:
        return True
    if not isinstance(value, bool):
        raise TypeError(f"{path}: legacy must be true or false, got {value!r}")
    return value


# The file's mtime is part of the cache key: a tokenizer.model rewritten in place is read again.
@lru_cache(maxsize=16)
def _encoder_for_folder(folder: str, modified: float) -> ChunkEncoder:
    return ChunkEncoder(str(Path(folder) / "tokenizer.model"), legacy=read_legacy_flag(folder))


def encoder_for_folder(folder: str | Path) -> ChunkEncoder | None:
    """The chunk encoder of a checkpoint folder, or None when it has no `tokenizer.model`."""
    model = Path(folder) / "tokenizer.model"
    if not model.is_file():
        return None
    # Resolved path: two spellings of one folder share one cached encoder.
    return _encoder_for_folder(str(Path(folder).resolve()), model.stat().st_mtime)


def chunk_encoder(tokenizer) -> ChunkEncoder | None:
    """The encoder matching a tokenizer loaded from a checkpoint folder (`tokenizer.name_or_path`), or None.

    Raises ValueError if the folder's `tokenizer.model` disagrees with the tokenizer on BOS/EOS ids.
    """
    folder = getattr(tokenizer, "name_or_path", None)
    if not folder or not Path(folder).is_dir():
        return None
    encoder = encoder_for_folder(folder)
    if encoder is None:
        return None
    # A tokenizer.model that is not the tokenizer's own would silently encode prompts with other ids.
    if (encoder.bos_id, encoder.eos_id) != (tokenizer.bos_token_id, tokenizer.eos_token_id):
        raise ValueError(
            f"{folder}: tokenizer.model has BOS/EOS ids {encoder.bos_id}/{encoder.eos_id} but the tokenizer "
            f"uses {tokenizer.bos_token_id}/{tokenizer.eos_token_id}"
        )
    return encoder
