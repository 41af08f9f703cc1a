"""The HTML book (tools/build_site.py): every notebook has a page with its stored outputs, the index follows
the course map, and no internal link is broken. One full build (about 30 s on a 2-core machine), shared."""

from __future__ import annotations

import base64
import html
import re
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import build_site
import nbformat
import pytest
from build_notebooks import readme_run_time

from lmcourse.course import CHAPTERS

ROOT = build_site.ROOT
NOTEBOOKS = build_site.notebooks(ROOT)


class Links(HTMLParser):
    """Every href/src of a page, and every id (or <a name>) a fragment can point to."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("href", "src") and value is not None:
                self.links.append(value)
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value or "")


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def broken_links(out: Path) -> list[str]:
    """Every internal link of the site at ``out`` (not http(s)/mailto/data) whose file or fragment is missing."""
    pages = {p: parse(p) for p in out.rglob("*.html")}
    broken = []
    for page, found in pages.items():
        for link in found.links:
            if build_site.EXTERNAL.match(link):
                continue
            path, _, fragment = link.partition("#")
            target = (page.parent / path).resolve() if path else page.resolve()
            if not target.is_file() or not target.is_relative_to(out.resolve()):
                broken.append(f"{page.relative_to(out)}: {link} (no such file)")
            elif fragment and target.suffix == ".html":
                ids = pages[next(p for p in pages if p.resolve() == target)].ids
                if html.unescape(fragment) not in ids:
                    broken.append(f"{page.relative_to(out)}: {link} (no id {fragment!r} there)")
    return broken


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> build_site.Site:
    return build_site.build(tmp_path_factory.mktemp("book") / "_site")


def test_every_internal_link_resolves(site: build_site.Site) -> None:
    assert broken_links(site.out) == []
    # the docs the notebooks and the README refer to are pages, and the links to them were rewritten
    for doc in ("README.md", "CONTRIBUTING.md", "datasets/README.md", "checkpoints/README.md"):
        assert site.pages.get(doc) == build_site.page_of(doc), sorted(site.pages)
    readme = (site.out / "README.html").read_text(encoding="utf-8")
    assert '<a href="datasets/README.html"><code>datasets/README.md</code></a>' in readme
    assert not list(site.out.rglob("*.ipynb")) and not list(site.out.rglob("*.md"))


def test_the_link_checker_and_the_build_catch_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text('<a href="b.html">b</a> <a href="a.html#nowhere">x</a> <a href="https://x.org">'
                                     '</a> <img src="data:image/png;base64,AA==">', encoding="utf-8")
    assert broken_links(tmp_path) == ["a.html: b.html (no such file)", "a.html: a.html#nowhere (no id 'nowhere' there)"]
    with pytest.raises(build_site.SiteError, match=r"README.md: the link 'no_such_file.md' points to"):
        build_site.rewrite_links('<a href="no_such_file.md">x</a>', "README.md", ROOT, [])
    wanted: list[str] = []
    out = build_site.rewrite_links('<a href="../LICENSE">l</a><a href="build/">b</a><a href="README.md#Sources">r</a>',
                                   "datasets/README.md", ROOT, wanted)
    assert out == '<a href="../LICENSE">l</a><a href="build/index.html">b</a><a href="README.html#Sources">r</a>'
    assert wanted == ["LICENSE", "datasets/build", "datasets/README.md"]


def test_a_doc_heading_answers_to_github_s_anchor_too(site: build_site.Site) -> None:
    """A Markdown doc links its own headings the way GitHub names them (INSTRUCTORS.md: ``#run-times``)."""
    assert build_site.github_slug("Run times (measured)") == "run-times-measured"
    assert build_site.github_slug("Teaching with nbgrader") == "teaching-with-nbgrader"
    page = (site.out / "INSTRUCTORS.html").read_text(encoding="utf-8")
    assert 'id="run-times"' in page and 'href="#run-times"' in page


def test_every_notebook_has_a_page_with_its_stored_outputs(site: build_site.Site) -> None:
    assert sorted(s for s in site.pages if s.endswith(".ipynb")) == sorted(NOTEBOOKS)
    for source in NOTEBOOKS:
        page = (site.out / build_site.page_of(source)).read_text(encoding="utf-8")
        nb = nbformat.read(ROOT / source, as_version=4)
        assert f"<title>{html.escape(build_site.notebook_title(nb, ''))}</title>" in page, source
        streams = [o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream" and o.name == "stdout" and len(o.text.strip()) > 20]
        assert streams, f"{source} has no printed output to look for"
        shown = html.unescape(re.sub(r"<[^>]+>", "", page))
        first_line = streams[0].strip().splitlines()[0]
        assert first_line in shown, f"{source}: its stored output {first_line!r} is not on its page"


def test_the_index_follows_the_course_map(site: build_site.Site) -> None:
    index = (site.out / "index.html").read_text(encoding="utf-8")
    listed = list(dict.fromkeys(re.findall(r'href="chapters/([^"]+)\.html"', index)))
    expected = [slug for ch in CHAPTERS for slug, _ in ch.notebooks if f"chapters/{slug}.ipynb" in NOTEBOOKS]
    assert listed == expected
    assert re.findall(r'href="solutions/([^"]+)\.html"', index) == expected
    for ch in CHAPTERS:
        for slug, minutes in ch.notebooks:
            if f"chapters/{slug}.ipynb" not in NOTEBOOKS:
                assert f"{html.escape(ch.title)} <em>(planned)</em>" in index, slug
                continue
            seconds = max(nbformat.read(ROOT / f"{folder}/{slug}.ipynb", as_version=4).metadata["lmcourse"]
                          ["run_seconds"] for folder in build_site.NOTEBOOK_FOLDERS)
            row = re.search(rf"<tr><td>{ch.number}</td><td>.*?<code>{slug}</code>.*?</tr>", index)
            assert row, slug
            assert f"<td>{minutes} min</td><td>{readme_run_time(seconds)}</td>" in row.group(0), row.group(0)


def test_image_outputs_are_embedded(site: build_site.Site) -> None:
    source = "solutions/00_setup.ipynb"
    nb = nbformat.read(ROOT / source, as_version=4)
    stored = [o.data["image/png"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert stored, f"{source} stores no figure"
    page = (site.out / build_site.page_of(source)).read_text(encoding="utf-8")
    embedded = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(stored)
    assert base64.b64decode(embedded[0]).startswith(b"\x89PNG") and embedded[0] == stored[0].replace("\n", "")


def test_the_workflow_publishes_what_the_readme_builds() -> None:
    yaml = pytest.importorskip("yaml")  # PyYAML comes with jupyterlab (jupyter-events)
    text = (ROOT / ".github" / "workflows" / "site.yml").read_text(encoding="utf-8")
    flow = yaml.safe_load(text)
    triggers = flow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"] and "workflow_dispatch" in triggers
    steps = [step for job in flow["jobs"].values() for step in job["steps"]]
    runs = [step.get("run") for step in steps]
    uses = [str(step.get("uses", "")).split("@")[0] for step in steps]
    assert "python -m pip install -r requirements.txt" in runs and "python tools/build_site.py" in runs
    assert "actions/upload-pages-artifact" in uses and "actions/deploy-pages" in uses
    assert not any("pytest" in (r or "") or "nbconvert --execute" in (r or "") for r in runs)  # nothing is re-run
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python tools/build_site.py" in readme
    assert f"/{build_site.DEFAULT_OUT}/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert PurePosixPath(build_site.CSS).parts[0][0] not in "._"  # Pages would hide such a folder
