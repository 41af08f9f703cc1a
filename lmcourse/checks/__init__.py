"""Exercise checkers: each says what was expected, what was got, and a hint why.

A chapter's exercise gives the learner a stub that raises ``NotImplementedError``
and a check call such as ``checks.ch00_normalise(normalise)``. The checker calls
the learner's function on inputs of its own, compares with an independent
reference, and either prints one line starting with ``✓`` or raises
:class:`CheckFailed`, whose message reads::

    exercise 00.1 (normalise): the result does not sum to 1
      expected: 1.0
      got:      4.0
      hint:     divide each count by the total of all counts

The framework lives in :mod:`lmcourse.checks.core`; each chapter's checkers in a
module of their own (``ch00``, ``ch01``, ...), named ``chNN_<what>`` and all
available from here, so a notebook writes ``checks.ch01_merge(merge)``.
"""


from lmcourse.checks.ch00 import ch00_char_counts, ch00_normalise, ch00_reproducible
from lmcourse.checks.ch01 import ch01_bpe_train, ch01_merge, ch01_oov_rate, ch01_vocab_cutoff, ch01_zipf_slope
from lmcourse.checks.ch02 import ch02_bigram_counts, ch02_mle_prob, ch02_perplexity, ch02_sample_name
from lmcourse.checks.ch03 import ch03_add_k, ch03_best_lambda, ch03_continuation_probs, ch03_mkn_discounts
from lmcourse.checks.core import (
    CheckFailed,
    ExerciseNotDone,
    call,
    checker,
    expect_close,
    expect_equal,
    fail,
    forked_rng,
    number,
    passed,
)

__all__ = [
    "CheckFailed", "ExerciseNotDone", "call", "checker", "expect_close", "expect_equal", "fail", "forked_rng",
    "number", "passed",
    "ch00_char_counts", "ch00_normalise", "ch00_reproducible",
    "ch01_bpe_train", "ch01_merge", "ch01_oov_rate", "ch01_vocab_cutoff", "ch01_zipf_slope",
    "ch02_bigram_counts", "ch02_mle_prob", "ch02_perplexity", "ch02_sample_name",
    "ch03_add_k", "ch03_best_lambda", "ch03_continuation_probs", "ch03_mkn_discounts",
]
