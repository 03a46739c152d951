import json
from collections import Counter

from cdreasoning.constants import ANSWER_TEMPLATE, SCORE_QUESTIONS
from cdreasoning.data import SpcdPair, build_score_records, dedupe_pairs, read_conversations, read_spcd_csv
from cdreasoning.data.cli import main
from tests.conftest import shared_path


def _pairs(n=60):
    return [
        SpcdPair(f"I0001_01_{i % 6 + 1:02d}.png", f"I0001_0{i % 5 + 2}_01.png", 0.5 + i * 0.25, i + 1)
        for i in range(n)
    ]


def test_record_schema_and_labels():
    records = build_score_records(_pairs(), seed=3)
    assert [r.id for r in records[:2]] == ["000000000001", "000000000002"]
    first = records[0].to_dict()
    assert list(first) == ["id", "image", "conversations", "gt_score"]
    assert first["image"] == ["I0001_01_01.png", "I0001_02_01.png"]
    assert first["gt_score"] == 0.5
    human = first["conversations"][0]
    assert human["from"] == "human" and human["value"].startswith("<|image|><|image|>\n")
    assert human["value"].split("\n", 1)[1] in SCORE_QUESTIONS
    # ΔV 0.5 → negligible; 1.5 → slight (boundary 1.46); 3.5 → moderate (3.42); 7.0 → significant; 13 → severe
    by_dv = {r.gt_score: r.answer for r in records}
    assert by_dv[0.5] == ANSWER_TEMPLATE.format(level="negligible")
    assert by_dv[1.5] == ANSWER_TEMPLATE.format(level="slight")
    assert by_dv[3.5] == ANSWER_TEMPLATE.format(level="moderate")
    assert by_dv[7.0] == ANSWER_TEMPLATE.format(level="significant")
    assert by_dv[13.0] == ANSWER_TEMPLATE.format(level="severe")


def test_questions_are_seeded_and_varied():
    a = [r.question for r in build_score_records(_pairs(200), seed=1)]
    b = [r.question for r in build_score_records(_pairs(200), seed=1)]
    c = [r.question for r in build_score_records(_pairs(200), seed=2)]
    assert a == b and a != c
    assert len(Counter(a)) == 20  # all 20 phrasings show up in 200 draws


def test_dedupe_removes_identical_rows_only():
    p = _pairs(3)
    rows = [p[0], p[1], p[0], SpcdPair(p[1].image_a, p[1].image_b, p[1].delta_v + 1.0), p[2], p[0]]
    kept, removed = dedupe_pairs(rows)
    assert removed == 2 and kept == [p[0], p[1], rows[3], p[2]]


def test_cli_build_score_is_byte_identical(tmp_path, capsys):
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text(
        "".join(f"{p.image_a},{p.image_b},{p.delta_v}\n" for p in _pairs(30))
        + "I0001_01_01.png,I0001_02_01.png,0.5\n"
    )
    out1, out2 = tmp_path / "a.json", tmp_path / "b.json"
    assert (
        main(["build-score", "--spcd-csv", str(csv_path), "--out", str(out1), "--seed", "5", "--dedupe"]) == 0
    )
    assert "1 duplicate rows removed" in capsys.readouterr().out
    assert (
        main(["build-score", "--spcd-csv", str(csv_path), "--out", str(out2), "--seed", "5", "--dedupe"]) == 0
    )
    assert out1.read_bytes() == out2.read_bytes()
    assert len(read_conversations(out1)) == 30


def test_cli_bad_csv_names_line(tmp_path, capsys):
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text("a.png,b.png,1.0\na.png,b.png,oops\n")
    assert main(["build-score", "--spcd-csv", str(csv_path), "--out", str(tmp_path / "o.json")]) == 2
    assert f"{csv_path}:2" in capsys.readouterr().err


def test_real_test_split_reproduces_every_m_spcd_level(tmp_path):
    """build-score on SPCD's test split reproduces the level of every real aligned / not-aligned record."""
    out = tmp_path / "test.json"
    assert (
        main(["build-score", "--spcd-csv", str(shared_path("data", "spcd", "test.csv")), "--out", str(out)])
        == 0
    )
    ours = {r.images: r for r in read_conversations(out)}
    assert len(ours) == 5975
    checked = 0
    for name in ("test_aligned_data.json", "test_notaligned_data.json"):
        for real in read_conversations(shared_path("data", "m-spcd", "score_task", name)):
            mine = ours[real.images]
            assert mine.level == real.level, (real.id, real.images, real.gt_score)
            assert mine.gt_score == real.gt_score
            checked += 1
    assert checked == 5975


def test_real_train_split_dedupes_to_21020(tmp_path):
    pairs = read_spcd_csv(shared_path("data", "spcd", "train.csv"))
    kept, removed = dedupe_pairs(pairs)
    assert (len(pairs), len(kept), removed) == (28025, 21020, 7005)
    json.dumps([r.to_dict() for r in build_score_records(kept[:10])])  # serialisable
