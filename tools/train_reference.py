"""Train the course's laptop-scale reference models and ship them as checkpoints.

    python tools/train_reference.py [--only mlp|lstm|transformer|english] [--threads 2] [--curves-only]

Trains exactly the models that chapters 04 (section 7), 06 (section 4) and 08 train on Shakespeare's
characters at ``LMCOURSE_SCALE=laptop``, with the same seeds, data and settings, on the CPU:

- ``mlp_shakespeare``: ``MLPLM(V, context=8, embed_dim=16, hidden=128)``, 20,000 steps of 32 windows of 64
  characters, AdamW lr 3e-3, batch seed 0;
- ``lstm_shakespeare``: ``RecurrentLM(V, embed_dim=64, hidden=128, cell="lstm")``, 10,000 steps of 32
  windows, AdamW lr 3e-3, gradients clipped to norm 1.0, batch seed 0;
- ``transformer_shakespeare``: ``TransformerLM`` with ``lmcourse.transformer.RECIPES["laptop"]`` (sizes,
  dropout, steps, batch, learning rate with warm-up and cosine decay, weight decay, clipping), trained on
  every window of its context (stride 1, as nanoGPT samples), batch seed 0.

and one model that chapter 11 fine-tunes to tell authors apart:

- ``transformer_english``: ``TransformerLM`` with the sizes of ``lmcourse.transformer.RECIPES["ci"]`` (block 64,
  2 layers, 4 heads, width 96: small enough that chapter 11 fine-tunes it in seconds on one thread), trained on
  ``lmcourse.classify.pretraining_corpus().train``: the training parts of ``shakespeare``,
  ``pride_and_prejudice`` and ``kjv`` with every ``authorship`` validation and test passage held out
  (``data.hold_out``), each thinned to the same length (about 590,000 characters: a third per author), joined
  by blank lines; tokeniser ``CharTokenizer(unk=True).fit(that text)``; 2,500 steps of 64 windows of 64
  characters at every offset (stride 1, batch seed 0), AdamW lr 3e-3, 100 warm-up steps then a cosine decay to
  3e-4, weight decay 0.1, gradients clipped to norm 1.0, no dropout. Scored on
  ``pretraining_corpus().valid`` (windows of 64). Trained with ``--threads 1``, under ``nice``.

The validation loss is measured 20 times along the way (``train(valid=...)``, which draws no random
numbers and changes no weight) and kept in the manifest as ``valid_curve``, for chapter 08's plot of
validation loss against training compute. ``--curves-only`` re-runs a recipe only to record that curve
for a checkpoint trained before curves were kept: it refuses to touch the manifest unless the re-run's
weights are bit for bit the shipped file's (so the curve is that model's), and keeps the entry's
original wall time.

``torch.manual_seed(0)`` is set before each model is built, as the notebooks do. Each is scored on the
validation split with ``lmcourse.train.evaluate``: the Shakespeare models on
``batches.scoring_windows(valid, 64)`` (every target once, each past the first window with at least 32
characters of context, as chapter 08 scores every model against the n-gram), ``transformer_english`` on
non-overlapping windows of 64 (``valid_scoring`` in the entry says which). Each is saved to
``checkpoints/<name>.safetensors`` with ``lmcourse.checkpoints.save``, and its entry in
``checkpoints/manifest.json`` (the command, seed, steps, wall time, threads, torch version, validation loss,
sha256, size) is rewritten, keeping its hand-written ``card`` (the model card's intended use and
limitations); other entries are kept.
Chapter 08 loads them with ``lmcourse.checkpoints.reference(name)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from lmcourse import batches, checkpoints, classify, data, env
from lmcourse import tokenize as tk
from lmcourse.models import MLPLM, RecurrentLM
from lmcourse.train import cosine_schedule, evaluate, train
from lmcourse.transformer import RECIPES as TRANSFORMER_RECIPES
from lmcourse.transformer import TransformerConfig, TransformerLM

SEED = 0
CONTEXT = 64  # characters per training and scoring window, as in chapters 04, 06 and 08
CURVE_POINTS = 20  # validation losses measured along each run
#: name -> (class, constructor keywords without vocab_size, training keywords)
RECIPES: dict[str, tuple[type[torch.nn.Module], dict[str, Any], dict[str, Any]]] = {
    "mlp": (MLPLM, {"context": 8, "embed_dim": 16, "hidden": 128},
            {"steps": 20_000, "batch_size": 32, "lr": 3e-3}),
    "lstm": (RecurrentLM, {"embed_dim": 64, "hidden": 128, "cell": "lstm"},
             {"steps": 10_000, "batch_size": 32, "lr": 3e-3, "optimizer": "adamw", "clip": 1.0}),
    "transformer": (TransformerLM, TRANSFORMER_RECIPES["laptop"][0], TRANSFORMER_RECIPES["laptop"][1]),
    "english": (TransformerLM, TRANSFORMER_RECIPES["ci"][0],
                {"steps": 2500, "batch_size": 64, "lr": 3e-3, "warmup": 100, "weight_decay": 0.1, "clip": 1.0}),
}
#: How transformer_english's tokeniser is rebuilt (its manifest entry records it, and its symbols).
ENGLISH_TOKENIZER = "CharTokenizer(unk=True).fit(lmcourse.classify.pretraining_corpus().train)"


def _build(cls: type[torch.nn.Module], config: dict[str, Any]) -> torch.nn.Module:
    return TransformerLM(TransformerConfig(**config)) if cls is TransformerLM else cls(**config)


def _train_keywords(fit: dict[str, Any]) -> dict[str, Any]:
    """``train``'s keyword arguments for a recipe: ``warmup`` and ``floor`` become a cosine schedule over the run."""
    keywords = {k: v for k, v in fit.items() if k not in ("warmup", "floor")}
    if "warmup" in fit:
        keywords["schedule"] = cosine_schedule(fit["steps"], warmup=fit["warmup"], floor=fit.get("floor", 0.1))
    return keywords


#: Entries of a manifest entry written by hand, not by a training run: kept when a retraining rewrites the entry.
BY_HAND = ("card",)  # the model card's intended use, out of scope, limitations, authors (lmcourse.safety.model_card)


def keep_written_by_hand(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """``new``, the entry a training run wrote, with the hand-written entries (:data:`BY_HAND`) of ``old`` kept."""
    return {**new, **{k: old[k] for k in BY_HAND if old is not None and k in old}}


def _write_manifest(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Write the manifest atomically (a temporary file renamed over it)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(RECIPES), help="train only this model (default: both)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--curves-only", action="store_true",
                        help="re-run only to add the validation curve to an existing, bit-identical checkpoint")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = shlex.join(["python", "tools/train_reference.py", *(sys.argv[1:] if argv is None else argv)])

    sh = data.splits("shakespeare")
    chars = tk.CharTokenizer().fit(sh.train)

    folder = checkpoints.folder()
    folder.mkdir(exist_ok=True)
    manifest_path = folder / "manifest.json"
    entries = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    for short in [args.only] if args.only else list(RECIPES):
        cls, kwargs, fit = RECIPES[short]
        extra: dict[str, Any] = {}
        if short == "english":
            corpus = classify.pretraining_corpus()
            tok, train_text, valid_text = tk.CharTokenizer(unk=True).fit(corpus.train), corpus.train, corpus.valid
            name, tokenizer = "transformer_english", ENGLISH_TOKENIZER
            passages = classify.heldout_passages()
            sources = {n: data.splits(n) for n in classify.SOURCES.values()}
            extra = {
                "dataset": "+".join(classify.SOURCES.values()),
                "dataset_sha256": {n: data.info(n)["sha256"] for n in (*classify.SOURCES.values(), "authorship")},
                "tokenizer_symbols": "".join(tok.vocab.itos[len(tok.specials):]),  # type: ignore[union-attr]
                "corpus_chars": {"train": len(corpus.train), "valid": len(corpus.valid)},
                "held_out": {
                    "passages": len(passages),
                    "in_the_training_parts_before": sum(n > 0 for n in map(
                        sum, zip(*(data.occurrences(part.train, passages) for part in sources.values())))),
                    "in_the_training_text_after": sum(n > 0 for n in data.occurrences(corpus.train, passages)),
                },
            }
            if extra["held_out"]["in_the_training_text_after"]:
                raise SystemExit(f"{name}: held-out passages remain in the training text: {extra['held_out']}")
        else:
            tok, train_text, valid_text = chars, sh.train, sh.valid
            name, tokenizer = f"{short}_shakespeare", "CharTokenizer().fit(data.splits('shakespeare').train)"
        V = tok.vocab_size
        if short == "english":  # scored as chapter 11 scores it
            x_valid, y_valid = batches.windows(tok.encode(valid_text), CONTEXT)
            extra["valid_scoring"] = f"windows({CONTEXT}): non-overlapping windows, every target scored once"
        else:  # scored as chapter 08 compares every model with the n-gram
            x_valid, y_valid = batches.scoring_windows(tok.encode(valid_text), CONTEXT)
            extra["valid_scoring"] = (f"scoring_windows({CONTEXT}): every target scored once, after the first "
                                      f"window with at least {CONTEXT // 2} characters before it")
        config = {"vocab_size": V, **kwargs}
        context = config.get("block_size", CONTEXT)
        x, y = batches.windows(tok.encode(train_text), context, stride=1 if cls is TransformerLM else None)
        env.seed_everything(SEED)
        torch.manual_seed(SEED)  # as the notebooks do, right before building the model
        model = _build(cls, config)
        if isinstance(model, TransformerLM):
            config = dataclasses.asdict(model.config)  # every field, defaults included, as save() stores it
        start = time.perf_counter()
        history = train(model, x, y, seed=SEED, device="cpu", desc=name, valid=(x_valid, y_valid),
                        eval_every=max(1, fit["steps"] // CURVE_POINTS), **_train_keywords(fit))
        wall = time.perf_counter() - start
        nats = evaluate(model, x_valid, y_valid)
        curve = {"steps": history.eval_steps, "loss_nats": [round(v, 6) for v in history.valid_loss],
                 "tokens_per_step": fit["batch_size"] * context}
        if args.curves_only:
            old = entries.get(name)
            shipped = checkpoints.load(folder / old["file"], sha256=old["sha256"]) if old else None
            same = shipped is not None and all(torch.equal(a, b) for a, b in
                                               zip(shipped.state_dict().values(), model.state_dict().values()))
            if not same:
                raise SystemExit(f"{name}: the re-run's weights differ from the shipped file (another machine, "
                                 "thread count or torch?); retrain it instead: python tools/train_reference.py "
                                 f"--only {short}")
            entries[name] = {**old, "valid_curve": curve,
                             "valid_curve_note": "recorded by a re-run that reproduced the file bit for bit"}
            _write_manifest(manifest_path, entries)
            print(f"{name}: curve of {len(curve['steps'])} points added; weights reproduced bit for bit", flush=True)
            continue
        last = history.train_loss[-100:]
        info = {
            "name": name,
            "command": command,
            "seed": SEED,
            "scale": "laptop",
            "dataset": "shakespeare",
            "dataset_sha256": data.info("shakespeare")["sha256"],
            "tokenizer": tokenizer,
            "windows": context,
            "training": dict(fit),
            "steps": fit["steps"],
            "train_loss_nats_last_100_steps": round(float(sum(last) / len(last)), 6),
            "wall_seconds": round(wall, 1),
            "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()} {platform.system()}, CPU, {os.cpu_count()} cores (shared)",
            "torch": torch.__version__.split("+")[0],
            "valid_loss_nats": round(nats, 6),
            "valid_bits_per_char": round(nats / math.log(2), 6),
            **extra,
        }
        file = checkpoints.save(model, folder / f"{name}.safetensors", config, info)
        entries[name] = keep_written_by_hand(entries.get(name), {
            "file": file.name, "sha256": data.sha256_of(file), "bytes": file.stat().st_size, "class": cls.__name__,
            "config": config, "valid_curve": curve, **{k: v for k, v in info.items() if k != "name"}})
        _write_manifest(manifest_path, entries)
        print(f"{name}: {wall:.0f} s, validation {nats:.4f} nats = {nats / math.log(2):.4f} bits per char, "
              f"{file.stat().st_size:,} bytes", flush=True)


if __name__ == "__main__":
    main()
