import csv

import pytest

from cdreasoning.data.spcd_names import is_pixel_aligned, parse_spcd_name
from tests.conftest import shared_path


def test_parse_name():
    name = parse_spcd_name("images/I0042_07_02.png")
    assert (name.scene, name.group, name.index) == ("0042", "07", "02")
    with pytest.raises(ValueError, match="not an SPCD image name"):
        parse_spcd_name("photo.png")


def test_alignment_rule():
    assert not is_pixel_aligned("I0006_01_03.png", "I0006_01_04.png")
    assert is_pixel_aligned("I0006_01_01.png", "I0006_04_02.png")
    assert is_pixel_aligned("I0006_03_02.png", "I0006_05_01.png")


@pytest.mark.parametrize("name, aligned", [("test_aligned.csv", True), ("test_notaligned.csv", False)])
def test_rule_reproduces_published_test_subsets(name, aligned):
    rows = list(csv.reader(shared_path("data", "spcd", name).open()))
    assert rows and all(is_pixel_aligned(a, b) == aligned for a, b, _ in rows)
