"""vader_lexicon.tsv: the VADER sentiment lexicon, words and emoticons rated by ten people.

Source: the PyPI wheel ``vaderSentiment==3.3.2`` (MIT, C.J. Hutto),
``vaderSentiment/vader_lexicon.txt``: one entry per line, ``token<TAB>mean<TAB>sd<TAB>[r1, ..., r10]``,
where r1..r10 are the integer ratings (-4 extremely negative .. +4 extremely positive) of ten
independent human raters (Hutto & Gilbert 2014, recruited on Amazon Mechanical Turk), mean their mean
and sd their standard deviation. CRLF line ends.

Output: TSV with header ``token<TAB>mean<TAB>sd<TAB>ratings``, every entry in the source's order, the
``mean`` and ``sd`` strings exactly as in the source, the ratings as ten integers separated by single
spaces (``-1 -1 -1 -1 -3 -1 -3 -1 -2 -1`` for the source's ``[-1, -1, -1, -1, -3, -1, -3, -1, -2, -1]``).

Nothing is corrected. The build checks every entry and reports, without changing them:
- ``mean`` against the mean of the ten ratings (exact: ten integers have a mean with one decimal, the
  precision of the source's means); the entries that differ are listed in MEAN_DIFFERS;
- ``sd`` against the population standard deviation of the ratings, to the source's 5 decimals
  (a difference of one in the last digit is rounding); those that differ are listed in SD_DIFFERS;
- tokens listed twice (DUPLICATES): the source has a section of emoticons and a section of words,
  and some tokens occur in both, with different ratings.
The build fails if any of these sets changes, so the datasheet's account of them stays true.
"""

from __future__ import annotations

import collections
import re
import statistics
from decimal import Decimal
from pathlib import Path

from fetch import pypi_wheel, unpacked, write_text

PACKAGE = ("vaderSentiment", "3.3.2", "vaderSentiment-3.3.2-py2.py3-none-any.whl")
LEXICON = "vaderSentiment/vader_lexicon.txt"
RATINGS = 10
# What the checks find in 3.3.2 (see the docstring and datasets/README.md); the build asserts exactly these.
MEAN_DIFFERS = {"lmfao"}
SD_DIFFERS = {"heart", "hearts", "badass", "flawed", "lmfao", "repetitive"}
DUPLICATES = {":-p", "d:", "d=", "fav", "lmao", "lol", "muah", "o.o", "ok", "sob", "x-d", "x-p", "xd", "xp"}


def entries(text: str) -> list[tuple[str, str, str, list[int]]]:
    """(token, mean, sd, ratings) for every line of the source file, in order."""
    lines = text.split("\r\n")  # CRLF line ends; the last line has none
    assert len(lines) > 1 and all(lines) and not any("\r" in line or "\n" in line for line in lines)
    out = []
    for number, line in enumerate(lines, start=1):
        token, mean, sd, ratings = line.split("\t")
        m = re.fullmatch(r"\[(-?[0-4](?:, -?[0-4])*)\]", ratings)
        assert m and token and re.fullmatch(r"-?\d\.\d", mean) and re.fullmatch(r"\d\.\d+", sd), (number, line)
        values = [int(r) for r in m.group(1).split(", ")]
        assert len(values) == RATINGS, (number, line)
        out.append((token, mean, sd, values))
    return out


def build(out_dir: Path) -> dict:
    root = unpacked(pypi_wheel(*PACKAGE))
    rows = entries((root / LEXICON).read_bytes().decode("utf-8"))
    mean_differs = {t: (mean, sum(r) / RATINGS) for t, mean, _sd, r in rows
                    if Decimal(mean) != Decimal(sum(r)) / RATINGS}
    sd_differs = {t: (sd, round(statistics.pstdev(r), 5)) for t, _mean, sd, r in rows
                  if abs(Decimal(sd) - Decimal(repr(round(statistics.pstdev(r), 5)))) > Decimal("0.00001")}
    counts = collections.Counter(t for t, *_ in rows)
    duplicates = {t for t, n in counts.items() if n > 1}
    assert set(mean_differs) == MEAN_DIFFERS, mean_differs
    assert set(sd_differs) == SD_DIFFERS, sd_differs
    assert duplicates == DUPLICATES, duplicates
    body = [f"{t}\t{mean}\t{sd}\t{' '.join(map(str, r))}" for t, mean, sd, r in rows]
    write_text(out_dir / "vader_lexicon.tsv", "\n".join(["token\tmean\tsd\tratings", *body]))
    return {
        "file": "vader_lexicon.tsv",
        "unit": "lexicon",
        "language": "en",
        "title": "VADER sentiment lexicon: words, slang and emoticons rated -4..+4 by ten people",
        "source": "vaderSentiment==3.3.2 (PyPI wheel)",
        "licence": "MIT (C.J. Hutto; keep notice); cite Hutto & Gilbert 2014",
        "_report": {"entries": len(rows), "distinct_tokens": len(counts), "mean_differs": mean_differs,
                    "sd_differs": sd_differs, "duplicates": sorted(duplicates)},
    }
