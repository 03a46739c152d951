"""`--original-prompt` end to end: scores and greedy descriptions equal those of CD-Reasoning's cd_score.py /
cd_description.py on the same checkpoint and pairs (fixture: the original's ids and pixels fed to the model,
scored with wa5, decoded greedily and by the original's batch_decode), through the API and every CLI."""

import csv
import json

import pytest
import torch

from cdreasoning import CDScorer
from cdreasoning.cli import main
from cdreasoning.processing.original_prompt import original_prompts
from tests.original_eval import EXPECTED, FIXTURE, IMAGES, PAIRS, TOKENIZERS, checkpoint

MAX_NEW = str(EXPECTED["max_new_tokens"])


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("original_ckpt")
    return {name: checkpoint(name, root) for name in TOKENIZERS}


@pytest.fixture(scope="module")
def scorers(folders):
    return {
        name: CDScorer.from_pretrained(folder, device="cpu", dtype="float32", prompt="original")
        for name, folder in folders.items()
    }


def _pairs():
    return [(IMAGES / a, IMAGES / b) for a, b in PAIRS]


@pytest.mark.parametrize("name", TOKENIZERS)
def test_scores_equal_the_original_script(scorers, name):
    reference = EXPECTED["tokenizers"][name]
    results = scorers[name].score_pairs(_pairs(), batch_size=2)
    for result, score, probabilities in zip(results, reference["scores"], reference["probabilities"]):
        assert result.score == pytest.approx(score, abs=1e-6)
        assert list(result.probabilities.values()) == pytest.approx(probabilities, abs=1e-6)


@pytest.mark.parametrize("name", TOKENIZERS)
def test_greedy_descriptions_are_token_identical(scorers, name):
    reference = EXPECTED["tokenizers"][name]
    scorer = scorers[name]
    prompt = original_prompts(scorer.tokenizer).describe_ids
    assert prompt == reference["describe_ids"]
    pixels = scorer.describe_image_processor([p for pair in _pairs() for p in pair])
    tokens = scorer.model.generate(
        torch.tensor([prompt] * len(PAIRS)),
        pixel_values=pixels,
        max_new_tokens=EXPECTED["max_new_tokens"],
        do_sample=False,
        eos_token_id=scorer.tokenizer.eos_token_id,
        pad_token_id=scorer.tokenizer.pad_token_id,
    )
    for row, expected in zip(tokens.tolist(), reference["generated_ids"]):
        assert row[: len(expected)] == expected
    for pair, text in zip(_pairs(), reference["texts"]):
        assert scorer.describe(*pair, max_new_tokens=EXPECTED["max_new_tokens"]).text == text


def test_original_scores_do_not_depend_on_the_batch(scorers):
    scorer = scorers["llama_legacy"]
    pairs = _pairs() * 3
    alone = [scorer.score_pairs([pair], batch_size=1)[0].score for pair in pairs]
    batched = [r.score for r in scorer.score_pairs(pairs, batch_size=4)]
    assert batched == pytest.approx(alone, abs=1e-6)


def test_default_prompt_is_not_the_original(folders):
    default = CDScorer.from_pretrained(folders["llama_legacy"], device="cpu", dtype="float32")
    score = default.score_pairs(_pairs()[:1])[0].score
    assert abs(score - EXPECTED["tokenizers"]["llama_legacy"]["scores"][0]) > 1e-3


def test_original_prompt_refuses_prompt_options(folders):
    with pytest.raises(ValueError, match="prompt='original' fixes"):
        CDScorer.from_pretrained(folders["llama_legacy"], device="cpu", prompt="original", question="Q?")
    with pytest.raises(SystemExit, match="drop --question"):
        main(
            [
                "score",
                "--model-path",
                str(folders["llama_legacy"]),
                "--original-prompt",
                "--question",
                "Q?",
                "a",
                "b",
            ]
        )


def _common(folder):
    return ["--model-path", str(folder), "--device", "cpu", "--dtype", "float32", "--original-prompt"]


@pytest.mark.parametrize("name", ["llama_legacy", "trimming"])
def test_cdreasoning_score_and_describe_clis(folders, tmp_path, name, capsys):
    reference = EXPECTED["tokenizers"][name]
    out = tmp_path / "scores.csv"
    args = ["--pairs", str(FIXTURE / "pairs.csv"), "--image-folder", str(IMAGES), "--out", str(out)]
    assert main(["score", *_common(folders[name]), *args]) == 0
    with open(out, newline="") as handle:
        scores = [float(row["score"]) for row in csv.DictReader(handle)]
    assert scores == pytest.approx(reference["scores"], abs=1e-6)

    a, b = PAIRS[1]
    assert (
        main(
            [
                "describe",
                *_common(folders[name]),
                "--max-new-tokens",
                MAX_NEW,
                str(IMAGES / a),
                str(IMAGES / b),
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["text"] == reference["texts"][1]


def test_eval_score_and_describe_clis(folders, tmp_path):
    reference = EXPECTED["tokenizers"]["llama_legacy"]
    common = [*_common(folders["llama_legacy"]), "--image-folder", str(IMAGES)]
    out = tmp_path / "score"
    assert main(["eval", "score", *common, "--data", str(FIXTURE / "pairs.csv"), "--out", str(out)]) == 0
    with open(out / "scores.csv", newline="") as handle:
        scores = [float(row["score"]) for row in csv.DictReader(handle)]
    assert scores == pytest.approx(reference["scores"], abs=1e-6)
    assert json.loads((out / "metrics.json").read_text())["config"]["prompt"] == "original"

    out = tmp_path / "describe"
    data = ["--data", str(FIXTURE / "depict.json"), "--out", str(out), "--max-new-tokens", MAX_NEW]
    assert main(["eval", "describe", *common, *data]) == 0
    rows = [json.loads(line) for line in (out / "generations.jsonl").read_text().splitlines()]
    assert [row["text"] for row in sorted(rows, key=lambda r: r["pair_index"])] == reference["texts"]
    assert {row["question"] for row in rows} == {
        reference["describe_prompt"][6 : -len("\n<|image|><|image|> ASSISTANT:")]
    }
