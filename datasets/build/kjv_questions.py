"""kjv_questions.tsv: questions a learner might ask, each answered by one verse of kjv.txt.

Not derived from a package: the questions below were WRITTEN FOR THE COURSE by its authors, to score
retrieval over the King James Bible (find the verse that answers a question). They are not a
benchmark. Each question comes with the reference of the one verse taken as its answer and a short
passage of that verse (``evidence``) that answers it.

The build checks every entry and writes nothing else: it maps each reference to its line of kjv.txt
with the KJV versification (chapter and verse counts from the PyPI package ``pysword``, the same
tables ``sword.py`` uses to read the verses in that order), and fails unless that line contains the
evidence. So a wrong reference or a wrong line cannot reach the file.
It reads ``kjv.txt`` from the output folder: build ``kjv`` first (``build_all.py`` does).

Output: TSV with header ``question<TAB>ref<TAB>line``, in canonical (line) order; ``ref`` is the OSIS
book abbreviation, chapter and verse (``John 11:35``), as in kjv_rv1909_pairs.tsv and authorship.tsv;
``line`` is the 1-based line number of the verse in kjv.txt.

How the questions were chosen: a mix of (a) famous verses asked about in their own words (Genesis 1:1,
Psalm 23:1, John 3:16), (b) facts stated in one verse (Methuselah's age, Esau's price for his
birthright), and (c) questions in today's English that share few or no words with the verse's
Early Modern English ("Which commandment forbids murder?" for "Thou shalt not kill."). They were
written without running a retriever on them, so some are easy for word matching and some hard.
"""

from __future__ import annotations

from pathlib import Path

from fetch import write_text

# (question, reference of the answering verse, a passage of that verse that answers the question)
QUESTIONS: list[tuple[str, str, str]] = [
    ("What did God create in the beginning?", "Gen 1:1", "God created the heaven and the earth"),
    ("What were God's first words when he made the world?", "Gen 1:3", "Let there be light"),
    ("What was the first man made from?", "Gen 2:7", "formed man of the dust of the ground"),
    ("Which animal in the garden of Eden was the most cunning?", "Gen 3:1",
     "the serpent was more subtil than any beast of the field"),
    ("Why did Adam call his wife Eve?", "Gen 3:20", "because she was the mother of all living"),
    ("Who murdered Abel?", "Gen 4:8", "Cain rose up against Abel his brother, and slew him"),
    ("How long did Adam live?", "Gen 5:5", "nine hundred and thirty years"),
    ("How old was Methuselah when he died?", "Gen 5:27", "Methuselah were nine hundred sixty and nine years"),
    ("For how long did it rain during Noah's flood?", "Gen 7:12", "forty days and forty nights"),
    ("What sign did God give that he would never again destroy the earth with a flood?", "Gen 9:13",
     "I do set my bow in the cloud"),
    ("Why do people on earth speak different languages?", "Gen 11:9", "confound the language of all the earth"),
    ("What happened to Lot's wife when she looked back?", "Gen 19:26", "she became a pillar of salt"),
    ("Which son did God tell Abraham to offer as a burnt offering?", "Gen 22:2", "thine only son Isaac"),
    ("What did Esau get in exchange for his birthright?", "Gen 25:34",
     "Jacob gave Esau bread and pottage of lentiles"),
    ("What did Jacob see in his dream at Bethel?", "Gen 28:12", "a ladder set up on the earth"),
    ("Why was Jacob given the name Israel?", "Gen 32:28", "as a prince hast thou power with God and with men"),
    ("What did Jacob make for his favourite son Joseph?", "Gen 37:3", "a coat of many colours"),
    ("How much was Joseph sold for when he was taken to Egypt?", "Gen 37:28", "for twenty pieces of silver"),
    ("Why did Moses have to take off his shoes at the burning bush?", "Exod 3:5",
     "the place whereon thou standest is holy ground"),
    ("What name did God give Moses for himself?", "Exod 3:14", "I AM THAT I AM"),
    ("What happened to the water of the Nile in the first plague?", "Exod 7:20",
     "all the waters that were in the river were turned to blood"),
    ("How did the Israelites get across the Red Sea?", "Exod 14:22",
     "went into the midst of the sea upon the dry ground"),
    ("Which day are we told to keep holy?", "Exod 20:8", "Remember the sabbath day, to keep it holy"),
    ("Which commandment forbids murder?", "Exod 20:13", "Thou shalt not kill"),
    ("Is theft forbidden by the ten commandments?", "Exod 20:15", "Thou shalt not steal"),
    ("How should you love your neighbour?", "Lev 19:18", "love thy neighbour as thyself"),
    ("What happened to the walls of Jericho when the people shouted?", "Josh 6:20", "the wall fell down flat"),
    ("What was the secret of Samson's strength?", "Judg 16:17", "if I be shaven, then my strength will go from me"),
    ("What did Ruth promise Naomi when she refused to leave her?", "Ruth 1:16", "whither thou goest, I will go"),
    ("Does God judge people by their looks?", "1Sam 16:7",
     "man looketh on the outward appearance, but the LORD looketh on the heart"),
    ("How tall was Goliath?", "1Sam 17:4", "whose height was six cubits and a span"),
    ("What did Solomon ask God to give him?", "1Kgs 3:9", "Give therefore thy servant an understanding heart"),
    ("What did Job say after losing his children and everything he owned?", "Job 1:21",
     "the LORD gave, and the LORD hath taken away"),
    ("What does the fool say in his heart?", "Ps 14:1", "The fool hath said in his heart, There is no God"),
    ("Who is my shepherd?", "Ps 23:1", "The LORD is my shepherd"),
    ("Where does my help come from?", "Ps 121:2", "My help cometh from the LORD"),
    ("What is the beginning of wisdom?", "Prov 9:10", "The fear of the LORD is the beginning of wisdom"),
    ("Does a father who never punishes his son really love him?", "Prov 13:24",
     "He that spareth his rod hateth his son"),
    ("How can a gentle reply calm someone's anger?", "Prov 15:1", "A soft answer turneth away wrath"),
    ("What comes before a fall?", "Prov 16:18", "an haughty spirit before a fall"),
    ("How should a child be brought up?", "Prov 22:6", "Train up a child in the way he should go"),
    ("Is there a proper time for everything?", "Eccl 3:1", "To every thing there is a season"),
    ("What would the son born of a virgin be called?", "Isa 7:14",
     "a virgin shall conceive, and bear a son, and shall call his name Immanuel"),
    ("Can a leopard change its spots?", "Jer 13:23", "or the leopard his spots"),
    ("How long was Jonah in the belly of the great fish?", "Jonah 1:17",
     "Jonah was in the belly of the fish three days and three nights"),
    ("What should justice flow down like?", "Amos 5:24", "let judgment run down as waters"),
    ("What gifts did the wise men bring to the child?", "Matt 2:11", "gold, and frankincense, and myrrh"),
    ("Can a man live by bread alone?", "Matt 4:4", "Man shall not live by bread alone"),
    ("Who will inherit the earth?", "Matt 5:5", "Blessed are the meek: for they shall inherit the earth"),
    ("What should you do when someone slaps you on the face?", "Matt 5:39", "turn to him the other also"),
    ("How should we treat our enemies?", "Matt 5:44", "Love your enemies"),
    ("How does the Lord's Prayer begin?", "Matt 6:9", "Our Father which art in heaven"),
    ("Where should we store up treasure?", "Matt 6:20", "lay up for yourselves treasures in heaven"),
    ("Should I worry about tomorrow?", "Matt 6:34", "Take therefore no thought for the morrow"),
    ("What is the golden rule?", "Matt 7:12",
     "whatsoever ye would that men should do to you, do ye even so to them"),
    ("Where can the weary and burdened find rest?", "Matt 11:28",
     "all ye that labour and are heavy laden, and I will give you rest"),
    ("Why is it hard for wealthy people to get into heaven?", "Matt 19:24",
     "easier for a camel to go through the eye of a needle, than for a rich man"),
    ("What is the greatest commandment?", "Matt 22:37", "Thou shalt love the Lord thy God with all thy heart"),
    ("How much was Judas paid to betray Jesus?", "Matt 26:15", "thirty pieces of silver"),
    ("What signal did Judas give to show which man to arrest?", "Matt 26:48",
     "Whomsoever I shall kiss, that same is he"),
    ("Why did Pilate wash his hands?", "Matt 27:24", "I am innocent of the blood of this just person"),
    ("What did the angels sing to the shepherds?", "Luke 2:14",
     "Glory to God in the highest, and on earth peace, good will toward men"),
    ("Who took pity on the man who fell among thieves?", "Luke 10:33",
     "a certain Samaritan, as he journeyed, came where he was: and when he saw him, he had compassion on him"),
    ("Why could Zacchaeus not see Jesus in the crowd?", "Luke 19:3", "because he was little of stature"),
    ("According to John's gospel, what was there in the beginning?", "John 1:1", "In the beginning was the Word"),
    ("Where did Jesus perform his first miracle?", "John 2:11", "This beginning of miracles did Jesus in Cana"),
    ("Why did God give his only Son to the world?", "John 3:16",
     "whosoever believeth in him should not perish, but have everlasting life"),
    ("How did Jesus react at the grave of Lazarus?", "John 11:35", "Jesus wept."),
    ("Who did Jesus say is the way, the truth and the life?", "John 14:6", "I am the way, the truth, and the life"),
    ("Where were the disciples first called Christians?", "Acts 11:26",
     "the disciples were called Christians first in Antioch"),
    ("What was Paul's trade?", "Acts 18:3", "by their occupation they were tentmakers"),
    ("What are the wages of sin?", "Rom 6:23", "the wages of sin is death"),
    ("Is love patient and kind?", "1Cor 13:4", "Charity suffereth long, and is kind"),
    ("Do people harvest what they plant?", "Gal 6:7", "whatsoever a man soweth, that shall he also reap"),
    ("What is the root of all evil?", "1Tim 6:10", "the love of money is the root of all evil"),
    ("What is faith?", "Heb 11:1", "faith is the substance of things hoped for, the evidence of things not seen"),
    ("How many people were saved in Noah's ark?", "1Pet 3:20", "eight souls were saved by water"),
    ("What is God, according to the first letter of John?", "1John 4:8", "God is love"),
    ("What is the number of the beast?", "Rev 13:18", "his number is Six hundred threescore and six"),
    ("Will there be crying or pain when God makes all things new?", "Rev 21:4",
     "no more death, neither sorrow, nor crying, neither shall there be any more pain"),
]


def references() -> list[str]:
    """Every KJV verse reference (``Gen 1:1`` ...) in canonical order: line N of kjv.txt is entry N - 1."""
    from pysword.canons import canons  # build-time only

    return [f"{osis} {chapter}:{verse}"
            for testament in ("ot", "nt")
            for _name, osis, _abbr, verses_per_chapter in canons["kjv"][testament]
            for chapter, n_verses in enumerate(verses_per_chapter, start=1)
            for verse in range(1, n_verses + 1)]


def checked_rows(kjv_lines: list[str]) -> list[tuple[str, str, int]]:
    """(question, ref, line) for every entry of QUESTIONS, after checking it against ``kjv_lines``."""
    refs = references()
    assert len(refs) == len(kjv_lines) == 31102, (len(refs), len(kjv_lines))
    line_of = {ref: number for number, ref in enumerate(refs, start=1)}
    rows = []
    for question, ref, evidence in QUESTIONS:
        assert question.endswith("?") and "\t" not in question and question.strip() == question, question
        assert ref in line_of, f"{ref!r} is not a KJV reference ({question})"
        line = line_of[ref]
        assert evidence in kjv_lines[line - 1], f"{ref} (line {line}) does not say {evidence!r}: {kjv_lines[line - 1]}"
        rows.append((question, ref, line))
    for what, values in (("question", [r[0] for r in rows]), ("verse", [r[1] for r in rows])):
        assert len(set(values)) == len(values), f"a {what} is listed twice"
    return sorted(rows, key=lambda row: row[2])


def build(out_dir: Path) -> dict:
    kjv_txt = out_dir / "kjv.txt"
    if not kjv_txt.is_file():
        raise RuntimeError(f"{kjv_txt} is missing: kjv_questions is checked against kjv.txt; build kjv first "
                           "(build_all.py --only kjv kjv_questions)")
    rows = checked_rows(kjv_txt.read_text("utf-8").split("\n")[:-1])
    write_text(out_dir / "kjv_questions.tsv",
               "\n".join(["question\tref\tline", *(f"{q}\t{ref}\t{line}" for q, ref, line in rows)]))
    return {
        "file": "kjv_questions.tsv",
        "unit": "testset",
        "language": "en",
        "title": f"{len(rows)} questions written for the course, each answered by one verse of kjv.txt",
        "source": "written for the course (datasets/build/kjv_questions.py); verses: sword-text-kjv=14.3-1 (Debian)",
        "licence": "Questions: MIT (the course's licence); verses: public domain (Crown patent in the UK)",
        "_report": {"questions": len(rows), "books": len({ref.split()[0] for _q, ref, _line in rows})},
    }
