"""The course map: every chapter, what it needs first, and how long it takes.

This table is the one source for the map drawn in chapter 00 and for the
learning path in the README (a test checks that the README agrees with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@dataclass(frozen=True)
class Chapter:
    number: str
    slug: str
    title: str
    needs: tuple[str, ...]  # the chapters to read first
    reading_min: int  # estimated reading and exercise time, minutes
    short: str = ""  # the label on the course map, at most two short lines
    spine: bool = False  # on the n-gram -> smoothing -> LSTM -> Transformer spine
    run_budget_s: int = 60  # most seconds one copy of each notebook may run at the ci scale (see CONTRIBUTING.md)
    parts: tuple[tuple[str, int], ...] = ()  # a chapter in several notebooks: (slug, reading minutes) of each
    part_budgets_s: tuple[int, ...] = ()  # each part's run budget, in order, when they differ (<= run_budget_s)

    def __post_init__(self) -> None:
        if self.parts and (self.parts[0][0] != self.slug or sum(m for _, m in self.parts) != self.reading_min):
            raise ValueError(f"chapter {self.number}: its first part must be its slug {self.slug!r} and the parts' "
                             f"minutes must add up to its reading_min {self.reading_min}, got {self.parts}.")
        if self.part_budgets_s and (len(self.part_budgets_s) != len(self.parts)
                                    or not all(0 < b <= self.run_budget_s for b in self.part_budgets_s)):
            raise ValueError(f"chapter {self.number}: part_budgets_s needs one budget per part ({len(self.parts)}), "
                             f"each between 1 and run_budget_s={self.run_budget_s}; got {self.part_budgets_s}.")

    @property
    def notebooks(self) -> tuple[tuple[str, int], ...]:
        """(slug, reading minutes) of each notebook of the chapter, in reading order: one, unless ``parts`` splits
        it (chapters 11 and 12 are two notebooks each, each within ``run_budget_s``)."""
        return self.parts or ((self.slug, self.reading_min),)

    def budget(self, slug: str) -> int:
        """The most seconds one copy of notebook ``slug`` of this chapter may run at the ci scale."""
        slugs = [s for s, _ in self.notebooks]
        if slug not in slugs:
            raise KeyError(f"chapter {self.number} has no notebook {slug!r}; its notebooks are {slugs}.")
        return self.part_budgets_s[slugs.index(slug)] if self.part_budgets_s else self.run_budget_s


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("00", "00_setup", "Set-up, course map, exercises", (), 20,
            short="set-up", run_budget_s=15),
    Chapter("01", "01_text_data", "Text as data: cleaning, tokenisation, splits", ("00",), 60,
            short="text as\ndata", run_budget_s=40),
    Chapter("02", "02_ngram_counting", "n-gram counting, sampling, perplexity", ("01",), 60,
            short="n-gram\ncounts", spine=True, run_budget_s=35),
    Chapter("03", "03_ngram_smoothing", "Smoothing: add-k, interpolation, Kneser-Ney", ("02",), 60,
            short="smoothing", spine=True, run_budget_s=50),
    Chapter("04", "04_neural_lm", "From counts to parameters: the MLP language model", ("02",), 75,
            short="neural\nLM (MLP)", run_budget_s=60),
    Chapter("05", "05_rnn", "Recurrent networks and backpropagation through time", ("04",), 60,
            short="RNN,\nBPTT", run_budget_s=45),
    Chapter("06", "06_lstm", "The LSTM from scratch, checked against torch", ("05", "03"), 75,
            short="LSTM", spine=True, run_budget_s=60),
    Chapter("07", "07_attention", "Attention and multi-head attention", ("04",), 60,
            short="attention", run_budget_s=25),
    Chapter("08", "08_transformer", "A decoder-only Transformer; the grand comparison", ("06", "07"), 90,
            short="Trans-\nformer", spine=True, run_budget_s=60),
    Chapter("09", "09_training", "Training strategies: optimisers, schedules, regularisation", ("08",), 60,
            short="training", run_budget_s=60),
    Chapter("10", "10_evaluation", "Evaluation and decoding", ("08",), 60,
            short="evaluation", run_budget_s=60),
    Chapter("11", "11_applications", "Applications: generate, classify, translate, summarise, QA",
            ("09", "10"), 75, short="applica-\ntions", run_budget_s=40,
            parts=(("11_applications", 45), ("11_text_to_text", 30))),
    Chapter("12", "12_cost_scale", "Cost, scale and safety", ("09",), 75,
            short="cost,\nsafety", run_budget_s=55,
            parts=(("12_cost_scale", 40), ("12_safety", 35)), part_budgets_s=(55, 40)),
    Chapter("13", "13_ecosystem", "From this course to the wider ecosystem", ("11",), 45,
            short="eco-\nsystem", run_budget_s=30),
)


def chapter(number: str) -> Chapter:
    """The chapter with this number, e.g. ``chapter("06")``: a two-digit string, as in the file names."""
    if not isinstance(number, str):
        whole = isinstance(number, int) and not isinstance(number, bool) and number >= 0
        hint = f": write chapter('{number:02d}')" if whole else ""
        raise TypeError(f"a chapter number is a two-digit str, e.g. chapter('06'); got {type(number).__name__} "
                        f"{number!r}{hint}.")
    for ch in CHAPTERS:
        if ch.number == number:
            return ch
    spellings = {c.number: (c.number, c.number.lstrip("0") or "0", c.slug) for c in CHAPTERS}  # "06", "6", "06_lstm"
    guess = next((n for n, ways in spellings.items() if number.strip() in ways), None)
    raise KeyError(f"no chapter {number!r}; the chapters are {', '.join(c.number for c in CHAPTERS)}."
                   + (f" Did you mean {guess!r}?" if guess else ""))


def draw_map(ax: Axes | None = None) -> Axes:
    """Draw the chapters as boxes in reading order, with an arrow from each prerequisite; the spine in red."""
    from lmcourse.plot import _axes

    ax = _axes(ax, figsize=(12.0, 3.8))
    # Two rows: the spine along the top, everything else below, both in reading order.
    pos = {ch.number: (i, 1.0 if ch.spine else 0.0) for i, ch in enumerate(CHAPTERS)}
    for ch in CHAPTERS:
        for need in ch.needs:
            (x0, y0), (x1, y1) = pos[need], pos[ch.number]
            spine = ch.spine and chapter(need).spine
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops=dict(arrowstyle="->", color="tab:red" if spine else "0.6",
                                        lw=2 if spine else 1, shrinkA=14, shrinkB=14,
                                        connectionstyle="arc3,rad=-0.45" if y0 == y1 and x1 - x0 > 1 else "arc3"))
    for ch in CHAPTERS:
        x, y = pos[ch.number]
        ax.text(x, y, ch.number, ha="center", va="center", fontsize=10, fontweight="bold",
                bbox=dict(boxstyle="round", fc="mistyrose" if ch.spine else "aliceblue",
                          ec="tab:red" if ch.spine else "tab:blue"))
        ax.text(x, y - 0.2 if not ch.spine else y + 0.2, ch.short or ch.slug[3:].replace("_", "\n"),
                ha="center", va="top" if not ch.spine else "bottom", fontsize=9, linespacing=1.1)
    ax.set_xlim(-0.7, len(CHAPTERS) - 0.3)
    ax.set_ylim(-0.8, 1.7)
    ax.set_yticks([0, 1], labels=["other chapters", "the spine"])
    ax.set_xticks([])
    ax.set_xlabel("reading order →")
    ax.set_title("The course map: an arrow runs from each chapter to the chapters that build on it")
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    return ax
