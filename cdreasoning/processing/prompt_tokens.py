"""Tokenise prompts that contain image placeholders, and supervise only the assistant's answers.

The tokenizer does not know `<|image|>`: as in the original, the text is split on the placeholders, each piece
is tokenised on its own (the first keeps BOS, later pieces drop it), and IMAGE_TOKEN_INDEX (−200) is put between
them, once per image. When the checkpoint ships a `tokenizer.model`, every piece is encoded the way the released
checkpoints were trained and evaluated — by the slow, legacy LLaMA tokenizer, whose SentencePiece dummy prefix
each piece gets (`chunk_encoding.ChunkEncoder`) — not by transformers' fast tokenizer, which differs there. The `<image>` spelling found in LLaVA-style data (and in the M-SPCD files) is treated the
same way; the originals silently dropped images written like that.

For training, `tokenize_conversation` labels exactly the tokens of the assistant answers and their `</s>` (the
character spans given by the template, matched through the tokenizer's offset mapping); everything else —
system prompt, user turns, image positions — is IGNORE_INDEX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cdreasoning.constants import DEFAULT_IMAGE_TOKEN, IGNORE_INDEX, IMAGE_TOKEN_ALIASES, IMAGE_TOKEN_INDEX
from cdreasoning.processing.chunk_encoding import chunk_encoder
from cdreasoning.processing.templates import ConversationTemplate

# One pattern for every spelling (<|image|> and the aliases, e.g. LLaVA's <image>).
_PLACEHOLDER = re.compile("|".join(re.escape(t) for t in (DEFAULT_IMAGE_TOKEN, *IMAGE_TOKEN_ALIASES)))


def count_image_placeholders(text: str) -> int:
    """Number of image placeholders in `text`, both spellings."""
    return len(_PLACEHOLDER.findall(text))


def normalize_image_placeholders(text: str) -> str:
    """Rewrite every accepted spelling as `<|image|>`."""
    return _PLACEHOLDER.sub(DEFAULT_IMAGE_TOKEN, text)


def _pieces(text: str) -> list[tuple[int, str]]:
    """(character offset, piece) of the text between placeholders; n placeholders → n + 1 pieces."""
    pieces, start = [], 0
    for match in _PLACEHOLDER.finditer(text):
        pieces.append((start, text[start : match.start()]))
        start = match.end()
    pieces.append((start, text[start:]))
    return pieces


def _encode_piece(tokenizer, piece: str, first: bool, with_offsets: bool):
    if not piece:
        return [], []
    encoder = chunk_encoder(tokenizer)
    if encoder is not None:
        ids, offsets = encoder.encode_with_offsets(piece)
        # Only the first piece starts with BOS, so the prompt has one, as the original tokenizer_image_token.
        if first and tokenizer.bos_token_id is not None:
            # BOS has no characters: span (0, 0) lies at the text's start, outside every answer.
            ids, offsets = [tokenizer.bos_token_id, *ids], [(0, 0), *offsets]
        return ids, offsets
    # No tokenizer.model (tokenizer.json only): transformers' tokenizer, its BOS dropped after an image.
    encoded = tokenizer(piece, add_special_tokens=True, return_offsets_mapping=with_offsets)
    ids = list(encoded["input_ids"])
    offsets = list(encoded["offset_mapping"]) if with_offsets else [(0, 0)] * len(ids)
    bos = tokenizer.bos_token_id
    if not first and ids and bos is not None and ids[0] == bos:
        ids, offsets = ids[1:], offsets[1:]
    return ids, offsets


def tokenize_prompt(tokenizer, text: str) -> list[int]:
    """Token ids of `text` with IMAGE_TOKEN_INDEX for every placeholder (BOS only at the start)."""
    ids: list[int] = []
    for index, (_, piece) in enumerate(_pieces(text)):
        if index:
            ids.append(IMAGE_TOKEN_INDEX)
        piece_ids, _ = _encode_piece(tokenizer, piece, first=index == 0, with_offsets=False)
        if index == 0 and not piece_ids and tokenizer.bos_token_id is not None:
            piece_ids = [tokenizer.bos_token_id]  # a prompt that starts with an image still starts with BOS
        ids.extend(piece_ids)
    return ids


def _inside(start: int, end: int, span_start: int, span_end: int) -> bool:
    """A token belongs to an answer span if its characters overlap it; a token with no characters of its own
    (the first bytes of a byte-fallback character) if it sits inside it. BOS (0, 0) and the dummy prefix of
    a piece sit at the piece's start, which is never inside an answer (answers hold no images)."""
    if end > start:
        return end > span_start and start < span_end
    return span_start <= start < span_end


@dataclass
class TokenizedConversation:
    """Token ids of a whole conversation with image sentinels, the training labels (IGNORE_INDEX except
    on assistant answers) and how many images it holds."""

    input_ids: list[int]
    labels: list[int]
    num_images: int


def tokenize_conversation(
    tokenizer, template: ConversationTemplate, turns: list[tuple[str, str]]
) -> TokenizedConversation:
    """input_ids and labels of a full conversation; labels are IGNORE_INDEX except on the answers (+ `</s>`)."""
    text, spans = template.render_with_spans(turns)
    ids: list[int] = []
    labels: list[int] = []
    pieces = _pieces(text)
    for index, (offset, piece) in enumerate(pieces):
        if index:
            # The image sentinel is never a target: there is no vocabulary token to predict there.
            ids.append(IMAGE_TOKEN_INDEX)
            labels.append(IGNORE_INDEX)
        try:
            piece_ids, piece_offsets = _encode_piece(tokenizer, piece, first=index == 0, with_offsets=True)
        except NotImplementedError as exc:  # slow tokenizers have no offsets
            raise TypeError("tokenize_conversation needs a fast tokenizer (offset mapping)") from exc
        # Offsets are relative to the piece: shift them into the rendered conversation, where the spans are.
        for token, (start, end) in zip(piece_ids, piece_offsets):
            start, end = start + offset, end + offset
            supervised = any(_inside(start, end, s, e) for s, e in spans)
            ids.append(token)
            # Labels are the ids themselves: the loss shifts them
            # by one (MPLUGOwl2ForCausalLM.next_token_loss).
            labels.append(token if supervised else IGNORE_INDEX)
    return TokenizedConversation(ids, labels, len(pieces) - 1)
