"""Tests of ``lmcourse.probes``: co-occurrence counted by hand on a 20-word text and against a plain loop on
Shakespeare, log-odds hand values, correlations against numpy.corrcoef, the two head scores on hand-made maps,
continuation log-probabilities against a token-by-token computation on a tiny random TransformerLM, the MLP
activations against the block's own layers, and every error."""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lmcourse.data import load_text
from lmcourse.models import BigramLM
from lmcourse.probes import (
    attention_to,
    continuation_log_probs,
    cooccurrence,
    correlations,
    log_odds,
    mlp_activations,
    previous_token_score,
    pronoun_preference,
    words,
)
from lmcourse.tokenize import CharTokenizer
from lmcourse.transformer import TransformerConfig, TransformerLM

# --------------------------------------------------------------------------- words and co-occurrence

# 0 the, 1 king, 2 said, 3 he, 4 was, 5 old, 6 and, 7 she, 8 was, 9 young, 10 he, 11 laughed, 12 she, 13 wept,
# 14 and, 15 the, 16 king, 17 slept, 18 well, 19 then
TWENTY = "The King said he was old, and she was young; he laughed -- she wept, and the king slept well then."


def test_words_are_the_regular_expression() -> None:
    for text in (TWENTY, "O'er the hills, 'tis ne'er Caesar's; rock'n'roll 42 times-two\nÉTÉ don't", ""):
        assert words(text) == re.findall(r"[a-z]+(?:'[a-z]+)?", text.lower())
    assert words("'Tis O'ER rock'n'roll") == ["tis", "o'er", "rock'n", "roll"]
    assert len(words(TWENTY)) == 20


def test_cooccurrence_by_hand() -> None:
    got = cooccurrence(TWENTY, ["he", "she"], window=2)
    # he at 3: king said | was old; he at 10: was young | laughed (she: a target, not counted)
    assert got["he"] == Counter({"was": 2, "king": 1, "said": 1, "old": 1, "young": 1, "laughed": 1})
    # she at 7: old and | was young; she at 12: (he) laughed | wept and
    assert got["she"] == Counter({"and": 2, "old": 1, "was": 1, "young": 1, "laughed": 1, "wept": 1})
    assert list(got) == ["he", "she"]
    one = cooccurrence(TWENTY, ["he", "she"], window=1)
    assert one["he"] == Counter({"said": 1, "was": 1, "young": 1, "laughed": 1})
    assert one["she"] == Counter({"and": 1, "was": 1, "laughed": 1, "wept": 1})
    # alone, "she" is an ordinary context word of "he"; a window past both ends of the text is cut there
    assert cooccurrence(TWENTY, ["he"], window=2)["he"]["she"] == 1
    assert cooccurrence("He is here", ["he"], window=10) == {"he": Counter({"is": 1, "here": 1})}
    # two occurrences close together: the word between them counts once for each
    assert cooccurrence("he ran he", ["he"], window=2) == {"he": Counter({"ran": 2})}


def test_cooccurrence_equals_a_plain_loop_on_shakespeare() -> None:
    text = load_text("shakespeare")[:60000]
    ws, targets, window = words(text), ["he", "she", "king"], 3
    got = cooccurrence(text, targets, window=window)
    for t in targets:
        want: Counter[str] = Counter()
        for i, w in enumerate(ws):
            if w == t:
                want.update(v for v in ws[max(0, i - window):i] + ws[i + 1:i + 1 + window] if v not in targets)
        assert got[t] == want and sum(want.values()) > 40


@pytest.mark.parametrize(("targets", "error", "match"), [
    ("he", TypeError, r"wrap it in a list"),
    ([], ValueError, r"non-empty list.*empty list"),
    (("he", 3), ValueError, r"targets\[1\] = 3"),
    (["He"], ValueError, r"targets\[0\] = 'He' is not one lower-case word"),
    (["he said"], ValueError, r"not one lower-case word"),
    ([""], ValueError, r"not one lower-case word"),
    (["he", "zebra", "unicorn"], ValueError, r"'zebra', 'unicorn' never occur in the text \(20 words\)"),
    (["he", "she", "he"], ValueError, r"'he' more than once"),
])
def test_cooccurrence_rejects_bad_targets(targets: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        cooccurrence(TWENTY, targets)  # type: ignore[arg-type]


def test_cooccurrence_rejects_bad_window_and_text() -> None:
    with pytest.raises(ValueError, match=r"window must be >= 1, got 0"):
        cooccurrence(TWENTY, ["he"], window=0)
    with pytest.raises(TypeError, match=r"window must be a whole number"):
        cooccurrence(TWENTY, ["he"], window=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"text must be a str, got list"):
        cooccurrence(["he", "was"], ["he"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"needs a str"):
        words(b"he")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- log-odds


def test_log_odds_by_hand() -> None:
    a, b = {"x": 3, "y": 1}, Counter({"y": 2, "z": 2})
    # V = 3, A = B = 4, alpha = 1: (c + 1) / 7 on both sides
    got = log_odds(a, b)
    assert list(got) == ["x", "y", "z"]
    assert got["x"] == pytest.approx(math.log(4)) and got["y"] == pytest.approx(math.log(2 / 3))
    assert got["z"] == pytest.approx(-math.log(3))
    # alpha = 0.5: x is 3.5 / 5.5 against 0.5 / 5.5
    assert log_odds(a, b, alpha=0.5)["x"] == pytest.approx(math.log(7))
    # unequal totals: a = {x: 1}, b = {x: 1, y: 3}; V = 2, A = 1, B = 4: x is log(2/3) - log(2/6) = log 2
    assert log_odds({"x": 1}, {"x": 1, "y": 3})["x"] == pytest.approx(math.log(2))
    # swapping the sides flips every sign; a key with count 0 still counts in V
    assert all(v == pytest.approx(-got[w]) for w, v in log_odds(b, a).items())
    assert log_odds({"x": 1, "w": 0}, {"x": 1})["w"] == pytest.approx(0.0)
    # V = 2, A = 3, B = 1
    assert log_odds({"x": 3, "w": 0}, {"x": 1})["x"] == pytest.approx(math.log(4 / 5) - math.log(2 / 3))


@pytest.mark.parametrize(("a", "b", "alpha", "error", "match"), [
    ({"x": 1}, {"x": 1}, 0, ValueError, r"alpha must be a number > 0.*got 0"),
    ({"x": 1}, {"x": 1}, -1.0, ValueError, r"alpha must be a number > 0"),
    ({"x": 1}, {"x": 1}, float("nan"), ValueError, r"alpha must be a number > 0"),
    ({"x": 1}, {"x": 1}, True, ValueError, r"alpha must be a number > 0"),
    ({"x": -1}, {"x": 1}, 1.0, ValueError, r"counts_a\['x'\] = -1; counts must be whole numbers >= 0"),
    ({"x": 1}, {"x": 1.5}, 1.0, ValueError, r"counts_b\['x'\] = 1.5"),
    (["x"], {"x": 1}, 1.0, TypeError, r"counts_a must be a mapping"),
    ({1: 1}, {"x": 1}, 1.0, TypeError, r"counts_a has the key 1"),
    ({}, Counter(), 1.0, ValueError, r"both empty"),
])
def test_log_odds_errors(a: object, b: object, alpha: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        log_odds(a, b, alpha=alpha)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- correlations


def test_correlations_equal_numpy_corrcoef() -> None:
    rng = np.random.default_rng(0)
    feature = rng.normal(size=200)
    X = np.column_stack([feature * 2 + 1, -feature, rng.normal(size=200), feature + rng.normal(size=200),
                         np.full(200, 3.0), rng.exponential(size=200)])
    got = correlations(X, feature)
    # a constant column has no correlation: 0 by definition here (numpy gives NaN, with a warning)
    want = [np.corrcoef(X[:, j], feature)[0, 1] if j != 4 else 0.0 for j in range(X.shape[1])]
    assert got.dtype == np.float64 and got.shape == (6,)
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert got[0] == 1.0 and got[1] == -1.0  # clipped into [-1, 1] where rounding would pass them
    # float32 torch activations and a boolean feature (the point-biserial correlation)
    flag = feature > 0
    got32 = correlations(torch.tensor(X, dtype=torch.float32), flag.tolist())
    want32 = [np.corrcoef(X[:, j].astype(np.float32), flag)[0, 1] if j != 4 else 0.0 for j in range(6)]
    np.testing.assert_allclose(got32, want32, atol=1e-6)
    # a column that is constant up to float error of its mean (0.1 three times) is still exactly constant
    assert correlations(np.full((3, 1), 0.1), [1.0, 2.0, 4.0])[0] == 0.0


@pytest.mark.parametrize(("X", "f", "error", "match"), [
    (np.ones((4, 2)), [1.0, 1.0, 1.0, 1.0], ValueError, r"feature is constant \(1 everywhere\)"),
    (np.ones((4, 2)), [1.0, 2.0, 3.0], ValueError, r"got shapes \(4, 2\) and \(3,\)"),
    (np.ones(4), [1.0, 2.0, 3.0, 4.0], ValueError, r"got shapes \(4,\) and \(4,\)"),
    (np.ones((2, 4, 3)), np.arange(8.0), ValueError, r"reshape\(-1, H\)"),
    (np.ones((1, 2)), [1.0], ValueError, r"at least 2 rows"),
    (np.array([[1.0], [np.nan]]), [1.0, 2.0], ValueError, r"activations holds NaN"),
    (np.ones((2, 1)), ["a", "b"], TypeError, r"feature must hold numbers"),
    (np.ones((2, 1)), [[1.0], [2.0, 3.0]], TypeError, r"feature must be an array of numbers"),
])
def test_correlations_errors(X: object, f: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        correlations(X, f)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- attention heads


def _hand_maps() -> torch.Tensor:
    """Three heads on 5 positions: attend to oneself, to the previous position (the first to itself), uniformly."""
    T = 5
    previous = torch.zeros(T, T)
    previous[0, 0] = 1.0
    previous[torch.arange(1, T), torch.arange(T - 1)] = 1.0
    uniform = torch.tril(torch.ones(T, T)) / torch.arange(1, T + 1)[:, None]
    return torch.stack([torch.eye(T), previous, uniform])


def test_head_scores_on_hand_made_maps() -> None:
    maps, text = _hand_maps(), "a\nb\nc"   # the last newline of queries 1..4 is at 1, 1, 3, 3; query 0 has none
    # self: 1, 0, 1, 0; previous: 0, 1, 0, 1; uniform: 1/2, 1/3, 1/4, 1/5
    torch.testing.assert_close(attention_to(maps, text, "\n"), torch.tensor([0.5, 0.5, 77 / 240]))
    # the last "a" of every query is position 0: self 1, 0, 0, 0, 0; previous 1, 1, 0, 0, 0; uniform 1/(t+1)
    torch.testing.assert_close(attention_to(maps, text, "a"), torch.tensor([0.2, 0.4, 137 / 300]))
    torch.testing.assert_close(previous_token_score(maps), torch.tensor([0.0, 1.0, 77 / 240]))


def test_head_scores_equal_plain_loops() -> None:
    gen = torch.Generator().manual_seed(0)
    T, H = 12, 3
    maps = torch.rand(H, T, T, generator=gen).tril()
    maps = maps / maps.sum(-1, keepdim=True)
    text = "ab\ncd e\n\nfgh"
    want = torch.zeros(H)
    queries = [t for t in range(T) if "\n" in text[:t + 1]]
    for t in queries:
        want += maps[:, t, text[:t + 1].rindex("\n")] / len(queries)
    torch.testing.assert_close(attention_to(maps, text, "\n"), want)
    torch.testing.assert_close(previous_token_score(maps), sum(maps[:, t, t - 1] for t in range(1, T)) / (T - 1))
    assert attention_to(maps.double(), text, "\n").dtype == torch.float64


def test_head_score_errors() -> None:
    maps = _hand_maps()
    with pytest.raises(ValueError, match=r"got shape \(1, 3, 5, 5\); for one sequence"):
        attention_to(maps[None], "a\nb\nc", "\n")
    with pytest.raises(ValueError, match=r"shape \(H, T, T\).*got shape \(3, 5, 4\)"):
        previous_token_score(maps[:, :, :4])
    with pytest.raises(TypeError, match=r"float tensor"):
        previous_token_score(maps.long())
    with pytest.raises(TypeError, match=r"float tensor"):
        attention_to(maps.numpy(), "a\nb\nc", "\n")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"T=5 characters.*got 4 characters"):
        attention_to(maps, "a\nbc"[:4], "\n")
    with pytest.raises(ValueError, match=r"single character.*got '\\n\\n'"):
        attention_to(maps, "a\nb\nc", "\n\n")
    with pytest.raises(ValueError, match=r"'z' does not occur"):
        attention_to(maps, "a\nb\nc", "z")
    with pytest.raises(ValueError, match=r"T >= 2.*got T=1"):
        previous_token_score(torch.ones(2, 1, 1))


# --------------------------------------------------------------------------- a tiny model


TEXT = "\nhe was fair.\nshe was kind.\nthe king is old!\n"


@pytest.fixture(scope="module")
def tok() -> CharTokenizer:
    return CharTokenizer().fit(TEXT)


@pytest.fixture()
def model(tok: CharTokenizer) -> TransformerLM:
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=tok.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.3)
    return TransformerLM(config).train()  # in training mode: dropout would change every number if it were left on


def _brute_force(model: TransformerLM, tok: CharTokenizer, context: str, continuation: str) -> float:
    """log p(continuation | context), one token and one forward pass at a time, in eval mode."""
    ids, total = tok.encode(context), 0.0
    model.eval()
    with torch.no_grad():
        for k in tok.encode(continuation):
            logits = model(torch.tensor([ids]))[0][0, -1].double()
            total += float(F.log_softmax(logits, -1)[k])
            ids.append(k)
    model.train()
    return total


def test_continuation_log_probs_equal_token_by_token(model: TransformerLM, tok: CharTokenizer) -> None:
    conts = [" fair", " kind", " o", " is old!", " fair", "s", " the king", "."]
    want = [_brute_force(model, tok, "\nhe was", c) for c in conts]
    seen: list[tuple[bool, bool]] = []  # (gradients on, training) during each forward pass
    model.register_forward_hook(lambda m, i, o: seen.append((torch.is_grad_enabled(), m.training)))
    for batch_size in (1, 2, 256):
        got = continuation_log_probs(model, tok, "\nhe was", conts, batch_size=batch_size)
        assert got.dtype == np.float64 and got.shape == (len(conts),)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
    # five lengths (5, 2, 8, 1, 9 tokens; three of 5): 8 passes at batch_size 1, 6 at 2, 5 at 256; each in eval
    # mode without gradients, and the model is back in training mode
    assert len(seen) == 8 + 6 + 5 and set(seen) == {(False, False)} and model.training
    # the same numbers on a model in eval mode, and the mode is kept
    model.eval()
    np.testing.assert_allclose(continuation_log_probs(model, tok, "\nhe was", conts), want, rtol=0, atol=1e-5)
    assert not model.training


def test_continuation_log_probs_are_log_probabilities(model: TransformerLM, tok: CharTokenizer) -> None:
    # the one-token continuations exhaust the vocabulary: their probabilities sum to one
    every = [tok.id_to_token(i) for i in range(4, tok.vocab_size)]
    one = continuation_log_probs(model.eval(), tok, "\nhe", every)
    with torch.no_grad():
        logits = model(torch.tensor([tok.encode("\nhe")]))[0][0, -1].double()
    assert math.exp(float(torch.logsumexp(logits[4:], 0) - torch.logsumexp(logits, 0))) == pytest.approx(
        np.exp(one).sum(), abs=1e-6)
    assert (one < 0).all()


def test_continuation_log_probs_length_limit(model: TransformerLM, tok: CharTokenizer) -> None:
    context = "\nhe was fair"  # 12 tokens; block_size 16: the model reads context + continuation less one
    fits = continuation_log_probs(model, tok, context, [" kind"])  # 12 + 5 - 1 = 16 positions read
    assert fits[0] == pytest.approx(_brute_force(model, tok, context, " kind"), abs=1e-5)
    with pytest.raises(ValueError, match=r"context \(12 tokens\) and continuations\[1\] = ' kind!' \(6 tokens\) "
                                         r"make 18 tokens.*17 > its context of 16.*at most 11 tokens"):
        continuation_log_probs(model, tok, context, [" kind", " kind!"])
    # a bigram model reads any length: no limit
    torch.manual_seed(0)
    bigram = BigramLM(tok.vocab_size)
    long = continuation_log_probs(bigram, tok, TEXT * 3, [" fair"])
    assert long[0] == pytest.approx(5 * -math.log(tok.vocab_size))  # a fresh bigram model is uniform


def test_continuation_log_probs_errors(model: TransformerLM, tok: CharTokenizer) -> None:
    with pytest.raises(ValueError, match=r"context '' encodes to no tokens.*'\\n' \+ context"):
        continuation_log_probs(model, tok, "", [" fair"])
    with pytest.raises(TypeError, match=r"list of strings, got str.*\[continuation\]"):
        continuation_log_probs(model, tok, "\nhe", " fair")
    with pytest.raises(ValueError, match=r"continuations is empty"):
        continuation_log_probs(model, tok, "\nhe", [])
    with pytest.raises(ValueError, match=r"continuations\[1\] = '' encodes to no tokens"):
        continuation_log_probs(model, tok, "\nhe", [" fair", ""])
    with pytest.raises(TypeError, match=r"continuations\[1\] must be a str, got int"):
        continuation_log_probs(model, tok, "\nhe", [" fair", 3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match=r"context must be a str"):
        continuation_log_probs(model, tok, None, [" fair"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"batch_size must be >= 1, got 0"):
        continuation_log_probs(model, tok, "\nhe", [" fair"], batch_size=0)
    with pytest.raises(TypeError, match=r"tokenizer must have an encode"):
        continuation_log_probs(model, "abc", "\nhe", [" fair"])
    with pytest.raises(TypeError, match=r"model must be one of the course's language models.*got str"):
        continuation_log_probs("gpt", tok, "\nhe", [" fair"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"'Z'"):  # the tokenizer's own error names the unknown character
        continuation_log_probs(model, tok, "\nhe", [" Zed"])
    assert model.training


def test_pronoun_preference(model: TransformerLM, tok: CharTokenizer) -> None:
    got = pronoun_preference(model, tok, ["fair", "kind", "old"])
    assert list(got) == ["fair", "kind", "old"]
    for w, v in got.items():
        want = _brute_force(model, tok, "\nhe was", " " + w) - _brute_force(model, tok, "\nshe was", " " + w)
        assert v == pytest.approx(want, abs=1e-5)
    custom = pronoun_preference(model, tok, ["old"], template="the {pronoun} is {word}", pronouns=("king", "he"),
                                prefix=".")
    want = _brute_force(model, tok, ".the king is", " old") - _brute_force(model, tok, ".the he is", " old")
    assert custom["old"] == pytest.approx(want, abs=1e-5)
    glued = pronoun_preference(model, tok, ["s"], template="{pronoun}{word}", prefix="\n")
    assert glued["s"] == pytest.approx(_brute_force(model, tok, "\nhe", "s") - _brute_force(model, tok, "\nshe", "s"),
                                       abs=1e-5)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"template": "{word} was {pronoun}"}, ValueError, r"end with \{word\}"),
    ({"template": "{pronoun} was"}, ValueError, r"contain \{pronoun\} once and end with \{word\}"),
    ({"template": "{pronoun} {pronoun} {word}"}, ValueError, r"contain \{pronoun\} once"),
    ({"template": "{pronoun} {x} {word}"}, ValueError, r"no other fields"),
    ({"template": "{pronoun} {word"}, ValueError, r"not a valid format string"),
    ({"template": 3}, TypeError, r"template must be a str"),
    ({"pronouns": ("he", "he")}, ValueError, r"two different non-empty strings.*\('he', 'he'\)"),
    ({"pronouns": ["he", "she"]}, ValueError, r"tuple of two"),
    ({"pronouns": ("he", "she", "it")}, ValueError, r"tuple of two"),
    ({"prefix": None}, TypeError, r"prefix must be a str"),
    ({"words": "fair"}, TypeError, r"non-empty list of strings.*got str"),
    ({"words": []}, TypeError, r"non-empty list of strings"),
    ({"words": ["fair", " "]}, ValueError, r"words\[1\] = ' '"),
    ({"words": ["fair", "kind", "fair"]}, ValueError, r"'fair' more than once"),
])
def test_pronoun_preference_errors(model: TransformerLM, tok: CharTokenizer, kwargs: dict, error: type,
                                   match: str) -> None:
    kwargs = {"words": ["fair"], **kwargs}
    with pytest.raises(error, match=match):
        pronoun_preference(model, tok, **kwargs)


# --------------------------------------------------------------------------- MLP neurons


def test_mlp_activations_equal_the_blocks_own_layers(model: TransformerLM, tok: CharTokenizer) -> None:
    idx = torch.tensor([tok.encode(TEXT[:12]), tok.encode(TEXT[12:24])])
    acts = mlp_activations(model, idx)
    assert model.training and len(acts) == 2 and all(a.shape == (2, 12, 64) and not a.requires_grad for a in acts)
    model.eval()
    with torch.no_grad():
        x = model.tok_emb(idx) + model.pos_emb[:12]
        for block, got in zip(model.blocks, acts, strict=True):
            x = x + block.attn(block.ln1(x), is_causal=True)[0]
            hidden = F.gelu(block.mlp[0](block.ln2(x)))
            torch.testing.assert_close(got, hidden)
            x = x + block.mlp[2](hidden)
    assert all(not block.mlp[1]._forward_hooks for block in model.blocks)


def test_mlp_activations_remove_their_hooks_on_error(model: TransformerLM, tok: CharTokenizer) -> None:
    def fail(*_: object) -> None:
        raise RuntimeError("boom")

    handle = model.ln_f.register_forward_hook(fail)
    with pytest.raises(RuntimeError, match="boom"):
        mlp_activations(model, torch.tensor([tok.encode("\nhe")]))
    handle.remove()
    assert model.training and all(not block.mlp[1]._forward_hooks for block in model.blocks)


def test_mlp_activations_errors(model: TransformerLM, tok: CharTokenizer) -> None:
    with pytest.raises(TypeError, match=r"must be a TransformerLM.*got BigramLM"):
        mlp_activations(BigramLM(5), torch.zeros(1, 3, dtype=torch.long))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"17 positions, more than the model's block_size 16"):
        mlp_activations(model, torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"idx\[None\]"):
        mlp_activations(model, torch.zeros(5, dtype=torch.long))
