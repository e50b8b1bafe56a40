"""The book: a strict jupyter-book build with zero warnings, and every chapter page as a reader sees it.

The build runs once per session (all book tests live in this module, so `pytest -n 2 --dist loadfile` keeps them
in one worker), from scratch, into the same _build/html as `make book`:

    jupyter-book build . --builder html -W -n --keep-going

Then: every _toc.yml entry has a page; no page loads a script or stylesheet from the network (MathJax is served
from _static by sphinx-mathjax-offline); chapter pages carry a Colab button for the configured repository; and
headless Chromium opens each chapter page and we check the DOM after MathJax ran: math typeset, no raw TeX left,
figures present, no tracebacks; and, as a reader clicks through it, the chapter's portable exercises, solutions
and citations (book/_ext/portable.py) show as numbered exercises, closed solution dropdowns that open on a click,
and citations that link to entries of the bibliography. Without a `chromium` on PATH those tests skip and say why
(`make chromium`).
"""
from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import nbformat
import pytest
import yaml

import browser
import nbtools  # noqa: F401  (puts book/_ext on sys.path)
import portable

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
HTML = BUILD / "html"
BIN = Path(sys.executable).parent
CHROMIUM = "chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--virtual-time-budget=15000",
]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf8"))


def toc_files() -> list[str]:
    """Every `file:` in _toc.yml (root, parts, chapters, nested sections), in reading order, without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf8"))
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [str(Path(f).with_suffix("")) if Path(f).suffix in {".md", ".ipynb"} else f for f in files]


def chapter_names() -> list[str]:
    """The chapters in _toc.yml (the notebooks), known before anything is built: one rendered-page test each."""
    return [Path(f).name for f in toc_files() if f.startswith("notebooks/")]


def chapter_pages() -> list[Path]:
    return sorted((HTML / "notebooks").glob("*.html"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# ------------------------------------------------------------------------------------------------ the build
@dataclass(frozen=True)
class Build:
    returncode: int
    log: str


@pytest.fixture(scope="session")
def book() -> Build:
    """Build the book from scratch once: a clean build reports every warning (an incremental one only re-reads
    changed pages) and leaves no stale page behind."""
    jupyter_book = BIN / "jupyter-book"
    if not jupyter_book.exists():
        pytest.fail(f"{jupyter_book} not found: install the requirements into this interpreter's environment")
    for stale in (HTML, BUILD / ".doctrees"):
        shutil.rmtree(stale, ignore_errors=True)
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        [str(jupyter_book), "build", str(ROOT), "--builder", "html", "-W", "-n", "--keep-going"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800,
    )
    return Build(proc.returncode, ANSI.sub("", proc.stdout))


def test_strict_build_has_zero_warnings(book: Build) -> None:
    warnings = [line for line in book.log.splitlines()
                if "WARNING" in line or line.lstrip().startswith(("Warning", "[Warning]"))]
    assert not warnings, "the strict build warned:\n" + "\n".join(warnings)
    assert book.returncode == 0, f"jupyter-book build failed (exit {book.returncode}):\n{book.log[-5000:]}"


def test_every_toc_entry_has_a_page(book: Build) -> None:
    files = toc_files()
    assert "notebooks/01_backward_jvp" in files
    for name in files:
        sources = [ROOT / f"{name}{suffix}" for suffix in (".md", ".ipynb")]
        assert any(s.exists() for s in sources), f"_toc.yml lists {name}, but there is no {name}.md or .ipynb"
        assert (HTML / f"{name}.html").is_file(), f"_toc.yml lists {name}, but the build made no {name}.html"
    assert (HTML / "index.html").is_file(), "no index.html (the redirect to the root page)"
    built = {p.stem for p in chapter_pages()}
    assert built == set(chapter_names()), f"chapter pages built {sorted(built)} != chapters in _toc.yml"


def test_repository_and_release_tag_are_configured() -> None:
    cfg = config()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", cfg["repository"]["url"])
    assert cfg["repository"]["branch"]
    assert re.fullmatch(r"v\d+\.\d+\.\d+", str(cfg["mlbits"]["release_tag"]))


def test_no_page_loads_anything_from_the_network(book: Build) -> None:
    pages = sorted(HTML.rglob("*.html"))
    assert pages
    remote = re.compile(r"<script\b[^>]*\bsrc=[\"']\s*(?:https?:)?//[^>]*>|<link\b[^>]*\bhref=[\"']\s*(?:https?:)?//[^>]*>",
                        re.I)
    for page in pages:
        text = page.read_text(encoding="utf8")
        for match in remote.finditer(text):
            tag = match.group(0)
            if tag.lower().startswith("<link") and not re.search(r"rel=[\"'][^\"']*(stylesheet|preload|modulepreload)",
                                                                 tag, re.I):
                continue  # <link rel="canonical"> and friends are not fetched
            pytest.fail(f"{rel(page)} loads from the network: {tag}")

    page = HTML / "book" / "intro.html"
    scripts = re.findall(r"<script\b[^>]*\bsrc=[\"']([^\"']*mathjax[^\"']*)[\"']", page.read_text(encoding="utf8"), re.I)
    assert scripts, f"{rel(page)} has no MathJax script"
    for src in scripts:
        assert "/_static/" in f"/{src}", f"MathJax is not served from _static: {src}"
        assert (page.parent / urlparse(src).path).resolve().is_file(), f"MathJax script {src} is missing from the build"


def test_chapter_pages_have_a_colab_button_for_the_repository(book: Build) -> None:
    cfg = config()
    repo = urlparse(cfg["repository"]["url"]).path.strip("/")  # owner/name
    branch = cfg["repository"]["branch"]
    pages = chapter_pages()
    assert pages, "no chapter pages under _build/html/notebooks/"
    for page in pages:
        want = f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{page.stem}.ipynb"
        assert want in page.read_text(encoding="utf8"), f"{rel(page)}: no Colab launch button {want}"


# ------------------------------------------------------------------------------------------- rendered pages
def dump_dom(page: Path) -> str:
    """The page's DOM after its scripts (MathJax) ran, from headless Chromium, offline."""
    with tempfile.TemporaryDirectory(prefix="mlbits-chromium-") as profile:
        proc = subprocess.run(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180,
        )
    assert proc.returncode == 0 and "</html>" in proc.stdout, (
        f"chromium could not render {rel(page)} (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.stdout


def visible_text(dom: str) -> str:
    """The page's prose: no scripts, styles, code blocks or typeset math, tags stripped, entities decoded."""
    dom = re.sub(r"<(script|style|pre|code|mjx-container)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", " ", dom))


@pytest.mark.parametrize("name", chapter_names())
def test_chapter_page_renders(book: Build, name: str) -> None:
    if shutil.which(CHROMIUM) is None:
        pytest.skip("chromium is not on PATH (Debian: apt-get install chromium, or `make chromium`): "
                    "rendered pages not checked")
    page = HTML / "notebooks" / f"{name}.html"
    assert page.is_file(), f"the build made no {rel(page)}"
    dom = dump_dom(page)
    text = visible_text(dom)

    # Math: MathJax 3 (CHTML output) replaces each formula by an <mjx-container>.
    assert "<mjx-container" in dom, f"{rel(page)}: no typeset math (no <mjx-container>): MathJax did not run"
    assert "<mjx-merror" not in dom, f"{rel(page)}: MathJax reports a TeX error (<mjx-merror>)"
    # MathJax's `noundefined` extension typesets an unknown macro as its name in red instead of failing.
    assert '<mtext mathcolor="red">' not in dom, f"{rel(page)}: an undefined TeX macro (shown in red)"
    for raw in ("$", "\\(", "\\["):  # "$" also catches a lone $...$ that markdown split (a line starting "- ")
        assert raw not in text, f"{rel(page)}: raw TeX {raw!r} left in the text: math not typeset"

    # Figures: cell outputs and markdown images are copied to _images/; each must exist in the build.
    figures = [src for src in re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", dom)
               if "/_images/" in urlparse(src).path]
    assert figures, f"{rel(page)}: no figure (no <img> from _images/)"
    for src in figures:
        url = urlparse(src)
        path = Path(unquote(url.path)) if url.scheme == "file" else page.parent / unquote(url.path)
        assert path.is_file(), f"{rel(page)}: figure {src} is missing from the build"

    # No error outputs: myst-nb renders an error cell output as <div class="output traceback ...">.
    shown = re.sub(r"<script\b.*?</script>", " ", dom, flags=re.S | re.I)  # outputs included, unlike `text`
    assert "Traceback (most recent call last)" not in shown, f"{rel(page)}: a traceback is shown"
    assert not re.search(r"class=\"[^\"]*\boutput traceback\b", dom), f"{rel(page)}: an error output is shown"


# ------------------------------------------------------------------------------ exercises, solutions, citations
# Runs in a chapter page: the exercises' titles, each solution dropdown before and after a click on its title, and
# the citations' links.
READER = r"""
(async () => {
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  const shown = (el) => el.checkVisibility({visibilityProperty: true, opacityProperty: true});
  const body = (s) => [...s.children].filter(c => !c.classList.contains('admonition-title'));
  const heading = document.querySelector('h1 .section-number');
  const solutions = [...document.querySelectorAll('div.solution')];
  const before = solutions.map(s => ({title: s.querySelector('.admonition-title')?.innerText.trim() ?? '',
                                      target: s.querySelector('.admonition-title a')?.getAttribute('href'),
                                      shown: body(s).filter(shown).length, parts: body(s).length}));
  solutions.forEach(s => s.querySelector('.admonition-title')?.click());
  await new Promise(resolve => setTimeout(resolve, 1000));  // the dropdowns fade in
  const after = solutions.map(s => ({shown: body(s).filter(shown).length, text: s.innerText}));
  return {
    chapter: heading ? heading.innerText.replace(/[.\s]+$/, '') : null,
    exercises: [...document.querySelectorAll('div.exercise')].map(e => ({
      id: e.id, title: e.querySelector('.admonition-title')?.innerText.trim() ?? ''})),
    before, after,
    citations: [...document.querySelectorAll('.bibtex-citation a')].map(a => ({href: a.href, text: a.innerText})),
    text: document.body.innerText,
  };
})()
"""


@pytest.fixture(scope="module")
def chromium():
    if not browser.available():
        pytest.skip("chromium is not on PATH (Debian: apt-get install chromium, or `make chromium`): "
                    "exercises, solutions and citations not checked")
    with browser.Browser() as b:
        yield b


def bibliography_entries() -> set[str]:
    """The ids of the entries on the bibliography page (sphinxcontrib-bibtex: <div class="citation" id=...>)."""
    page = (HTML / "book" / "bibliography.html").read_text(encoding="utf8")
    return set(re.findall(r"<div class=\"citation\" id=\"([^\"]+)\"", page))


@pytest.mark.parametrize("name", chapter_names())
def test_chapter_page_exercises_solutions_and_citations(book: Build, chromium, name: str) -> None:
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    exercises = [e for e in map(portable.exercise, markdown) if e]
    solutions = [s for s in map(portable.solution, markdown) if s is not None]
    keys = portable.bib_keys(ROOT / "book" / "references.bib")
    citations = [key for text in markdown for key in portable.cited_keys(text, keys)]
    page = HTML / "notebooks" / f"{name}.html"
    chromium.open(page)
    r = chromium.evaluate(READER)

    # Numbered exercises: "Exercise <chapter>.<n> (Title)", labelled as in the notebook.
    assert r["chapter"], f"{rel(page)}: the chapter heading has no number"
    want = [(label, f"Exercise {r['chapter']}.{number}") for number, _, label, _ in exercises]
    got = [(e["id"], e["title"].split(" (")[0].strip()) for e in r["exercises"]]
    assert got == want, f"{rel(page)}: exercises shown {got}, expected {want}"
    for (_, title, _, _), shown in zip(exercises, r["exercises"]):
        words = re.findall(r"[A-Za-z]{3,}", re.sub(r"\$[^$]*\$", " ", title))  # the title's words, math aside
        assert all(w in shown["title"] for w in words), f"{rel(page)}: {shown['title']!r} is not titled {title!r}"

    # Solutions: one closed dropdown per solution, titled with its exercise and linking to it; a click opens it.
    assert len(r["before"]) == len(solutions), f"{rel(page)}: {len(r['before'])} solution dropdowns, " \
                                               f"the notebook has {len(solutions)} solutions"
    for (label, exercise), before, after, body in zip(want, r["before"], r["after"], solutions):
        assert before["title"].startswith(f"Solution to {exercise} "), f"{rel(page)}: solution titled {before['title']!r}"
        assert before["target"] == f"#{label}", f"{rel(page)}: the solution to {exercise} does not link to it"
        assert before["parts"] and not before["shown"], f"{rel(page)}: the solution to {exercise} is open at start"
        assert after["shown"] == before["parts"], f"{rel(page)}: the solution to {exercise} does not open on a click"
        for code in re.findall(r"```[\w+-]*\n(.*?)```", body, re.S):
            for line in filter(None, (line.strip() for line in code.splitlines())):
                assert line in after["text"], f"{rel(page)}: the opened solution to {exercise} lacks {line!r}"

    # Citations: each portable citation became a citation that links to an entry of the bibliography page.
    entries = bibliography_entries()
    assert len(r["citations"]) == len(citations), \
        f"{rel(page)}: {len(r['citations'])} citations shown, the notebook cites {len(citations)} times"
    for cite in r["citations"]:
        url = urlparse(cite["href"])
        assert url.path.endswith("/book/bibliography.html") and url.fragment in entries, \
            f"{rel(page)}: citation [{cite['text']}] links to {cite['href']}, not to a bibliography entry"

    # No portable markup left as text.
    for raw in ("### Exercise", "<details", "<summary", "<!--", "{cite}", "{solution}", "{exercise}", ":label:"):
        assert raw not in r["text"], f"{rel(page)}: {raw!r} shown as text"


def test_tables_that_cells_print_render_as_tables(book: Build) -> None:
    """A markdown table a cell prints (a chapter's "paper vs ours" table, experiment.Claims.show()) is a <table> on
    the page: _config.yml has myst-nb parse printed markdown as MyST, whose tables its default, commonmark, lacks."""
    for name in chapter_names():
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        printed = sum("|---" in "".join(o.get("data", {}).get("text/markdown", ""))
                      for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        page = HTML / "notebooks" / f"{name}.html"
        dom = page.read_text(encoding="utf8")
        assert not re.search(r"\|\s*(?:-{3}|—)[-—|\s]*\|", visible_text(dom)), f"{rel(page)}: a table shown as text"
        assert len(re.findall(r"<table\b", dom)) >= printed, f"{rel(page)}: {printed} printed tables, fewer <table>s"
