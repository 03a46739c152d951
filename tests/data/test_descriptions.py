import random
import re

import pytest

from cdreasoning.constants import ATTRIBUTES, SEVERITIES
from cdreasoning.data import describe_severities
from cdreasoning.data.seeding import text_rng

# The parseability contract, written out independently of the generator.
NAMES = {
    "white_balance": ["white balance"],
    "brightness_contrast": ["brightness/contrast", "brightness contrast"],
    "color_contrast": ["color contrast"],
    "overall_brightness": ["overall brightness"],
    "overall_color": ["overall color"],
    "dark_details": ["dark details", "shadow details"],
    "bright_details": ["bright details", "light details", "highlight details"],
}
PATTERNS = {
    a: re.compile(r"(?<![\w/])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w/])", re.IGNORECASE)
    for a, names in NAMES.items()
}
SEVERITY_RE = re.compile(r"\b(slight|moderate|severe)\w*", re.IGNORECASE)


def parse_by_contract(text: str) -> dict[str, str]:
    """Attribute → severity, asserting every rule of the contract on the way."""
    found: dict[str, str] = {}
    for clause in re.split(r"[,.]", text):
        attributes = [a for a, pattern in PATTERNS.items() for _ in pattern.finditer(clause)]
        words = SEVERITY_RE.findall(clause)
        assert all(w.lower() in SEVERITIES for w in words), f"non-exact severity word in {clause!r}"
        if not attributes:
            assert not words, f"severity word outside an attribute clause: {clause!r}"
            continue
        assert len(attributes) == 1, f"several attributes in one clause: {clause!r}"
        assert len(words) == 1, f"need exactly one severity word in {clause!r}"
        assert attributes[0] not in found, f"{attributes[0]} named twice in {text!r}"
        found[attributes[0]] = words[0].lower()
    return found


def _random_severities(rng: random.Random) -> dict[str, str]:
    return {a: SEVERITIES[int(rng.random() * 3)] for a in ATTRIBUTES}


def test_contract_holds_and_round_trips_over_many_draws():
    rng = random.Random(0)
    texts = set()
    for i in range(600):
        severities = _random_severities(rng)
        text = describe_severities(severities, text_rng(7, "t", i))
        assert parse_by_contract(text) == severities, text
        texts.add(text)
    assert len(texts) == 600


def test_phrasing_varies_like_human_answers():
    severities = {a: "slight" for a in ATTRIBUTES}
    texts = [describe_severities(severities, text_rng(1, "v", i)) for i in range(200)]
    openings = {" ".join(t.split()[:3]) for t in texts}
    assert len(openings) >= 8
    assert any(t.startswith("The two images exhibit") for t in texts)  # the M-SPCD frame is among them
    for name in ("shadow details", "highlight details", "light details", "brightness/contrast"):
        assert any(name in t.lower() for t in texts), name
    lengths = [len(t.split()) for t in texts]
    assert 30 <= sum(lengths) / len(lengths) <= 70  # M-SPCD answers: ~44 words


def test_deterministic_for_a_seed():
    severities = {a: "moderate" for a in ATTRIBUTES}
    assert describe_severities(severities, text_rng(3, "d", 1)) == describe_severities(
        severities, text_rng(3, "d", 1)
    )


@pytest.mark.parametrize(
    "severities",
    [
        {a: "slight" for a in ATTRIBUTES[:-1]},
        {**{a: "slight" for a in ATTRIBUTES}, "sharpness": "slight"},
        {**{a: "slight" for a in ATTRIBUTES}, "white_balance": "none"},
    ],
)
def test_rejects_incomplete_or_unknown(severities):
    with pytest.raises(ValueError):
        describe_severities(severities, text_rng(0, "x"))


def test_contract_matches_the_real_human_answers():
    """The 50 real M-SPCD answers follow the same contract, so a parser for ours reads theirs too."""
    from cdreasoning.data import read_depict_tests
    from tests.conftest import shared_path

    records = read_depict_tests(shared_path("data", "m-spcd", "depict_task", "depict_align_test.json"))
    parsed = [parse_by_contract(r.human_answer) for r in records]
    assert all(set(p) == set(ATTRIBUTES) for p in parsed)
    assert parsed[0]["brightness_contrast"] == "severe" and parsed[0]["white_balance"] == "slight"
