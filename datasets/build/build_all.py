"""Rebuild every file in datasets/ from its pinned source package, and the manifest.

Usage (from the repository root, in a virtual environment with
``datasets/build/requirements-build.txt`` installed, on Debian/Ubuntu with
apt-get, dpkg-deb and npm available):

    python datasets/build/build_all.py            # rebuild datasets/ in place
    python datasets/build/build_all.py --out DIR  # build into DIR instead

It writes each data file, then ``manifest.json`` (sha256, bytes, characters,
vocabulary, word types, lines per file) and refreshes the summary table in
``datasets/README.md`` between its ``<!-- summary -->`` markers.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# This folder's build modules, then the repository root, so that `import lmcourse` finds this checkout's
# package (the build environment need not have it installed; lmcourse.data imports only the standard
# library, so the build needs neither torch nor numpy).
sys.path[:0] = [str(HERE), str(HERE.parent.parent)]

import austen_summaries  # noqa: E402
import authorship  # noqa: E402
import kjv  # noqa: E402
import kjv_questions  # noqa: E402
import kjv_rv1909_pairs  # noqa: E402
import names  # noqa: E402
import pride_and_prejudice  # noqa: E402
import shakespeare  # noqa: E402
import tang_poems  # noqa: E402
import vader_lexicon  # noqa: E402

from lmcourse.data import sha256_of  # noqa: E402

DATASETS = {
    "shakespeare": shakespeare,
    "names": names,
    "pride_and_prejudice": pride_and_prejudice,
    "kjv": kjv,
    "kjv_rv1909_pairs": kjv_rv1909_pairs,
    "tang_poems": tang_poems,
    "authorship": authorship,
    "vader_lexicon": vader_lexicon,
    "kjv_questions": kjv_questions,  # after kjv: it checks its questions against kjv.txt
    "austen_summaries": austen_summaries,  # after pride_and_prejudice: it checks its chapters against it
}


def file_stats(path: Path) -> dict:
    data = path.read_bytes()
    text = data.decode("utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n") and "\r" not in text, path
    return {
        "sha256": sha256_of(path),  # the loader's own function: one definition of the checksum
        "bytes": len(data),
        "chars": len(text),
        "vocab": len(set(text)),
        "word_types": len(set(text.split())),
        "lines": text.count("\n"),
    }


def summary_table(manifest: dict) -> str:
    rows = ["| name | file | bytes | chars | vocab | sha256 |",
            "|---|---|---:|---:|---:|---|"]
    for name, e in manifest.items():
        rows.append(f"| {name} | `{e['file']}` | {e['bytes']} | {e['chars']} | {e['vocab']} | `{e['sha256']}` |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE.parent, help="output folder (default: datasets/)")
    ap.add_argument("--only", nargs="*", choices=list(DATASETS), help="build only these")
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    for name, module in DATASETS.items():
        if args.only and name not in args.only:
            continue
        print(f"[{name}]", flush=True)
        entry = module.build(out)
        report = entry.pop("_report", {})
        entry.update(file_stats(out / entry["file"]))
        manifest[name] = entry
        print("  ", json.dumps(report, ensure_ascii=False)[:2000])
        print(f"   {entry['file']}: {entry['bytes']} bytes, {entry['chars']} chars, "
              f"vocab {entry['vocab']}, sha256 {entry['sha256']}", flush=True)
    manifest = {k: manifest[k] for k in DATASETS if k in manifest}
    manifest_path.write_text(json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    readme = out / "README.md"
    if readme.exists():
        text = readme.read_text("utf-8")
        new = re.sub(r"(<!-- summary:start -->\n).*?(\n<!-- summary:end -->)",
                     lambda m: m.group(1) + summary_table(manifest) + m.group(2), text, flags=re.S)
        readme.write_text(new, encoding="utf-8")
    print("wrote", manifest_path)


if __name__ == "__main__":
    main()
