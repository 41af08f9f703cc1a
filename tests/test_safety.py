"""Tests of ``lmcourse.safety``: canaries and exposure, model cards, and the crafted pickle checkpoint.

Exposure and rank on hand-computed cases; canaries distinct and reproducible; insert keeps the text's lines in
order and adds each planted line exactly as often as asked. ``candidate_log_probs`` is a distribution over the
secrets when the alphabet is the whole vocabulary, and equals a brute-force teacher-forced computation for every
candidate (Transformer, LSTM and MLP). Each reference model's card carries its recorded numbers; a missing fact is
named. The crafted checkpoint is refused by ``torch.load(weights_only=True)``, ``checkpoints.load`` and
safetensors without its payload running, and runs only in a child process.
"""

from __future__ import annotations

import collections
import math
import pickle
import string
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from lmcourse import checkpoints, safety
from lmcourse import tokenize as tk
from lmcourse.models import MLPLM, RecurrentLM
from lmcourse.transformer import TransformerConfig, TransformerLM

# --------------------------------------------------------------------------- exposure, rank, secrets


def test_exposure_by_hand() -> None:
    assert safety.exposure(1, 1024) == 10.0  # ranked first of 2**10: all 10 bits
    assert safety.exposure(4, 1024) == 8.0
    assert safety.exposure(1024, 1024) == 0.0  # ranked last
    assert safety.exposure(3, 26 ** 4) == pytest.approx(4 * math.log2(26) - math.log2(3))
    for bad_rank, n in ((0, 10), (11, 10)):
        with pytest.raises(ValueError, match="rank"):
            safety.exposure(bad_rank, n)
    with pytest.raises(TypeError, match="rank must be a whole number"):
        safety.exposure(1.0, 10)  # type: ignore[arg-type]


def test_rank_counts_only_the_strictly_more_likely() -> None:
    lp = np.array([-1.0, -3.0, -2.0, -2.0, -0.5])
    assert [safety.rank(lp, i) for i in range(5)] == [2, 5, 3, 3, 1]  # the tie at -2.0 shares rank 3
    with pytest.raises(ValueError, match=r"index must be in 0\.\.4"):
        safety.rank(lp, 5)
    with pytest.raises(ValueError, match="NaN"):
        safety.rank(np.array([0.0, np.nan]), 0)
    with pytest.raises(TypeError, match=r"pass \.numpy\(\)"):
        safety.rank(torch.tensor(lp), 0)  # type: ignore[arg-type]


def test_secret_index_is_lexicographic_order() -> None:
    assert safety.secret_index("aaaa") == 0
    assert safety.secret_index("aaab") == 1
    assert safety.secret_index("abaa") == 26 ** 2
    assert safety.secret_index("zzzz") == 26 ** 4 - 1
    assert safety.secret_index("cab", "abc") == 2 * 9 + 0 * 3 + 1
    every = ["".join(t) for t in __import__("itertools").product("xyz", repeat=3)]  # lexicographic
    assert [safety.secret_index(s, "xyz") for s in every] == list(range(27))
    with pytest.raises(ValueError, match=r"character 'A' at position 1 of secret 'bAd' is not in the alphabet"):
        safety.secret_index("bAd")


def test_canaries_are_distinct_reproducible_and_of_the_alphabet() -> None:
    a = safety.canaries(50, seed=3)
    assert a == safety.canaries(50, seed=3) and a != safety.canaries(50, seed=4)
    assert len(set(a)) == 50 and all(len(s) == 4 and set(s) <= set(string.ascii_lowercase) for s in a)
    every = safety.canaries(9, length=2, alphabet="ab" + "c", seed=0)  # all of them: still distinct
    assert sorted(every) == sorted(x + y for x in "abc" for y in "abc")
    with pytest.raises(ValueError, match=r"n=10 distinct secrets.*more than exist \(3\*\*2 = 9\)"):
        safety.canaries(10, length=2, alphabet="abc", seed=0)
    with pytest.raises(ValueError, match="each character once"):
        safety.canaries(1, alphabet="aab", seed=0)


def test_insert_keeps_every_line_in_order_and_adds_each_exactly_repeats_times() -> None:
    text = "".join(f"line {i}\n" for i in range(40))
    planted = {safety.CANARY_PREFIX + "qzkf": 5, safety.CANARY_PREFIX + "abcd": 3, "never": 0}
    out = safety.insert(text, planted, seed=1)
    assert out == safety.insert(text, planted, seed=1) and out != safety.insert(text, planted, seed=2)
    lines = out.split("\n")
    assert [line for line in lines if line.startswith("line ")] == text.split("\n")[:-1]  # all, in order
    assert lines.count(safety.CANARY_PREFIX + "qzkf") == 5 and lines.count(safety.CANARY_PREFIX + "abcd") == 3
    assert "never" not in lines and len(lines) == 40 + 8 + 1
    assert out.endswith("\n") and not out.startswith(safety.CANARY_PREFIX)  # only just after a "\n"
    positions = {i for i, line in enumerate(lines) if line.startswith(safety.CANARY_PREFIX)}
    assert len(positions) > 3  # spread out, not in one block
    no_end = safety.insert("a\nb", {"x": 2}, seed=0)  # the one boundary is after "a\n"
    assert no_end == "a\nx\nx\nb"
    assert safety.insert(text, {"control": 0}, seed=1) == text  # a repeat count of 0 inserts nothing
    assert "count of 0 inserts nothing" in " ".join((safety.insert.__doc__ or "").split())


@pytest.mark.parametrize(("text", "lines", "error", "match"), [
    ("a\nb\n", {"x\ny": 1}, ValueError, "holds a line break"),
    ("a\nb\n", {"x": -1}, ValueError, "must be >= 0, got -1"),
    ("a\nb\n", {"x": 2.0}, TypeError, "must be a whole number >= 0, got 2.0"),
    ("a\nb\n", {"x": True}, TypeError, "must be a whole number >= 0, got True"),
    ("one line", {"x": 1}, ValueError, "no line boundary"),
    ("a\nb\n", ["x"], TypeError, "lines must be a dict"),
])
def test_insert_refuses_bad_input(text: str, lines: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        safety.insert(text, lines, seed=0)


# --------------------------------------------------------------------------- candidate_log_probs


def _brute_force(model: torch.nn.Module, tok: Any, prefix: str, length: int, alphabet: str) -> np.ndarray:
    """log p(secret | prefix) for every secret, teacher-forced: one full forward pass per candidate."""
    import itertools

    model.eval()
    out = []
    with torch.no_grad():
        for chars in itertools.product(alphabet, repeat=length):
            ids = torch.tensor([tok.encode(prefix + "".join(chars))])
            logp = model(ids[:, :-1])[0][0].double().log_softmax(-1)
            targets = ids[0, len(prefix):]
            out.append(float(logp[len(prefix) - 1:].gather(1, targets[:, None]).sum()))
    return np.array(out)


def _models(V: int) -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    models: dict[str, torch.nn.Module] = {
        "transformer": TransformerLM(TransformerConfig(vocab_size=V, block_size=16, n_layer=2, n_head=2, n_embd=16)),
        "lstm": RecurrentLM(V, embed_dim=8, hidden=12, cell="lstm"),
        "mlp": MLPLM(V, context=12, embed_dim=4, hidden=8),
    }
    with torch.no_grad():  # sharper than the initial near-uniform model, so that wrong sums show
        for model in models.values():
            for p in model.parameters():
                p.mul_(4.0)
    return models


@pytest.mark.parametrize("kind", ["transformer", "lstm", "mlp"])
def test_candidate_log_probs_is_a_distribution_and_equals_brute_force(kind: str) -> None:
    tok = tk.CharTokenizer(specials=()).fit("abc")  # the alphabet is the whole vocabulary
    model = _models(3)[kind]
    model.train()
    lp = safety.candidate_log_probs(model, tok, "cab", length=3, alphabet="abc", batch_size=4)  # several batches
    assert model.training  # its mode given back
    assert lp.shape == (27,) and lp.dtype == np.float64
    assert math.isclose(float(np.exp(lp).sum()), 1.0, abs_tol=1e-9)
    np.testing.assert_allclose(lp, _brute_force(model, tok, "cab", 3, "abc"), atol=1e-5, rtol=0)
    assert lp.std() > 0.5  # not near uniform: a wrong order of candidates would show


def test_candidate_log_probs_over_part_of_the_vocabulary() -> None:
    tok = tk.CharTokenizer().fit("the secret code is abcdefgh\n")  # 4 specials, space, letters, "\n"
    model = _models(tok.vocab_size)["transformer"]
    lp = safety.candidate_log_probs(model, tok, "code is ", length=2, alphabet="dcb")
    np.testing.assert_allclose(lp, _brute_force(model, tok, "code is ", 2, "dcb"), atol=1e-5, rtol=0)
    assert 0 < np.exp(lp).sum() < 1  # the model could write other characters too


def test_candidate_log_probs_refuses_a_canary_longer_than_the_context() -> None:
    tok = tk.CharTokenizer(specials=()).fit("abc")
    model = _models(3)["transformer"]  # block_size 16
    with pytest.raises(ValueError, match=r"a canary longer than the context: the prefix's 14 tokens and a secret of "
                                         r"length 4 need 17 positions, but the model reads at most 16"):
        safety.candidate_log_probs(model, tok, "ab" * 7, length=4, alphabet="abc")
    safety.candidate_log_probs(model, tok, "ab" * 7, length=3, alphabet="abc")  # 16 positions: fits
    with pytest.raises(ValueError, match=r"^prefix character 'z' at position 2 of 'abz' is not in the tokenizer's "
                                         r"vocabulary \(the 3 characters it was fitted on\); use a prefix of "
                                         r"characters it knows\.$"):
        safety.candidate_log_probs(model, tok, "abz", length=2, alphabet="abc")
    with pytest.raises(ValueError, match="prefix must be a non-empty str"):
        safety.candidate_log_probs(model, tok, "", length=2, alphabet="abc")
    unk = tk.CharTokenizer(unk=True).fit("abc")  # "<unk>" standing in for "z" is refused too
    with pytest.raises(ValueError, match="does not know every character of the alphabet character 'z'"):
        safety.candidate_log_probs(_models(unk.vocab_size)["lstm"], unk, "ab", length=2, alphabet="az")


def test_candidate_log_probs_names_the_argument_of_an_unknown_character() -> None:
    """An alphabet or prefix character the tokenizer was not fitted on is a ValueError that names the argument and
    the character, not the tokenizer's UnknownTokenError (whose remedies, refit it or unk=True, do not apply)."""
    tok = tk.CharTokenizer().fit(safety.CANARY_PREFIX + string.ascii_lowercase)  # 4 specials, space and a-z
    model = _models(tok.vocab_size)["lstm"]
    with pytest.raises(ValueError, match=r"^alphabet character '0' is not in the tokenizer's vocabulary \(the 27 "
                                         r"characters it was fitted on\); use characters it knows, e\.g\. "
                                         r"string\.ascii_lowercase\.$") as caught:
        safety.candidate_log_probs(model, tok, safety.CANARY_PREFIX, length=2, alphabet="0123456789")
    assert not isinstance(caught.value, tk.UnknownTokenError)
    with pytest.raises(ValueError, match=r"^prefix character 'P' at position 4 of 'the PIN is ' is not in the "
                                         r"tokenizer's vocabulary \(the 27 characters it was fitted on\); use a "
                                         r"prefix of characters it knows, e\.g\. CANARY_PREFIX\.$") as caught:
        safety.candidate_log_probs(model, tok, "the PIN is ", length=2, alphabet="ab")
    assert not isinstance(caught.value, tk.UnknownTokenError)
    safety.candidate_log_probs(model, tok, safety.CANARY_PREFIX, length=2, alphabet="ab")  # known ones: fine


# --------------------------------------------------------------------------- model cards

REFERENCES = checkpoints.available()


@pytest.mark.parametrize("name", REFERENCES)
def test_model_card_carries_the_recorded_facts(name: str) -> None:
    entry = checkpoints.reference_info(name)
    card = safety.model_card(name, metrics={"test bits per char": 2.4567891})
    for section in ("Model details", "Intended use", "Out of scope", "Training data", "Evaluation",
                    "Limitations and biases", "How it was made", "Provenance"):
        assert f"\n## {section}\n" in card
    for fact in (entry["valid_bits_per_char"], entry["valid_loss_nats"], entry["steps"], entry["seed"],
                 entry["wall_seconds"], entry["sha256"], entry["command"], entry["machine"], entry["torch"],
                 entry["card"]["intended_use"], entry["card"]["out_of_scope"], *entry["card"]["limitations"],
                 *[entry[k] for k in ("valid_scoring",) if k in entry]):  # how validation was scored
        assert str(fact) in card, fact
    assert "Public domain" in card  # the licence, from the datasheet
    assert "| test bits per char (measured by the caller) | 2.45679 |" in card
    model = checkpoints.reference(name)
    assert f"{sum(p.numel() for p in model.parameters()):,} parameters" in card


def test_model_card_of_the_english_model_lists_every_dataset_and_what_was_held_out() -> None:
    card = safety.model_card("transformer_english")
    for dataset in ("shakespeare", "pride_and_prejudice", "kjv"):
        assert f"- **{dataset}** (trained on):" in card
    assert "- **authorship** (held out from the training text):" in card
    assert "passages: 360" in card and "in the training text after: 0" in card
    assert "Licence: Public domain (Crown patent in the UK)" in card


@pytest.mark.parametrize("field", ["valid_bits_per_char", "steps", "card", "card.limitations"])
def test_model_card_names_a_missing_fact(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = checkpoints.reference_info

    def without(name: str) -> dict[str, Any]:
        entry = dict(real(name))
        if "." in field:
            outer, inner = field.split(".")
            entry[outer] = {k: v for k, v in entry[outer].items() if k != inner}
        else:
            del entry[field]
        return entry

    monkeypatch.setattr(checkpoints, "reference_info", without)
    with pytest.raises(safety.ModelCardError, match=rf"the record of model 'mlp_shakespeare' has no '{field}'.*"
                                                    r"checkpoints/manifest\.json"):
        safety.model_card("mlp_shakespeare")


def test_model_card_of_an_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(checkpoints.CheckpointError, match=r"unknown checkpoint 'mlp_shakespear'.*lstm_shakespeare"):
        safety.model_card("mlp_shakespear")
    with pytest.raises(TypeError, match="metric 'bpc' must be a finite number"):
        safety.model_card("mlp_shakespeare", metrics={"bpc": float("nan")})


def test_model_card_leaves_the_random_streams_alone() -> None:
    state = torch.get_rng_state()
    safety.model_card("transformer_shakespeare")  # builds the model to count its parameters
    assert torch.equal(state, torch.get_rng_state())


def test_retraining_keeps_the_hand_written_card() -> None:
    from train_reference import keep_written_by_hand  # tools/ is on pytest's pythonpath

    old = {"steps": 10, "card": {"authors": "the course"}, "valid_loss_nats": 2.0}
    assert keep_written_by_hand(old, {"steps": 20, "valid_loss_nats": 1.5}) == {
        "steps": 20, "valid_loss_nats": 1.5, "card": {"authors": "the course"}}
    assert keep_written_by_hand(None, {"steps": 20}) == {"steps": 20}
    assert keep_written_by_hand({"steps": 10}, {"steps": 20}) == {"steps": 20}


# --------------------------------------------------------------------------- the crafted pickle checkpoint


@pytest.fixture
def crafted(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "marker"
    return safety.crafted_checkpoint(tmp_path / "crafted.pt", marker), marker


def test_pickle_globals_names_the_payload_without_running_it(crafted: tuple[Path, Path]) -> None:
    path, marker = crafted
    found = safety.pickle_globals(path)
    assert (open.__module__, open.__name__) == ("io", "open") and found[-1] == ("io", "open")
    assert ("torch._utils", "_rebuild_tensor_v2") in found and not marker.exists()


def test_pickle_globals_follows_stack_global_through_the_memo(tmp_path: Path) -> None:
    path = tmp_path / "p4.pkl"  # protocol 4: STACK_GLOBAL, and the second 'collections' is a BINGET of the memo
    path.write_bytes(pickle.dumps([collections.OrderedDict, collections.Counter, collections.OrderedDict], protocol=4))
    assert safety.pickle_globals(path) == [("collections", "OrderedDict"), ("collections", "Counter")]
    old = tmp_path / "old.pt"  # torch's pre-zip format: several pickles in a row, then raw bytes
    torch.save({"w": torch.ones(2), "f": collections.Counter}, old, _use_new_zipfile_serialization=False)
    assert ("collections", "Counter") in safety.pickle_globals(old)
    (tmp_path / "text.txt").write_text("not a pickle\n")
    with pytest.raises(ValueError, match="neither a zip archive"):
        safety.pickle_globals(tmp_path / "text.txt")


def test_weights_only_refuses_it_in_process_and_nothing_runs(crafted: tuple[Path, Path]) -> None:
    path, marker = crafted
    with pytest.raises(pickle.UnpicklingError, match=r"Unsupported global: GLOBAL io\.open"):
        torch.load(path, weights_only=True)
    assert not marker.exists()


def test_checkpoints_load_refuses_it_without_unpickling(crafted: tuple[Path, Path],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path, marker = crafted

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("checkpoints.load unpickled something")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse)
    with pytest.raises(checkpoints.CheckpointError, match=r"not a readable safetensors file .* It is a zip archive, "
                                                          r"as torch\.save writes: a pickle inside"):
        checkpoints.load(path)
    assert not marker.exists()


def test_safetensors_refuses_it(crafted: tuple[Path, Path]) -> None:
    from safetensors.torch import load_file

    path, marker = crafted
    with pytest.raises(Exception, match="header"):
        load_file(str(path))
    assert not marker.exists()


def test_only_an_unrestricted_load_in_a_child_process_runs_it(crafted: tuple[Path, Path]) -> None:
    path, marker = crafted
    with pytest.raises(FileExistsError, match="exists already"):
        safety.crafted_checkpoint(path.with_name("again.pt"), path)  # an existing marker would prove nothing
    assert not marker.exists()  # (weights_only=True is refused in-process above: one child, torch imports slowly)
    ran = safety.load_in_subprocess(path, weights_only=False)
    assert ran.returncode == 0 and ran.stdout == "loaded a dict: weight, extra\n"
    assert marker.is_file() and marker.stat().st_size == 0
