"""Train the course's laptop-scale reference models and ship them as checkpoints.

    python tools/train_reference.py [--only mlp|lstm] [--threads 2]

Trains exactly the models that chapters 04 (section 7) and 06 (section 4) train on Shakespeare's
characters at ``LMCOURSE_SCALE=laptop``, with the same seeds, data and settings, on the CPU:

- ``mlp_shakespeare``: ``MLPLM(V, context=8, embed_dim=16, hidden=128)``, 20,000 steps of 32 windows of 64
  characters, AdamW lr 3e-3, batch seed 0;
- ``lstm_shakespeare``: ``RecurrentLM(V, embed_dim=64, hidden=128, cell="lstm")``, 10,000 steps of 32
  windows, AdamW lr 3e-3, gradients clipped to norm 1.0, batch seed 0.

``torch.manual_seed(0)`` is set before each model is built, as the notebooks do. Each is scored on the
validation split with ``lmcourse.train.evaluate``, saved to ``checkpoints/<name>.safetensors`` with
``lmcourse.checkpoints.save``, and its entry in ``checkpoints/manifest.json`` (the command, seed, steps,
wall time, threads, torch version, validation loss, sha256, size) is rewritten; other entries are kept.
Chapter 08 loads them with ``lmcourse.checkpoints.reference(name)``.
"""

from __future__ import annotations

import argparse
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

from lmcourse import batches, checkpoints, data, env
from lmcourse import tokenize as tk
from lmcourse.models import MLPLM, RecurrentLM
from lmcourse.train import evaluate, train

SEED = 0
CONTEXT = 64  # characters per training window, as in chapters 04 and 06
#: name -> (class, constructor keywords without vocab_size, training keywords)
RECIPES: dict[str, tuple[type[torch.nn.Module], dict[str, Any], dict[str, Any]]] = {
    "mlp": (MLPLM, {"context": 8, "embed_dim": 16, "hidden": 128},
            {"steps": 20_000, "batch_size": 32, "lr": 3e-3}),
    "lstm": (RecurrentLM, {"embed_dim": 64, "hidden": 128, "cell": "lstm"},
             {"steps": 10_000, "batch_size": 32, "lr": 3e-3, "optimizer": "adamw", "clip": 1.0}),
}


def _write_manifest(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Write the manifest atomically (a temporary file renamed over it)."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(RECIPES), help="train only this model (default: both)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    command = shlex.join(["python", "tools/train_reference.py", *(sys.argv[1:] if argv is None else argv)])

    sh = data.splits("shakespeare")
    chars = tk.CharTokenizer().fit(sh.train)
    V = chars.vocab_size
    x_train, y_train = batches.windows(chars.encode(sh.train), CONTEXT)
    x_valid, y_valid = batches.windows(chars.encode(sh.valid), CONTEXT)

    folder = checkpoints.folder()
    folder.mkdir(exist_ok=True)
    manifest_path = folder / "manifest.json"
    entries = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    for short in [args.only] if args.only else list(RECIPES):
        cls, kwargs, fit = RECIPES[short]
        name = f"{short}_shakespeare"
        config = {"vocab_size": V, **kwargs}
        env.seed_everything(SEED)
        torch.manual_seed(SEED)  # as the notebooks do, right before building the model
        model = cls(**config)
        start = time.perf_counter()
        history = train(model, x_train, y_train, seed=SEED, device="cpu", desc=name, **fit)
        wall = time.perf_counter() - start
        nats = evaluate(model, x_valid, y_valid)
        last = history.train_loss[-100:]
        info = {
            "name": name,
            "command": command,
            "seed": SEED,
            "scale": "laptop",
            "dataset": "shakespeare",
            "dataset_sha256": data.info("shakespeare")["sha256"],
            "tokenizer": "CharTokenizer().fit(data.splits('shakespeare').train)",
            "windows": CONTEXT,
            "training": dict(fit),
            "steps": fit["steps"],
            "train_loss_nats_last_100_steps": round(float(sum(last) / len(last)), 6),
            "wall_seconds": round(wall, 1),
            "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()} {platform.system()}, CPU, {os.cpu_count()} cores (shared)",
            "torch": torch.__version__.split("+")[0],
            "valid_loss_nats": round(nats, 6),
            "valid_bits_per_char": round(nats / math.log(2), 6),
        }
        file = checkpoints.save(model, folder / f"{name}.safetensors", config, info)
        entries[name] = {"file": file.name, "sha256": data.sha256_of(file), "bytes": file.stat().st_size,
                         "class": cls.__name__, "config": config, **{k: v for k, v in info.items() if k != "name"}}
        _write_manifest(manifest_path, entries)
        print(f"{name}: {wall:.0f} s, validation {nats:.4f} nats = {nats / math.log(2):.4f} bits per char, "
              f"{file.stat().st_size:,} bytes", flush=True)


if __name__ == "__main__":
    main()
