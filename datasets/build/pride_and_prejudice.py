"""pride_and_prejudice.txt: Jane Austen's novel, word level, one paragraph per line.

Source: the Debian package ``r-cran-janeaustenr`` 1.0.0-1 (the CRAN package
janeaustenr 1.0.0 by Julia Silge, MIT), object ``prideprejudice`` in the R
lazy-load database ``data/Rdata.rdb`` (a character vector, one element per
line of the Project Gutenberg text, with the Gutenberg header already gone).
It is read with the PyPI package ``rdata`` (build time only).

Cleaning: the title lines and the 61 ``Chapter N`` headings and the
``* * * * *`` section breaks are dropped; the ``_underscores_`` that mark
italics are removed; each paragraph's wrapped lines are joined with single
spaces, giving one paragraph per line.
"""

from __future__ import annotations

import gzip
import re
import struct
import warnings
import zlib
from pathlib import Path

from fetch import debian_deb, unpacked, write_text

PACKAGE = ("r-cran-janeaustenr", "1.0.0-1")


def read_lazyload(data_dir: Path, name: str):
    """Read one object from an R lazy-load database (``Rdata.rdx``/``.rdb``).

    The ``.rdx`` index is a gzip-compressed serialised R list mapping each
    object name to (offset, length) in ``.rdb``; each ``.rdb`` record is a
    4-byte big-endian length followed by a zlib-compressed serialisation.
    """
    import rdata  # build-time only

    def parse(raw: bytes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Unknown file type: assumed RDS"
            return rdata.conversion.convert(rdata.parser.parse_data(raw))

    index = parse(gzip.decompress((data_dir / "Rdata.rdx").read_bytes()))
    offset, length = (int(x) for x in index["variables"][name])
    with open(data_dir / "Rdata.rdb", "rb") as f:
        f.seek(offset)
        record = f.read(length)
    size = struct.unpack(">I", record[:4])[0]
    raw = zlib.decompress(record[4:])
    assert len(raw) == size
    return parse(raw)


def austen_lines(name: str) -> list[str]:
    root = unpacked(debian_deb(*PACKAGE))
    data = root / "usr/lib/R/site-library/janeaustenr/data"
    return [str(x) for x in read_lazyload(data, name)]


def paragraphs(lines: list[str]) -> list[str]:
    """The novel's paragraphs, cleaned (see the module docstring)."""
    start = lines.index("Chapter 1")
    paras, cur = [], []
    for line in lines[start:] + [""]:
        line = line.strip()
        if line:
            cur.append(line)
            continue
        if cur:
            p = " ".join(cur)
            cur = []
            if re.fullmatch(r"Chapter \d+", p) or re.fullmatch(r"[* ]+", p):
                continue
            p = p.replace("_", "")
            paras.append(re.sub(r" +", " ", p))
    return paras


def build(out_dir: Path) -> dict:
    paras = paragraphs(austen_lines("prideprejudice"))
    text = "\n".join(paras)
    assert text.isascii() and "\t" not in text
    write_text(out_dir / "pride_and_prejudice.txt", text)
    return {
        "file": "pride_and_prejudice.txt",
        "unit": "word",
        "language": "en",
        "title": "Jane Austen, Pride and Prejudice (1813), one paragraph per line",
        "source": "r-cran-janeaustenr=1.0.0-1 (Debian)",
        "licence": "Public domain text; janeaustenr MIT (keep notice)",
        "_report": {"paragraphs": len(paras)},
    }
