"""The one resumable result store (`cdreasoning.data.result_store`) and pair lists (`data.pair_lists`).

A killed run is simulated by cutting the file mid-row; the expected contents are written out by hand.
"""

from __future__ import annotations

import json

import pytest

from cdreasoning.data.pair_lists import PairSpec, read_pairs
from cdreasoning.data.result_store import PairCache, ResultLog, read_pair_cache
from cdreasoning.errors import DataError

PAIRS = [PairSpec(0, "a.png", "b.png"), PairSpec(1, "a.png", "c.png"), PairSpec(2, "b.png", "c.png")]


def test_read_pairs_csv_json_and_errors(tmp_path):
    (tmp_path / "plain.csv").write_text("a.png,b.png,2.5\nc.png,d.png\n")
    pairs = read_pairs(tmp_path / "plain.csv")
    assert [(p.index, p.image_a, p.image_b, p.delta_v) for p in pairs] == [
        (0, "a.png", "b.png", 2.5),
        (1, "c.png", "d.png", None),
    ]
    (tmp_path / "header.csv").write_text("image_b,image_a,dv\nb.png,a.png,1\n")
    assert read_pairs(tmp_path / "header.csv")[0].image_a == "a.png"
    (tmp_path / "list.json").write_text(json.dumps([{"id": "7", "image": ["a.png", "b.png"], "gt_score": 3}]))
    assert read_pairs(tmp_path / "list.json")[0].record_id == "7"
    (tmp_path / "bad.csv").write_text("a.png,b.png,x\n")
    with pytest.raises(DataError, match=r"bad.csv:1: ΔV 'x' is not a number"):
        read_pairs(tmp_path / "bad.csv")


def test_jsonl_log_resumes_after_a_torn_line(tmp_path):
    path = tmp_path / "out.jsonl"
    log = ResultLog(path, PAIRS)
    log.write(PAIRS[0], {"score": 1.0})
    log.write(PAIRS[1], {}, error="boom")
    log._handle.close()
    with path.open("a") as handle:
        handle.write('{"pair_index": 2, "image_a": "b.p')  # killed mid-write
    log = ResultLog(path, PAIRS)
    assert log.done(0) and not log.done(1) and not log.done(2)  # failed pairs are retried
    log.write(PAIRS[2], {"score": 3.0})
    log.finalize()
    rows = [json.loads(line) for line in path.read_text().splitlines()]  # every line is whole again
    assert [(r["pair_index"], r.get("score"), r["error"]) for r in rows] == [
        (0, 1.0, ""),
        (1, None, "boom"),
        (2, 3.0, ""),
    ]


def test_csv_log_drops_a_torn_row_and_refuses_another_list(tmp_path):
    path = tmp_path / "out.csv"
    log = ResultLog(path, PAIRS, ["score"])
    log.write(PAIRS[0], {"score": 1.5})
    log._handle.close()
    with path.open("a") as handle:
        handle.write("1,a.png,c.p")  # torn: no newline
    log = ResultLog(path, PAIRS, ["score"])
    assert log.done(0) and 1 not in log.rows
    log.finalize()
    assert path.read_text().splitlines() == ["pair_index,image_a,image_b,score,error", "0,a.png,b.png,1.5,"]
    other = [PairSpec(0, "x.png", "y.png")]
    with pytest.raises(DataError, match="written for another list"):
        ResultLog(path, other, ["score"])
    with pytest.raises(DataError, match="columns .* differ"):
        ResultLog(path, PAIRS, ["level"])


def test_pair_cache_round_trip_torn_tail_and_empty_file(tmp_path):
    path = tmp_path / "cache.csv"
    assert read_pair_cache(path, "baseline") == {}
    with PairCache(path) as store:
        store.add_many([(("a.png", "b.png"), 0.1), (("a.png", "c.png"), 2.0)])
    assert path.read_text() == "image_a,image_b,delta_e\na.png,b.png,0.1\na.png,c.png,2.0\n"
    path.write_text(path.read_text() + "b.png,c.png,3.")  # torn last row
    assert read_pair_cache(path, "baseline") == {("a.png", "b.png"): 0.1, ("a.png", "c.png"): 2.0}
    assert path.read_text().endswith("a.png,c.png,2.0\n")  # the torn row is cut off the file
    path.write_text("")  # killed before the header
    assert read_pair_cache(path, "baseline") == {} and path.read_text() == "image_a,image_b,delta_e\n"
    path.write_text("x,y\n")
    with pytest.raises(DataError, match=r"cache.csv:1: not a baseline cache"):
        read_pair_cache(path, "baseline")
