"""Trained models and training states saved to, and loaded from, safetensors files: never a pickle.

A checkpoint is one ``.safetensors`` file: the model's ``state_dict`` as plain tensors, plus two JSON
strings in the file's metadata: ``config`` (the model's class name and the keyword arguments that
build it) and ``info`` (anything worth keeping beside the weights: how it was trained, its scores).
Loading rebuilds the model from ``lmcourse.models`` by class name (only :data:`CLASSES` are allowed)
and copies the tensors in; nothing in the file is ever executed or unpickled, so a checkpoint from
anywhere is as safe to open as a data file.

A **training state** (chapter 09; :func:`save_state`, :func:`load_state`, :func:`state_step`) is another kind of
safetensors file: everything a run needs to go on exactly where it stopped, which ``train(...,
checkpoint=PATH)`` writes and resumes from. Its tensors are ``model.*`` (the weights), ``optim.*`` (the
optimizer's per-parameter state), ``rng.*`` (torch's generators and the batch generator, as uint8 tensors) and,
with early stopping, ``best.*``; its metadata says ``kind: training_state`` and the ``step``, and holds the rest as
JSON (the optimizer's class and hyperparameters, numpy's and Python's random states, the model's class and
configuration, the history) with the SHA-256 of the header and of every tensor byte. It is written atomically
(a temporary file, fsync'ed, renamed into place) and the previous state is kept beside it as
``<stem>.prev.safetensors``; a truncated or changed file is refused with what is wrong and the previous state to
go back to. :func:`load` on a training state, or :func:`load_state` on a model checkpoint, says which it is.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmcourse.data import sha256_of

if TYPE_CHECKING:
    import torch

    from lmcourse.train import History

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


def _pickle_hint(file: Path) -> str:
    """A sentence on what ``file`` is, if its first bytes show a torch.save zip archive or a pickle (read as bytes,
    never unpickled); else an empty string."""
    try:
        with open(file, "rb") as f:
            head = f.read(4)
    except OSError:
        return ""
    if head == b"PK\x03\x04":
        return " It is a zip archive, as torch.save writes: a pickle inside, which can run code when loaded."
    if head[:1] == b"\x80":
        return " It starts like a pickle (pickle.dump, or torch.save's old format), which can run code when loaded."
    return ""


def _metadata(file: Path) -> dict[str, str]:
    """The metadata strings of safetensors ``file``; a file that is not safetensors is a CheckpointError."""
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as err:  # safetensors raises its own SafetensorError (and OSError) for bad headers
        looks = _pickle_hint(file)
        raise CheckpointError(f"{file} is not a readable safetensors file ({err}).{looks} A checkpoint is written by "
                              "lmcourse.checkpoints.save; a torch.save (.pt) file is a pickle, which this "
                              "loader never opens.") from None


def _config(file: Path, metadata: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The class name and keyword arguments recorded in a checkpoint's metadata, checked against CLASSES."""
    if metadata.get("kind") == TRAINING_STATE:
        raise CheckpointError(f"{file} is a training state (written by train(..., checkpoint=...) to resume a run, "
                              f"at step {metadata.get('step')}), not a model checkpoint: restore it with "
                              "checkpoints.load_state(path, model, optimizer), or resume the run with "
                              "train(..., checkpoint=path). To keep the weights alone, checkpoints.save(model, ...).")
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


# --------------------------------------------------------------------------- training states (chapter 09)

#: The ``kind`` a training-state file records in its metadata (a model checkpoint records none).
TRAINING_STATE = "training_state"
#: The version of the training-state layout this module writes and reads.
STATE_FORMAT = 1


@dataclass
class TrainingState:
    """What :func:`load_state` read back besides the model's and optimizer's state (which it restores in place).

    - ``step``: the updates made so far; the run goes on with step ``step``;
    - ``generator``: a new ``torch.Generator`` holding the saved state of the batch generator;
    - ``history``: the :class:`lmcourse.train.History` so far;
    - ``extra``: the JSON dict given to :func:`save_state` (``train`` keeps its settings and early-stopping
      bookkeeping there);
    - ``best``: the tensors given as ``best=`` (``train`` keeps the best evaluation's parameters there), or None.
    """

    step: int
    generator: torch.Generator
    history: History
    extra: dict[str, Any] = field(default_factory=dict)
    best: dict[str, torch.Tensor] | None = None


def _prev(file: Path) -> Path:
    """Where the previous good training state is kept: ``run.safetensors`` -> ``run.prev.safetensors``."""
    return file.with_name(f"{file.stem}.prev{file.suffix}")


def _plain(t: torch.Tensor) -> torch.Tensor:
    """A contiguous CPU copy (safetensors stores plain buffers and refuses tensors that share memory)."""
    return t.detach().to("cpu").contiguous().clone()


def _digest(header: dict[str, Any], payload: bytes | memoryview) -> str:
    """The SHA-256 of a header (without its own ``sha256`` entry, as canonical JSON) and the tensor bytes after it.

    The header is included so that a changed number in the metadata (a loss of the history, the step) is caught
    like a changed weight."""
    import hashlib

    meta = {k: v for k, v in header.get("__metadata__", {}).items() if k != "sha256"}
    canonical = json.dumps({**header, "__metadata__": meta}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8") + bytes(payload)).hexdigest()


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); a system without directory handles (Windows) skips it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomically(target: Path, blob: bytes) -> None:
    """Write ``blob`` to ``target`` so that an interruption at any moment leaves a complete file there.

    The bytes go to a temporary file in the same folder, flushed and fsync'ed; the current ``target`` (if any) is
    kept as ``<stem>.prev<suffix>`` (a hard link, or a copy where links are not supported, renamed into place);
    then the temporary file is renamed over ``target``. Every rename replaces a complete file by a complete file,
    so ``target`` is never missing or half-written, and the previous good state survives beside it.
    """
    import shutil

    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():
            prev = _prev(target)
            prev_tmp = prev.with_name(f".{prev.name}.tmp")
            prev_tmp.unlink(missing_ok=True)
            try:
                os.link(target, prev_tmp)
            except OSError:  # no hard links here (FAT, some network drives): a copy does the same
                shutil.copyfile(target, prev_tmp)
            os.replace(prev_tmp, prev)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _json_value(value: Any, what: str) -> Any:
    """``value`` if it survives a JSON round trip as the same value (tuples become lists); else a TypeError."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must hold only JSON values (numbers, str, bools, None, lists, dicts) to go into a "
                        f"training state; {err}. (A tensor learning rate, for instance, cannot: use a float.)") \
            from None


def save_state(path: str | os.PathLike[str], model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, step: int,
               generator: torch.Generator, history: History, extra: dict[str, Any] | None = None,
               best: dict[str, torch.Tensor] | None = None) -> Path:
    """Write everything a run needs to go on exactly where it was to the safetensors file ``path``; return it.

    One file: the tensors are ``model.<name>`` (the model's ``state_dict``), ``optim.<i>.<key>`` (the optimizer's
    per-parameter state, e.g. Adam's ``exp_avg``), ``rng.torch`` and ``rng.cuda.<i>`` (torch's global generators,
    which dropout draws from), ``rng.batches`` (the batch ``generator``) and, if given, ``best.<name>``. The
    metadata holds ``kind`` (``"training_state"``), ``step``, and ``state``, a JSON string with the optimizer's class
    and hyperparameters (``param_groups``) and any non-tensor state, numpy's and Python's global random states,
    the model's class (and configuration, where it carries one), the ``history`` and ``extra`` (any JSON dict);
    and ``sha256``, the SHA-256 of the rest of the header and of every tensor byte, so that a damaged file is
    refused instead of resumed from. Nothing is pickled.

    Written atomically: the previous file at ``path`` is kept as ``<stem>.prev<suffix>`` (say
    ``run.prev.safetensors``), and ``path`` always holds a complete state, whenever the process is killed.
    """
    import random

    import numpy as np
    import torch
    from safetensors.torch import save as to_bytes

    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be the number of updates made so far, a whole number >= 0, got {step!r}.")
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be the torch.Generator that draws the batches, got "
                        f"{type(generator).__name__}.")
    extra = {} if extra is None else extra
    if not isinstance(extra, dict):
        raise TypeError(f"extra must be a dict of JSON values (or None), got {type(extra).__name__}.")
    tensors = {f"model.{key}": _plain(value) for key, value in model.state_dict().items()}
    saved = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in saved["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = _plain(value)
            else:
                scalars.setdefault(str(index), {})[key] = _json_value(value, f"the optimizer's state {key!r}")
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        for i, rng in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = rng.cpu()
    tensors["rng.batches"] = generator.get_state()
    for key, value in (best or {}).items():
        tensors[f"best.{key}"] = _plain(value)
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "model": {"class": type(model).__name__, "config": _model_config(model)},
        "optimizer": {"class": type(optimizer).__name__,
                      "param_groups": _json_value(saved["param_groups"], "the optimizer's param_groups"),
                      "scalars": scalars},
        "generator_device": str(generator.device),
        "numpy_rng": [name, [int(k) for k in keys], int(pos), int(has_gauss), float(gauss)],
        "python_rng": [version, list(internal), gauss_next],
        "history": {"train_loss": list(history.train_loss), "grad_norm": list(history.grad_norm),
                    "eval_steps": list(history.eval_steps), "valid_loss": list(history.valid_loss),
                    # fixed width, so that the file's size does not depend on how long the run took
                    "seconds": f"{history.seconds:016.6f}", "stopped_at": history.stopped_at,
                    "resumed_from": history.resumed_from},
        "extra": _json_value(extra, "extra"),
    }
    metadata = {"kind": TRAINING_STATE, "format": str(STATE_FORMAT), "step": str(step),
                "state": json.dumps(state, sort_keys=True)}
    blob = to_bytes(tensors, metadata=metadata)
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    payload = memoryview(blob)[8 + n:]
    header["__metadata__"]["sha256"] = _digest(header, payload)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # safetensors pads its header to a multiple of 8 bytes, as it does itself
    target = Path(path)
    _write_atomically(target, len(text).to_bytes(8, "little") + text + bytes(payload))
    return target


def _damaged(file: Path, problem: str) -> CheckpointError:
    """The error for a damaged training state, naming the previous state and its step if that one is intact."""
    prev = _prev(file)
    if prev.is_file():
        try:
            step = state_step(prev)
            _read_state(prev, check_prev=False)
            advice = (f"The previous state {prev} (step {step}) is intact: resume from it by copying or renaming "
                      f"it to {file}, or by passing checkpoint={str(prev)!r}.")
        except CheckpointError:
            advice = f"The previous state {prev} is damaged too; delete {file} (and {prev.name}) to start over."
    else:
        advice = f"There is no previous state ({prev.name}) to go back to; delete {file} to start over."
    return CheckpointError(f"the training state {file} is damaged: {problem}. It cannot be resumed from. {advice}")


def _header(file: Path, data: bytes, size: int, check_prev: bool = True) -> tuple[dict[str, Any], int]:
    """The parsed header of a safetensors file and its length, from (at least) the file's first bytes ``data``;
    ``size`` is the whole file's size. A header cut short or unreadable is a CheckpointError saying so."""
    def damaged(problem: str) -> CheckpointError:
        return _damaged(file, problem) if check_prev else CheckpointError(f"{file}: {problem}")

    if size < 8:
        raise damaged(f"truncated: it has {size} bytes, fewer than the 8 that give the header's length")
    n = int.from_bytes(data[:8], "little")
    if 8 + n > size:
        raise damaged(f"truncated: it has {size} bytes, but its header alone promises {8 + n}")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise damaged("its header is not valid JSON (bytes changed)") from None
    if not isinstance(header, dict) or not isinstance(header.get("__metadata__", {}), dict):
        raise damaged("its header is not a safetensors header")
    return header, n


def _kind_check(file: Path, header: dict[str, Any]) -> dict[str, str]:
    """The metadata of a training state; a model checkpoint or another file is a CheckpointError saying what it is."""
    meta = header.get("__metadata__") or {}
    if meta.get("kind") == TRAINING_STATE:
        return dict(meta)
    if "config" in meta:
        raise CheckpointError(f"{file} is a model checkpoint (weights only, written by checkpoints.save), not a "
                              "training state: load it with checkpoints.load or checkpoints.load_into. A training "
                              "state is written by train(..., checkpoint=PATH) or checkpoints.save_state.")
    raise CheckpointError(f"{file} is a safetensors file but not a training state (its metadata has no kind "
                          f"{TRAINING_STATE!r}); a training state is written by train(..., checkpoint=PATH) or "
                          "checkpoints.save_state.")


def _read_state(file: Path, check_prev: bool = True) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """The verified header, its ``state`` JSON and the whole file's bytes of a training state; anything missing,
    cut short or changed is a CheckpointError that says what and names the previous state."""
    if not file.is_file():
        prev = _prev(file)
        there = f" (the previous state {prev} exists: pass it, or rename it to {file.name})" if prev.is_file() else ""
        raise CheckpointError(f"no training state at {file}{there}; check the path.")
    data = file.read_bytes()
    header, n = _header(file, data, len(data), check_prev)
    meta = _kind_check(file, header)
    entries = [v for k, v in header.items() if k != "__metadata__"]
    try:
        end = max((int(v["data_offsets"][1]) for v in entries), default=0)
    except (TypeError, KeyError, IndexError, ValueError):
        raise (_damaged(file, "its header's tensor entries are unreadable (bytes changed)") if check_prev
               else CheckpointError(f"{file}: unreadable tensor entries")) from None
    promised = 8 + n + end
    problem = None
    if len(data) < promised:
        problem = (f"truncated: it has {len(data)} bytes, but its header promises {promised} "
                   f"({promised - len(data)} missing)")
    elif len(data) > promised:
        problem = f"it has {len(data) - promised} bytes more than its header promises ({promised})"
    elif "sha256" not in meta or _digest(header, memoryview(data)[8 + n:]) != meta["sha256"]:
        problem = ("checksum mismatch: its contents are not what was written (the SHA-256 recorded in it when it "
                   "was saved does not match)")
    if problem is not None:
        raise _damaged(file, problem) if check_prev else CheckpointError(f"{file}: {problem}")
    if meta.get("format") != str(STATE_FORMAT):
        raise CheckpointError(f"{file} is a training state of format {meta.get('format')!r}; this version of "
                              f"lmcourse reads format {STATE_FORMAT}.")
    return header, json.loads(meta["state"]), data


def state_step(path: str | os.PathLike[str]) -> int:
    """The step a training state was saved at, read from its header alone (cheap: poll it while a run trains).

    The tensors are not read nor verified (:func:`load_state` does that). A missing file, a file cut short inside
    its header, or a file that is not a training state is a :class:`CheckpointError`.
    """
    file = Path(path)
    if not file.is_file():
        raise CheckpointError(f"no training state at {file} (yet?); check the path, or wait for the run to write it.")
    size = file.stat().st_size
    with open(file, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        data = head + f.read(min(n, max(0, size - 8)))
    header, _ = _header(file, data, size)
    return int(_kind_check(file, header)["step"])


def _differences(theirs: Any, ours: Any, where: str = "") -> list[str]:
    """Each place where two JSON values differ, as ``"key: X in the file, Y now"``.

    Dicts are compared key by key (a nested key is named after its parent: ``optimizer lr``), and so are lists
    of dicts of the same length, item by item (an optimizer's param_groups: ``optimizer group 1 lr`` where there
    are several, ``optimizer lr`` where there is one), so that only what differs is shown.
    """
    if isinstance(theirs, dict) and isinstance(ours, dict):
        return [d for key in sorted(set(theirs) | set(ours), key=str)
                for d in _differences(theirs.get(key), ours.get(key), f"{where} {key}" if where else str(key))]
    if (isinstance(theirs, list) and isinstance(ours, list) and len(theirs) == len(ours) > 0
            and all(isinstance(item, dict) for item in theirs + ours)):
        return [d for i, (a, b) in enumerate(zip(theirs, ours))
                for d in _differences(a, b, where if len(ours) == 1 else f"{where} group {i}".strip())]
    return [] if theirs == ours else [f"{where or 'value'}: {theirs!r} in the file, {ours!r} now"]


def verify_state(path: str | os.PathLike[str]) -> int:
    """Check that the training state at ``path`` is whole (the sizes its header promises, and its SHA-256) and
    return its step; a missing, cut or changed file is a :class:`CheckpointError` that says what is wrong and
    names the previous state, if it is intact. Nothing is loaded or changed (:func:`load_state` restores one)."""
    file = Path(path)
    header, _, _ = _read_state(file)
    return int(_kind_check(file, header)["step"])


def load_state(path: str | os.PathLike[str], model: torch.nn.Module, optimizer: torch.optim.Optimizer, *,
               expect: dict[str, Any] | None = None) -> TrainingState:
    """Restore a training state written by :func:`save_state`: the model's parameters and the optimizer's state in
    place, and torch's, numpy's and Python's global random states; return the step, the batch generator, the
    history and the extras as a :class:`TrainingState`.

    Everything is checked before anything is changed: the file must be whole (its size is what its header promises
    and its SHA-256 matches; a damaged file is refused with a message that names the previous state
    ``<stem>.prev<suffix>`` and its step, if that one is intact), a training state (not a model checkpoint), of
    ``model``'s class and configuration with the same parameter names and shapes, and of ``optimizer``'s class with
    the same groups of parameters. ``expect``: entries of the saved ``extra`` that must be equal (``train`` passes
    its settings); each difference is named. The CUDA generators are restored only where the file has them and
    this machine has as many GPUs.
    """
    import random

    import numpy as np
    import torch
    from safetensors.torch import load as from_bytes

    from lmcourse.train import History

    file = Path(path)
    header, state, data = _read_state(file)
    name = type(model).__name__
    saved_model, saved_opt = state["model"], state["optimizer"]
    if saved_model["class"] != name:
        raise CheckpointError(f"{file} is the training state of a {saved_model['class']}, not of a {name}; build the "
                              "same model as the run that wrote it (or delete the file to start over).")
    own = _model_config(model)
    if own is not None and saved_model["config"] is not None and own != saved_model["config"]:
        diff = "; ".join(_differences(saved_model["config"], own))
        raise CheckpointError(f"{file} was written by a {name} of another configuration ({diff}); build the model "
                              "as that run did, or delete the file to start over.")
    shapes = {k[len("model."):]: v["shape"] for k, v in header.items() if k.startswith("model.")}
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    if shapes != ours:
        diff = [f"{k}: {shapes.get(k)} in the file, {ours.get(k)} in the model"
                for k in sorted(set(shapes) | set(ours)) if shapes.get(k) != ours.get(k)]
        raise CheckpointError(f"{file} does not fit this {name}: its parameters differ ({'; '.join(diff[:4])}"
                              f"{'; ...' if len(diff) > 4 else ''}); build the model as the run that wrote it did.")
    if saved_opt["class"] != type(optimizer).__name__:
        raise CheckpointError(f"{file} was written with a {saved_opt['class']} optimizer, not a "
                              f"{type(optimizer).__name__}; build the same optimizer (or delete the file to start "
                              "over).")
    groups = saved_opt["param_groups"]
    sizes = [len(g["params"]) for g in optimizer.param_groups]
    if [len(g["params"]) for g in groups] != sizes:
        raise CheckpointError(f"{file} was written by an optimizer with groups of {[len(g['params']) for g in groups]}"
                              f" parameters, this one has {sizes}; build it over the same parameters.")
    if expect is not None:
        extra = state["extra"]
        wanted = {key: _json_value(value, key) for key, value in expect.items()}
        diff = [d for key, value in wanted.items()
                for d in _differences(extra.get(key), value, "" if isinstance(value, dict) else key)]
        if diff:
            raise CheckpointError(f"{file} was written by another run: {'; '.join(diff)}. Pass the same settings "
                                  f"to resume it, or delete {file} to start over.")
    tensors = from_bytes(data)
    # -- everything checked: now restore
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    per_param: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            index, _, entry = key[len("optim."):].partition(".")
            per_param.setdefault(int(index), {})[entry] = value
    for index, entries in saved_opt["scalars"].items():
        per_param.setdefault(int(index), {}).update(entries)
    for group, current in zip(groups, optimizer.param_groups):
        for key, value in group.items():  # JSON made tuples lists: give betas etc. back their type
            if isinstance(current.get(key), tuple) and isinstance(value, list):
                group[key] = tuple(value)
    optimizer.load_state_dict({"state": per_param, "param_groups": groups})
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    name_, keys, pos, has_gauss, gauss = state["numpy_rng"]
    np.random.set_state((name_, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python_rng"]
    random.setstate((version, tuple(internal), gauss_next))
    device = state["generator_device"]
    generator = torch.Generator(device=device if device == "cpu" or torch.cuda.is_available() else "cpu")
    generator.set_state(tensors["rng.batches"])
    h = state["history"]
    history = History(train_loss=h["train_loss"], grad_norm=h["grad_norm"], eval_steps=h["eval_steps"],
                      valid_loss=h["valid_loss"], seconds=float(h["seconds"]), stopped_at=h["stopped_at"],
                      resumed_from=h.get("resumed_from"))  # absent from the files of earlier versions
    best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")} or None
    return TrainingState(step=int(header["__metadata__"]["step"]), generator=generator, history=history,
                         extra=state["extra"], best=best)
