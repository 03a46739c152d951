"""Write natural descriptions of a colour difference from per-attribute severities (depict-task answers).

    from cdreasoning.data import describe_severities
    from cdreasoning.data.seeding import text_rng
    describe_severities({"white_balance": "slight", ..., "bright_details": "moderate"}, text_rng(0, "x"))
    # 'The two images exhibit slight variations in white balance, severe differences in brightness …'

The phrasings imitate the human answers of M-SPCD (several sentence frames, clause forms and synonyms) and
obey a **parseability contract** so that a severity parser can read them back:

* every description names each of the seven attributes exactly once, as one of
  white balance | brightness/contrast, brightness contrast | color contrast | overall brightness |
  overall color | dark details, shadow details | bright details, light details, highlight details;
* the attribute's severity word (exactly "slight", "moderate" or "severe") is in the same clause — the text
  between the same commas / periods — and no other severity word is in that clause;
* nothing else in the text uses a severity word (no "slightly", "severely", …) or an attribute word.
"""

from __future__ import annotations

import random

from cdreasoning.constants import ATTRIBUTES, SEVERITIES
from cdreasoning.data.seeding import pick, shuffle

# How each attribute may be named (the first is the question's spelling).
ATTRIBUTE_NAMES: dict[str, tuple[str, ...]] = {
    "white_balance": ("white balance",),
    "brightness_contrast": ("brightness contrast", "brightness/contrast"),
    "color_contrast": ("color contrast",),
    "overall_brightness": ("overall brightness",),
    "overall_color": ("overall color",),
    "dark_details": ("dark details", "shadow details"),
    "bright_details": ("light details", "bright details", "highlight details"),
}
_PLURAL = {"dark_details", "bright_details"}
# Attributes that read well as "moderate <attribute>" ("moderate color contrast"); others take a noun.
_ADJECTIVE_OK = {"color_contrast", "overall_brightness", "overall_color"}

_NOUNS = (
    "variations",
    "differences",
    "discrepancies",
    "deviations",
    "disparities",
    "distinctions",
    "changes",
    "fluctuations",
)
_NOUN = ("variation", "difference", "discrepancy", "deviation", "disparity", "shift", "change")


def _clause(kind: str, attribute: str, severity: str, rng: random.Random) -> str:
    """One clause naming `attribute` once with its `severity` (lower-case start; callers capitalise)."""
    name = pick(rng, ATTRIBUTE_NAMES[attribute])
    plural = attribute in _PLURAL
    if kind == "noun-in":  # "moderate differences in white balance"
        return f"{severity} {pick(rng, _NOUNS)} in {name}"
    if kind == "adjective":  # "moderate color contrast" (as the human answers write it)
        if attribute in _ADJECTIVE_OK:
            return f"{severity} {name}"
        return f"{severity} {pick(rng, _NOUNS)} in {name}"
    if kind == "a-noun-in":  # "a moderate shift in white balance"
        article = "an" if severity[0] in "aeiou" else "a"
        return f"{article} {severity} {pick(rng, _NOUN)} in {name}"
    if kind == "subject-verb":  # "dark details show moderate distinctions"
        verb = pick(
            rng,
            ("show", "exhibit", "display", "present", "have")
            if plural
            else ("shows", "exhibits", "displays", "presents", "has"),
        )
        return f"{name} {verb} {severity} {pick(rng, _NOUNS)}"
    if kind == "differs":  # "white balance differs to a moderate degree"
        verb = "differ" if plural else "differs"
        return f"{name} {verb} to a {pick(rng, ('', 'rather ', 'fairly '))}{severity} degree".replace(
            "  ", " "
        )
    if kind == "is":  # "the white balance difference is moderate"
        return f"the {pick(rng, _NOUN)} in {name} is {severity}"
    if kind == "also":  # "light details also have moderate variations"
        verb = "have" if plural else "has"
        return f"{name} also {verb} {severity} {pick(rng, _NOUNS)}"
    raise ValueError(f"unknown clause kind {kind!r}")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(clauses: list[str]) -> str:
    """'a, b, and c' (Oxford comma, as the human answers write it)."""
    if len(clauses) == 1:
        return clauses[0]
    return ", ".join(clauses[:-1]) + ", and " + clauses[-1]


def _frame_human(order, sev, rng):
    # The M-SPCD human answer: "The two images exhibit A, B, C, D, and E. F show ..., G also have ...".
    head = [_clause(pick(rng, ("noun-in", "adjective", "noun-in")), a, sev[a], rng) for a in order[:5]]
    tail_first = _clause("subject-verb", order[5], sev[order[5]], rng)
    tail_second = _clause(pick(rng, ("also", "subject-verb")), order[6], sev[order[6]], rng)
    opener = pick(
        rng,
        (
            "The two images exhibit",
            "The two images show",
            "The pair displays",
            "Between the two images there are",
        ),
    )
    joiner = pick(rng, (", ", ", while "))
    return f"{opener} {_join(head)}. {_cap(tail_first)}{joiner}{tail_second}."


def _frame_comparing(order, sev, rng):
    # "Comparing the two images, white balance shows slight changes, …, and dark details differ to a …"
    kinds = ("subject-verb", "differs", "is", "subject-verb")
    clauses = [_clause(pick(rng, kinds), a, sev[a], rng) for a in order]
    opener = pick(
        rng,
        (
            "Comparing the two images",
            "Looking at both images",
            "Side by side",
            "When the two images are compared",
        ),
    )
    return f"{opener}, {_join(clauses)}."


def _frame_sentences(order, sev, rng):
    # Short sentences: "White balance differs to a slight degree. There are moderate changes in …."
    sentences = []
    for attribute in order:
        kind = pick(rng, ("subject-verb", "differs", "is", "there-are"))
        if kind == "there-are":
            sentences.append(f"There are {_clause('noun-in', attribute, sev[attribute], rng)}")
        else:
            sentences.append(_cap(_clause(kind, attribute, sev[attribute], rng)))
    return ". ".join(sentences) + "."


def _frame_two_parts(order, sev, rng):
    # "The images differ with A, B, and C. In addition, D, E, F, and G."
    split = 3 + int(rng.random() * 3)  # 3..5 attributes in the first sentence
    first = [_clause(pick(rng, ("noun-in", "a-noun-in", "adjective")), a, sev[a], rng) for a in order[:split]]
    second = [_clause(pick(rng, ("subject-verb", "differs", "is")), a, sev[a], rng) for a in order[split:]]
    opener = pick(rng, ("The two images differ with", "We can see", "The comparison reveals"))
    link = pick(rng, ("In addition", "Furthermore", "Beyond that", "As for the rest"))
    return f"{opener} {_join(first)}. {link}, {_join(second)}."


_FRAMES = (_frame_human, _frame_human, _frame_comparing, _frame_sentences, _frame_two_parts)


def describe_severities(severities: dict[str, str], rng: random.Random) -> str:
    """A description naming every attribute once with its severity (see the module docstring's contract).

    `severities` maps each of the seven attributes to "slight" / "moderate" / "severe"; `rng` chooses the
    frame, the clause forms, the synonyms and (for some frames) the attribute order.
    """
    missing = [a for a in ATTRIBUTES if a not in severities]
    unknown = [a for a in severities if a not in ATTRIBUTES]
    if missing or unknown:
        raise ValueError(
            f"severities must name exactly the seven attributes; missing {missing}, unknown {unknown}"
        )
    bad = {a: s for a, s in severities.items() if s not in SEVERITIES}
    if bad:
        raise ValueError(f"severity words must be one of {SEVERITIES}; got {bad}")
    frame = pick(rng, _FRAMES)
    order = list(ATTRIBUTES)
    if frame is not _frame_human and rng.random() < 0.5:
        shuffle(rng, order)
    return frame(order, severities, rng)
