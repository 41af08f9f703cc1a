"""Tests of ``lmcourse.checkpoints`` and the shipped reference checkpoints.

Round trips give bit-identical outputs for every model class; a failed save leaves nothing behind; a wrong
checksum, a foreign class name, a mismatched tensor set or a file that is not safetensors is refused with a
message that says so; nothing is unpickled. Each shipped checkpoint loads, has its manifest's checksum and
size, and reproduces its recorded validation loss on the Shakespeare validation split.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from lmcourse import batches, checkpoints, data
from lmcourse import tokenize as tk
from lmcourse.models import MLPLM, BigramLM, RecurrentLM
from lmcourse.train import evaluate

V = 11
MODELS: dict[str, tuple[type[torch.nn.Module], dict[str, Any]]] = {
    "bigram": (BigramLM, {"vocab_size": V}),
    "mlp": (MLPLM, {"vocab_size": V, "context": 3, "embed_dim": 4, "hidden": 8}),
    "lstm": (RecurrentLM, {"vocab_size": V, "embed_dim": 5, "hidden": 6, "num_layers": 2, "cell": "lstm"}),
    "rnn": (RecurrentLM, {"vocab_size": V, "embed_dim": 5, "hidden": 6, "cell": "rnn"}),
    "torch-lstm": (RecurrentLM, {"vocab_size": V, "embed_dim": 5, "hidden": 6, "cell": "torch-lstm"}),
}


def build(kind: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    cls, config = MODELS[kind]
    torch.manual_seed(0)
    model = cls(**config)
    with torch.no_grad():  # the bigram starts at zeros: give every model weights worth comparing
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    return model, config


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_round_trip_is_bit_identical(kind: str, tmp_path: Path) -> None:
    model, config = build(kind)
    info = {"seed": 0, "note": "round trip"}
    path = checkpoints.save(model, tmp_path / "m.safetensors", config, info)
    loaded = checkpoints.load(path)
    assert type(loaded) is type(model) and not loaded.training
    idx = torch.randint(0, V, (3, 7), generator=torch.Generator().manual_seed(1))
    model.eval()
    assert torch.equal(model(idx)[0], loaded(idx)[0])
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    assert checkpoints.load_info(path) == info
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]  # no temporary file left


def test_loading_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, config = build("lstm")
    path = checkpoints.save(model, tmp_path / "m.safetensors", config, {})

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a checkpoint load unpickled something")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse)
    checkpoints.load(path, sha256=data.sha256_of(path))


def test_a_failed_save_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safetensors.torch

    def broken(tensors: dict[str, torch.Tensor], filename: str, metadata: dict[str, str]) -> None:
        Path(filename).write_bytes(b"half a file")
        raise KeyboardInterrupt  # an interruption mid-write

    model, config = build("mlp")
    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save(model, tmp_path / "m.safetensors", config, {})
    assert list(tmp_path.iterdir()) == []


def test_a_failed_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import safetensors.torch

    model, config = build("mlp")
    path = checkpoints.save(model, tmp_path / "m.safetensors", config, {"version": 1})
    before = path.read_bytes()
    monkeypatch.setattr(safetensors.torch, "save_file", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        checkpoints.save(model, path, config, {"version": 2})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


def test_a_wrong_checksum_is_refused(tmp_path: Path) -> None:
    model, config = build("bigram")
    path = checkpoints.save(model, tmp_path / "m.safetensors", config, {})
    actual = data.sha256_of(path)
    with pytest.raises(checkpoints.CheckpointError, match=rf"(?s){re.escape(str(path))}.*{actual}.*{'0' * 64}.*"
                                                           r"git checkout"):
        checkpoints.load(path, sha256="0" * 64)
    with pytest.raises(ValueError, match="64 lower-case hex digits"):
        checkpoints.load(path, sha256="ABC")


def _save_raw(path: Path, tensors: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata={"config": json.dumps(config), "info": "{}"})


def test_an_unknown_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.safetensors"
    _save_raw(path, {"w": torch.zeros(2)}, {"class": "Sequential"})
    with pytest.raises(checkpoints.CheckpointError, match="'Sequential'.*BigramLM, MLPLM, RecurrentLM"):
        checkpoints.load(path)
    _save_raw(path, {"w": torch.zeros(2)}, {"vocab_size": 3})  # no class at all
    with pytest.raises(checkpoints.CheckpointError, match="model class None"):
        checkpoints.load(path)
    with pytest.raises(TypeError, match="save\\(\\) stores models of the classes"):
        checkpoints.save(torch.nn.Linear(2, 2), tmp_path / "x.safetensors", {}, {})


def test_missing_metadata_bad_arguments_and_wrong_tensors_are_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "m.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(checkpoints.CheckpointError, match="no valid 'config'"):
        checkpoints.load(path)
    _save_raw(path, {"w": torch.zeros(2)}, {"class": "BigramLM", "vocab_size": -1})
    with pytest.raises(checkpoints.CheckpointError, match="cannot build BigramLM"):
        checkpoints.load(path)
    _save_raw(path, {"w": torch.zeros(2)}, {"class": "BigramLM", "vocab_size": 3})
    with pytest.raises(checkpoints.CheckpointError, match=r"missing \['table.weight'\], unexpected \['w'\]"):
        checkpoints.load(path)
    _save_raw(path, {"table.weight": torch.zeros(4, 4)}, {"class": "BigramLM", "vocab_size": 3})
    with pytest.raises(checkpoints.CheckpointError, match="does not fit BigramLM"):
        checkpoints.load(path)


def test_a_file_that_is_not_safetensors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, path)  # a pickle
    with pytest.raises(checkpoints.CheckpointError, match="not a readable safetensors file.*never opens"):
        checkpoints.load(path)
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint file"):
        checkpoints.load(tmp_path / "absent.safetensors")


def test_unknown_reference_names_the_known_ones() -> None:
    with pytest.raises(checkpoints.CheckpointError, match="'lstm_shakespear'.*mlp_shakespeare.*Did you mean "
                                                          "'lstm_shakespeare'"):
        checkpoints.reference("lstm_shakespear")
    with pytest.raises(TypeError, match="a checkpoint name is a str"):
        checkpoints.reference_info(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the shipped references

REFERENCES = ["lstm_shakespeare", "mlp_shakespeare", "transformer_english", "transformer_shakespeare"]
#: The references trained on Shakespeare with CharTokenizer().fit(data.splits("shakespeare").train).
SHAKESPEARE = [name for name in REFERENCES if name.endswith("_shakespeare")]


def test_the_manifest_lists_the_references() -> None:
    assert checkpoints.available() == REFERENCES
    readme = (checkpoints.folder() / "README.md").read_text(encoding="utf-8")
    for name in REFERENCES:
        entry = checkpoints.reference_info(name)
        assert entry["seed"] == 0 and entry["scale"] == "laptop" and entry["command"].startswith("python tools/")
        assert entry["bytes"] < 4_000_000  # "a few MB at most"
        assert entry["sha256"] in readme and f"{entry['valid_bits_per_char']:.4f}" in readme


@pytest.fixture(scope="module")
def shakespeare_valid() -> tuple[torch.Tensor, torch.Tensor]:
    sh = data.splits("shakespeare")
    chars = tk.CharTokenizer().fit(sh.train)
    return batches.scoring_windows(chars.encode(sh.valid), 64)  # as chapter 08 scores them against the n-gram


@pytest.mark.parametrize("name", SHAKESPEARE)
def test_reference_reproduces_its_validation_loss(name: str, shakespeare_valid: tuple[torch.Tensor, torch.Tensor]
                                                  ) -> None:
    entry = checkpoints.reference_info(name)
    file = checkpoints.folder() / entry["file"]
    assert data.sha256_of(file) == entry["sha256"] and file.stat().st_size == entry["bytes"]
    model = checkpoints.reference(name)
    assert type(model).__name__ == entry["class"]
    assert checkpoints.load_info(file)["valid_loss_nats"] == entry["valid_loss_nats"]
    assert entry["valid_scoring"].startswith("scoring_windows(64)")
    nats = evaluate(model, *shakespeare_valid)
    assert abs(nats - entry["valid_loss_nats"]) < 1e-4
    assert abs(entry["valid_bits_per_char"] - entry["valid_loss_nats"] / math.log(2)) < 1e-5


def test_transformer_english_never_read_a_heldout_passage_and_reproduces_its_validation_loss() -> None:
    """Chapter 11 fine-tunes transformer_english to tell authors apart: its pre-training text (rebuilt here as the
    manifest says) holds none of the authorship validation and test passages, and its tokeniser is the recorded one."""
    from lmcourse import classify

    entry = checkpoints.reference_info("transformer_english")
    file = checkpoints.folder() / entry["file"]
    assert data.sha256_of(file) == entry["sha256"] and file.stat().st_size == entry["bytes"] < 3_000_000
    assert entry["tokenizer"] == "CharTokenizer(unk=True).fit(lmcourse.classify.pretraining_corpus().train)"
    corpus = classify.pretraining_corpus()
    chars = tk.CharTokenizer(unk=True).fit(corpus.train)
    assert "".join(chars.vocab.itos[4:]) == entry["tokenizer_symbols"]  # type: ignore[union-attr]
    assert chars.vocab.itos == tk.CharTokenizer(unk=True).fit(entry["tokenizer_symbols"]).vocab.itos  # type: ignore
    assert entry["corpus_chars"] == {"train": len(corpus.train), "valid": len(corpus.valid)}
    assert entry["held_out"] == {"passages": 360, "in_the_training_parts_before": 155 + 165,
                                 "in_the_training_text_after": 0}
    assert sum(data.occurrences(corpus.train, classify.heldout_passages())) == 0
    assert entry["dataset_sha256"] == {name: data.info(name)["sha256"]
                                       for name in ("shakespeare", "pride_and_prejudice", "kjv", "authorship")}
    model = checkpoints.reference("transformer_english")
    assert model.vocab_size == chars.vocab_size and checkpoints.load_info(file)["valid_loss_nats"] == entry[
        "valid_loss_nats"]
    nats = evaluate(model, *batches.windows(chars.encode(corpus.valid), 64))
    assert abs(nats - entry["valid_loss_nats"]) < 1e-4
    assert abs(entry["valid_bits_per_char"] - entry["valid_loss_nats"] / math.log(2)) < 1e-5


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_keeps_its_validation_curve(name: str) -> None:
    curve = checkpoints.reference_info(name)["valid_curve"]
    entry = checkpoints.reference_info(name)
    assert curve["steps"][0] == 0 and curve["steps"][-1] == entry["steps"] and len(curve["steps"]) == 21
    assert len(curve["loss_nats"]) == len(curve["steps"]) and curve["tokens_per_step"] == 64 * entry["training"][
        "batch_size"]
    assert abs(curve["loss_nats"][-1] - entry["valid_loss_nats"]) < 1e-5  # the last point is the final model
    assert curve["loss_nats"][0] > 4.0 > 2.0 > curve["loss_nats"][-1]  # from about ln V (ln 70 = 4.25) down


# --------------------------------------------------------------------------- training states (chapter 09)


def _state_parts(seed: int = 0) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.Generator, Any]:
    from lmcourse.train import AdamW, History

    model, _ = build("lstm")
    optimizer = AdamW(model.parameters(), lr=1e-2)
    idx = torch.randint(0, V, (2, 5), generator=torch.Generator().manual_seed(seed))
    model(idx)[0].sum().backward()
    optimizer.step()
    generator = torch.Generator().manual_seed(seed)
    torch.randint(0, 10, (3,), generator=generator)
    history = History(train_loss=[2.5, 2.25], grad_norm=[1.0, 0.75], eval_steps=[0], valid_loss=[2.6], seconds=0.5,
                      resumed_from=1)
    return model, optimizer, generator, history


def test_a_training_states_size_does_not_depend_on_the_runs_wall_time(tmp_path: Path) -> None:
    """Chapter 09 prints a damaged file's byte count: it must be the same whatever the run's seconds were."""
    import dataclasses

    model, optimizer, generator, history = _state_parts()
    sizes = set()
    for seconds in (0.5, 3.25, 123.456789123, 7.000000001):
        path = tmp_path / f"run{seconds}.safetensors"
        checkpoints.save_state(path, model, optimizer, step=2, generator=generator,
                               history=dataclasses.replace(history, seconds=seconds))
        sizes.add(path.stat().st_size)
        assert abs(checkpoints.load_state(path, model, optimizer).history.seconds - seconds) < 1e-6
    assert len(sizes) == 1, sizes


def test_a_training_state_round_trips_everything(tmp_path: Path) -> None:
    import random

    import numpy as np

    model, optimizer, generator, history = _state_parts()
    path = tmp_path / "run.safetensors"
    random.seed(5)
    np.random.seed(6)
    torch.manual_seed(7)
    checkpoints.save_state(path, model, optimizer, step=2, generator=generator, history=history, extra={"a": [1]},
                           best={"w": torch.ones(2)})
    expected = (random.random(), np.random.rand(), torch.rand(1), torch.rand(1, generator=generator))
    assert checkpoints.state_step(path) == 2
    fresh, _ = build("lstm")
    with torch.no_grad():
        for p in fresh.parameters():
            p.zero_()
    from lmcourse.train import AdamW

    opt = AdamW(fresh.parameters(), lr=1e-2)
    state = checkpoints.load_state(path, fresh, opt)
    assert (random.random(), np.random.rand()) == expected[:2] and torch.equal(torch.rand(1), expected[2])
    assert torch.equal(torch.rand(1, generator=state.generator), expected[3])
    assert state.step == 2 and state.extra == {"a": [1]} and torch.equal(state.best["w"], torch.ones(2))
    assert (state.history.train_loss, state.history.valid_loss, state.history.seconds) == ([2.5, 2.25], [2.6], 0.5)
    assert state.history.resumed_from == 1  # kept, as the run that wrote it had resumed
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(model.parameters(), fresh.parameters()):
        sa, sb = optimizer.state[a], opt.state[b]
        assert sa["step"] == sb["step"] == 1 and torch.equal(sa["exp_avg"], sb["exp_avg"])
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)  # a tuple again after JSON


def test_loading_a_training_state_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, optimizer, generator, history = _state_parts()
    path = checkpoints.save_state(tmp_path / "run.safetensors", model, optimizer, step=1, generator=generator,
                                  history=history)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a training state load unpickled something")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse)
    checkpoints.load_state(path, model, optimizer)


def _saved_twice(tmp_path: Path) -> tuple[Path, Path, torch.nn.Module, torch.optim.Optimizer]:
    model, optimizer, generator, history = _state_parts()
    path = tmp_path / "run.safetensors"
    checkpoints.save_state(path, model, optimizer, step=10, generator=generator, history=history)
    checkpoints.save_state(path, model, optimizer, step=20, generator=generator, history=history)
    return path, tmp_path / "run.prev.safetensors", model, optimizer


def test_each_save_keeps_the_previous_state_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path, prev, model, optimizer = _saved_twice(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.prev.safetensors", "run.safetensors"]
    assert checkpoints.state_step(path) == 20 and checkpoints.state_step(prev) == 10
    assert checkpoints.load_state(prev, model, optimizer).step == 10


def test_an_interrupted_save_leaves_both_states_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, prev, model, optimizer = _saved_twice(tmp_path)
    before = path.read_bytes(), prev.read_bytes()
    real = os.replace

    def killed(src: object, dst: object) -> None:
        if Path(str(dst)) == path:
            raise KeyboardInterrupt  # between keeping the previous state and renaming the new one into place
        real(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    _, _, generator, history = _state_parts()
    with pytest.raises(KeyboardInterrupt):
        checkpoints.save_state(path, model, optimizer, step=30, generator=generator, history=history)
    monkeypatch.undo()
    assert path.read_bytes() == before[0] and checkpoints.state_step(path) == 20  # never missing, never torn
    assert checkpoints.state_step(prev) == 20  # the previous one is now the current one's copy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.prev.safetensors", "run.safetensors"]


@pytest.mark.parametrize("cut", ["0", "4", "8", "header", "header-end", "payload", "last-byte"])
def test_a_truncated_state_is_refused_with_sizes_and_the_previous_state(cut: str, tmp_path: Path) -> None:
    path, prev, model, optimizer = _saved_twice(tmp_path)
    blob = path.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    at = {"0": 0, "4": 4, "8": 8, "header": 8 + n // 2, "header-end": 8 + n, "payload": 8 + n + 100,
          "last-byte": len(blob) - 1}[cut]
    path.write_bytes(blob[:at])
    expected = {"0": r"has 0 bytes, fewer than the 8", "4": "has 4 bytes, fewer than the 8",
                "8": rf"has 8 bytes, but its header alone promises {8 + n}",
                "header": rf"has {at} bytes, but its header alone promises {8 + n}",
                "header-end": rf"has {at} bytes, but its header promises {len(blob)} \({len(blob) - at} missing\)",
                "payload": rf"has {at} bytes, but its header promises {len(blob)}",
                "last-byte": rf"has {at} bytes, but its header promises {len(blob)} \(1 missing\)"}[cut]
    with pytest.raises(checkpoints.CheckpointError, match=rf"(?s)^the training state {path} is damaged: truncated: it "
                                                          rf"{expected}.*{prev} \(step 10\) is intact: resume from "
                                                          rf"it by copying or renaming it to {path}"):
        checkpoints.load_state(path, model, optimizer)
    if cut in ("0", "4", "8", "header"):
        with pytest.raises(checkpoints.CheckpointError, match="truncated"):
            checkpoints.state_step(path)


def test_any_changed_byte_is_refused(tmp_path: Path) -> None:
    path, prev, model, optimizer = _saved_twice(tmp_path)
    blob = path.read_bytes()
    n = int.from_bytes(blob[:8], "little")
    offsets = sorted({*range(0, len(blob), max(1, len(blob) // 150)), 3, 8, 8 + n - 1, 8 + n, len(blob) - 1})
    for at in offsets:
        damaged = bytearray(blob)
        damaged[at] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(checkpoints.CheckpointError, match=rf"{path} is damaged: .*{prev} \(step 10\)"):
            checkpoints.load_state(path, model, optimizer)
    damaged = bytearray(blob)
    damaged[-5] ^= 0xFF  # a weight's byte
    path.write_bytes(bytes(damaged))
    with pytest.raises(checkpoints.CheckpointError, match="checksum mismatch"):
        checkpoints.load_state(path, model, optimizer)


def test_verify_state_gives_the_step_of_a_whole_file_and_refuses_a_cut_one(tmp_path: Path) -> None:
    path, prev, model, optimizer = _saved_twice(tmp_path)
    before = [p.detach().clone() for p in model.parameters()]
    assert checkpoints.verify_state(path) == 20 and checkpoints.verify_state(prev) == 10
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(checkpoints.CheckpointError, match=rf"(?s)truncated.*{prev} \(step 10\) is intact"):
        checkpoints.verify_state(path)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # nothing was loaded


def test_a_damaged_state_without_a_good_previous_one_says_so(tmp_path: Path) -> None:
    path, prev, model, optimizer = _saved_twice(tmp_path)
    path.write_bytes(path.read_bytes()[:-1])
    prev.write_bytes(prev.read_bytes()[:-1])
    with pytest.raises(checkpoints.CheckpointError, match=r"The previous state .* is damaged too; delete"):
        checkpoints.load_state(path, model, optimizer)
    prev.unlink()
    with pytest.raises(checkpoints.CheckpointError, match=r"There is no previous state \(run\.prev\.safetensors\) to "
                                                          r"go back to; delete .* to start over"):
        checkpoints.load_state(path, model, optimizer)


def test_a_missing_state_and_the_wrong_kind_of_file_are_named(tmp_path: Path) -> None:
    model, optimizer, generator, history = _state_parts()
    with pytest.raises(checkpoints.CheckpointError, match=r"no training state at .*nothing\.safetensors; check"):
        checkpoints.load_state(tmp_path / "nothing.safetensors", model, optimizer)
    with pytest.raises(checkpoints.CheckpointError, match=r"no training state at .*\(yet\?\)"):
        checkpoints.state_step(tmp_path / "nothing.safetensors")
    weights = checkpoints.save(model, tmp_path / "model.safetensors", MODELS["lstm"][1], {})
    for read in (lambda: checkpoints.load_state(weights, model, optimizer), lambda: checkpoints.state_step(weights)):
        with pytest.raises(checkpoints.CheckpointError, match=r"is a model checkpoint \(weights only, written by "
                                                              r"checkpoints\.save\), not a training state: load it"):
            read()
    state = checkpoints.save_state(tmp_path / "run.safetensors", model, optimizer, step=3, generator=generator,
                                   history=history)
    for read in (lambda: checkpoints.load(state), lambda: checkpoints.load_into(model, state)):
        with pytest.raises(checkpoints.CheckpointError, match=r"is a training state \(written by train\(\.\.\., "
                                                              r"checkpoint=\.\.\.\) to resume a run, at step 3\), not "
                                                              r"a model checkpoint"):
            read()


def test_a_state_of_another_model_or_optimizer_is_refused_before_anything_changes(tmp_path: Path) -> None:
    from lmcourse.train import AdamW

    model, optimizer, generator, history = _state_parts()
    path = checkpoints.save_state(tmp_path / "run.safetensors", model, optimizer, step=1, generator=generator,
                                  history=history)
    other, _ = build("rnn")
    with pytest.raises(checkpoints.CheckpointError, match=r"does not fit this RecurrentLM: its parameters differ"):
        checkpoints.load_state(path, other, AdamW(other.parameters()))
    mlp, _ = build("mlp")
    with pytest.raises(checkpoints.CheckpointError, match=r"the training state of a RecurrentLM, not of a MLPLM"):
        checkpoints.load_state(path, mlp, AdamW(mlp.parameters()))
    same, _ = build("lstm")
    with pytest.raises(checkpoints.CheckpointError, match=r"written with a AdamW optimizer, not a SGD"):
        checkpoints.load_state(path, same, torch.optim.SGD(same.parameters(), lr=0.1))
    rng = torch.get_rng_state()
    with pytest.raises(checkpoints.CheckpointError, match=r"another run: steps: 10 in the file, 20 now"):
        checkpoints.save_state(path, model, optimizer, step=1, generator=generator, history=history,
                               extra={"steps": 10})
        checkpoints.load_state(path, same, AdamW(same.parameters()), expect={"steps": 20})
    assert torch.equal(rng, torch.get_rng_state())


def test_differences_name_only_the_hyperparameters_that_differ() -> None:
    from lmcourse.checkpoints import _differences

    one = {"lr": 0.001, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.1}
    assert _differences({"steps": 20, "optimizer": [one]}, {"steps": 20, "optimizer": [{**one, "lr": 0.003}]}) == [
        "optimizer lr: 0.001 in the file, 0.003 now"]
    two = [one, {**one, "weight_decay": 0.0}]
    assert _differences({"optimizer": two}, {"optimizer": [one, {**one, "weight_decay": 0.0, "eps": 1e-6}]}) == [
        "optimizer group 1 eps: 1e-08 in the file, 1e-06 now"]
    assert _differences({"optimizer": two}, {"optimizer": [one]}) == [  # another number of groups: shown whole
        f"optimizer: {two!r} in the file, {[one]!r} now"]
    assert _differences({"schedule": [1.0, 0.5]}, {"schedule": None}) == ["schedule: [1.0, 0.5] in the file, None now"]


def test_a_transformer_of_another_configuration_is_named(tmp_path: Path) -> None:
    from lmcourse.train import AdamW
    from lmcourse.transformer import TransformerConfig, TransformerLM

    model = TransformerLM(TransformerConfig(vocab_size=V, block_size=8, n_layer=1, n_head=2, n_embd=8))
    _, _, generator, history = _state_parts()
    path = checkpoints.save_state(tmp_path / "t.safetensors", model, AdamW(model.parameters()), step=0,
                                  generator=generator, history=history)
    other = TransformerLM(TransformerConfig(vocab_size=V, block_size=8, n_layer=1, n_head=2, n_embd=8, dropout=0.1))
    with pytest.raises(checkpoints.CheckpointError, match=r"another configuration \(dropout: 0\.0 in the file, "
                                                          r"0\.1 now\)"):
        checkpoints.load_state(path, other, AdamW(other.parameters()))


# --------------------------------------------------------------------------- python -m lmcourse.train, killed


def test_the_command_line_run_killed_and_resumed_ends_as_an_uninterrupted_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The demonstration of chapter 09: SIGKILL mid-run (no chance to clean up), run the same command again. The
    uninterrupted run is made in this process (on one thread too) while the other one runs, to save a start-up."""
    import signal
    import subprocess
    import sys
    import time

    from lmcourse import train as train_module

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "LMCOURSE_UNDER_TEST": "1", "LMCOURSE_THREADS": "1", "PYTHONPATH": str(root)}

    def arguments(name: str) -> list[str]:
        return ["--steps", "80", "--every", "10", "--checkpoint", str(tmp_path / f"{name}.safetensors"),
                "--history", str(tmp_path / f"{name}.json")]

    command = [sys.executable, "-m", "lmcourse.train", *arguments("run")]
    killed = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state = tmp_path / "run.safetensors"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and killed.poll() is None:
        if state.exists() and checkpoints.state_step(state) >= 30:
            break
        time.sleep(0.02)
    assert killed.poll() is None, "the run ended before it could be killed"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    at = checkpoints.state_step(state)
    assert 30 <= at < 80 and not (tmp_path / "run.json").exists()
    again = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    threads = torch.get_num_threads()
    monkeypatch.setenv("LMCOURSE_UNDER_TEST", "1")
    monkeypatch.setenv("LMCOURSE_THREADS", "1")
    try:
        train_module.main(arguments("whole"))  # meanwhile, the uninterrupted run
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    stdout, stderr = again.communicate(timeout=120)
    assert out.startswith("step 80: train loss ") and out.count("\n") == 1  # a fresh run: no "resumed" line
    assert again.returncode == 0 and stderr == "" and stdout == f"resumed from step {at} of run.safetensors\n" + out
    a = json.loads((tmp_path / "whole.json").read_text(encoding="utf-8"))
    b = json.loads((tmp_path / "run.json").read_text(encoding="utf-8"))
    assert a == b and len(a["train_loss"]) == 80 and a["eval_steps"] == list(range(0, 81, 10))


def test_the_command_line_says_when_it_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from lmcourse import train as train_module

    monkeypatch.setenv("LMCOURSE_UNDER_TEST", "1")
    threads = torch.get_num_threads()
    command = ["--steps", "4", "--every", "2", "--checkpoint", str(tmp_path / "run.safetensors")]
    try:
        train_module.main(command)
        fresh = capsys.readouterr().out
        train_module.main(command)  # the file of the finished run: resumed at its last step
        again = capsys.readouterr().out
    finally:
        torch.set_num_threads(threads)
    assert fresh.startswith("step 4: train loss ") and fresh.count("\n") == 1
    assert again == "resumed from step 4 of run.safetensors\n" + fresh


def test_ctrl_c_on_the_command_line_says_how_to_resume_and_exits_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from lmcourse import train as train_module
    from lmcourse.transformer import TransformerLM

    forward, calls, stop = TransformerLM.forward, [0], [0]

    def interrupted(self: TransformerLM, *args: Any, **kwargs: Any) -> Any:  # Ctrl-C at a training step
        if self.training:
            if calls[0] == stop[0]:
                raise KeyboardInterrupt
            calls[0] += 1
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(TransformerLM, "forward", interrupted)
    monkeypatch.setenv("LMCOURSE_UNDER_TEST", "1")
    threads = torch.get_num_threads()
    path = tmp_path / "run.safetensors"
    command = ["--steps", "6", "--every", "2", "--checkpoint", str(path)]

    def exit_status() -> object:
        try:
            train_module.main(command)
        except SystemExit as exited:
            return exited.code
        except KeyboardInterrupt:  # let through, it would stop pytest itself
            pytest.fail("main() let the KeyboardInterrupt through (a traceback)")
        return None

    try:
        assert exit_status() == 130 and not path.exists()  # at step 0: nothing saved yet
        out, err = capsys.readouterr()
        assert out == "" and err == ("interrupted; no checkpoint was written yet (the first is written at step 2): "
                                     "run the same command again to start over\n")
        calls[0], stop[0] = 0, 3  # at step 3, with the state of step 2 saved
        assert exit_status() == 130
        out, err = capsys.readouterr()
        assert out == ""
        assert err == (f"interrupted; the training state of step 2 is in {path}: run the same command again to "
                       "resume (delete the file to start over)\n")
        stop[0] = -1  # no more interruptions
        assert exit_status() is None
        out, err = capsys.readouterr()
    finally:
        torch.set_num_threads(threads)
    assert out.startswith("resumed from step 2 of run.safetensors\nstep 6: train loss ") and out.count("\n") == 2
