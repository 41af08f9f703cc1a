"""Tests of ``lmcourse.classify``: the n-gram classifier on a toy corpus whose answer is known, the bag of n-grams,
the Transformer passage classifier (shapes, padding, training), their error messages, and the held-out
pre-training text."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmcourse import classify, data
from lmcourse import tokenize as tk
from lmcourse.train import train
from lmcourse.transformer import TransformerConfig, TransformerLM

TOY = {"a": ("ab" * 10 + "\n") * 30, "b": ("cd" * 10 + "\n") * 30}


# --------------------------------------------------------------------------- the n-gram classifier


def test_ngram_classifier_on_a_toy_corpus_whose_answer_is_known() -> None:
    clf = classify.NgramClassifier(order=3).fit(TOY)
    assert clf.labels == ["a", "b"] and clf.tokenizer.vocab_size == 4 + 5  # the specials, then \n a b c d
    passages = ["abab", "cdc", "bab", "dcdcd", "abcdcd"]
    assert clf.predict(passages) == ["a", "b", "a", "b", "b"]
    ll = clf.log_likelihoods(passages)
    assert ll.shape == (5, 2) and np.all(ll < 0)
    assert ll[0, 0] > -1.5 and ll[0, 1] < -8  # "abab" is likely under "a", unlikely under "b"
    per = clf.log_likelihoods(passages, per_char=True)
    np.testing.assert_allclose(per, ll / np.array([4, 3, 3, 5, 6])[:, None])


def test_each_passage_is_scored_on_its_own_after_a_newline() -> None:
    """Batched scores equal each passage's own score: ln P of its characters after "\\n" under the label's model,
    with no context from the passage scored before it."""
    texts = {"x": "the cat sat on the mat.\nthe dog sat.\n" * 20, "y": "a bird flew over the sea.\n" * 20}
    clf = classify.NgramClassifier(order=4, smoothing="kneser-ney").fit(texts)
    passages = ["the cat sat.", "a dog flew", "sea bird"]
    batch = clf.log_likelihoods(passages)
    for i, passage in enumerate(passages):
        np.testing.assert_allclose(clf.log_likelihoods([passage])[0], batch[i], rtol=1e-12)
        for j, label in enumerate(clf.labels):
            ids = clf.tokenizer.encode("\n" + passage)
            np.testing.assert_allclose(clf.models[label].log_probs(ids)[1:].sum(), batch[i, j], rtol=1e-12)


def test_ngram_classifier_scores_unknown_characters_as_unk_and_refuses_bad_input() -> None:
    clf = classify.NgramClassifier(order=2).fit(TOY)
    assert clf.predict(["ababz"]) == ["a"]  # "z" was in no label's text: scored as <unk>, which no model has seen
    assert np.isfinite(clf.log_likelihoods(["z", "zz"])).all()
    with pytest.raises(ValueError, match=r"passage 1 is '', empty or only whitespace"):
        clf.predict(["ab", ""])
    with pytest.raises(TypeError, match=r"not a single str.*\[passage\]"):
        clf.predict("abab")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got no passages"):
        clf.predict([])
    with pytest.raises(RuntimeError, match="not fitted yet"):
        classify.NgramClassifier().predict(["ab"])
    with pytest.raises(ValueError, match=r"two labels or more, got only \['a'\]"):
        classify.NgramClassifier().fit({"a": "abab"})
    with pytest.raises(ValueError, match="the text of label 'b' is empty"):
        classify.NgramClassifier().fit({"a": "abab", "b": " "})
    with pytest.raises(TypeError, match="a dict from each label to its training text"):
        classify.NgramClassifier().fit(["abab", "cdcd"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="MLE gives an unseen character probability 0"):
        classify.NgramClassifier(smoothing="mle")
    with pytest.raises(ValueError, match="needs the special token '<bos>'"):
        classify.NgramClassifier().fit(TOY, tk.CharTokenizer(specials=("<pad>", "<unk>")).fit("abcd\n"))


def test_label_ids_refuses_a_label_never_seen() -> None:
    assert classify.label_ids(["b", "a", "b"], ["a", "b"]).tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match=r"the labels \['c'\] are not among the classes \['a', 'b'\]"):
        classify.label_ids(["a", "c"], ["a", "b"])


# --------------------------------------------------------------------------- the bag of n-grams


def test_bag_of_word_ngrams_counts_known_features() -> None:
    bag = classify.BagOfNgrams(n=(1, 2), min_count=2).fit(["the cat sat", "the cat ran.", "a dog."])
    assert bag.features == [".", "cat", "the", "the cat"]  # held by 2 texts each (ties in code-point order)
    x = bag.transform(["the cat, the cat.", "a bird", "The Cat"])
    assert x.shape == (3, 4) and x.dtype == torch.float32
    expected = torch.tensor([np.log(2), np.log(3), np.log(3), np.log(3)], dtype=torch.float32)
    torch.testing.assert_close(x[0], expected / expected.norm())
    assert x[1].abs().sum() == 0 and x[2].abs().sum() == 0  # no feature in it; the case is kept
    torch.testing.assert_close(x[0].norm(), torch.tensor(1.0))


def test_bag_of_char_ngrams_and_errors() -> None:
    bag = classify.BagOfNgrams(n=(2, 3), min_count=2, analyzer="char").fit(["abc", "xabc", "ab\n c"])
    assert set(bag.features) == {"ab", "bc", "abc"} and bag.ngrams("a  b") == ["a ", " b", "a b"]
    assert bag.transform(["zabcz"]).shape == (1, 3)
    assert len(classify.BagOfNgrams(n=(1, 1), min_count=1, max_features=2).fit(["a b c a b a"]).features) == 2
    with pytest.raises(ValueError, match=r"n must be a pair \(smallest, largest\)"):
        classify.BagOfNgrams(n=(2, 1))
    with pytest.raises(ValueError, match="analyzer must be one of 'word', 'char'"):
        classify.BagOfNgrams(analyzer="words")
    with pytest.raises(ValueError, match="no n-gram is held by min_count=5"):
        classify.BagOfNgrams(min_count=5).fit(["a b", "c d"])
    with pytest.raises(RuntimeError, match="not fitted yet"):
        classify.BagOfNgrams().transform(["a"])


# --------------------------------------------------------------------------- the Transformer classifier


def tiny_lm(vocab_size: int = 12) -> TransformerLM:
    torch.manual_seed(0)
    return TransformerLM(TransformerConfig(vocab_size=vocab_size, block_size=4, n_layer=1, n_head=2, n_embd=8))


def test_encode_passages_pads_on_the_right() -> None:
    tok = tk.CharTokenizer().fit("abc ")
    x = classify.encode_passages(["ab", "c a b"], tok)
    a, b, c, space = (tok.token_to_id(s) for s in "abc ")
    assert x.tolist() == [[a, b, 0, 0, 0], [c, space, a, space, b]]
    assert classify.encode_passages(["ab", "c a b"], tok, max_len=3).shape == (2, 3)
    with pytest.raises(ValueError, match=f"pad_id={a} is the id of a character in the passages"):
        classify.encode_passages(["ab"], tok, pad_id=a)
    with pytest.raises(ValueError, match="passage 0 is ' ', empty"):
        classify.encode_passages([" "], tok)


def test_features_are_what_the_logits_multiply() -> None:
    lm = tiny_lm().eval()
    idx = torch.randint(0, 12, (2, 4), generator=torch.Generator().manual_seed(0))
    assert lm.features(idx).shape == (2, 4, 8)
    assert torch.equal(lm.features(idx) @ lm.tok_emb.weight.T, lm(idx)[0])


def test_passage_classifier_shapes_and_padding() -> None:
    lm = tiny_lm()
    model = classify.PassageClassifier(lm, n_labels=3, pad_id=0).eval()
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(1, 12, (3, 10), generator=gen)
    x[1, 6:] = 0  # a shorter passage, padded (its last chunk is partly padding)
    x[2, 3:] = 0  # one whose second and third chunks are all padding
    logits, loss = model(x)
    assert logits.shape == (3, 3) and loss is None
    more = torch.cat((x, torch.zeros(3, 7, dtype=torch.long)), dim=1)  # more padding: the same logits
    torch.testing.assert_close(model(more)[0], logits, rtol=0, atol=1e-6)
    for i in range(3):  # each row on its own, without the others' padding: the same logits
        length = int((x[i] != 0).sum())
        torch.testing.assert_close(model(x[i:i + 1, :length])[0][0], logits[i], rtol=0, atol=1e-6)
    # mean pooling by hand: the features of each chunk of 4, averaged over the real positions
    chunks = torch.cat([lm.features(x[:1, s:s + 4]) for s in range(0, 12, 4) if s < 10], dim=1)[:, :10]
    torch.testing.assert_close(model.pooled(x[:1]), chunks.mean(dim=1), rtol=0, atol=1e-6)
    targets = torch.tensor([0, 2, 1])
    torch.testing.assert_close(model(x, targets)[1], torch.nn.functional.cross_entropy(logits, targets))


def test_passage_classifier_refuses_bad_input() -> None:
    model = classify.PassageClassifier(tiny_lm(), n_labels=2, pad_id=0)
    with pytest.raises(ValueError, match="row 1 of x is all padding"):
        model(torch.tensor([[1, 2], [0, 0]]))
    with pytest.raises(ValueError, match="token id 12 .* outside the vocabulary"):
        model(torch.tensor([[1, 12]]))
    with pytest.raises(ValueError, match="pad_id=12 is not an id of the LM's vocabulary"):
        classify.PassageClassifier(tiny_lm(), n_labels=2, pad_id=12)
    with pytest.raises(TypeError, match="lm must be a TransformerLM"):
        classify.PassageClassifier(torch.nn.Linear(2, 2), n_labels=2, pad_id=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("freeze", [False, True])
def test_train_fits_a_passage_classifier(freeze: bool) -> None:
    """lmcourse.train.train takes one label id per row (y of shape (N,)); a frozen LM does not move."""
    lm = tiny_lm()
    model = classify.PassageClassifier(lm, n_labels=2, pad_id=0, freeze=freeze)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randint(1, 12, (8, 9), generator=torch.Generator().manual_seed(2))
    x[::2, 5:] = 0
    y = torch.tensor([0, 1] * 4)
    history = train(model, x, y, steps=3, batch_size=4, lr=1e-2, seed=0)
    assert history.steps == 3 and np.isfinite(history.train_loss).all()
    after = model.state_dict()
    assert not torch.equal(after["head.weight"], before["head.weight"])
    assert torch.equal(after["lm.tok_emb.weight"], before["lm.tok_emb.weight"]) == freeze
    assert all(p.requires_grad != freeze for p in lm.parameters())


# --------------------------------------------------------------------------- the held-out pre-training text


def test_source_texts_hold_out_the_passages_and_weigh_the_authors_equally() -> None:
    texts = classify.source_texts("train")
    assert list(texts) == ["shakespeare", "austen", "kjv"]
    passages = classify.heldout_passages()
    assert len(passages) == 360
    for text in texts.values():
        assert sum(data.occurrences(text, passages)) == 0
    sizes = [len(t) for t in texts.values()]
    assert max(sizes) < 1.02 * min(sizes)  # the shortest, Austen's, whole; the others thinned to about its length
    assert texts["austen"] == data.hold_out(data.splits("pride_and_prejudice").train, passages, missing="ignore")
    with pytest.raises(ValueError, match="part must be one of 'train', 'valid', 'test'"):
        classify.source_texts("training")
