"""kjv_rv1909_pairs.tsv: short English-Spanish Bible verse pairs for translation.

Sources: the Debian packages ``sword-text-kjv`` 14.3-1 (King James Version,
module engKJV2006eb) and ``sword-text-sparv`` 2.60-1 (Reina-Valera 1909,
module spaRV1909eb). Both modules use the KJV versification and tag words with
Strong's numbers, so a verse of one can be paired with the verse that has the
same reference in the other, and the tags tell whether the pair really says
the same thing.

Filters, in order:
1. drop every chapter in which a verse is empty in either module (the
   numbering differs there: Job 38 and 40 in RV1909 merge verses), or in which
   more than 20% of the verses share few Strong's numbers (Dice < 0.3): the
   verse numbering is silently shifted (e.g. Numbers 13, where RV1909 puts
   Numbers 12:16 as 13:1);
2. drop pairs whose Strong's numbers overlap poorly (Dice coefficient of the
   two sets < 0.5), which catches the remaining single misalignments;
3. keep pairs where both sides have 3 to 16 words.

Cleaning: as in kjv.py (markup, notes, titles removed; ’ becomes '). In
RV1909 the opening words of a chapter are printed in capitals ("EN el
principio"); they are restored to the casing the word has elsewhere in the
text ("En el principio").
Output: TSV with header ``ref<TAB>en<TAB>es``, in canonical order; ``ref``
is the OSIS book abbreviation, chapter and verse, e.g. ``Gen 1:1``.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

from fetch import debian_deb, unpacked, write_text
from kjv import english
from kjv import verses as kjv_verses
from sword import plain_text, read_module, strongs

SPA_PACKAGE = ("sword-text-sparv", "2.60-1")
SPA_MODULE = "usr/share/sword/modules/texts/ztext/spaRV1909eb"
MIN_WORDS, MAX_WORDS = 3, 16
PAIR_DICE, CHAPTER_DICE, CHAPTER_BAD_SHARE = 0.5, 0.3, 0.2


def dice(a: list[str], b: list[str]) -> float:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    return 2 * len(sa & sb) / (len(sa) + len(sb))


def restore_case(texts: list[str]) -> list[str]:
    """Undo the all-capital opening words of chapters in RV1909."""
    forms: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for t in texts:
        for w in re.findall(r"\w+", t):
            if not (w.isupper() and len(w) > 1):
                forms[w.lower()][w] += 1

    def usual(w: str) -> str:
        c = forms.get(w.lower())
        return min(c, key=lambda f: (-c[f], f)) if c else w.lower()

    out = []
    for t in texts:
        words = t.split(" ")
        i = 0
        while i < len(words) and words[i].isupper() and (len(re.sub(r"\W", "", words[i])) > 1 or i == 0):
            core = re.match(r"^(\W*)(\w+)(\W*)$", words[i])
            if core and len(core.group(2)) > 1:
                w = usual(core.group(2))
                if i == 0:
                    w = w[0].upper() + w[1:]
                words[i] = core.group(1) + w + core.group(3)
            i += 1
        out.append(" ".join(words))
    return out


def build(out_dir: Path) -> dict:
    en = kjv_verses()
    root = unpacked(debian_deb(*SPA_PACKAGE))
    es = [(f"{b} {c}:{v}", t) for b, c, v, t in read_module(root / SPA_MODULE)]
    assert [r for r, _ in en] == [r for r, _ in es]
    refs = [r for r, _ in en]
    en_text = [english(t) for _, t in en]
    es_text = restore_case([plain_text(t) for _, t in es])
    d = [dice(strongs(a), strongs(b)) for (_, a), (_, b) in zip(en, es)]

    chapters: dict[str, list[int]] = collections.defaultdict(list)
    for i, ref in enumerate(refs):
        chapters[ref.split(":")[0]].append(i)
    report = collections.Counter()
    dropped_chapters = []
    rows = []
    for chap, idx in chapters.items():
        empty = any(not en_text[i] or not es_text[i] for i in idx)
        bad = sum(d[i] < CHAPTER_DICE for i in idx)
        if empty or bad > CHAPTER_BAD_SHARE * len(idx):
            dropped_chapters.append(chap)
            report["verses in dropped chapters"] += len(idx)
            continue
        for i in idx:
            if d[i] < PAIR_DICE:
                report["pairs rejected: Strong's overlap < 0.5"] += 1
                continue
            ne, ns = len(en_text[i].split()), len(es_text[i].split())
            if not (MIN_WORDS <= ne <= MAX_WORDS and MIN_WORDS <= ns <= MAX_WORDS):
                report["pairs outside 3-16 words"] += 1
                continue
            rows.append(f"{refs[i]}\t{en_text[i]}\t{es_text[i]}")
    assert all("\t" not in e and "\t" not in s for e, s in zip(en_text, es_text))
    write_text(out_dir / "kjv_rv1909_pairs.tsv", "ref\ten\tes\n" + "\n".join(rows))
    return {
        "file": "kjv_rv1909_pairs.tsv",
        "unit": "pairs",
        "language": "en-es",
        "title": "Short KJV / Reina-Valera 1909 verse pairs aligned by reference and Strong's numbers",
        "source": "sword-text-kjv=14.3-1 + sword-text-sparv=2.60-1 (Debian)",
        "licence": "Public domain (KJV: Crown patent in the UK)",
        "_report": {"pairs": len(rows), "chapters dropped": len(dropped_chapters),
                    "dropped chapters": dropped_chapters, **report},
    }
