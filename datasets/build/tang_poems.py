"""tang_poems.txt: five-character Tang quatrains and regulated verse, one poem per line.

Source: the npm package ``chinese-poetry@2.0.1`` (MIT; the poems are public
domain), files ``dist/quantangshi/poet.tang.<N>.json`` (the Complete Tang
Poems, 全唐詩, in traditional characters).

Kept: poems whose lines are all exactly five CJK ideographs, with 4 lines
(五言絕句) or 8 lines (五言律詩), each line ended by one of ，。？！；.
A poem is written on one line as in the source, e.g.
``秦川雄帝宅，函谷壯皇居。綺殿千尋起，離宮百雉餘。…``. Poems with editorial
marks, variant readings, missing characters (□) or other symbols are skipped.
Duplicate texts are kept once (first occurrence). Order: files by their
number, poems in file order. Titles and authors are not included.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from fetch import npm_tarball, unpacked, write_text

PACKAGE = ("chinese-poetry", "2.0.1")
HAN = "\u4e00-\u9fff"  # CJK Unified Ideographs
LINE = re.compile(f"[{HAN}]{{5}}[，。？！；]")


def poem_text(paragraphs: list[str]) -> str | None:
    text = "".join(p.strip() for p in paragraphs)
    lines = LINE.findall(text)
    if "".join(lines) != text or len(lines) not in (4, 8):
        return None
    if not text.endswith(("。", "？", "！")):
        return None
    return text


def build(out_dir: Path) -> dict:
    root = unpacked(npm_tarball(*PACKAGE)) / "package" / "dist" / "quantangshi"
    files = sorted(root.glob("poet.tang.*.json"), key=lambda p: int(p.name.split(".")[2]))
    assert len(files) == 58, len(files)
    seen: set[str] = set()
    poems, total = [], 0
    for path in files:
        for poem in json.loads(path.read_text("utf-8")):
            total += 1
            text = poem_text(poem["paragraphs"])
            if text and text not in seen:
                seen.add(text)
                poems.append(text)
    write_text(out_dir / "tang_poems.txt", "\n".join(poems))
    n4 = sum(len(p) == 24 for p in poems)
    return {
        "file": "tang_poems.txt",
        "unit": "char",
        "language": "zh",
        "title": "Five-character Tang quatrains and regulated verse (traditional characters), one poem per line",
        "source": "chinese-poetry@2.0.1 (npm)",
        "licence": "Public domain poems; package MIT (keep notice)",
        "_report": {"poems read": total, "kept": len(poems), "quatrains": n4,
                    "regulated verse": len(poems) - n4},
    }
