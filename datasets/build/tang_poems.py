"""tang_poems.txt: five-character Tang quatrains and regulated verse, one poem per line.

Source: the npm package ``chinese-poetry@2.0.1`` (MIT; the poems are public
domain), files ``dist/quantangshi/poet.tang.<N>.json`` (the Complete Tang
Poems, 全唐詩, in traditional characters).

Kept: poems whose lines are all exactly five CJK ideographs, with 4 lines
(五言絕句) or 8 lines (五言律詩), each line ended by one of ，。？！；.
A poem is written on one line as in the source, e.g.
``秦川雄帝宅，函谷壯皇居。綺殿千尋起，離宮百雉餘。…``. Poems with editorial
marks, variant readings, missing characters (□) or other symbols are skipped.
Duplicate texts are kept once (first occurrence), and so are near-copies (see
below). Order: files by their number, poems in file order. Titles and authors
are not included.

Near-copies. The Complete Tang Poems often holds one poem twice: under two
poets, or as two versions that differ in a few characters (迴/回, 鴈/雁, 士/土, 嵩山/東臯)
or only in punctuation (？ for 。). Since the course splits this file by
shuffling its lines, such a pair would put a poem in the test part that the
model already read in training. Two poems are *near-copies* when, compared on
their ideographs alone (punctuation removed), difflib's
``SequenceMatcher(None, a, b, autojunk=False).ratio()`` is at least
``NEAR_COPY`` (0.8): at most a fifth of the characters differ, e.g. 4 of a
quatrain's 20 or 8 of a regulated verse's 40. Poems are read in file order and
a poem is dropped when it is a near-copy of a poem already kept, so no two
kept poems are near-copies, whichever parts of a split they land in.

Why 0.8: among pairs of poems that share any run of 4 characters, the ratios
fall into two groups, unrelated poems (mostly 0.1 to 0.35) and versions of one
poem (mostly 0.8 or more), with few pairs between (fewest near 0.75). At 0.9 a
pair like 家住嵩山下… / 家住東臯去… (4 of 20 characters differ) would stay.

Comparing every pair (160 million) would take hours, so candidates are first
looked up by the runs of 4 characters they share (same length only: a ratio of
0.8 needs equal lengths, 20 or 40 characters). At a ratio of 0.9 or more a
shared run of 4 is certain (the matching blocks cover 90 % of each poem in at
most 9 pieces); at 0.8 it was checked: no pair of poems with half or more of
their characters equal in place lacks one.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import defaultdict
from pathlib import Path

from fetch import npm_tarball, unpacked, write_text

PACKAGE = ("chinese-poetry", "2.0.1")
HAN = "\u4e00-\u9fff"  # CJK Unified Ideographs
LINE = re.compile(f"[{HAN}]{{5}}[，。？！；]")
PUNCTUATION = re.compile("[，。？！；]")
NEAR_COPY = 0.8  # difflib ratio of the ideographs at or above which two poems count as one


def poem_text(paragraphs: list[str]) -> str | None:
    text = "".join(p.strip() for p in paragraphs)
    lines = LINE.findall(text)
    if "".join(lines) != text or len(lines) not in (4, 8):
        return None
    if not text.endswith(("。", "？", "！")):
        return None
    return text


def similarity(a: str, b: str) -> float:
    """difflib's ratio of two poems' ideographs (punctuation removed): 1.0 for the same characters."""
    return difflib.SequenceMatcher(None, PUNCTUATION.sub("", a), PUNCTUATION.sub("", b), autojunk=False).ratio()


def drop_near_copies(poems: list[str]) -> tuple[list[str], list[tuple[str, str, float]]]:
    """Keep each poem unless it is a near-copy of a poem kept before it (file order).

    Returns the kept poems and, for each dropped one, ``(dropped, the kept poem most like it, their ratio)``.
    """
    kept: list[str] = []
    dropped: list[tuple[str, str, float]] = []
    index: dict[tuple[int, str], list[int]] = defaultdict(list)  # (length, 4-character run) -> kept poems
    for poem in poems:
        bare = PUNCTUATION.sub("", poem)
        keys = {(len(bare), bare[i:i + 4]) for i in range(len(bare) - 3)}
        candidates = sorted({k for key in keys for k in index.get(key, ())})
        best = max(((similarity(kept[k], poem), -k) for k in candidates), default=(0.0, 0))
        if best[0] >= NEAR_COPY:
            dropped.append((poem, kept[-best[1]], best[0]))
            continue
        for key in keys:
            index[key].append(len(kept))
        kept.append(poem)
    return kept, dropped


def build(out_dir: Path) -> dict:
    root = unpacked(npm_tarball(*PACKAGE)) / "package" / "dist" / "quantangshi"
    files = sorted(root.glob("poet.tang.*.json"), key=lambda p: int(p.name.split(".")[2]))
    assert len(files) == 58, len(files)
    seen: set[str] = set()
    poems, total, shaped = [], 0, 0
    for path in files:
        for poem in json.loads(path.read_text("utf-8")):
            total += 1
            text = poem_text(poem["paragraphs"])
            shaped += text is not None
            if text and text not in seen:
                seen.add(text)
                poems.append(text)
    distinct = len(poems)
    poems, dropped = drop_near_copies(poems)
    write_text(out_dir / "tang_poems.txt", "\n".join(poems))
    n4 = sum(len(p) == 24 for p in poems)
    return {
        "file": "tang_poems.txt",
        "unit": "char",
        "language": "zh",
        "title": "Five-character Tang quatrains and regulated verse (traditional characters), one poem per line",
        "source": "chinese-poetry@2.0.1 (npm)",
        "licence": "Public domain poems; package MIT (keep notice)",
        "_report": {"poems read": total, "five-character quatrains or regulated verse": shaped,
                    "distinct texts": distinct, f"near-copies dropped (ratio >= {NEAR_COPY})": len(dropped),
                    "kept": len(poems), "quatrains": n4, "regulated verse": len(poems) - n4,
                    "near-copies by ratio": {r: sum(d[2] >= r for d in dropped) for r in (1.0, 0.9, 0.8)},
                    "examples": [d[:2] for d in dropped[:3]]},
    }
