"""Conversation templates: how a question (with its image placeholders) and answers become one prompt string.

Two templates, as in mPLUG-Owl2 / Q-Align / CD-Reasoning:

- `v1` (vicuna v1, used for training there and by default here):
      "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful,
      detailed, and polite answers to the user's questions. USER: <|image|><|image|>\\n{question} ASSISTANT:
      {answer}</s>"
- `mplug_owl2` (the originals' inference template): the same without the system prompt, i.e.
      "USER: … ASSISTANT: {answer}</s>"

A turn is rendered `ROLE: text` followed by a separator: a space after user turns, `</s>` after assistant
turns. `render(turns)` renders a finished conversation (for training); `render_prompt(turns, prefix)` renders the
user turns and opens the assistant turn (optionally with the beginning of its answer, e.g. "The color difference
between these two images is" for scoring), exactly as the training text continues there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConversationTemplate:
    """A chat format: system text, role names and the separators after user and assistant turns (the same
    object builds training and inference prompts)."""

    name: str
    system: str
    roles: tuple[str, str] = ("USER", "ASSISTANT")
    user_separator: str = " "
    assistant_separator: str = "</s>"

    def _header(self) -> str:
        # The system prompt is followed by the user separator (a space): "…questions. USER: …", as vicuna v1.
        return self.system + self.user_separator if self.system else ""

    def render_with_spans(self, turns: list[tuple[str, str]]) -> tuple[str, list[tuple[int, int]]]:
        """A full conversation [(role, text), …] alternating user/assistant, and the character spans of the
        assistant answers *including* their `</s>` (the supervised parts)."""
        _check_turns(turns, self.roles)
        text = self._header()
        spans = []
        for index, (role, message) in enumerate(turns):
            text += f"{role}: "
            if index % 2 == 0:
                text += message + self.user_separator
            else:
                # The supervised span starts after "ASSISTANT: " and
                # includes the closing </s>, so the model learns to stop.
                start = len(text)
                text += message + self.assistant_separator
                spans.append((start, len(text)))
        return text, spans

    def render(self, turns: list[tuple[str, str]]) -> str:
        return self.render_with_spans(turns)[0]

    def render_prompt(self, turns: list[tuple[str, str]], assistant_prefix: str | None = None) -> str:
        """Completed turns ending with a user turn, then the open assistant turn, then `assistant_prefix`.

        The result is a prefix of what `render` gives once the answer is appended (the answer follows
        "ASSISTANT: " in both), so the model is prompted exactly as it was trained.
        """
        if len(turns) % 2 == 0:
            raise ValueError("a prompt must end with a user turn")
        text, _ = self.render_with_spans(turns)
        # No space after the colon: the answer's first token
        # carries its own "▁", as after "ASSISTANT:" in training.
        text += f"{self.roles[1]}:"
        if assistant_prefix:
            text += " " + assistant_prefix
        return text

    def user_turn(self, text: str) -> tuple[str, str]:
        return (self.roles[0], text)

    def assistant_turn(self, text: str) -> tuple[str, str]:
        return (self.roles[1], text)


def _check_turns(turns, roles) -> None:
    for index, (role, message) in enumerate(turns):
        expected = roles[index % 2]
        if role != expected:
            raise ValueError(f"turn {index} has role {role!r}; turns must alternate {roles[0]}/{roles[1]}")
        if not isinstance(message, str) or not message.strip():
            raise ValueError(f"turn {index} ({role}) is empty")


VICUNA_SYSTEM = (
    "A chat between a curious user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions."
)

TEMPLATES = {
    "v1": ConversationTemplate("v1", VICUNA_SYSTEM),
    "mplug_owl2": ConversationTemplate("mplug_owl2", ""),
}
# Aliases used by the original scripts.
TEMPLATES["vicuna_v1"] = TEMPLATES["v1"]


def get_template(name: str) -> ConversationTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise ValueError(f"unknown conversation template {name!r}; known: {sorted(TEMPLATES)}") from None
