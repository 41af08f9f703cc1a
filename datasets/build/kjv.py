"""kjv.txt: the King James Bible (Authorized Version), word level, one verse per line.

Source: the Debian package ``sword-text-kjv`` 14.3-1 (the CrossWire/eBible.org
SWORD module ``engKJV2006eb``, OSIS markup with Strong's numbers), read with
``sword.py``.

Output: the 31,102 verses of the 66 books in canonical order (Genesis 1:1 is
line 1, Revelation 22:21 the last line), verse text only: no references,
book or chapter headings. Cleaning: OSIS tags and Strong's numbers are
stripped (the tagged words are kept, as are the translators' added words),
footnotes, titles (including the Psalm superscriptions) and paragraph marks
are dropped, stray USFM markers (``\\nd``) removed, the typographic apostrophe
’ becomes ' and whitespace is collapsed.
"""

from __future__ import annotations

from pathlib import Path

from fetch import debian_deb, unpacked, write_text
from sword import plain_text, read_module

PACKAGE = ("sword-text-kjv", "14.3-1")
MODULE = "usr/share/sword/modules/texts/ztext/engKJV2006eb"


def english(osis_text: str) -> str:
    return plain_text(osis_text).replace("\u2019", "'")


def verses() -> list[tuple[str, str]]:
    """(reference like 'Gen 1:1', raw OSIS text) for every KJV verse."""
    root = unpacked(debian_deb(*PACKAGE))
    return [(f"{b} {c}:{v}", t) for b, c, v, t in read_module(root / MODULE)]


def build(out_dir: Path) -> dict:
    lines = [english(t) for _ref, t in verses()]
    assert len(lines) == 31102 and all(lines)
    write_text(out_dir / "kjv.txt", "\n".join(lines))
    return {
        "file": "kjv.txt",
        "unit": "word",
        "language": "en",
        "title": "King James Bible (1611/1769), one verse per line in canonical order",
        "source": "sword-text-kjv=14.3-1 (Debian)",
        "licence": "Public domain (Crown patent in the UK)",
        "_report": {"verses": len(lines)},
    }
