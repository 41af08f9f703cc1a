"""The encoder-decoder of chapter 11: its masks (no future target, no padding, the source used), cross-attention
against PyTorch's, packing, greedy decoding, training with the course's loop, the dates task, the dictionary."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import date

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmcourse.batches import IGNORE_INDEX
from lmcourse.seq2seq import (
    DATE_FORMS,
    CrossAttention,
    EncoderDecoder,
    Seq2SeqConfig,
    WordDictionary,
    dates,
    greedy,
    pack,
    spell_date,
)
from lmcourse.tokenize import CharTokenizer, WordTokenizer
from lmcourse.train import evaluate, train

SMALL = dict(src_vocab=13, tgt_vocab=11, src_len=9, tgt_len=7, n_layer=2, n_head=2, n_embd=16)
PAD, BOS, EOS = 0, 1, 2


def model(seed: int = 0, **changes: object) -> EncoderDecoder:
    torch.manual_seed(seed)
    return EncoderDecoder(Seq2SeqConfig(**{**SMALL, **changes})).eval()  # type: ignore[arg-type]


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three padded sources (lengths 9, 5 and 2: the last two end in padding) and three decoder inputs."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, 13, (3, 9), generator=g)
    src[1, 5:], src[2, 2:] = PAD, PAD
    tgt = torch.randint(3, 11, (3, 7), generator=g)
    tgt[:, 0] = BOS
    return src, tgt


# --------------------------------------------------------------------------- the configuration


def test_the_parameter_count_formula_is_the_real_count() -> None:
    for changes in ({}, {"n_layer": 1, "n_embd": 8}, {"n_layer": 3, "n_head": 4, "src_vocab": 50}):
        m = model(**changes)
        assert m.config.n_params() == sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("changes, message", [
    ({"n_head": 3}, "n_embd must be divisible by n_head"),
    ({"pad_id": 11}, "pad_id must be an id of both vocabularies"),
    ({"src_len": 0}, "src_len must be >= 1"),
    ({"dropout": 1.5}, "dropout must be a probability"),
])
def test_a_bad_configuration_is_a_clear_error(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Seq2SeqConfig(**{**SMALL, **changes})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a Seq2SeqConfig"):
        EncoderDecoder(SMALL)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- cross-attention


def test_cross_attention_is_pytorchs_multihead_attention_with_a_key_padding_mask() -> None:
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_bias.normal_()  # nonzero biases, so q, k and v each use their own third
    ours = CrossAttention.from_torch(theirs)
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    keep = torch.ones(2, 7, dtype=torch.bool)
    keep[1, 4:] = False
    out, weights = ours(x, memory, keep)
    ref, ref_weights = theirs(x, memory, memory, key_padding_mask=~keep, average_attn_weights=False)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(weights, ref_weights, atol=1e-6, rtol=1e-5)
    assert weights.shape == (2, 4, 5, 7) and bool((weights[1, ..., 4:] == 0).all())


def test_cross_attention_refuses_a_mask_of_the_wrong_kind() -> None:
    attn = CrossAttention(8, 2)
    with pytest.raises(ValueError, match=r"keep must be a boolean tensor \(B, S\) = \(2, 3\)"):
        attn(torch.randn(2, 4, 8), torch.randn(2, 3, 8), torch.ones(2, 3))


# --------------------------------------------------------------------------- the masks


def test_no_decoder_position_sees_a_later_target_token() -> None:
    m, (src, tgt) = model(), batch()
    memory = m.encode(src)
    before = m.decode(memory, src, tgt)
    for t in (0, 2, 5):
        changed = tgt.clone()
        changed[:, t + 1:] = 3 + (changed[:, t + 1:] - 3 + 1 + torch.randint(0, 7, changed[:, t + 1:].shape)) % 8
        assert bool((changed[:, t + 1:] != tgt[:, t + 1:]).all())
        after = m.decode(memory, src, changed)
        torch.testing.assert_close(after[:, :t + 1], before[:, :t + 1], atol=1e-6, rtol=0)
        assert (after[:, t + 1:] - before[:, t + 1:]).abs().max() > 1e-4  # the later positions did change


def test_padding_in_the_source_changes_nothing() -> None:
    m, (src, tgt) = model(), batch()
    before = m.decode(m.encode(src), src, tgt)
    # whatever the encoder writes at the padded positions is never read ...
    memory = m.encode(src)
    noisy = memory.clone()
    noisy[src == PAD] = torch.randn(int((src == PAD).sum()), 16) * 100
    torch.testing.assert_close(m.decode(noisy, src, tgt), before, atol=1e-6, rtol=0)
    # ... so the padding token's embedding does not matter ...
    with torch.no_grad():
        m.src_emb.weight[PAD] = torch.randn(16) * 100
    torch.testing.assert_close(m.decode(m.encode(src), src, tgt), before, atol=1e-6, rtol=0)
    # ... and neither does how much padding a source gets: row 2 alone, unpadded, gives its logits
    alone = m.decode(m.encode(src[2:, :2]), src[2:, :2], tgt[2:])
    torch.testing.assert_close(alone, before[2:], atol=1e-6, rtol=0)
    torch.testing.assert_close(m.encode(src[1:2, :5]), m.encode(src)[1:2, :5], atol=1e-6, rtol=0)


def test_every_real_source_token_is_read_by_the_decoder() -> None:
    m, (src, tgt) = model(), batch()
    before = m.decode(m.encode(src), src, tgt)
    for b, s in ((0, 0), (0, 8), (1, 4), (2, 1)):  # the first and the last real token of rows
        changed = src.clone()
        changed[b, s] = 3 + (changed[b, s] - 3 + 5) % 10
        after = m.decode(m.encode(changed), changed, tgt)
        assert (after[b] - before[b]).abs().max() > 1e-4, (b, s)
        others = [r for r in range(3) if r != b]
        torch.testing.assert_close(after[others], before[others], atol=1e-6, rtol=0)


def test_cross_attention_weights_are_zero_on_padding_and_each_row_sums_to_one() -> None:
    m, (src, tgt) = model(), batch()
    m.train()
    maps = m.cross_attention(src, tgt)
    assert m.training  # the mode is put back
    assert len(maps) == 2
    for w in maps:
        assert w.shape == (3, 2, 7, 9) and not w.requires_grad
        assert bool((w.masked_select((src == PAD)[:, None, None, :]) == 0).all())
        assert bool((w[1, :, :, 5:] == 0).all()) and bool((w[2, :, :, 2:] == 0).all())
        assert bool((w[:, :, :, :2] > 0).all())
        torch.testing.assert_close(w.sum(-1), torch.ones(3, 2, 7))


# --------------------------------------------------------------------------- forward, pack and the loss


def test_pack_lays_out_source_decoder_input_and_targets() -> None:
    cfg = Seq2SeqConfig(**SMALL)  # type: ignore[arg-type]
    x, y = pack([([5, 6, 7], [8, 9]), ([12], [])], cfg, BOS, EOS)
    assert x.dtype == y.dtype == torch.long and x.shape == y.shape == (2, 9 + 7)
    I = IGNORE_INDEX  # noqa: E741
    assert x.tolist() == [[5, 6, 7, 0, 0, 0, 0, 0, 0, BOS, 8, 9, 0, 0, 0, 0],
                          [12, 0, 0, 0, 0, 0, 0, 0, 0, BOS, 0, 0, 0, 0, 0, 0]]
    assert y.tolist() == [[I] * 9 + [8, 9, EOS, I, I, I, I],
                          [I] * 9 + [EOS, I, I, I, I, I, I]]


@pytest.mark.parametrize("pairs, message", [
    ([([3] * 4, [3]), ([3] * 10, [3])], r"pairs_ids\[1\]: its source has 10 tokens, more than src_len=9; build the "
                                        r"config with src_len >= 10"),
    ([([3], [3] * 7)], r"pairs_ids\[0\]: its target has 7 tokens, and with <bos> the decoder input would have 8, "
                       r"more than tgt_len=7; build the config with tgt_len >= 8"),
    ([([3], [3]), ([], [3])], r"pairs_ids\[1\] has an empty source"),
    ([([3, 0, 4], [3])], r"pairs_ids\[0\]: its source holds pad_id=0 at position 1"),
    ([([3, 13], [3])], r"pairs_ids\[0\]: its source holds id 13, outside 0 \.\. 12"),
    ([([3], [11])], r"pairs_ids\[0\]: its target holds id 11, outside 0 \.\. 10"),
])
def test_pack_names_the_pair_that_does_not_fit(pairs: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pack(pairs, Seq2SeqConfig(**SMALL), BOS, EOS)  # type: ignore[arg-type]


def test_forward_gives_the_decoders_logits_after_the_source_and_the_mean_loss_of_the_targets() -> None:
    m = model()
    x, y = pack([([5, 6, 7], [8, 9]), ([12, 4], [3, 4, 5, 6, 7, 8])], m.config, BOS, EOS)
    logits, loss = m(x, y)
    assert logits.shape == (2, 16, 11)
    assert bool((logits[:, :9] == 0).all())  # no prediction under the source
    src, tgt_in = x[:, :9], x[:, 9:]
    torch.testing.assert_close(logits[:, 9:], m.decode(m.encode(src), src, tgt_in))
    real = y[:, 9:] != IGNORE_INDEX
    assert int(real.sum()) == 3 + 7
    expected = F.cross_entropy(logits[:, 9:][real], y[:, 9:][real])
    torch.testing.assert_close(loss, expected)
    assert m(x)[1] is None
    bad = y.clone()
    bad[0, 0] = 4
    with pytest.raises(ValueError, match=r"targets\[:, :src_len\] must all be IGNORE_INDEX"):
        m(x, bad)


def test_bad_input_is_a_clear_error() -> None:
    m, (src, tgt) = model(), batch()
    wrong = src.clone()
    wrong[1, 2] = 13
    with pytest.raises(ValueError, match=r"token id 13 at src\[1, 2\] is outside the vocabulary of size 13"):
        m.encode(wrong)
    with pytest.raises(ValueError, match=r"src row 2 is all padding \(pad_id=0\)"):
        m.encode(torch.cat([src[:2], torch.zeros(1, 9, dtype=torch.long)]))
    with pytest.raises(ValueError, match="src has 10 positions, but the model reads at most src_len=9"):
        m.encode(torch.full((1, 10), 4))
    with pytest.raises(ValueError, match=r"token id 11 at tgt_in\[0, 3\]"):
        m.decode(m.encode(src), src, tgt.index_fill(1, torch.tensor([3]), 11))
    with pytest.raises(ValueError, match=r"memory must be what encode\(src\) returns"):
        m.decode(m.encode(src)[:, :4], src, tgt)
    with pytest.raises(ValueError, match=r"x must be torch.cat\(\[src, tgt_in\], dim=1\) of shape \(B, src_len \+ T\)"):
        m(src)
    with pytest.raises(TypeError, match="must hold integer token ids"):
        m.encode(src.float())


# --------------------------------------------------------------------------- greedy decoding


def test_greedy_stops_each_row_at_eos_and_strips_bos_and_eos(monkeypatch: pytest.MonkeyPatch) -> None:
    m = model()
    script = {5: [7, 8, EOS, 9], 6: [EOS], 7: [4, 4, 4, 4, 4, 4, 4]}  # the next tokens, by the source's first id
    calls = []

    def decode(memory: torch.Tensor, keep: torch.Tensor, tgt: torch.Tensor) -> tuple[torch.Tensor, list]:
        calls.append(tgt.shape[1])
        assert bool((tgt[:, 0] == BOS).all())
        logits = torch.zeros(tgt.shape[0], tgt.shape[1], 11)
        for b, first in enumerate(m._first):
            logits[b, -1, script[first][min(tgt.shape[1] - 1, len(script[first]) - 1)]] = 1.0
        return logits, []

    monkeypatch.setattr(m, "_decode", decode)
    m._first = [5, 6, 7]  # type: ignore[attr-defined]
    assert greedy(m, [[5, 3], [6], [7, 3, 3]], BOS, EOS, max_len=5) == [[7, 8], [], [4, 4, 4, 4, 4]]
    assert calls == [1, 2, 3, 4, 5]  # row 3 never ends: max_len steps
    calls.clear()
    m._first = [5, 6]  # type: ignore[attr-defined]
    assert greedy(m, torch.tensor([[5, 3], [6, 0]]), BOS, EOS, max_len=7) == [[7, 8], []]
    assert calls == [1, 2, 3]  # every row has ended after three steps
    m._first = [6]  # type: ignore[attr-defined]
    assert greedy(m, [6, 3], BOS, EOS, max_len=7) == [[]]
    with pytest.raises(ValueError, match="max_len=8 is more than tgt_len=7"):
        greedy(m, [6], BOS, EOS, max_len=8)


# --------------------------------------------------------------------------- training on the dates task


@pytest.fixture(scope="module")
def trained() -> tuple[EncoderDecoder, WordTokenizer, CharTokenizer, list[tuple[str, str]]]:
    """A small model trained a little (about 2 s) on dates, with word tokens for the source."""
    torch.manual_seed(0)
    pairs = dates(1200, seed=0)
    src_tok = WordTokenizer().fit("\n".join(s for s, _ in pairs))
    tgt_tok = CharTokenizer().fit("".join(t for _, t in pairs))
    assert src_tok.token_to_id("<pad>") == tgt_tok.token_to_id("<pad>") == 0
    ids = [(src_tok.encode(s), tgt_tok.encode(t)) for s, t in pairs]
    cfg = Seq2SeqConfig(src_vocab=src_tok.vocab_size, tgt_vocab=tgt_tok.vocab_size, src_len=16, tgt_len=11,
                        n_layer=1, n_head=2, n_embd=32)
    m = EncoderDecoder(cfg)
    x, y = pack(ids, cfg, tgt_tok.token_to_id("<bos>"), tgt_tok.token_to_id("<eos>"))
    history = train(m, x[:1000], y[:1000], steps=60, batch_size=32, lr=5e-3, seed=0, valid=(x[1000:], y[1000:]),
                    eval_every=30)
    assert history.valid_loss[-1] < 0.6 * history.valid_loss[0]  # it learns
    # evaluate scores the target tokens only: the mean of the model's own loss over the held-out rows
    with torch.no_grad():
        m.eval()
        _, loss = m(x[1000:], y[1000:])
    assert history.valid_loss[-1] == pytest.approx(evaluate(m, x[1000:], y[1000:]), abs=1e-6)
    assert evaluate(m, x[1000:], y[1000:], batch_size=1000) == pytest.approx(loss.item(), rel=1e-5)
    return m, src_tok, tgt_tok, pairs[1000:]


def test_train_and_evaluate_run_the_model_unchanged(trained) -> None:  # type: ignore[no-untyped-def]
    m, *_ = trained
    assert isinstance(m, EncoderDecoder)  # the assertions are in the fixture, which trains once for the module


def test_greedy_in_a_batch_gives_what_one_at_a_time_gives(trained) -> None:  # type: ignore[no-untyped-def]
    m, src_tok, tgt_tok, held_out = trained
    bos, eos = tgt_tok.token_to_id("<bos>"), tgt_tok.token_to_id("<eos>")
    sources = [src_tok.encode(s) for s, _ in held_out[:12]]
    assert len({len(s) for s in sources}) > 1  # sources of several lengths, so the batch is padded
    together = greedy(m, sources, bos, eos, max_len=11)
    alone = [greedy(m, s, bos, eos, max_len=11)[0] for s in sources]
    assert together == alone
    assert len({tuple(t) for t in together}) > 3  # the translations depend on the source
    assert all(bos not in t and eos not in t for t in together)
    # the learner's version of exercise 11.4 is built from encode(src[None]) and decode(memory, src[None], tgt[None])
    src = torch.tensor(sources[0])
    memory, tgt = m.encode(src[None]), torch.tensor([bos])
    for _ in range(11):
        nxt = int(m.decode(memory, src[None], tgt[None])[0, -1].argmax())
        if nxt == eos:
            break
        tgt = torch.cat([tgt, torch.tensor([nxt])])
    assert tgt[1:].tolist() == together[0]


# --------------------------------------------------------------------------- the dates


_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
         "seventeen eighteen nineteen".split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_FIRST = "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth " \
         "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth".split()
_ORDINALS = {w: i + 1 for i, w in enumerate(_FIRST)}
_ORDINALS |= {f"twenty-{w}": 21 + i for i, w in enumerate(_FIRST[:9])} | {"thirtieth": 30, "thirty-first": 31}
_MONTHS = "january february march april may june july august september october november december".split()


def _number(word: str) -> int:
    if word in _UNITS:
        return _UNITS.index(word)
    tens, _, unit = word.partition("-")
    return _TENS[tens] + (_UNITS.index(unit) if unit else 0)


def _parse(text: str) -> str:
    """An independent reading of a spelled-out date, as ISO 8601."""
    words = [w for w in text.replace(",", "").lower().split() if w not in ("the", "of")]
    m = 0 if words[0] in _MONTHS else 1
    month, day, year = _MONTHS.index(words[m]) + 1, words[1 - m], words[2:]
    if day[0].isdigit():
        d = int(re.match(r"\d+", day).group())  # type: ignore[union-attr]
        assert day == f"{d}{'th' if 10 <= d <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(d % 10, 'th')}", day
    else:
        d = _ORDINALS[day]
    if len(year) == 1 and year[0].isdigit():
        y = int(year[0])
    elif year[:2] == ["nineteen", "hundred"] and len(year) == 2:
        y = 1900
    elif year[:2] == ["two", "thousand"]:
        y = 2000 + (0 if len(year) == 2 else _number(year[-1]))
        assert len(year) == 2 or year[2:-1] in ([], ["and"]), year
    else:
        century = {"nineteen": 1900, "twenty": 2000}[year[0]]
        y = century + (_UNITS.index(year[2]) if year[1] == "oh" else _number(year[1]))
        assert (year[1] == "oh") == (len(year) == 3) and (year[1] != "oh" or 1 <= y % 100 <= 9), year
        assert year[1] == "oh" or y % 100 >= 10, year
    return date(y, month, d).isoformat()  # an impossible day (31 April, 29 February 1900) raises


def test_dates_are_real_days_said_as_the_iso_form_says() -> None:
    pairs = dates(4000, seed=1)
    assert all(_parse(text) == iso for text, iso in pairs)
    isos = [iso for _, iso in pairs]
    assert len(set(isos)) == len(isos)  # no date twice: any cut of the list leaves the held-out dates unseen
    assert min(isos) >= "1900-01-01" and max(isos) <= "2099-12-31"
    assert all(date.fromisoformat(iso).isoformat() == iso for iso in isos)
    fields = {"{dth}": "[a-z-]+", "{month}": "[a-z]+", "{Month}": "[A-Z][a-z]+", "{year}": "[a-z -]+",
              "{d}{suffix}": r"\d+[a-z]{2}", "{yyyy}": r"\d{4}"}
    patterns = [re.sub("|".join(map(re.escape, fields)), lambda m: fields[m.group()], form) for form in DATE_FORMS]
    forms = Counter(next(k for k, p in enumerate(patterns) if re.fullmatch(p, text)) for text, _ in pairs)
    assert len(forms) == len(DATE_FORMS) and min(forms.values()) > 500
    years = {text.split(",")[-1].strip() for text, iso in pairs if iso.startswith("2005") and "," in text}
    assert years <= {"two thousand and five", "two thousand five", "twenty oh five"}


def test_dates_are_the_same_for_a_seed_and_leap_days_only_in_leap_years() -> None:
    assert dates(300, seed=7) == dates(300, seed=7)
    assert dates(300, seed=7) != dates(300, seed=8)
    assert spell_date(date(1987, 3, 23), 0) == "the twenty-third of march, nineteen eighty-seven"
    assert spell_date(date(1987, 3, 23), 4) == "March 23rd 1987"
    assert spell_date(date(1905, 11, 1), 1) == "first of november nineteen oh five"
    assert spell_date(date(2012, 12, 12), 5) == "the 12th of december two thousand and twelve"
    assert spell_date(date(2000, 2, 29), 3) == "february twenty-ninth, two thousand"
    assert spell_date(date(1900, 1, 31), 2) == "january the thirty-first, nineteen hundred"
    everything = dates(73_049, seed=0)  # every day of the two centuries, once
    leap = sorted(iso for _, iso in everything if iso.endswith("-02-29"))
    assert len(leap) == 49 and "1900-02-29" not in leap and "2000-02-29" in leap
    with pytest.raises(ValueError, match="n=73050 is more than the 73049 days"):
        dates(73_050, seed=0)


# --------------------------------------------------------------------------- the word-for-word dictionary


def test_the_dictionary_picks_the_target_word_of_highest_dice() -> None:
    pairs = [("The dog", "el perro"), ("the cat", "el gato"), ("a dog", "un perro"), ("a cat", "un gato"),
             ("the house", "la casa")]
    d = WordDictionary().fit(pairs)
    # dice(the, el) = 2*2/(3+2) = 0.8 beats dice(the, la) = 2*1/(3+1) = 0.5; dog -> perro with 2*2/(2+2) = 1
    assert d.translation == {"the": "el", "dog": "perro", "cat": "gato", "a": "un", "house": "casa"}
    assert d.score["the"] == pytest.approx(0.8) and d.score["house"] == 1.0  # casa and la tie: alphabetical
    assert d.translate("The dog, a cat and Rex!") == "El perro, un gato and Rex!"  # unknown words copied


def test_the_vectorised_dictionary_is_the_counting_by_hand() -> None:
    rng = random.Random(0)
    src_words, tgt_words = [f"s{i}" for i in range(30)], [f"t{i}" for i in range(25)]
    pairs = [(" ".join(rng.choices(src_words, k=rng.randint(1, 8))),
              " ".join(rng.choices(tgt_words, k=rng.randint(1, 8)))) for _ in range(200)]
    d = WordDictionary().fit(pairs)
    docs = [(set(s.split()), set(t.split())) for s, t in pairs]
    c_s, c_t = Counter(w for s, _ in docs for w in s), Counter(w for _, t in docs for w in t)
    for s in c_s:
        scores = {t: 2 * sum(s in a and t in b for a, b in docs) / (c_s[s] + c_t[t]) for t in c_t}
        best = min(scores, key=lambda t: (-scores[t], -c_t[t], t))
        assert d.translation[s] == best and d.score[s] == pytest.approx(scores[best])


def test_the_dictionary_refuses_bad_input() -> None:
    with pytest.raises(TypeError, match=r"pairs\[1\] must be a pair of str"):
        WordDictionary().fit([("a", "b"), ("a",)])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="call fit"):
        WordDictionary().translate("a")
