"""lmcourse.data: checksummed loading, clear errors, and the course-wide splits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from lmcourse import data


@pytest.fixture
def tiny_datasets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with one running text and one table, and their manifest."""
    files = {
        "story.txt": "one line\ntwo line\nthree line\nfour line\n" * 10,
        "pairs.tsv": "ref\ten\tes\n" + "".join(f"{i}\tword {i}\tpalabra {i}\n" for i in range(20)),
    }
    entries = {}
    for (name, unit), (file, text) in zip((("story", "char"), ("pairs", "pairs")), files.items()):
        (tmp_path / file).write_text(text, encoding="utf-8")
        entries[name] = {"file": file, "sha256": hashlib.sha256(text.encode()).hexdigest(), "unit": unit,
                         "bytes": len(text.encode()), "title": name}
    (tmp_path / "manifest.json").write_text(json.dumps(entries), encoding="utf-8")
    monkeypatch.setenv("LMCOURSE_DATA", str(tmp_path))
    return tmp_path


def test_available_and_load(tiny_datasets: Path) -> None:
    assert data.available() == ["pairs", "story"]
    assert data.load_text("story").startswith("one line\n")
    rows = data.load_records("pairs")
    assert len(rows) == 20 and rows[3] == {"ref": "3", "en": "word 3", "es": "palabra 3"}


def test_unknown_name_lists_the_known_ones(tiny_datasets: Path) -> None:
    with pytest.raises(data.DatasetError, match=r"unknown dataset 'storry'; the known datasets are: pairs, story"):
        data.load_text("storry")


def test_missing_file_says_which_and_how_to_restore(tiny_datasets: Path) -> None:
    (tiny_datasets / "story.txt").unlink()
    with pytest.raises(data.DatasetError, match=r"story\.txt, is missing\. Restore it with `git checkout -- datasets/story\.txt`"):
        data.load_text("story")


def test_one_changed_byte_is_caught(tiny_datasets: Path) -> None:
    file = tiny_datasets / "story.txt"
    raw = bytearray(file.read_bytes())
    raw[5] ^= 0x01  # "one line" -> "one mine"
    file.write_bytes(bytes(raw))
    expected = json.loads((tiny_datasets / "manifest.json").read_text())["story"]["sha256"]
    with pytest.raises(data.DatasetError) as err:
        data.load_text("story")
    message = str(err.value)
    assert "corrupt or was changed" in message and expected in message
    assert hashlib.sha256(bytes(raw)).hexdigest() in message and "git checkout -- datasets/story.txt" in message


def test_running_text_is_not_a_table(tiny_datasets: Path) -> None:
    with pytest.raises(data.DatasetError, match="running text"):
        data.load_records("story")


def test_text_split_is_contiguous_and_cut_at_line_breaks() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    parts = data.split_text(text)
    assert parts.train + parts.valid + parts.test == text
    # 1000 lines hold 8890 characters: the cuts at 8001 and 8445 fall inside lines 901 and 950.
    assert parts.train.endswith("\nline 900\n") and parts.valid.startswith("line 901\n")
    assert parts.valid.endswith("\nline 949\n") and parts.test.startswith("line 950\n")
    assert 0.89 < len(parts.train) / len(text) <= 0.9
    assert 0.04 < len(parts.valid) / len(text) < 0.06


def test_text_split_starts_each_part_with_a_whole_speech() -> None:
    text = "".join(f"SPEAKER {i}:\nline one\nline two\n\n" for i in range(300))
    parts = data.split_text(text)
    assert parts.train + parts.valid + parts.test == text
    for part in (parts.valid, parts.test):
        assert part.startswith("SPEAKER ") and part.endswith("\n\n")
    assert parts["test"] == parts.test
    with pytest.raises(KeyError, match="the parts are train, valid, test"):
        parts["validation"]


def test_record_split_is_seeded_and_disjoint() -> None:
    records = list(range(1000))
    a, b = data.split_records(records), data.split_records(records)
    assert a == b
    assert (len(a.train), len(a.valid), len(a.test)) == (800, 100, 100)
    assert sorted(a.train + a.valid + a.test) == records
    assert a.train[:10] != records[:10]  # shuffled


def test_shipped_datasets_all_verify() -> None:
    names = data.available()
    assert {"shakespeare", "names", "tang_poems"} <= set(names)
    for name in names:  # verify raises on a missing or changed file; its answer is the file it checked
        assert data.verify(name) == data.path(name) and data.path(name).parent == data.data_dir()


def test_shipped_splits_are_the_same_text_everywhere() -> None:
    parts = data.splits("shakespeare")
    assert parts.train + parts.valid + parts.test == data.load_text("shakespeare")
    names = data.splits("names")
    assert sorted(names.train.split() + names.valid.split() + names.test.split()) == sorted(data.load_text("names").split())


def test_labelled_split_is_stratified() -> None:
    records = [{"label": "a", "text": str(i)} for i in range(500)] + [{"label": "b", "text": str(i)} for i in range(300)]
    parts = data.split_labelled(records)
    for part, (n_a, n_b) in zip(data.PARTS, ((400, 240), (50, 30), (50, 30))):
        labels = [r["label"] for r in parts[part]]
        assert (labels.count("a"), labels.count("b")) == (n_a, n_b)
    assert parts.train[:5] != records[:5]
    assert data.split_labelled(records) == parts


def test_shakespeare_held_out_text_is_twelfth_night() -> None:
    parts = data.splits("shakespeare")
    assert parts.valid.startswith("DUKE:\nIf music be the food of love, play on")
    assert "If music be the food of love" not in parts.train
