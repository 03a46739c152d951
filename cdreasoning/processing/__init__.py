"""Turning conversations and images into model inputs: templates, tokenisation with image sentinels, images."""

from cdreasoning.processing.images import ImageProcessor
from cdreasoning.processing.prompt_tokens import (
    TokenizedConversation,
    count_image_placeholders,
    normalize_image_placeholders,
    tokenize_conversation,
    tokenize_prompt,
)
from cdreasoning.processing.templates import TEMPLATES, ConversationTemplate, get_template
from cdreasoning.processing.tokenizer_files import build_tokenizer, load_tokenizer, save_tokenizer

__all__ = [
    "TEMPLATES",
    "ConversationTemplate",
    "ImageProcessor",
    "TokenizedConversation",
    "build_tokenizer",
    "count_image_placeholders",
    "get_template",
    "load_tokenizer",
    "normalize_image_placeholders",
    "save_tokenizer",
    "tokenize_conversation",
    "tokenize_prompt",
]
