"""Constants shared by every part of cdreasoning: image sentinels, CD levels, description attributes.

They are the vocabulary of the task. The level words, the answer sentence and the question phrasings are those
of M-SPCD (CD-Reasoning's data), so checkpoints trained on it and ours speak the same language.
"""

from __future__ import annotations

# --- Image placeholders -------------------------------------------------------------------------------------
# `input_ids` carry this sentinel once per image; the model replaces it by that image's visual tokens.
IMAGE_TOKEN_INDEX = -200
# Labels at ignored positions (prompts, images, padding).
IGNORE_INDEX = -100
# The placeholder mPLUG-Owl2 / Q-Align prompts use. The tokenizer does not know it: prompts are split on it.
DEFAULT_IMAGE_TOKEN = "<|image|>"
# Other spellings found in the wild (LLaVA-style data, the M-SPCD JSONs). Accepted everywhere, never dropped.
IMAGE_TOKEN_ALIASES = ("<image>",)

# --- Colour-difference levels (Q-Align style scoring) --------------------------------------------------------
CD_LEVELS = ("negligible", "slight", "moderate", "significant", "severe")
# Score = softmax over the five level logits · these weights (0–5 "level scale", i.e. the SPCD grade G).
LEVEL_WEIGHTS = (0.0, 1.25, 2.5, 3.75, 5.0)
ANSWER_PREFIX = "The color difference between these two images is"
ANSWER_TEMPLATE = ANSWER_PREFIX + " {level}."

# The 20 question phrasings of the M-SPCD score task (as they appear in its test files), in a fixed order so
# that a seeded draw is reproducible.
SCORE_QUESTIONS = (
    "Please describe the color difference in the two images?",
    "Can you please describe the color difference in the two images?",
    "How would you describe the color difference in these two images?",
    "How might you describe the color difference observed in these two images?",
    "How do you perceive the color difference between these two images?",
    "How do you perceive the color variation in these two pictures?",
    "How does the color difference in these two images appear?",
    "How does the color deviation appear in these two pictures?",
    "How would you characterize the difference in color between these two pictures?",
    "How do the colors in these two pictures compare in your opinion?",
    "What are your thoughts on the color difference between these two images?",
    "What are your thoughts on the color disparity between these two pictures?",
    "What is your opinion on the color difference between these two images?",
    "What is your impression of the color variation between these two images?",
    "What is your perspective on the color distinction between these two pictures?",
    "What do you think about the color divergence between these two images?",
    "What's your take on the chromatic variance between these two pictures?",
    "Can you provide your assessment of the color distinction in these two images?",
    "Can you share your thoughts regarding the color discrepancy in these two pictures?",
    "Could you express your observations about the color disparity in these two pictures?",
)
# The question used for scoring when none is given.
DEFAULT_SCORE_QUESTION = "How would you describe the color difference in these two images?"

# --- Description attributes (M-SPCD depict task) -------------------------------------------------------------
# Machine names, in the order the depict question lists them.
ATTRIBUTES = (
    "white_balance",
    "brightness_contrast",
    "color_contrast",
    "overall_brightness",
    "overall_color",
    "dark_details",
    "bright_details",
)
# How the question (and most answers) name them.
ATTRIBUTE_LABELS = {
    "white_balance": "white balance",
    "brightness_contrast": "brightness/contrast",
    "color_contrast": "color contrast",
    "overall_brightness": "overall brightness",
    "overall_color": "overall color",
    "dark_details": "dark details",
    "bright_details": "bright details",
}
SEVERITIES = ("slight", "moderate", "severe")
# The depict-task question of M-SPCD (the seed's question), used for descriptions when none is given.
DEPICT_QUESTION = (
    "Please provide a descriptive analysis for the color difference between the two images in terms of the "
    "following dimensions: white balance, brightness/contrast, color contrast, overall brightness, overall "
    "color, dark details, and bright details. Assign a degree of severity (slight, moderate, severe) for each "
    "dimension."
)
