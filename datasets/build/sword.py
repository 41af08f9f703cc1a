"""Read the verses of a SWORD ``zText`` Bible module in pure Python.

A zText module has, per testament (``ot``/``nt``): ``.bzz``, zlib-compressed
blocks; ``.bzs``, the block index (offset, compressed size, size: three
little-endian uint32); ``.bzv``, the verse index (block, offset, size: uint32,
uint32, uint16). Verse-index entries follow the versification: a module
header and a testament header, then for each book an entry for the book
introduction and for each chapter an entry for the chapter heading followed by
one entry per verse. The chapter and verse counts of the KJV versification
come from the PyPI package ``pysword`` (build time only).
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path


def read_module(module_dir: Path) -> Iterator[tuple[str, int, int, str]]:
    """Yield (osis book, chapter, verse, raw OSIS text) for every verse."""
    from pysword.canons import canons  # build-time only

    for testament in ("ot", "nt"):
        bzs = (module_dir / f"{testament}.bzs").read_bytes()
        bzv = (module_dir / f"{testament}.bzv").read_bytes()
        bzz = (module_dir / f"{testament}.bzz").read_bytes()
        cache: dict[int, bytes] = {}

        def entry(i: int) -> str:
            block, offset, size = struct.unpack_from("<IIH", bzv, i * 10)
            if size == 0:
                return ""
            if block not in cache:
                start, csize, _usize = struct.unpack_from("<III", bzs, block * 12)
                cache[block] = zlib.decompress(bzz[start:start + csize])
            return cache[block][offset:offset + size].decode("utf-8")

        i = 2  # module header, testament header
        for _name, osis, _abbr, verses_per_chapter in canons["kjv"][testament]:
            i += 1  # book introduction
            for chapter, n_verses in enumerate(verses_per_chapter, start=1):
                heading = entry(i)
                assert heading == "" or f'osisID="{osis}.{chapter}"' in heading, (osis, chapter, heading)
                i += 1
                for verse in range(1, n_verses + 1):
                    yield osis, chapter, verse, entry(i)
                    i += 1
        assert i * 10 == len(bzv), (testament, i, len(bzv) // 10)


STRONG = re.compile(r'lemma="([^"]*)"')


def strongs(osis_text: str) -> list[str]:
    """The Strong's numbers tagged in a verse, e.g. ['H7225', 'H1254']."""
    out = []
    for lemma in STRONG.findall(osis_text):
        out += re.findall(r"strong:([HG])0*(\d+)", lemma)
    return [a + b for a, b in out]


def plain_text(osis_text: str) -> str:
    """Verse text without markup: notes and titles dropped, words kept."""
    t = re.sub(r"<note\b.*?</note>", "", osis_text, flags=re.S)
    t = re.sub(r"<title\b.*?</title>", "", t, flags=re.S)
    t = re.sub(r"<[^>]*>", "", t)
    t = re.sub(r"\\\+?[a-z]+\d*\*? ?", "", t)  # stray USFM markers such as "\\nd "
    t = html.unescape(t)
    t = t.replace("\u00b6", "")  # pilcrow paragraph marks
    return re.sub(r"\s+", " ", t).strip()
