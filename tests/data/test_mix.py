import json
from collections import Counter

import pytest

from cdreasoning.constants import ATTRIBUTES, DEPICT_QUESTION
from cdreasoning.data import DataError, mix_conversation_files, read_conversations
from cdreasoning.data.cli import main
from tests.data.helpers import score_record, write_records


def _depict(i):
    return {
        "id": f"{i:012d}",
        "image": ["a.png", "b.png"],
        "severities": {a: "slight" for a in ATTRIBUTES},
        "conversations": [
            {"from": "human", "value": "<|image|><|image|>\n" + DEPICT_QUESTION},
            {"from": "gpt", "value": "The two images exhibit slight variations in white balance."},
        ],
    }


def _inputs(tmp_path):
    score = write_records(tmp_path / "score_train.json", [score_record(f"{i:012d}") for i in range(1, 31)])
    depict = write_records(tmp_path / "depict_train.json", [_depict(i) for i in range(1, 11)])
    return score, depict


def test_mix_keeps_everything_with_unique_prefixed_ids(tmp_path):
    score, depict = _inputs(tmp_path)
    result = mix_conversation_files([score, depict], seed=1)
    assert result.counts == {"score_train": 30, "depict_train": 10}
    assert result.kinds == {"score_train": {"score": 30}, "depict_train": {"depict": 10}}
    ids = [r.id for r in result.records]
    assert len(set(ids)) == 40
    assert "score_train-000000000001" in ids and "depict_train-000000000010" in ids
    # shuffled: the two sources are interleaved, not concatenated
    first_half = Counter(i.split("-")[0] for i in ids[:20])
    assert first_half["depict_train"] > 0 and first_half["score_train"] > 0


def test_mix_cli_deterministic_and_counts(tmp_path, capsys):
    score, depict = _inputs(tmp_path)
    outs = [tmp_path / "m1.json", tmp_path / "m2.json", tmp_path / "m3.json"]
    for out, seed in zip(outs, ("3", "3", "4")):
        assert main(["mix", "--inputs", str(score), str(depict), "--out", str(out), "--seed", seed]) == 0
    printed = capsys.readouterr().out
    assert "30 records as 'score_train-…'" in printed and "10 records as 'depict_train-…'" in printed
    assert outs[0].read_bytes() == outs[1].read_bytes() != outs[2].read_bytes()
    assert len(read_conversations(outs[0])) == 40


def test_same_stem_and_duplicate_ids(tmp_path):
    (tmp_path / "x").mkdir()
    a = write_records(tmp_path / "s.json", [score_record("1"), score_record("1")])
    b = write_records(tmp_path / "x" / "s.json", [score_record("1")])
    result = mix_conversation_files([a, b])
    assert sorted(r.id for r in result.records) == ["s-1", "s-1-2", "s_2-1"]
    assert result.renamed == 1


def test_mix_rejects_test_format_and_bad_records(tmp_path):
    test_file = tmp_path / "depict_test.json"
    test_file.write_text(
        json.dumps([{"question_id": "1", "image": ["a", "b"], "text": "q", "human_answer": "x"}])
    )
    with pytest.raises(DataError, match="depict \\*test\\* record"):
        mix_conversation_files([test_file])
    bad = score_record("broken")
    bad["conversations"][0]["value"] = "no placeholders"
    path = write_records(tmp_path / "bad.json", [bad])
    with pytest.raises(DataError, match="'broken'"):
        mix_conversation_files([path])


def test_repeat_takes_each_record_that_many_times(tmp_path, capsys):
    score, depict = _inputs(tmp_path)
    result = mix_conversation_files([score, depict], seed=0, repeat=[3, 1])
    # 30 score records × 3 + 10 depict records, every id unique, none counted as a collision rename
    assert result.counts == {"score_train": 90, "depict_train": 10}
    assert result.kinds == {"score_train": {"score": 90}, "depict_train": {"depict": 10}}
    ids = [r.id for r in result.records]
    assert len(ids) == len(set(ids)) == 100 and result.renamed == 0
    copies = [i for i in ids if i.startswith("score_train-000000000007")]
    assert sorted(copies) == [
        "score_train-000000000007",
        "score_train-000000000007-copy2",
        "score_train-000000000007-copy3",
    ]
    out = tmp_path / "full.json"
    argv = ["mix", "--inputs", str(score), str(depict), "--repeat", "3", "1", "--out", str(out)]
    assert main(argv) == 0
    assert "90 records as 'score_train-…'" in capsys.readouterr().out
    assert Counter(r.kind for r in read_conversations(out)) == {"score": 90, "depict": 10}


def test_repeat_refuses_a_wrong_count(tmp_path, capsys):
    score, depict = _inputs(tmp_path)
    with pytest.raises(DataError, match="1 repeat count"):
        mix_conversation_files([score, depict], repeat=[2])
    with pytest.raises(DataError, match="'depict_train' must be ≥ 1, got 0"):
        mix_conversation_files([score, depict], repeat=[2, 0])
    assert (
        main(["mix", "--inputs", str(score), str(depict), "--repeat", "2", "--out", str(tmp_path / "o")]) == 2
    )
    assert "1 repeat count(s) for 2 input file(s)" in capsys.readouterr().err
