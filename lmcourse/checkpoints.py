"""Trained models saved to, and loaded from, safetensors files: weights only, never a pickle.

A checkpoint is one ``.safetensors`` file: the model's ``state_dict`` as plain tensors, plus two JSON
strings in the file's metadata: ``config`` (the model's class name and the keyword arguments that
build it) and ``info`` (anything worth keeping beside the weights: how it was trained, its scores).
Loading rebuilds the model from ``lmcourse.models`` by class name (only :data:`CLASSES` are allowed)
and copies the tensors in; nothing in the file is ever executed or unpickled, so a checkpoint from
anywhere is as safe to open as a data file.

The reference checkpoints ship in the repository's ``checkpoints/`` folder, listed with their SHA-256
checksums in ``checkpoints/manifest.json`` (like ``datasets/manifest.json``), and are trained by
``python tools/train_reference.py``. :func:`reference` loads one by name, checksum verified::

    mlp = checkpoints.reference("mlp_shakespeare")
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmcourse.data import sha256_of

if TYPE_CHECKING:
    import torch

#: The model classes a checkpoint may name: the only ones :func:`load` will build.
CLASSES = ("BigramLM", "MLPLM", "RecurrentLM", "TransformerLM")
RESTORE_HINT = ("Restore it with `git checkout -- checkpoints/{file}`, or retrain it with "
                "`python tools/train_reference.py` (see checkpoints/README.md).")


class CheckpointError(RuntimeError):
    """A checkpoint file is unknown, missing, corrupt, or describes a model that cannot be built."""


def folder() -> Path:
    """The repository's ``checkpoints/`` folder, which holds the reference checkpoints and their manifest."""
    return Path(__file__).resolve().parent.parent / "checkpoints"


def _model_config(model: torch.nn.Module) -> dict[str, Any] | None:
    """The configuration a model carries (a TransformerLM's ``config`` dataclass) as a dict; None if it has none."""
    import dataclasses

    config = getattr(model, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) and not isinstance(config, type) else None


def _build(name: str, config: dict[str, Any]) -> torch.nn.Module:
    """A new model of class ``name`` (one of CLASSES) from its recorded arguments."""
    if name == "TransformerLM":
        from lmcourse.transformer import TransformerConfig, TransformerLM

        return TransformerLM(TransformerConfig(**config))
    from lmcourse import models

    return getattr(models, name)(**config)  # type: ignore[no-any-return]


def save(model: torch.nn.Module, path: str | os.PathLike[str], config: dict[str, Any] | None = None,
         info: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights to the safetensors file ``path``, with ``config`` and ``info`` in its metadata.

    ``config`` is the keyword arguments that rebuild the model, e.g. ``{"vocab_size": 65, "context": 8,
    "embed_dim": 16, "hidden": 128}`` for an MLPLM; the class name is added from ``model``. A model that
    carries its configuration (a TransformerLM's ``config``) needs none: ``config=None`` stores it. ``info`` is any
    JSON-able dict (how it was trained, its validation loss). The file is written to a temporary file in the
    same folder and then renamed over ``path``, so an interruption never leaves a half-written checkpoint.
    Returns ``path`` as a :class:`~pathlib.Path`.
    """
    from safetensors.torch import save_file

    name = type(model).__name__
    if name not in CLASSES:
        raise TypeError(f"save() stores models of the classes {', '.join(CLASSES)} (from lmcourse.models, "
                        f"lmcourse.transformer), got a {name}; use torch.save on a state_dict for other models.")
    own = _model_config(model)
    if config is None and own is not None:
        config = own
    elif own is not None and config != own:
        raise ValueError(f"config {config!r} is not the {name}'s own configuration {own!r}; leave config out "
                         "(None) and the model's own is stored.")
    if not isinstance(config, dict) or "class" in config:
        raise TypeError(f"config must be a dict of the keyword arguments that build the {name} (without 'class', "
                        f"which is added from the model), e.g. {{'vocab_size': 65, ...}}; got {config!r}.")
    info = {} if info is None else info
    if not isinstance(info, dict):
        raise TypeError(f"info must be a dict (or None), got {type(info).__name__}.")
    try:
        metadata = {"config": json.dumps({"class": name, **config}, sort_keys=True),
                    "info": json.dumps(info, sort_keys=True)}
    except TypeError as err:
        raise TypeError(f"config and info must hold only JSON values (str, numbers, bools, lists, dicts): {err}.") \
            from None
    target = Path(path)
    # contiguous copies on the CPU: safetensors stores plain buffers, and refuses tensors that share memory.
    tensors = {key: value.detach().to("cpu").contiguous().clone() for key, value in model.state_dict().items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _metadata(file: Path) -> dict[str, str]:
    """The metadata strings of safetensors ``file``; a file that is not safetensors is a CheckpointError."""
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as err:  # safetensors raises its own SafetensorError (and OSError) for bad headers
        raise CheckpointError(f"{file} is not a readable safetensors file ({err}). A checkpoint is written by "
                              "lmcourse.checkpoints.save; a torch.save (.pt) file is a pickle, which this "
                              "loader never opens.") from None


def _config(file: Path, metadata: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The class name and keyword arguments recorded in a checkpoint's metadata, checked against CLASSES."""
    try:
        config = json.loads(metadata["config"])
    except (KeyError, json.JSONDecodeError):
        raise CheckpointError(f"{file} has no valid 'config' in its metadata (got {metadata.get('config')!r}): it "
                              "was not written by lmcourse.checkpoints.save, which records the model's class "
                              "and arguments there.") from None
    name = config.pop("class", None) if isinstance(config, dict) else None
    if name not in CLASSES:
        raise CheckpointError(f"{file} names the model class {name!r}; a checkpoint can only build one of "
                              f"{', '.join(CLASSES)} from lmcourse.models.")
    return name, config


def load(path: str | os.PathLike[str], *, sha256: str | None = None,
         device: str | torch.device | None = None) -> torch.nn.Module:
    """The model stored in the safetensors file ``path``, rebuilt and in eval mode.

    - ``sha256``: the file's expected SHA-256 (64 hex digits); if given, a file with another checksum is refused.
    - ``device``: where to put the model (default: the CPU).

    The model class (one of :data:`CLASSES`) and its arguments come from the file's metadata; the tensors
    are read with ``safetensors.torch.load_file`` and must match the model's parameters exactly (no missing
    or unexpected names, the same shapes). Nothing is unpickled.
    """
    from safetensors.torch import load_file

    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"no checkpoint file at {file}; check the path (a .safetensors file written by "
                              "lmcourse.checkpoints.save).")
    if sha256 is not None:
        if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError(f"sha256 must be the 64 lower-case hex digits of the file's SHA-256 "
                             f"(lmcourse.data.sha256_of gives it), got {sha256!r}.")
        got = sha256_of(file)
        if got != sha256:
            raise CheckpointError(f"the checkpoint {file} is corrupt or was changed: its sha256 is {got}, but "
                                  f"{sha256} was expected. " + RESTORE_HINT.format(file=file.name))
    name, config = _config(file, _metadata(file))
    try:
        model = _build(name, config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{file}: cannot build {name}(**{config!r}) from its metadata: {err}") from None
    tensors = load_file(str(file), device="cpu")
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
    if missing or unexpected:
        raise CheckpointError(f"{file} does not hold the weights of {name}(**{config!r}): missing {missing}, "
                              f"unexpected {unexpected}. Was it saved from a model with other arguments?")
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:  # a shape mismatch
        raise CheckpointError(f"{file} does not fit {name}(**{config!r}): {err}") from None
    return model.to("cpu" if device is None else device).eval()


def load_into(model: torch.nn.Module, path: str | os.PathLike[str], *, sha256: str | None = None) -> torch.nn.Module:
    """Copy the weights of the checkpoint ``path`` into ``model``, which must be what the checkpoint was saved from.

    The checkpoint's class and configuration are compared with ``model``'s first: a mismatch is a
    CheckpointError naming each setting that differs (say, ``n_layer``: 4 in the file, 3 in the model),
    and the model is left untouched. Returns ``model``, on its device, in its mode.
    """
    loaded = load(path, sha256=sha256)
    file = Path(path)
    name, config = _config(file, _metadata(file))
    if type(model).__name__ != name:
        raise CheckpointError(f"{file} holds a {name}, not a {type(model).__name__}; build a {name} "
                              f"(or use checkpoints.load({str(file)!r}), which builds it for you).")
    own = _model_config(model)
    if own is not None and own != config:
        diff = ", ".join(f"{key}: {config.get(key)!r} in the file, {own.get(key)!r} in the model"
                         for key in sorted(set(own) | set(config)) if own.get(key) != config.get(key))
        raise CheckpointError(f"{file} was saved from a {name} of another configuration ({diff}); build the model "
                              f"with the file's configuration, or use checkpoints.load({str(file)!r}).")
    theirs, ours = loaded.state_dict(), model.state_dict()
    bad = [key for key in ours if key not in theirs or theirs[key].shape != ours[key].shape]
    if bad or set(theirs) - set(ours):
        differ = bad or sorted(set(theirs) - set(ours))
        raise CheckpointError(f"{file} does not fit this {name}: its weights differ in {differ}; was the model "
                              "built with other arguments?")
    model.load_state_dict(theirs)
    return model


def load_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``info`` dict stored in a checkpoint's metadata (without loading its tensors)."""
    file = Path(path)
    return dict(json.loads(_metadata(file).get("info", "{}")))


def manifest() -> dict[str, dict[str, Any]]:
    """The parsed ``checkpoints/manifest.json``: one entry per reference checkpoint."""
    path = folder() / "manifest.json"
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: it lists the reference checkpoints and their checksums. "
                              + RESTORE_HINT.format(file="manifest.json"))
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}). " + RESTORE_HINT.format(file="manifest.json")) \
            from None
    if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
        raise CheckpointError(f"{path} must map each checkpoint's name to its entry. "
                              + RESTORE_HINT.format(file="manifest.json"))
    return entries


def available() -> list[str]:
    """The names of the shipped reference checkpoints, sorted."""
    return sorted(manifest())


def reference_info(name: str) -> dict[str, Any]:
    """The manifest entry of reference checkpoint ``name`` (file, sha256, bytes, command, seed, steps,
    wall_seconds, valid_loss_nats, valid_bits_per_char, ...); an unknown name lists the known ones."""
    if not isinstance(name, str):
        raise TypeError(f"a checkpoint name is a str such as 'mlp_shakespeare' (see checkpoints.available()); "
                        f"got {type(name).__name__} {name!r}.")
    entries = manifest()
    if name not in entries:
        import difflib

        close = difflib.get_close_matches(name, entries, n=1)
        guess = f" Did you mean {close[0]!r}?" if close else ""
        raise CheckpointError(f"unknown checkpoint {name!r}; the known ones are: {', '.join(sorted(entries))}.{guess}")
    entry = entries[name]
    file = entry.get("file")
    if not isinstance(file, str) or Path(file).name != file or file in ("", ".", ".."):
        raise CheckpointError(f"the manifest entry of checkpoint {name!r} must name a file inside {folder()} "
                              f"(a bare file name such as 'mlp_shakespeare.safetensors'), got {file!r}.")
    return entry


def reference(name: str, device: str | torch.device | None = None) -> torch.nn.Module:
    """The shipped reference model ``name`` (see :func:`available`), its checksum verified, in eval mode."""
    entry = reference_info(name)
    file = folder() / entry["file"]
    if not file.is_file():
        raise CheckpointError(f"the file of checkpoint {name!r}, {file}, is missing. "
                              + RESTORE_HINT.format(file=entry["file"]))
    return load(file, sha256=entry["sha256"], device=device)
