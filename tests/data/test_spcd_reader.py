import pytest

from cdreasoning.data import DataError, read_spcd_csv
from tests.conftest import shared_path


def test_reads_rows_in_order(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("I0001_01_01.png,I0001_01_02.png,3.5\nI0001_01_01.png,I0001_03_01.png,7.25\n")
    pairs = read_spcd_csv(path)
    assert [(p.image_a, p.image_b, p.delta_v, p.line) for p in pairs] == [
        ("I0001_01_01.png", "I0001_01_02.png", 3.5, 1),
        ("I0001_01_01.png", "I0001_03_01.png", 7.25, 2),
    ]
    assert [p.aligned for p in pairs] == [False, True]


@pytest.mark.parametrize(
    "content, message",
    [
        ("a.png,b.png\n", ":1: expected 3 fields"),
        ("a.png,b.png,1.0\n\n", ":2: expected 3 fields"),
        ("a.png,b.png,abc\n", ":1: ΔV 'abc' is not a number"),
        ("a.png,b.png,1\n,b.png,2\n", ":2: empty image name"),
        ("a.png,b.png,-1\n", "finite positive"),
        ("a.png,b.png,nan\n", "finite positive"),
        ("", "no rows"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_spcd_csv(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_spcd_csv(tmp_path / "nope.csv")


def test_real_split_sizes():
    sizes = {
        name: len(read_spcd_csv(shared_path("data", "spcd", f"{name}.csv")))
        for name in ("train", "val", "test", "test_aligned", "test_notaligned")
    }
    assert sizes == {"train": 28025, "val": 3005, "test": 5975, "test_aligned": 3980, "test_notaligned": 1995}
