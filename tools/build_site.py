"""Build the course as a static HTML book: every notebook with its stored outputs, an index, the docs.

    python tools/build_site.py               # writes _site/ (ignored by git); open _site/index.html
    python tools/build_site.py --out DIR     # somewhere else

No notebook is run: each page shows the outputs stored in ``chapters/`` and ``solutions/`` (one clean
run on the reference platform, see CONTRIBUTING.md), converted by nbconvert's HTML exporter, its
figures embedded in the page. The index follows the learning path of the course map
(``lmcourse.course.CHAPTERS``): number, title, prerequisites, reading minutes, the recorded CPU run time
(``lmcourse.run_seconds`` in each notebook's metadata; the slower copy, as the README shows it), and
links to the chapter and its solutions. The Markdown docs that the notebooks, the README or another
published doc refer to (a link, or a path in backticks such as ``datasets/README.md``) become pages too.

The site mirrors the repository's layout (``chapters/06_lstm.ipynb`` -> ``chapters/06_lstm.html``), so a
relative link keeps its meaning: one to a notebook or a Markdown doc is rewritten to its page; one to any
other file of the repository (a build script, a manifest, ``LICENSE``) copies that file into the site; one to
a folder gets a page listing the folder's files. A link to something the repository does not have stops the
build with the page and the link named. ``.github/workflows/site.yml`` publishes the result to GitHub Pages.
"""

from __future__ import annotations

import argparse
import html
import os
import posixpath
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = "_site"
NOTEBOOK_FOLDERS = ("chapters", "solutions")
CSS = "assets/book.css"  # not "_static": GitHub's Jekyll step would drop a folder starting with "_"

#: href="..." / src="..." in the generated HTML (nbconvert always writes double quotes).
LINK = re.compile(r'\b(href|src)="([^"]*)"')
#: A link with a scheme (https:, mailto:, data:, javascript:) or protocol-relative: not the site's business.
EXTERNAL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*:|//)")
#: Inline code, perhaps already the text of a link: `datasets/README.md` or `11_text_to_text` become links.
CODE_SPAN = re.compile(r"(<a\b[^>]*>)?<code>([^<]+)</code>")
SLUG = re.compile(r"\d\d_[a-z0-9_]+")


class SiteError(ValueError):
    """The book cannot be built as the sources stand (a broken link, a missing notebook folder)."""


@dataclass
class Site:
    """What a build wrote, relative to its output folder (POSIX paths)."""

    out: Path
    pages: dict[str, str] = field(default_factory=dict)  # source path -> page path, e.g. README.md -> README.html
    copied: list[str] = field(default_factory=list)  # files copied as they are
    listings: list[str] = field(default_factory=list)  # folder listing pages


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to hyphens
    ("Run times (measured)" -> "run-times-measured"), so a doc's ``[...](#run-times)`` works in the book too."""
    text = re.sub(r"<[^>]+>", "", html.unescape(heading)).strip().lower()
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def github_ids(body: str) -> str:
    """Give each heading of a converted Markdown doc GitHub's anchor as well as nbconvert's own id."""
    def add(m: re.Match[str]) -> str:
        slug = github_slug(m.group(3))
        return f'{m.group(1)}<a id="{slug}"></a>{m.group(3)}' if slug and slug != m.group(2) else m.group(0)

    return re.sub(r'(<h[1-6] id="([^"]*)">)(.*?)(?=<a class="anchor-link"|</h[1-6]>)', add, body)


def page_of(source: str) -> str:
    """The site path of a source's page: ``chapters/06_lstm.ipynb`` -> ``chapters/06_lstm.html``."""
    return str(PurePosixPath(source).with_suffix(".html"))


def rel(target: str, page: str) -> str:
    """A link from site page ``page`` to site path ``target``, relative, as a browser reads it."""
    return posixpath.relpath(target, posixpath.dirname(page) or ".")


def notebooks(root: Path) -> list[str]:
    """Every notebook of the course, chapters first, as repository paths."""
    found = [f"{folder}/{p.name}" for folder in NOTEBOOK_FOLDERS for p in sorted((root / folder).glob("*.ipynb"))]
    if not found:
        raise SiteError(f"no notebook in {root}/chapters or {root}/solutions: is {root} the course's repository?")
    return found


def notebook_title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The notebook's first heading (``06 · The LSTM from scratch, ...``), or ``fallback``."""
    for cell in nb.cells[:1]:
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return line[2:].strip()
    return fallback


# ------------------------------------------------------------------------------------------------ links


def autolink(body: str, source: str, root: Path) -> str:
    """Make a link of inline code that names a notebook or doc of the repository.

    The notebooks and the README write paths from the repository's root (`chapters/00_setup.ipynb`,
    `datasets/README.md`) and notebooks by their name (`11_text_to_text`, meaning the same folder's copy).
    The link is written as a link to the source file; :func:`rewrite_links` then points it at the page.
    """
    here = posixpath.dirname(source)
    home = here if here in NOTEBOOK_FOLDERS else "chapters"

    def repl(m: re.Match[str]) -> str:
        if m.group(1):  # already a link
            return m.group(0)
        text = html.unescape(m.group(2)).strip()
        if SLUG.fullmatch(text):
            target = f"{home}/{text}.ipynb"
        elif text.endswith((".md", ".ipynb")) and not text.startswith(("/", ".")):
            target = text
        else:
            return m.group(0)
        if not (root / target).is_file():
            return m.group(0)
        return f'<a href="{html.escape(rel(target, source))}">{m.group(0)}</a>'

    return CODE_SPAN.sub(repl, body)


def rewrite_links(body: str, source: str, root: Path, wanted: list[str]) -> str:
    """Point every relative href/src of the page made from ``source`` at the site's copy of its target.

    A notebook or Markdown file becomes its ``.html`` page (its fragment kept); a folder, its listing page;
    any other file keeps its path and is copied. Each target is appended to ``wanted`` so the build makes it.
    A target the repository does not have is a :class:`SiteError`.
    """
    here = posixpath.dirname(source)

    def repl(m: re.Match[str]) -> str:
        attr, value = m.group(1), html.unescape(m.group(2))
        if not value or value.startswith("#") or EXTERNAL.match(value):
            return m.group(0)
        path, _, fragment = value.partition("#")
        path = path.split("?")[0]
        target = posixpath.normpath(posixpath.join(here, path))
        where = root / target
        if target.startswith("..") or not where.exists():
            raise SiteError(f"{source}: the link {value!r} points to {target!r}, which the repository does not have; "
                            "link a file of the repository (relative to this file) or a full https:// address.")
        wanted.append(target)
        if where.is_dir():
            new = f"{target}/index.html"
        elif where.suffix in (".ipynb", ".md"):
            new = page_of(target)
        else:
            new = target
        link = rel(new, page_of(source)) + (f"#{fragment}" if fragment else "")
        return f'{attr}="{html.escape(link)}"'

    return LINK.sub(repl, body)


# ------------------------------------------------------------------------------------------------ pages


def doc_page(title: str, body: str, page: str, nav: str = "") -> str:
    """A page of the book outside the notebooks: the index, a Markdown doc, a folder listing."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
            f"<title>{html.escape(title)}</title>\n"
            f'<link rel="stylesheet" href="{rel(CSS, page)}">\n</head>\n<body class="book">\n'
            f"{nav}<main>\n{body}\n</main>\n</body>\n</html>\n")


def nav_bar(page: str, *links: tuple[str, str]) -> str:
    """The bar on top of every page: back to the contents, then ``links`` as (site path, text)."""
    items = [("index.html", "Contents")] + [link for link in links if link[0]]
    return ('<nav class="book-nav">' + " · ".join(
        f'<a href="{html.escape(rel(target, page))}">{html.escape(text)}</a>' for target, text in items) + "</nav>\n")


def css() -> str:
    from pygments.formatters import HtmlFormatter

    return BOOK_CSS + HtmlFormatter(style="default").get_style_defs(".book .highlight") + "\n"


BOOK_CSS = """/* The book's own pages (index, docs) and the bar on top of every page. */
.book-nav { font: 14px/1.5 system-ui, sans-serif; padding: 6px 12px; margin: 0 0 12px;
            border-bottom: 1px solid #ddd; background: #f7f7f7; }
.book-nav a { text-decoration: none; }
body.book { font: 16px/1.55 system-ui, sans-serif; margin: 0; color: #222; }
body.book main { max-width: 60rem; margin: 0 auto; padding: 0 1rem 3rem; }
body.book code { font-size: 0.92em; background: #f3f3f3; padding: 0 3px; border-radius: 3px; }
body.book pre { background: #f6f8fa; padding: 8px 12px; overflow-x: auto; }
body.book pre code { background: none; padding: 0; }
body.book table { border-collapse: collapse; margin: 1rem 0; }
body.book th, body.book td { border: 1px solid #ddd; padding: 4px 8px; vertical-align: top; }
body.book th { background: #f3f3f3; }
body.book a.anchor-link { display: none; }
.book .planned { color: #777; }
"""


class Builder:
    def __init__(self, root: Path, out: Path) -> None:
        self.root, self.site = root, Site(out)
        self.queue: list[str] = []
        self.exporter: Any = None

    def write(self, path: str, text: str) -> None:
        dest = self.site.out / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")

    def finish(self, source: str, body: str) -> str:
        """Links of the page made from ``source``: code that names a file becomes a link; every link is rewritten."""
        return rewrite_links(autolink(body, source, self.root), source, self.root, self.queue)

    def notebook(self, source: str, order: list[str], titles: dict[str, str]) -> None:
        from nbconvert import HTMLExporter

        nb = nbformat.read(self.root / source, as_version=4)
        name = PurePosixPath(source).stem
        if self.exporter is None:  # one for all notebooks: its templates are compiled once
            self.exporter = HTMLExporter(template_name="lab")
        body, _ = self.exporter.from_notebook_node(nb, resources={"metadata": {"name": titles[
            source]}})  # the stored outputs, as they are: the exporter runs nothing
        page = page_of(source)
        folder = posixpath.dirname(source)
        twin_folder = "solutions" if folder == "chapters" else "chapters"
        twin = f"{twin_folder}/{name}.ipynb"
        i = order.index(name)
        links = [(page_of(f"{folder}/{order[i - 1]}.ipynb") if i > 0 else "", f"← {order[i - 1]}" if i else ""),
                 (page_of(f"{folder}/{order[i + 1]}.ipynb") if i + 1 < len(order) else "",
                  f"{order[i + 1] if i + 1 < len(order) else ''} →"),
                 (page_of(twin) if (self.root / twin).is_file() else "",
                  "the solutions" if twin_folder == "solutions" else "the learner's copy")]
        nav = nav_bar(page, *links)
        if "<main>" not in body:
            raise SiteError(f"{source}: nbconvert's page has no <main> to put the navigation in; "
                            "is nbconvert the version pinned in requirements.txt?")
        body = self.finish(source, body).replace("<main>", "<main>\n" + nav, 1)  # the bar's links are the site's
        self.write(page, body)
        self.site.pages[source] = page

    def markdown(self, source: str) -> None:
        from nbconvert.filters.markdown_mistune import markdown2html_mistune

        text = (self.root / source).read_text(encoding="utf-8")
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), source)
        page = page_of(source)
        body = self.finish(source, github_ids(markdown2html_mistune(text)))
        self.write(page, doc_page(f"{title} ({source})", body, page, nav_bar(page)))
        self.site.pages[source] = page

    def listing(self, folder: str) -> None:
        files = sorted(p.name for p in (self.root / folder).iterdir()
                       if p.is_file() and not p.name.startswith(".") and p.suffix != ".pyc")
        page = f"{folder}/index.html"
        items = "\n".join(f'<li><a href="{html.escape(name)}"><code>{html.escape(name)}</code></a></li>'
                          for name in files)
        body = f"<h1><code>{html.escape(folder)}/</code></h1>\n<ul>\n{items}\n</ul>"
        fake_source = f"{folder}/index.md"  # links in the listing are relative to the folder
        body = rewrite_links(body, fake_source, self.root, self.queue)
        self.write(page, doc_page(f"{folder}/", body, page, nav_bar(page)))
        self.site.listings.append(page)

    def copy(self, source: str) -> None:
        dest = self.site.out / source
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.root / source, dest)
        self.site.copied.append(source)

    def drain(self) -> None:
        """Make every page or file that a written page links to, and what those link to, once each."""
        done = set(self.site.pages) | set(self.site.copied) | {p[: -len("/index.html")] for p in self.site.listings}
        while self.queue:
            target = self.queue.pop()
            if target in done:
                continue
            done.add(target)
            where = self.root / target
            if where.is_dir():
                self.listing(target)
            elif where.suffix == ".md":
                self.markdown(target)
            elif where.suffix == ".ipynb":
                raise SiteError(f"a page links to the notebook {target}, which has no page: the book publishes "
                                "the notebooks of chapters/ and solutions/ only; link one of those instead.")
            else:
                self.copy(target)

    def index(self, sources: list[str], titles: dict[str, str]) -> None:
        from build_notebooks import readme_run_time

        from lmcourse.course import CHAPTERS

        page = "index.html"
        rows = []
        for ch in CHAPTERS:
            for slug, minutes in ch.notebooks:
                copies = [f"{folder}/{slug}.ipynb" for folder in NOTEBOOK_FOLDERS]
                have = [c for c in copies if c in sources]
                needs = ", ".join(ch.needs) or "-"
                if not have:
                    rows.append(f'<tr class="planned"><td>{ch.number}</td><td>{html.escape(ch.title)} '
                                f"<em>(planned)</em></td><td>{needs}</td><td>{minutes} min</td>"
                                f"<td>≤ {ch.budget(slug)} s (budget)</td><td></td></tr>")
                    continue
                seconds = [nbformat.read(self.root / c, as_version=4).metadata.get("lmcourse", {}).get("run_seconds")
                           for c in have]
                run = readme_run_time(max(seconds)) if all(s is not None for s in seconds) else "not recorded"
                title = re.sub(r"^\d\d\s*·\s*", "", titles[have[0]])
                cells = [f'<a href="{page_of(c)}">{label}</a>' for c, label in
                         zip(copies, ("chapter", "solutions")) if c in sources]
                rows.append(f"<tr><td>{ch.number}</td><td><a href=\"{page_of(have[0])}\">{html.escape(title)}</a> "
                            f"<code>{slug}</code></td><td>{needs}</td><td>{minutes} min</td><td>{run}</td>"
                            f"<td>{' · '.join(cells)}</td></tr>")
        docs = "\n".join(f'<li><a href="{page_of(s)}">{html.escape(s)}</a></li>'
                         for s in sorted(self.site.pages) if s.endswith(".md"))
        readme = (self.root / "README.md").read_text(encoding="utf-8")
        heading = next((line[2:].strip() for line in readme.splitlines() if line.startswith("# ")), "The course")
        body = f"""<h1>{html.escape(heading)}</h1>
<p>The course's notebooks in reading order, each with the outputs stored in the repository: one clean run
on a 2-core CPU, at the <code>ci</code> scale. Reading is all you can do here; to run and change them,
follow the set-up in the <a href="README.html">README</a> and open them in JupyterLab. Each chapter has a
learner's copy, with exercises to solve, and a solved copy.</p>
<table>
<thead><tr><th>#</th><th>notebook</th><th>needs</th><th>reading</th><th>CPU run time</th><th>read</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
<p><em>Reading</em> is reading and exercises; <em>CPU run time</em> is what the slower copy took in its
recorded run on 2 cores (the notebook's metadata, <code>lmcourse.run_seconds</code>).</p>
<h2>About the course</h2>
<ul>
{docs}
</ul>"""
        self.write(page, doc_page(heading, body, page))
        self.site.pages["index"] = page


def build(out: Path, root: Path = ROOT) -> Site:
    """Build the book from the repository at ``root`` into ``out`` (emptied first); return what was written."""
    out = Path(out)
    if out.resolve() == root.resolve() or root.resolve().is_relative_to(out.resolve()):
        raise SiteError(f"--out {out} would empty the repository itself; give a folder of its own, e.g. {DEFAULT_OUT}.")
    if out.exists():
        shutil.rmtree(out)
    builder = Builder(root, out)
    sources = notebooks(root)
    titles = {s: notebook_title(nbformat.read(root / s, as_version=4), PurePosixPath(s).stem) for s in sources}
    for folder in NOTEBOOK_FOLDERS:
        order = [PurePosixPath(s).stem for s in sources if s.startswith(folder + "/")]
        for name in sorted(order, key=lambda n: _course_position(n)):
            builder.notebook(f"{folder}/{name}.ipynb", sorted(order, key=_course_position), titles)
    builder.queue.append("README.md")  # the front door, linked from the index
    builder.drain()
    builder.write(CSS, css())
    builder.index(sources, titles)
    builder.drain()
    return builder.site


def _course_position(slug: str) -> tuple[int, str]:
    """Where a notebook comes in the course map's reading order (unknown ones last, by name)."""
    from lmcourse.course import CHAPTERS

    order = [s for ch in CHAPTERS for s, _ in ch.notebooks]
    return (order.index(slug), slug) if slug in order else (len(order), slug)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / DEFAULT_OUT), help=f"output folder (default: {DEFAULT_OUT}/)")
    args = parser.parse_args()
    try:
        site = build(Path(args.out))
    except SiteError as err:
        sys.exit(f"build_site: {err}")
    print(f"{len(site.pages)} pages, {len(site.copied)} files copied, {len(site.listings)} folder listings "
          f"in {os.path.relpath(site.out)}; open {os.path.relpath(site.out / 'index.html')}")


if __name__ == "__main__":
    main()
