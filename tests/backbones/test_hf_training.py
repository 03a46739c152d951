"""Training on the HF VLM backbone: answer-only labels, which parts train, LoRA train → merge → score / describe."""

import json

import pytest
import torch

from cdreasoning.cli import main as cli_main
from cdreasoning.constants import IGNORE_INDEX
from cdreasoning.train.finetune import main as finetune
from tests.backbones.conftest import HF_FAMILIES

# The end-of-turn text each family's chat template writes after an answer (from the released templates).
END_OF_TURN = {
    "tiny-qwen2_5_vl": "<|im_end|>\n",
    "tiny-qwen3_vl": "<|im_end|>\n",
    "tiny-qwen3_5": "<|im_end|>\n",  # after the closed, empty `<think>` block that precedes the answer
    "tiny-idefics3": "<end_of_utterance>\n",
}


def _backbone(path):
    from cdreasoning.backbones.hf_vlm import load_hf_backbone

    return load_hf_backbone(path, device="cpu", dtype="float32")


@pytest.mark.parametrize("family", HF_FAMILIES)
def test_labels_are_exactly_the_answers_and_their_end_of_turn(family, hf_checkpoints, synth_set):
    from cdreasoning.train.hf_training import HFConversationDataset, HFDataCollator

    backbone = _backbone(hf_checkpoints[family])
    dataset = HFConversationDataset([synth_set / "train_mix.json"], backbone, synth_set / "images")
    samples = [dataset[i] for i in (0, 1, len(dataset) - 1)]
    batch = HFDataCollator(backbone, max_length=2048)(samples)
    tokenizer = backbone.tokenizer
    for row, index in enumerate((0, 1, len(dataset) - 1)):
        record = dataset.items[index]
        answers = [t.value for t in record.turns if t.role == "gpt"]
        supervised = batch["labels"][row] != IGNORE_INDEX
        text = tokenizer.decode(batch["input_ids"][row][supervised], skip_special_tokens=False)
        expected = "".join(
            (" " if family == "tiny-idefics3" else "") + a + END_OF_TURN[family] for a in answers
        )
        assert text == expected
        # the images are in the input (expanded) and never supervised
        image_id = backbone.processor.image_token_id
        assert int((batch["input_ids"][row] == image_id).sum()) > 2
        assert not bool(supervised[batch["input_ids"][row] == image_id].any())
    padded = batch["attention_mask"] == 0
    assert not bool((batch["labels"][padded] != IGNORE_INDEX).any())


def test_which_parts_train(hf_checkpoints):
    from types import SimpleNamespace

    from cdreasoning.backbones.hf_vlm import parameter_part
    from cdreasoning.train.hf_training import configure_hf_tuning

    args = SimpleNamespace(
        lora_enable=False, freeze_llm=False, tune_visual_abstractor=True, freeze_vision_model=True
    )
    model = _backbone(hf_checkpoints["tiny-qwen2_5_vl"]).model
    configure_hf_tuning(model, args)
    trains = {parameter_part(n) for n, p in model.named_parameters() if p.requires_grad}
    frozen = {parameter_part(n) for n, p in model.named_parameters() if not p.requires_grad}
    assert trains == {"llm", "projector"} and frozen == {"vision"}
    assert all(
        p.requires_grad == n.startswith("model.visual.merger.")
        for n, p in model.named_parameters()
        if n.startswith("model.visual.")
    )

    lora = SimpleNamespace(
        lora_enable=True,
        lora_r=4,
        lora_alpha=8,
        lora_dropout=0.0,
        lora_bias="none",
        lora_target_modules=["q_proj", "v_proj.multiway.1"],  # the Owl2 default → the backbone's default
        tune_visual_abstractor=False,
        freeze_vision_model=True,
    )
    for family in HF_FAMILIES:
        peft_model = configure_hf_tuning(_backbone(hf_checkpoints[family]).model, lora)
        adapted = {n.rsplit(".lora_A", 1)[0] for n, _ in peft_model.named_modules() if n.endswith("lora_A")}
        # 2 decoder layers × (q, k, v, o, gate, up, down), all in the language model; Qwen3.5's first layer is
        # linear attention (Gated DeltaNet): its q/k/v, output gate and output projections instead of q, k, v, o
        mixers = {"self_attn." + p for p in ("q_proj", "k_proj", "v_proj", "o_proj")}
        layers = [mixers, mixers]
        if family == "tiny-qwen3_5":
            layers[0] = {"linear_attn." + p for p in ("in_proj_qkv", "in_proj_z", "out_proj")}
        expected = {
            f"{i}.{m}"
            for i, mixer in enumerate(layers)
            for m in (*mixer, "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
        }
        assert {n.split(".layers.")[1] for n in adapted} == expected, family
        assert len(adapted) == len(expected), family
        assert all(("language_model" in n or "text_model" in n) for n in adapted)
        assert all("lora_" in n for n, p in peft_model.named_parameters() if p.requires_grad)


@pytest.mark.parametrize("family", HF_FAMILIES)
def test_lora_train_merge_score_describe(family, hf_checkpoints, synth_set, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    base = hf_checkpoints[family]
    out = tmp_path / "lora"
    args = [
        "--model_name_or_path", str(base),
        "--data_path", str(synth_set / "train_mix.json"),
        "--image_folder", str(synth_set / "images"),
        "--output_dir", str(out),
        "--report_to", "none",
        "--per_device_train_batch_size", "4",
        "--learning_rate", "5e-3",
        "--logging_steps", "1",
        "--max_steps", "2",
        "--save_strategy", "no",
        "--lora_enable", "True",
        "--lora_r", "4",
        "--lora_alpha", "8",
        "--tune_visual_abstractor", "True",
    ]  # fmt: skip
    assert finetune(args) == 0
    losses = [
        e["loss"] for e in json.loads((out / "trainer_state.json").read_text())["log_history"] if "loss" in e
    ]
    assert len(losses) == 2 and all(l > 0 for l in losses)
    merged_dir = tmp_path / "merged"
    assert cli_main(["export", "--merge-lora", str(out), "--out", str(merged_dir)]) == 0

    # the merged checkpoint computes what base + adapter computes
    backbone = _backbone(merged_dir)
    image = synth_set / "images" / "I0001_01_01.png"
    prompt = backbone.prompt("<|image|><|image|>\nHow different?", "", "The color difference is")
    pair = backbone.collate([backbone.load_pair(image, image)])
    with_adapter = PeftModel.from_pretrained(
        AutoModelForImageTextToText.from_pretrained(str(base), local_files_only=True), str(out)
    ).eval()
    inputs = backbone.batch_inputs(prompt, pair)
    with torch.no_grad():
        expected = with_adapter(**inputs).logits[:, -1]
        got = backbone.answer_logits(prompt, pair)
    assert torch.allclose(got, expected, atol=1e-5)
    base_logits = _backbone(base).answer_logits(prompt, pair)
    assert not torch.allclose(got, base_logits, atol=1e-5)  # training changed the model

    # eval score and eval describe on the merged model, as users run them
    data = tmp_path / "pairs.csv"
    data.write_text("\n".join((synth_set / "test.csv").read_text().splitlines()[:5]) + "\n")
    score_out = tmp_path / "score"
    common = ["--model-path", str(merged_dir), "--device", "cpu", "--image-folder", str(synth_set / "images")]
    assert (
        cli_main(
            ["eval", "score", *common, "--data", str(data), "--out", str(score_out), "--batch-size", "3"]
        )
        == 0
    )
    assert json.loads((score_out / "metrics.json").read_text())["n_pairs"] == 5
    depict = tmp_path / "depict.json"
    depict.write_text(
        json.dumps(json.loads((synth_set / "depict_task" / "depict_test.json").read_text())[:2])
    )
    describe_out = tmp_path / "describe"
    assert (
        cli_main(
            [
                "eval",
                "describe",
                *common,
                "--data",
                str(depict),
                "--out",
                str(describe_out),
                "--max-new-tokens",
                "6",
            ]
        )
        == 0
    )
    assert json.loads((describe_out / "metrics.json").read_text())["kind"] == "description_report"


def test_thinking_template_prompts_end_with_the_closed_think_block(hf_checkpoints):
    """Qwen3.5's template opens a `<think>` block on the generation prompt by default; rendered with thinking off,
    the prompt is exactly what precedes a trained answer, and an answer is supervised without the block."""
    backbone = _backbone(hf_checkpoints["tiny-qwen3_5"])
    question = "<|image|><|image|>\nHow different are the colours?"
    prompt = backbone.prompt(question)
    assert prompt.text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    full, spans, ids = backbone.conversation([("user", question), ("assistant", "Slightly.")])
    assert full.startswith(prompt.text)
    ((start, stop),) = spans
    assert backbone.tokenizer.decode(ids[len(ids) - start : len(ids) - stop]) == "Slightly.<|im_end|>\n"
    scored = backbone.prompt(question, "", "The difference is")
    assert scored.text == prompt.text + "The difference is"
    # a second question re-renders the first answer without its block: refused, with the reason
    with pytest.raises(ValueError, match="continuation of its prompt"):
        backbone.conversation(
            [("user", question), ("assistant", "Slightly."), ("user", "Why?"), ("assistant", "Hue.")]
        )


def test_score_pair_draws_swap_and_identical(hf_checkpoints, synth_set, tmp_path):
    """The HF dataset applies the same draws as mPLUG-Owl2's: (B, A) order, and an image against itself
    rendered exactly as a record whose answer reads "negligible"; descriptions are never changed."""
    from cdreasoning.train.hf_training import HFConversationDataset
    from cdreasoning.train.pair_draws import PairDraws

    records = json.loads((synth_set / "train_mix.json").read_text())
    score = next(r for r in records if "gt_score" in r)
    depict = next(r for r in records if "gt_score" not in r)
    path = tmp_path / "two.json"
    path.write_text(json.dumps([score, depict]))
    negligible = json.loads(json.dumps(score))
    negligible["conversations"][1]["value"] = "The color difference between these two images is negligible."
    reference_path = tmp_path / "negligible.json"
    reference_path.write_text(json.dumps([negligible]))

    backbone = _backbone(hf_checkpoints["tiny-qwen2_5_vl"])
    images = synth_set / "images"

    def dataset(path, **probs):
        return HFConversationDataset([path], backbone, images, draws=PairDraws(seed=0, **probs))

    plain, reference = dataset(path), dataset(reference_path)
    swapped = dataset(path, swap_pair_prob=1.0)
    same = dataset(path, swap_pair_prob=1.0, identical_pair_prob=1.0)

    def pixels(sample):
        return [image.tobytes() for image in sample["images"]]

    a, b = pixels(plain[0])
    assert a != b and pixels(swapped[0]) == [b, a] and pixels(same[0]) == [b, b]
    assert swapped[0]["text"] == plain[0]["text"]
    for key in ("text", "spans", "answer_ids"):
        assert same[0][key] == reference[0][key]
    assert same[0]["text"] != plain[0]["text"]
    for key in ("text", "spans", "answer_ids"):
        assert same[1][key] == plain[1][key]
    assert pixels(same[1]) == pixels(plain[1])
    same.set_epoch(3)
    assert same.draws.epoch == 3


def test_soft_score_loss_is_refused_for_hf_backbones(hf_checkpoints, synth_set, tmp_path):
    args = [
        "--model_name_or_path", str(hf_checkpoints["tiny-qwen2_5_vl"]),
        "--data_path", str(synth_set / "train_mix.json"),
        "--image_folder", str(synth_set / "images"),
        "--output_dir", str(tmp_path / "run"),
        "--report_to", "none",
        "--max_steps", "1",
        "--score_loss", "soft",
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"--score-loss soft .*mPLUG-Owl2 .*--score-loss ce"):
        finetune(args)
