"""Tests of ``lmcourse.checkpoints`` and the shipped reference checkpoints.

Round trips give bit-identical outputs for every model class; a failed save leaves nothing behind; a wrong
checksum, a foreign class name, a mismatched tensor set or a file that is not safetensors is refused with a
message that says so; nothing is unpickled. Each shipped checkpoint loads, has its manifest's checksum and
size, and reproduces its recorded validation loss on the Shakespeare validation split.
"""

from __future__ import annotations

import json
import math
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

REFERENCES = ["lstm_shakespeare", "mlp_shakespeare", "transformer_shakespeare"]


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
    return batches.windows(chars.encode(sh.valid), 64)


@pytest.mark.parametrize("name", REFERENCES)
def test_reference_reproduces_its_validation_loss(name: str, shakespeare_valid: tuple[torch.Tensor, torch.Tensor]
                                                  ) -> None:
    entry = checkpoints.reference_info(name)
    file = checkpoints.folder() / entry["file"]
    assert data.sha256_of(file) == entry["sha256"] and file.stat().st_size == entry["bytes"]
    model = checkpoints.reference(name)
    assert type(model).__name__ == entry["class"]
    assert checkpoints.load_info(file)["valid_loss_nats"] == entry["valid_loss_nats"]
    nats = evaluate(model, *shakespeare_valid)
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
    assert curve["loss_nats"][0] > 4.0 > 2.0 > curve["loss_nats"][-1]  # from about ln 70 = 4.25 down
