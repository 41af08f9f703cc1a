"""The shipped datasets match their manifest and datasheet, and look as documented.

Uses only the standard library: it reads datasets/manifest.json, recomputes
every figure from the files, and parses the summary table of
datasets/README.md.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DATASETS = Path(__file__).resolve().parent.parent / "datasets"
MANIFEST = json.loads((DATASETS / "manifest.json").read_text("utf-8"))
NAMES = ["shakespeare", "names", "pride_and_prejudice", "kjv",
         "kjv_rv1909_pairs", "tang_poems", "authorship", "vader_lexicon", "kjv_questions", "austen_summaries"]
FIELDS = {"file": str, "sha256": str, "bytes": int, "chars": int, "vocab": int,
          "word_types": int, "lines": int, "unit": str, "language": str,
          "title": str, "source": str, "licence": str}
TSV_HEADERS = {"kjv_rv1909_pairs": ["ref", "en", "es"],
               "authorship": ["label", "source", "text"],
               "vader_lexicon": ["token", "mean", "sd", "ratings"],
               "kjv_questions": ["question", "ref", "line"],
               "austen_summaries": ["chapter", "first_line", "last_line", "summary"]}
# (min, max) bytes and lines: generous bands around the documented sizes.
SIZES = {
    "shakespeare": ((1_000_000, 1_200_000), (35_000, 45_000)),
    "names": ((150_000, 300_000), (25_000, 35_000)),
    "pride_and_prejudice": ((600_000, 800_000), (1_900, 2_200)),
    "kjv": ((3_900_000, 4_600_000), (31_102, 31_102)),
    "kjv_rv1909_pairs": ((700_000, 1_200_000), (5_001, 8_001)),
    "tang_poems": ((1_800_000, 2_800_000), (15_000, 21_000)),
    "authorship": ((150_000, 600_000), (301, 2_001)),
    "vader_lexicon": ((300_000, 400_000), (7_521, 7_521)),
    "kjv_questions": ((3_000, 8_000), (61, 81)),
    "austen_summaries": ((2_000, 4_000), (6, 6)),
}


def text_of(name: str) -> str:
    return (DATASETS / MANIFEST[name]["file"]).read_bytes().decode("utf-8")


def test_manifest_lists_exactly_the_datasets():
    assert sorted(MANIFEST) == sorted(NAMES)
    raw = (DATASETS / "manifest.json").read_text("utf-8")
    assert raw == json.dumps(MANIFEST, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", NAMES)
def test_manifest_entry_fields(name):
    entry = MANIFEST[name]
    assert set(entry) == set(FIELDS), set(entry) ^ set(FIELDS)
    for key, typ in FIELDS.items():
        assert isinstance(entry[key], typ), (key, entry[key])
    assert entry["unit"] in {"char", "word", "pairs", "labelled", "lexicon", "testset"}
    assert entry["language"] in {"en", "zh", "en-es"}
    assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
    assert "\n" not in entry["title"]


@pytest.mark.parametrize("name", NAMES)
def test_file_matches_manifest(name):
    entry = MANIFEST[name]
    data = (DATASETS / entry["file"]).read_bytes()
    text = data.decode("utf-8")
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) == entry["bytes"]
    assert len(text) == entry["chars"]
    assert len(set(text)) == entry["vocab"]
    assert len(set(text.split())) == entry["word_types"]
    assert text.count("\n") == entry["lines"]


@pytest.mark.parametrize("name", NAMES)
def test_file_format(name):
    text = text_of(name)
    assert "\r" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "\ufeff" not in text
    # one Unicode spelling for every character: the datasheet promises NFC
    import unicodedata
    assert unicodedata.is_normalized("NFC", text)
    if name not in TSV_HEADERS:
        assert "\t" not in text


@pytest.mark.parametrize("name", NAMES)
def test_sizes_in_expected_range(name):
    (bmin, bmax), (lmin, lmax) = SIZES[name]
    assert bmin <= MANIFEST[name]["bytes"] <= bmax
    assert lmin <= MANIFEST[name]["lines"] <= lmax


@pytest.mark.parametrize("name", sorted(TSV_HEADERS))
def test_tsv_header_and_columns(name):
    lines = text_of(name).rstrip("\n").split("\n")
    assert lines[0].split("\t") == TSV_HEADERS[name]
    for i, line in enumerate(lines[1:], start=2):
        cells = line.split("\t")
        assert len(cells) == len(TSV_HEADERS[name]), (i, line)
        assert all(c.strip() == c and c for c in cells), (i, line)


def readme_table() -> dict[str, dict]:
    readme = (DATASETS / "README.md").read_text("utf-8")
    m = re.search(r"<!-- summary:start -->\n(.*?)\n<!-- summary:end -->", readme, flags=re.S)
    assert m, "README.md has no summary table between the markers"
    rows = {}
    for line in m.group(1).splitlines()[2:]:
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        name, file, nbytes, chars, vocab, sha = cells
        rows[name] = {"file": file, "bytes": int(nbytes), "chars": int(chars),
                      "vocab": int(vocab), "sha256": sha}
    return rows


def test_readme_summary_table_matches_manifest():
    table = readme_table()
    assert sorted(table) == sorted(NAMES)
    for name, row in table.items():
        for key, value in row.items():
            assert MANIFEST[name][key] == value, (name, key)


def test_readme_has_a_section_per_dataset():
    readme = (DATASETS / "README.md").read_text("utf-8")
    for name in NAMES:
        assert f"`{MANIFEST[name]['file']}`" in readme
        assert re.search(rf"^## .*\b{re.escape(MANIFEST[name]['file'])}\b", readme, flags=re.M), name


def check_attr(attribute: str, files: list[str]) -> dict[str, str]:
    """``git check-attr`` of the files (paths from the repository root): file -> unset / set / auto / lf..."""
    root = DATASETS.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("needs git and a git checkout of the repository")
    out = subprocess.run(["git", "check-attr", attribute, "--", *files], cwd=root, capture_output=True,
                         text=True, check=True).stdout
    return dict(line.rsplit(f": {attribute}: ", 1) for line in out.splitlines())


def test_gitattributes_keep_every_data_file_byte_exact():
    # With core.autocrlf=true, git on Windows would write "\r\n" into a file it thinks is text, and the
    # checksum (of the exact bytes) would fail: every checksummed file must be -text.
    files = sorted(f"datasets/{entry['file']}" for entry in MANIFEST.values()) + ["datasets/manifest.json"]
    assert check_attr("text", files) == {f: "unset" for f in files}


def test_gitattributes_check_out_notebooks_and_scripts_with_lf():
    files = ["chapters/00_setup.ipynb", "solutions/01_text_data.ipynb", "lmcourse/data.py", ".ci/run"]
    assert check_attr("eol", files) == {f: "lf" for f in files}
    assert check_attr("text", files) == {f: "auto" for f in files}


# --- content checks: the cleaning did what the datasheet says --------------

def test_shakespeare_is_speeches():
    text = text_of("shakespeare")
    assert not re.search(r"[\[\]{}<>_*#@0-9\t]", text)
    speeches = text.rstrip("\n").split("\n\n")
    assert len(speeches) > 7000
    for s in speeches:
        lines = s.split("\n")
        assert re.fullmatch(r"[A-Z][A-Z' -]*[A-Z]:", lines[0]), lines[0]
        assert len(lines) >= 2 and all(lines[1:]), s[:80]
        assert not any(re.fullmatch(r"(ACT|Act|SCENE|Scene)\b.*", line) for line in lines)
    speakers = collections.Counter(s.split("\n", 1)[0] for s in speeches)
    assert speakers["HAMLET:"] > 300 and "HAM.:" not in speakers and "Ham.:" not in speakers
    assert "Gutenberg" not in text


def test_names_are_lowercase_unique():
    names = text_of("names").split("\n")[:-1]
    assert all(re.fullmatch(r"[a-z]+", n) for n in names)
    assert len(set(names)) == len(names)
    assert names[:2] == ["emma", "liam"]


def test_tang_poems_shape():
    for line in text_of("tang_poems").split("\n")[:-1]:
        verses = re.findall(r"[\u4e00-\u9fff]{5}[，。？！；]", line)
        assert "".join(verses) == line and len(verses) in (4, 8), line


def test_authorship_balanced_and_labelled():
    rows = [line.split("\t") for line in text_of("authorship").split("\n")[1:-1]]
    counts = collections.Counter(r[0] for r in rows)
    assert set(counts) == {"shakespeare", "austen", "kjv"}
    assert len(set(counts.values())) == 1
    assert len({r[2] for r in rows}) == len(rows)
    assert all(re.fullmatch(r"[1-3]?[A-Z][A-Za-z]+ \d+:\d+", r[1]) for r in rows if r[0] == "kjv")


def test_pairs_short_and_distinct():
    rows = [line.split("\t") for line in text_of("kjv_rv1909_pairs").split("\n")[1:-1]]
    assert len({r[0] for r in rows}) == len(rows)
    for ref, en, es in rows:
        assert 3 <= len(en.split()) <= 16 and 3 <= len(es.split()) <= 16, ref


def test_tang_poems_hold_no_near_copies():
    """No poem is a near-copy of another, so none in the validation or test part of any split of the
    lines (the course's shuffled 80/10/10 included) is a near-copy of a training poem.

    Near-copy, as the datasheet defines it: on the ideographs alone (punctuation removed),
    difflib's ratio is 0.8 or more. Pairs sharing no run of 4 ideographs are not compared: at 0.9
    such a pair cannot exist, and at 0.8 a check found none (datasets/build/tang_poems.py).
    """
    import difflib

    bare = [re.sub("[，。？！；]", "", line) for line in text_of("tang_poems").split("\n")[:-1]]
    by_run: dict[tuple[int, str], list[int]] = collections.defaultdict(list)
    for i, poem in enumerate(bare):
        for run in {poem[k:k + 4] for k in range(len(poem) - 3)}:
            by_run[len(poem), run].append(i)
    pairs = {(a, b) for ids in by_run.values() for n, a in enumerate(ids) for b in ids[n + 1:]}
    near = sorted((a, b) for a, b in pairs
                  if difflib.SequenceMatcher(None, bare[a], bare[b], autojunk=False).ratio() >= 0.8)
    assert not near, f"{len(near)} pairs of near-copies, e.g. lines {[(a + 1, b + 1) for a, b in near[:5]]}"


def rows_of(name: str) -> list[list[str]]:
    return [line.split("\t") for line in text_of(name).split("\n")[1:-1]]


def test_vader_lexicon_as_documented():
    """Every entry of the source is kept; what the datasheet reports about the ratings is what the file holds."""
    rows = rows_of("vader_lexicon")
    assert len(rows) == 7520
    tokens = collections.Counter(r[0] for r in rows)
    assert len(tokens) == 7506
    assert {t for t, n in tokens.items() if n > 1} == {":-p", "d:", "d=", "fav", "lmao", "lol", "muah", "o.o", "ok",
                                                       "sob", "x-d", "x-p", "xd", "xp"}
    mean_differs, sd_differs = set(), set()
    for token, mean, sd, ratings in rows:
        values = [int(r) for r in ratings.split(" ")]
        assert len(values) == 10 and all(-4 <= v <= 4 for v in values), token
        assert ratings == " ".join(map(str, values)) and re.fullmatch(r"-?\d\.\d", mean), token
        # ten integer ratings have a mean with one decimal, the precision of `mean`: compare exactly, in tenths
        if round(float(mean) * 10) != sum(values):
            mean_differs.add(token)
        pstdev = (sum((v - sum(values) / 10) ** 2 for v in values) / 10) ** 0.5
        if abs(float(sd) - pstdev) > 1e-5 + 1e-9:  # the source rounds sd to 5 decimals
            sd_differs.add(token)
    assert mean_differs == {"lmfao"}  # rated 2.5, but its ratings average 2.4: reported, not corrected
    assert sd_differs == {"heart", "hearts", "badass", "flawed", "lmfao", "repetitive"}
    assert {":)", ":(", "lol", "love", "hate", "can't stand"} <= set(tokens)


def build_module(name: str):
    """A module of datasets/build/ (the kjv_questions script holds the questions and their evidence)."""
    import importlib.util
    import sys

    build = str(DATASETS / "build")
    sys.path.insert(0, build)  # the build modules import each other by name
    try:
        spec = importlib.util.spec_from_file_location(f"_build_{name}", DATASETS / "build" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(build)
    return module


def test_kjv_questions_point_at_verses_that_answer_them():
    """Each row is the script's question and reference, and its line of kjv.txt holds the passage that
    answers it. (The build also checks every reference against its line with the KJV versification.)"""
    rows = rows_of("kjv_questions")
    questions = build_module("kjv_questions").QUESTIONS
    assert 60 <= len(rows) <= 80
    assert sorted((q, ref) for q, ref, _line in rows) == sorted((q, ref) for q, ref, _evidence in questions)
    evidence = {q: e for q, _ref, e in questions}
    kjv = text_of("kjv").split("\n")[:-1]
    lines = [int(line) for _q, _ref, line in rows]
    assert lines == sorted(set(lines)) and all(1 <= n <= len(kjv) for n in lines)  # canonical order, one verse each
    for question, ref, line in rows:
        assert question.endswith("?")
        assert re.fullmatch(r"[1-3]?[A-Z][a-z]+ \d+:\d+", ref), ref
        assert evidence[question] in kjv[int(line) - 1], (ref, line, evidence[question])


def test_kjv_questions_refs_agree_with_the_other_kjv_tables():
    """Where a question's verse is also in kjv_rv1909_pairs.tsv or authorship.tsv (which name verses by the same
    references, built from the same module), its text there is the text of its line: the ref-to-line map agrees."""
    kjv = text_of("kjv").split("\n")[:-1]
    text_of_ref = {ref: en for ref, en, _es in rows_of("kjv_rv1909_pairs")}
    text_of_ref.update({ref: text for label, ref, text in rows_of("authorship") if label == "kjv"})
    shared = [(ref, int(line)) for _q, ref, line in rows_of("kjv_questions") if ref in text_of_ref]
    assert len(shared) >= 10
    for ref, line in shared:
        assert text_of_ref[ref] == kjv[line - 1], ref


def test_austen_summaries_cover_chapters_1_to_5_of_the_novel():
    # each chapter starts with its known opening words, the chapters are contiguous, and chapter 6 follows
    lines = text_of("pride_and_prejudice").split("\n")[:-1]
    rows = rows_of("austen_summaries")
    openings = {int(c): words for c, _a, _b, words, _s in build_module("austen_summaries").SUMMARIES}
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4, 5]
    next_first = 1
    for chapter, first, last, summary in rows:
        first, last = int(first), int(last)
        assert first == next_first and first <= last
        assert lines[first - 1].startswith(openings[int(chapter)])
        assert 50 <= len(summary.split()) <= 100
        next_first = last + 1
    assert lines[next_first - 1].startswith("The ladies of Longbourn soon waited on those of Netherfield")
