"""austen_summaries.tsv: reference summaries of chapters 1-5 of Pride and Prejudice, written for the course.

Not derived from a package: the five summaries below were WRITTEN FOR THE COURSE by its authors, as
references for ROUGE in chapter 11 (extractive summarisation). They are not a benchmark: one summary
per chapter, by one writer, of 65-90 words each, in plain modern English; they paraphrase (they are
abstractive), so an extractive summary, which copies the novel's sentences, cannot match them word for
word.

``pride_and_prejudice.txt`` has no chapter headings (the build drops them), so each chapter is given
by its first and last line (1-based, inclusive). The build checks that each chapter's first line starts
with the chapter's known first words and that the chapters follow one another without a gap; a wrong
boundary cannot reach the file. It reads ``pride_and_prejudice.txt`` from the output folder: build
``pride_and_prejudice`` first (``build_all.py`` does).

Output: TSV with header ``chapter<TAB>first_line<TAB>last_line<TAB>summary``.
"""

from __future__ import annotations

from pathlib import Path

from fetch import write_text

SUMMARIES: list[tuple[int, int, int, str, str]] = [
    (1, 1, 34, "It is a truth universally acknowledged",
     "Netherfield Park has been let to Mr. Bingley, a single young man with a large fortune. Mrs. Bennet is "
     "delighted and wants her husband to visit him at once, so that Bingley may marry one of their five "
     "daughters. Mr. Bennet teases her, pretending he will not go, and says he prefers his clever Lizzy to the "
     "others. The narrator describes Mr. Bennet as sarcastic and reserved, and Mrs. Bennet as a woman of little "
     "understanding whose business in life is to get her daughters married."),
    (2, 35, 61, "Mr. Bennet was among the earliest",
     "Mr. Bennet had visited Mr. Bingley from the first, but keeps it a secret from his family until one "
     "evening, when he teases them about it while Elizabeth trims a hat. Mrs. Bennet complains that they will "
     "never meet Bingley, since Mrs. Long cannot be relied on to introduce them, and Kitty's coughing annoys "
     "her. When Mr. Bennet reveals his visit, the family is delighted, and they guess when Bingley will return "
     "the visit and come to dinner."),
    (3, 62, 81, "Not all that Mrs. Bennet",
     "Mr. Bingley returns the visit but sees only Mr. Bennet, and cannot dine at Longbourn. At the assembly "
     "ball in Meryton he arrives with his sisters, Mr. Hurst and his friend Mr. Darcy. Bingley is lively and "
     "dances every dance, twice with Jane. Darcy, though rich and handsome, is found proud and disagreeable; "
     "he refuses to dance and, overheard by Elizabeth, calls her tolerable but not handsome enough to tempt "
     "him. Mrs. Bennet tells her husband of Bingley's admiration of Jane and abuses Darcy."),
    (4, 82, 97, "When Jane and Elizabeth were alone",
     "Alone with Elizabeth, Jane admits how much she admires Mr. Bingley. Elizabeth teases her, observes that "
     "Jane never sees a fault in anybody, and judges Bingley's sisters proud and conceited, although Jane "
     "finds them pleasing. The narrator tells the history of the Bingleys, whose fortune came from trade, and "
     "of the friendship between easy, open Bingley and clever, haughty Darcy. Bingley thought the ball "
     "delightful and Jane an angel; Darcy saw little beauty and no fashion."),
    (5, 98, 120, "Within a short walk of Longbourn",
     "Sir William Lucas, knighted while mayor of Meryton, lives near Longbourn with his family; his eldest "
     "daughter Charlotte is Elizabeth's intimate friend. The Lucas and Bennet ladies meet to discuss the ball: "
     "Bingley's preference for Jane, and Darcy's rudeness to Elizabeth. Charlotte excuses Darcy's pride "
     "because of his fortune and family; Elizabeth says she could forgive his pride if he had not mortified "
     "hers. Mary moralises on the difference between pride and vanity."),
]


def checked_rows(lines: list[str]) -> list[tuple[int, int, int, str]]:
    """(chapter, first_line, last_line, summary) for every entry of SUMMARIES, after checking it against ``lines``."""
    rows, next_first = [], 1
    for chapter, first, last, opening, summary in SUMMARIES:
        assert first == next_first <= last <= len(lines), f"chapter {chapter}: lines {first}-{last} leave a gap"
        starts = lines[first - 1][:60]
        assert lines[first - 1].startswith(opening), f"chapter {chapter} starts {starts!r}, not {opening!r}"
        assert "\t" not in summary and summary.strip() == summary and 50 <= len(summary.split()) <= 100, chapter
        rows.append((chapter, first, last, summary))
        next_first = last + 1
    return rows


def build(out_dir: Path) -> dict:
    novel = out_dir / "pride_and_prejudice.txt"
    if not novel.is_file():
        raise RuntimeError(f"{novel} is missing: austen_summaries is checked against pride_and_prejudice.txt; build "
                           "it first (build_all.py --only pride_and_prejudice austen_summaries)")
    rows = checked_rows(novel.read_text("utf-8").split("\n")[:-1])
    write_text(out_dir / "austen_summaries.tsv",
               "\n".join(["chapter\tfirst_line\tlast_line\tsummary",
                          *(f"{c}\t{a}\t{b}\t{s}" for c, a, b, s in rows)]))
    return {
        "file": "austen_summaries.tsv",
        "unit": "testset",
        "language": "en",
        "title": f"Reference summaries of chapters 1-{len(rows)} of Pride and Prejudice, written for the course",
        "source": "written for the course (datasets/build/austen_summaries.py); chapters: "
                  "r-cran-janeaustenr=1.0.0-1 (Debian), as pride_and_prejudice",
        "licence": "Summaries: MIT (the course's licence); the novel: public domain",
        "_report": {"summaries": len(rows)},
    }
