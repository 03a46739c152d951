"""The severity parser: every real human answer, the synthetic-data contract, and adversarial paraphrases."""

from __future__ import annotations

import json
import random

import pytest

from cdreasoning.constants import ATTRIBUTES, DEPICT_QUESTION, SEVERITIES
from cdreasoning.data.severity_parser import parse_severities, parse_severities_detailed
from tests.conftest import shared_path

ALL_SLIGHT = dict.fromkeys(ATTRIBUTES, "slight")


def test_all_real_human_answers_parse_completely():
    records = json.loads(shared_path("data", "m-spcd", "depict_task", "depict_align_test.json").read_text())
    assert len(records) == 50
    counts = dict.fromkeys(SEVERITIES, 0)
    for record in records:
        parsed = parse_severities(record["human_answer"])
        assert set(parsed) == set(ATTRIBUTES), (record["question_id"], record["human_answer"], parsed)
        for value in parsed.values():
            counts[value] += 1
    # FACTS §7: about 74 % slight, 26 % moderate, < 1 % severe over the 350 ratings.
    assert counts["slight"] > counts["moderate"] > counts["severe"] >= 1
    assert sum(counts.values()) == 350


def test_first_real_answer_exactly():
    text = (
        "The two images exhibit slight variations in white balance, severe differences in brightness "
        "contrast, "
        "moderate color contrast, moderate overall brightness, and slight differences in overall color.Dark "
        "details show moderate distinctions,light details also have moderate variations."
    )
    assert parse_severities(text) == {
        "white_balance": "slight",
        "brightness_contrast": "severe",
        "color_contrast": "moderate",
        "overall_brightness": "moderate",
        "overall_color": "slight",
        "dark_details": "moderate",
        "bright_details": "moderate",
    }


# --- the synthetic-data contract: all seven attributes once, each with its severity in its own clause -------

NAMES = {
    "white_balance": ["white balance"],
    "brightness_contrast": ["brightness/contrast", "brightness contrast"],
    "color_contrast": ["color contrast"],
    "overall_brightness": ["overall brightness"],
    "overall_color": ["overall color"],
    "dark_details": ["dark details", "shadow details"],
    "bright_details": ["bright details", "light details", "highlight details"],
}
CLAUSES = [
    "{sev} variations in {name}",
    "{sev} differences in the {name}",
    "{sev} {name}",
    "the {name} differs {sev}ly",
    "{name}: {sev}",
    "{Name} shows {sev} distinctions",
    "{name} is {sev}ly changed",
    "a {sev} shift of the {name}",
    "{name} - {sev}",
    "the {name} has {sev} changes",
]


@pytest.mark.parametrize("seed", range(40))
def test_generator_contract(seed):
    rng = random.Random(seed)
    truth = {attr: rng.choice(SEVERITIES) for attr in ATTRIBUTES}
    order = list(ATTRIBUTES)
    rng.shuffle(order)
    clauses = []
    for attr in order:
        name = rng.choice(NAMES[attr])
        if rng.random() < 0.3:
            name = name.replace("color", "colour")
        template = rng.choice(CLAUSES)
        clauses.append(template.format(sev=truth[attr], name=name, Name=name.capitalize()))
    separators = [", ", ". ", "; ", ",", ".", ", and ", "\n"]
    text = "The images differ: " + clauses[0]
    for clause in clauses[1:]:
        sep = rng.choice(separators)
        text += sep + (clause[0].upper() + clause[1:] if sep.strip() in (".", "") else clause)
    text += "."
    assert parse_severities(text) == truth, text


# --- paraphrases --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The white balance differs slightly.", {"white_balance": "slight"}),
        ("white balance: severe", {"white_balance": "severe"}),
        ("Severity of the overall brightness: moderate", {"overall_brightness": "moderate"}),
        (
            (
                "- **White balance**: slight\n- **Brightness/contrast**: moderate\n"
                "- **Highlight details**: severe"
            ),
            {"white_balance": "slight", "brightness_contrast": "moderate", "bright_details": "severe"},
        ),
        (
            "* Shadow details — moderate\n* Light details — slight",
            {"dark_details": "moderate", "bright_details": "slight"},
        ),
        (
            "There are slightdifferences in white balance and moderatevariations in overall colour.",
            {"white_balance": "slight", "overall_color": "moderate"},
        ),
        (
            (
                "slight overall color.Dark details show severe distinctions,light details also have slight "
                "variations."
            ),
            {"overall_color": "slight", "dark_details": "severe", "bright_details": "slight"},
        ),
        (
            "Dark details show moderate distinctions, light details also have moderate variations.",
            {"dark_details": "moderate", "bright_details": "moderate"},
        ),
        (
            "The colour contrast is moderately different and the overall colour slightly.",
            {"color_contrast": "moderate", "overall_color": "slight"},
        ),
        ("Brightness and contrast differ severely.", {"brightness_contrast": "severe"}),
        ("brightness-contrast: slight", {"brightness_contrast": "slight"}),
        (
            "The white balance and the overall color are both slight.",
            {"white_balance": "slight", "overall_color": "slight"},
        ),
        (
            "Slight differences in white balance, overall brightness and color contrast.",
            {"white_balance": "slight", "overall_brightness": "slight", "color_contrast": "slight"},
        ),
        (
            (
                "White balance, overall brightness, and overall color show slight differences, "
                "while dark and bright details are moderately different."
            ),
            {
                "white_balance": "slight",
                "overall_brightness": "slight",
                "overall_color": "slight",
                "dark_details": "moderate",
                "bright_details": "moderate",
            },
        ),
        (
            (
                "Slight differences in white balance, overall color and dark details, "
                "while bright details are moderate."
            ),
            {
                "white_balance": "slight",
                "overall_color": "slight",
                "dark_details": "slight",
                "bright_details": "moderate",
            },
        ),
        (
            "Dark details and highlight details change moderately and slightly, respectively.",
            {"dark_details": "moderate", "bright_details": "slight"},
        ),
        ("The white balance is not severe but moderate.", {"white_balance": "moderate"}),
        ("Overall brightness differs moderately rather than slightly.", {"overall_brightness": "moderate"}),
        (
            (
                "1. **White balance**: the second image is cooler. Severity: moderate.\n"
                "2. **Overall color**: warmer tones. Severity: slight."
            ),
            {"white_balance": "moderate", "overall_color": "slight"},
        ),
        (
            "### White balance\nSlight. The second image is warmer.\n### Shadow details\nSevere.",
            {"white_balance": "slight", "dark_details": "severe"},
        ),
        (
            (
                "| attribute | severity |\n|---|---|\n| white balance | slight |\n"
                "| details in the highlights | moderate |"
            ),
            {"white_balance": "slight", "bright_details": "moderate"},
        ),
        (
            '{"white_balance": "severe", "dark_details": "slight"}',
            {"white_balance": "severe", "dark_details": "slight"},
        ),
        (
            "Details in the shadows differ slightly; details in bright areas differ severely.",
            {"dark_details": "slight", "bright_details": "severe"},
        ),
        (
            "Slight white balance shift and moderate overall color change.",
            {"white_balance": "slight", "overall_color": "moderate"},
        ),
        (
            "The overall brightness is moderate whereas the brightness contrast is severe.",
            {"overall_brightness": "moderate", "brightness_contrast": "severe"},
        ),
        (
            "Moderate: white balance, color contrast",
            {"white_balance": "moderate", "color_contrast": "moderate"},
        ),
        (
            "white balance, slight; brightness contrast, severe",
            {"white_balance": "slight", "brightness_contrast": "severe"},
        ),
        ("Overall Colour - SEVERE", {"overall_color": "severe"}),
        (
            "White balance: Moderate (the first image is warmer); brightness/contrast: slight",
            {"white_balance": "moderate", "brightness_contrast": "slight"},
        ),
        (
            "Differences: white balance (slight), brightness contrast (severe).",
            {"white_balance": "slight", "brightness_contrast": "severe"},
        ),
        (
            "White balance and color contrast: slight; overall brightness and overall color: moderate.",
            {
                "white_balance": "slight",
                "color_contrast": "slight",
                "overall_brightness": "moderate",
                "overall_color": "moderate",
            },
        ),
        (
            (
                "In terms of white balance, the difference is slight. Regarding brightness/contrast, it is "
                "moderate."
            ),
            {"white_balance": "slight", "brightness_contrast": "moderate"},
        ),
        (
            "The images differ moderately in overall color and slightly in white balance.",
            {"overall_color": "moderate", "white_balance": "slight"},
        ),
        ("Overall brightness is higher in the second image (moderate).", {"overall_brightness": "moderate"}),
        ("The overall color contrast is slight.", {"color_contrast": "slight"}),
    ],
)
def test_paraphrases(text, expected):
    assert parse_severities(text) == expected


# --- no guessing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("The two images look alike.", {}),
        ("The white balance is different.", {}),  # mentioned, no severity
        ("Slight changes overall. The white balance is shifted.", {}),  # severity in another sentence
        ("White balance: warmer. Brightness: slight.", {}),  # "brightness" alone is not an attribute
        ("The brightness is severe and the contrast is slight.", {}),
        ("The color is moderately different.", {}),
        ("The white balance is slight to moderate.", {}),  # ambiguous: two severities for one attribute
        ("Slight white balance shift. Later: the white balance is severe.", {}),  # conflict
        ("No severe change in white balance.", {}),  # negated
        (DEPICT_QUESTION, {}),  # the question itself names every attribute and the scale
    ],
)
def test_never_guesses(text, expected):
    assert parse_severities(text) == expected


def test_question_echo_then_answer():
    question = (
        "In terms of white balance, brightness/contrast, color contrast, overall brightness, overall color, "
        "dark "
        "details, and bright details (slight, moderate, severe): "
    )
    answer = "white balance is slight. Overall color is severe."
    assert parse_severities(question + answer) == {"white_balance": "slight", "overall_color": "severe"}


def test_attributes_do_not_bleed_into_each_other():
    text = (
        "moderate brightness contrast, slight overall brightness, severe color contrast, "
        "slight overall color, "
        "moderate dark details, severe bright details, slight white balance"
    )
    assert parse_severities(text) == {
        "brightness_contrast": "moderate",
        "overall_brightness": "slight",
        "color_contrast": "severe",
        "overall_color": "slight",
        "dark_details": "moderate",
        "bright_details": "severe",
        "white_balance": "slight",
    }


def test_detailed_reports_unrated_and_conflicts():
    result = parse_severities_detailed(
        "Slight white balance change. The overall color is shifted. The white balance is severe, "
        "dark details slight."
    )
    assert result.severities == {"dark_details": "slight"}
    assert result.conflicting == ("white_balance",)
    assert result.unrated == ("overall_color",)
    assert result.mentioned == ("white_balance", "overall_color", "dark_details")


def test_rejects_non_text():
    with pytest.raises(TypeError, match="description string"):
        parse_severities(None)
