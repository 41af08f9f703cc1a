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
    missing = r"story\.txt, is missing\. Restore it with `git checkout -- datasets/story\.txt`"
    with pytest.raises(data.DatasetError, match=missing):
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


def test_a_lexicon_is_a_table_without_a_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_folder(tmp_path, {"words": b"token\tmean\ngood\t1.9\nbad\t-2.5\n"}, {"words": "lexicon"})
    monkeypatch.setenv("LMCOURSE_DATA", str(tmp_path))
    assert data.load_records("words") == [{"token": "good", "mean": "1.9"}, {"token": "bad", "mean": "-2.5"}]
    with pytest.raises(data.DatasetError, match=r"dataset 'words' is a lexicon .* so it has no train / valid / test "
                                                r"split; use load_records\('words'\) for all of it"):
        data.splits("words")


def test_the_shipped_lexicon_and_questions_load() -> None:
    lexicon = data.load_records("vader_lexicon")
    assert len(lexicon) == 7520
    assert lexicon[0] == {"token": "$:", "mean": "-1.5", "sd": "0.80623", "ratings": "-1 -1 -1 -1 -3 -1 -3 -1 -2 -1"}
    with pytest.raises(data.DatasetError, match="is a lexicon"):
        data.splits("vader_lexicon")
    questions = data.load_records("kjv_questions")
    assert questions[0] == {"question": "What did God create in the beginning?", "ref": "Gen 1:1", "line": "1"}
    for name in ("kjv_questions", "austen_summaries"):
        with pytest.raises(data.DatasetError, match=rf"dataset '{name}' is a test set .* use load_records"):
            data.splits(name)
    assert [r["chapter"] for r in data.load_records("austen_summaries")] == ["1", "2", "3", "4", "5"]


def test_shipped_splits_are_the_same_text_everywhere() -> None:
    parts = data.splits("shakespeare")
    assert parts.train + parts.valid + parts.test == data.load_text("shakespeare")
    names = data.splits("names")
    parts = names.train.split() + names.valid.split() + names.test.split()
    assert sorted(parts) == sorted(data.load_text("names").split())


def test_labelled_split_is_stratified() -> None:
    records = ([{"label": "a", "text": str(i)} for i in range(500)]
               + [{"label": "b", "text": str(i)} for i in range(300)])
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


# --- bad input gets a clear error, or a documented behaviour ---------------------------------

def make_folder(folder: Path, files: dict[str, bytes], units: dict[str, str] | None = None) -> Path:
    """A data folder holding ``files`` (dataset name -> raw bytes, in ``NAME.txt``) and their manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name, raw in files.items():
        (folder / f"{name}.txt").write_bytes(raw)
        entries[name] = {"file": f"{name}.txt", "sha256": hashlib.sha256(raw).hexdigest(),
                         "unit": (units or {}).get(name, "char")}
    (folder / "manifest.json").write_text(json.dumps(entries), encoding="utf-8")
    return folder


def edit_manifest(folder: Path, name: str, **changes: object) -> None:
    entries = json.loads((folder / "manifest.json").read_text())
    entries[name].update(changes)
    entries[name] = {k: v for k, v in entries[name].items() if v is not None}
    (folder / "manifest.json").write_text(json.dumps(entries))


@pytest.mark.parametrize("file", ["../../../etc/hostname", "/etc/hostname", "sub/../../story.txt",
                                  "..\\..\\story.txt", "C:\\data\\story.txt", "\\\\server\\share\\story.txt"])
def test_a_manifest_file_outside_the_folder_is_refused_before_opening(
        tiny_datasets: Path, monkeypatch: pytest.MonkeyPatch, file: str) -> None:
    edit_manifest(tiny_datasets, "story", file=file)

    opened = []
    real_open = Path.open

    def watched_open(self: Path, *args: object, **kwargs: object) -> object:
        opened.append(self.name)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", watched_open)  # read_bytes and sha256_of open through Path.open
    for call in (data.path, data.verify, data.load_text):
        with pytest.raises(data.DatasetError, match=r"dataset 'story' names the file .* which lies outside the data "
                                                    r"folder .* without '\.\.' or a leading '/'"):
            call("story")
    assert set(opened) == {"manifest.json"}


def test_a_data_file_in_a_subfolder_is_fine(tiny_datasets: Path) -> None:
    (tiny_datasets / "sub").mkdir()
    (tiny_datasets / "story.txt").rename(tiny_datasets / "sub" / "story.txt")
    edit_manifest(tiny_datasets, "story", file="sub/story.txt")
    assert data.load_text("story").startswith("one line\n")


@pytest.mark.parametrize("change,why", [
    ({"file": None}, r"dataset 'story' has no file name \(got None\)"),
    ({"file": ""}, r"dataset 'story' has no file name \(got ''\)"),
    ({"sha256": "abc"}, r"dataset 'story' has no valid sha256 \(got 'abc'\); it must be the 64 lower-case hex digits"),
    ({"sha256": None}, r"dataset 'story' has no valid sha256 \(got None\)"),
    ({"unit": "chars"},
     r"dataset 'story' has unit 'chars'; it must be one of char, word, pairs, labelled, lexicon, testset"),
])
def test_an_incomplete_manifest_entry_says_what_is_missing(tiny_datasets: Path, change: dict, why: str) -> None:
    edit_manifest(tiny_datasets, "story", **change)
    with pytest.raises(data.DatasetError, match=why):
        data.load_text("story")


@pytest.mark.parametrize("raw,why", [("{not json", r"manifest\.json is not valid JSON \(Expecting property name"),
                                     ("[1, 2]", r"must hold one JSON object mapping each dataset name to its entry"),
                                     ('{"story": "story.txt"}', r"must hold one JSON object .* got dict")])
def test_a_broken_manifest_names_itself(tiny_datasets: Path, raw: str, why: str) -> None:
    (tiny_datasets / "manifest.json").write_text(raw)
    with pytest.raises(data.DatasetError, match=why):
        data.available()


def test_data_folder_may_start_with_a_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_folder(tmp_path / "home" / "my data", {"story": b"a\nb\n"})
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LMCOURSE_DATA", "~/my data")
    assert data.data_dir() == tmp_path / "home" / "my data"
    assert data.load_text("story") == "a\nb\n"


def test_a_data_folder_that_is_not_there_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMCOURSE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(data.DatasetError, match=r"LMCOURSE_DATA=.*nowhere.* which is not a folder\. "
                                                r"Point LMCOURSE_DATA at a folder holding a manifest\.json"):
        data.available()
    monkeypatch.setenv("LMCOURSE_DATA", str(tmp_path))
    with pytest.raises(data.DatasetError, match=r"LMCOURSE_DATA points to .*, which has no manifest\.json .* or unset "
                                                r"LMCOURSE_DATA to use the shipped datasets/"):
        data.available()
    monkeypatch.setenv("LMCOURSE_DATA", "")  # empty is unset: the shipped datasets
    assert "shakespeare" in data.available()


def test_windows_and_old_mac_line_ends_load_as_newlines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = b"one\r\ntwo\rthree\n\r\nfour\r\n"
    make_folder(tmp_path, {"story": raw, "table": b"a\tb\r\n1\t2\r\n3\t4\r\n"}, {"table": "pairs"})
    monkeypatch.setenv("LMCOURSE_DATA", str(tmp_path))
    assert data.load_text("story") == "one\ntwo\nthree\n\nfour\n"
    assert data.sha256_of(data.verify("story")) == hashlib.sha256(raw).hexdigest()  # the check is of the exact bytes
    assert data.load_records("table") == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_folder(tmp_path, {"story": "café\n".encode("latin-1")})
    monkeypatch.setenv("LMCOURSE_DATA", str(tmp_path))
    with pytest.raises(data.DatasetError,
                       match=r"dataset 'story', .*story\.txt, is not UTF-8 text: byte 3 \(b'\\xe9'\)"):
        data.load_text("story")


def test_a_ragged_table_row_is_named_and_blank_lines_are_skipped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_folder(tmp_path, {"ok": b"a\tb\n1\t2\n\n3\t4\n", "bad": b"a\tb\n1\t2\n3\n", "empty": b""},
                {"ok": "pairs", "bad": "pairs", "empty": "labelled"})
    monkeypatch.setenv("LMCOURSE_DATA", str(tmp_path))
    assert data.load_records("ok") == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    with pytest.raises(data.DatasetError, match=r"dataset 'bad': line 3 of .*bad\.txt has 1 tab-separated cells, "
                                                r"but the header has 2 \(a, b\)"):
        data.load_records("bad")
    with pytest.raises(data.DatasetError, match="is empty: it needs a header line"):
        data.load_records("empty")


@pytest.mark.parametrize("name", [3, None, ["shakespeare"], Path("shakespeare")])
def test_a_dataset_name_must_be_a_str(name: object) -> None:
    for call in (data.info, data.path, data.load_text, data.splits):
        with pytest.raises(TypeError,
                           match=r"a dataset name is a str such as 'shakespeare' \(see data\.available\(\)\)"):
            call(name)  # type: ignore[arg-type]


def test_sha256_of_takes_a_str_or_a_path(tiny_datasets: Path) -> None:
    expected = hashlib.sha256((tiny_datasets / "story.txt").read_bytes()).hexdigest()
    assert data.sha256_of(str(tiny_datasets / "story.txt")) == data.sha256_of(tiny_datasets / "story.txt") == expected
    with pytest.raises(TypeError, match=r"sha256_of needs the path of a file \(a str or pathlib\.Path\); got int 3"):
        data.sha256_of(3)  # type: ignore[arg-type]


BAD_FRACTIONS = [
    ((1.2, 0.1), ValueError, "must each lie between 0 and 1"), ((0.9, 0.2), ValueError, "sum to less than 1"),
    ((-0.1, 0.5), ValueError, "between 0 and 1"), ((0.0, 0.5), ValueError, "between 0 and 1"),
    ((0.5, 0.5), ValueError, "sum to less than 1"), ((float("nan"), 0.1), ValueError, "between 0 and 1"),
    ((True, 0.1), TypeError, "two numbers"), ((0.8,), TypeError, "two numbers"),
    ((0.8, 0.1, 0.1), TypeError, r"two numbers \(train, valid\).*the test part gets the rest"),
    ("ab", TypeError, "two numbers"), (0.9, TypeError, "two numbers"), ((0.8, "0.1"), TypeError, "two numbers"),
    (None, TypeError, "two numbers"),
]


@pytest.mark.parametrize("fractions,error,why", BAD_FRACTIONS)
def test_bad_fractions_are_refused(fractions: object, error: type, why: str) -> None:
    text = "".join(f"line {i}\n" for i in range(100))
    with pytest.raises(error, match=why):
        data.split_text(text, fractions)  # type: ignore[arg-type]
    with pytest.raises(error, match=why):
        data.split_records(list(range(100)), fractions)  # type: ignore[arg-type]


def test_own_fractions_are_used() -> None:
    import numpy as np

    parts = data.split_records(list(range(100)), [0.5, np.float32(0.25)])  # type: ignore[list-item]
    assert (len(parts.train), len(parts.valid), len(parts.test)) == (50, 25, 25)
    text = "".join(f"line {i:02d}\n" for i in range(100))  # 8 characters a line: the cuts fall on line starts
    assert data.split_text(text, (0.5, 0.25)).valid.startswith("line 50\n")


@pytest.mark.parametrize("text,error,why", [
    (["a\n", "b\n"], TypeError, r"split_text needs a str of running text; got list: join the lines first"),
    (b"a\nb\n", TypeError, r"got bytes: decode it first, text\.decode\('utf-8'\)"),
    (None, TypeError, "got NoneType"),
    ("", ValueError, r"a text of 0 characters .* the train part would be empty"),
    ("word " * 1000, ValueError,
     r"5000 characters and 0 line breaks .* the train part would be empty .* with line breaks"),
    ("a\nb\n", ValueError, r"the valid part would be empty \(train 2, valid 0, test 2\)"),
])
def test_split_text_refuses_what_it_cannot_split(text: object, error: type, why: str) -> None:
    with pytest.raises(error, match=why):
        data.split_text(text)  # type: ignore[arg-type]


@pytest.mark.parametrize("records,error,why", [
    ("emma\nliam\n" * 50, TypeError,
     r"not a str \(which would be split into single characters\); .* text\.splitlines\(\)"),
    (b"abc" * 50, TypeError, "not a bytes"),
    ({i: i for i in range(100)}, TypeError, r"not a dict; pass list\(d\.items\(\)\)"),
    (set(range(100)), TypeError, r"got set: pass list\(records\)"),
    ((i for i in range(100)), TypeError, r"got generator: pass list\(records\)"),
    (None, TypeError, "needs a list of records; got NoneType"),
    ([], ValueError, r"0 records cannot be split .* the train part would be empty"),
    (list(range(5)), ValueError,
     r"5 records cannot be split .* the valid part would be empty \(train 4, valid 0, test 1\)"),
])
def test_split_records_refuses_what_is_not_records(records: object, error: type, why: str) -> None:
    with pytest.raises(error, match=why):
        data.split_records(records)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1.5, -1, "1", True, None])
def test_split_seed_must_be_a_whole_number(seed: object) -> None:
    with pytest.raises(ValueError, match=r"seed must be a whole number >= 0, e\.g\. seed=1234"):
        data.split_records(list(range(100)), seed=seed)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"seed must be a whole number >= 0"):
        data.split_labelled([{"label": "a"}] * 100, seed=seed)  # type: ignore[arg-type]


@pytest.mark.parametrize("records,error,why", [
    ([{"text": "a"}] * 100, TypeError, r"dicts with a 'label', as load_records gives; record 0 is \{'text': 'a'\}"),
    (["a"] * 100, TypeError, r"record 0 is 'a'"),
    ("abc", TypeError, "not a str"),
    ([{"label": ["a"]}] * 100, TypeError, r"record 0 has label \['a'\]: a label is a str"),
    ([], ValueError, "got no records: nothing to split"),
    ([{"label": "a"}] * 100 + [{"label": "b"}] * 5, ValueError,
     r"the 5 records of label 'b' cannot be split .* valid part would be empty .* at least 6 records"),
])
def test_split_labelled_refuses_bad_records(records: object, error: type, why: str) -> None:
    with pytest.raises(error, match=why):
        data.split_labelled(records)  # type: ignore[arg-type]
    assert len(data.split_labelled([{"label": "a"}] * 6).valid) == 1  # 6 records per label are enough


def test_an_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(data.DatasetError, match=r"unknown dataset 'shakespear'.* Did you mean 'shakespeare'\?"):
        data.info("shakespear")


# --------------------------------------------------------------------------- holding passages out of a text


def test_hold_out_matches_whitespace_runs_of_any_kind_and_keeps_words_apart() -> None:
    text = "a b c\nd e\n\nf g h"
    assert data.hold_out(text, ["b c d"]) == "a \n e\n\nf g h"  # the passage's space matched the text's newline
    assert data.hold_out(text, ["e\tf  g"]) == "a b c\nd \n h"  # and a tab / two spaces matched a blank line
    assert data.hold_out("x\u3000y z", [" x y "]) == "\n z"  # any Unicode whitespace; the passage's ends trimmed
    assert data.hold_out("cab", ["a"]) == "c\nb"  # a plain substring: words are never glued together


def test_hold_out_removes_every_occurrence_and_merges_overlaps() -> None:
    assert data.hold_out("x y. x y. z", ["x y."]) == "\n \n z"  # twice
    assert data.hold_out("one two three four five", ["two three", "three four"]) == "one \n five"  # overlapping
    assert data.hold_out("ab cd ef", ["ab", "cd"]) == "\n \n ef"  # apart: two stretches
    assert data.hold_out("abcdef", ["ab", "cd"]) == "\nef"  # touching: one stretch, one newline
    assert data.hold_out("aaaa", ["aa"]) == "\n"  # overlapping occurrences of one passage
    assert data.occurrences("aaaa b aa", ["aa", "a  b", "b", "zz"]) == [4, 1, 1, 0]
    long = "the quick brown fox jumps over the lazy dog and runs away"  # longer than the 32-character anchor
    text = f"start.\n{long.replace(' over', chr(10) + 'over')}\nmiddle {long} end"
    assert data.occurrences(text, [long]) == [2]
    assert data.hold_out(text, [long]) == "start.\n\n\nmiddle \n end"


def test_hold_out_refuses_missing_and_bad_passages() -> None:
    with pytest.raises(ValueError, match=r"1 of 2 passages occur nowhere in the text \(1: 'zebra'\).*missing='ignore'"):
        data.hold_out("a b c", ["b", "zebra"])
    assert data.hold_out("a b c", ["b", "zebra"], missing="ignore") == "a \n c"
    with pytest.raises(ValueError, match="missing must be one of 'error', 'ignore'"):
        data.hold_out("a b c", ["b"], missing="skip")
    with pytest.raises(ValueError, match=r"passage 1 is ' \\n', empty or only whitespace"):
        data.hold_out("a b c", ["b", " \n"])
    with pytest.raises(TypeError, match=r"passage 0 is dict .*pass its 'text'"):
        data.hold_out("a b c", [{"text": "b"}])
    with pytest.raises(TypeError, match="not a single str.*\\[passage\\]"):
        data.hold_out("a b c", "b")
    with pytest.raises(TypeError, match="needs the text as a str, got list"):
        data.hold_out(["a b c"], ["b"])  # type: ignore[arg-type]
    assert data.hold_out("a b c", (p for p in ["b"])) == "a \n c"  # any iterable of passages


def test_the_authorship_leak_and_its_repair() -> None:
    """The issue's numbers: 155 of the 180 validation and 165 of the 180 test passages lie in the training part of
    their corpus (Shakespeare's speeches there have line breaks where the passages have spaces). Held out, none."""
    parts = data.splits("authorship")
    sources = {"shakespeare": "shakespeare", "austen": "pride_and_prejudice", "kjv": "kjv"}
    train = {label: data.splits(name).train for label, name in sources.items()}
    for part, leaked in (("valid", 155), ("test", 165)):
        count = 0
        for label, text in train.items():
            passages = [r["text"] for r in parts[part] if r["label"] == label]
            count += sum(n > 0 for n in data.occurrences(text, passages))
        assert count == leaked, part
    passages = [r["text"] for part in ("valid", "test") for r in parts[part]]
    for text in train.values():
        held = data.hold_out(text, passages, missing="ignore")
        assert sum(data.occurrences(held, passages)) == 0 and len(text) - 20_000 < len(held) < len(text)
