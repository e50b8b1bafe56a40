"""Notebooks as Jupyter shows them: solutions closed, no raw MyST, math typeset.

Each notebook (every chapter and the book's executed pages) is exported with nbconvert's HTML exporter, in its
`lab` template (JupyterLab, Notebook 7) and its `classic` template (classic Notebook), and opened in one headless
Chromium. What a reader sees is read from the page after MathJax ran, before and after opening every <details>:

- each solution cell shows only its "Solution" summary until opened; opened, it shows its code;
  no solution's code is visible anywhere on the page before a click;
- no MyST directive, option or role (```{exercise}, :label:, {cite}`...`) and no raw HTML tag text is visible;
- math is typeset (MathJax 3, served from sphinx-mathjax-offline's copy, configured as JupyterLab configures it:
  `$...$` inline, `$$...$$` display), without TeX errors, and no raw TeX is left in the prose;
- each exercise shows as a heading "Exercise N: Title" followed by its statement, its math typeset;
- each citation link [Author Year](#key) leads to the `<a id="key">` entry in the chapter's reference list.

`test_the_reader_check_sees_broken_markup` feeds the same check a notebook written the wrong ways and asserts that
it names each one, so a check that cannot fail would fail there. Without `chromium` on PATH the tests skip
(`make chromium`).
"""
from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from jinja2 import DictLoader
from nbconvert import HTMLExporter

import browser
import nbtools
import portable

NOTEBOOKS = nbtools.chapters() + nbtools.book_notebooks()
TEMPLATES = ("lab", "classic")
BIB_KEYS = portable.bib_keys(nbtools.ROOT / "book" / "references.bib")

# MyST that a reader must never see: directive options and fences, and roles ({cite}`key` shows as "{cite}key").
MYST = re.compile(r"^\s*:(?:label|class|name|nonumber):|^\s*(?:```+|:::+)\s*\{|\{(?:cite|ref|numref|eq|doc|term|"
                  r"download|math|glue|exercise|solution)(?::[\w-]+)*\}", re.M)
RAW_HTML = re.compile(r"</?(?:details|summary|div|span|a)\b[^>]*>|<!--|-->", re.I)
RAW_TEX = re.compile(r"\$|\\\(|\\\[|\\begin\{")
CODE_BLOCK = re.compile(r"```[\w+-]*\n(.*?)```", re.S)


def mathjax_url() -> str:
    """MathJax 3 (tex-chtml-full) from the sphinx-mathjax-offline package the book already uses: no network."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    assert spec and spec.submodule_search_locations, "sphinx-mathjax-offline is not installed"
    script = Path(spec.submodule_search_locations[0]) / "static" / "mathjax" / "tex-chtml-full.js"
    assert script.is_file(), f"{script} is missing"
    return script.as_uri()


# nbconvert's templates load MathJax 2 from a CDN with a MathJax 2 configuration; this macro replaces theirs and
# loads MathJax 3 with the delimiters JupyterLab's MathJax 3 uses.
MATHJAX_MACRO = r"""{%- macro mathjax(url) -%}
<script>
window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
                        processEscapes: true, processEnvironments: true}};
</script>
<script src="{{ url }}"></script>
{%- endmacro %}"""

# Runs in the page: waits for MathJax, reads every cell as shown, opens every <details>, reads them again.
READER = r"""
(async () => {
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  const shown = (el) => el.checkVisibility({visibilityProperty: true, opacityProperty: true});
  const prose = (cell) => {  // visible text outside code and typeset math
    const parts = [];
    const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const p = n.parentElement;
      if (p && !p.closest('code, pre, mjx-container, script, style') && shown(p)) parts.push(n.textContent);
    }
    return parts.join(' ');
  };
  const cells = [...document.querySelectorAll('[id^="cell-id="]')];
  const read = () => cells.map(c => ({text: c.innerText, prose: prose(c)}));
  const closed = read();
  const details = [...document.querySelectorAll('details')];
  const openAtStart = details.filter(d => d.open).length;
  details.forEach(d => { d.open = true; });
  const opened = read();
  return {
    ids: cells.map(c => c.id.slice('cell-id='.length)),
    closed, opened, openAtStart,
    math: cells.map(c => c.querySelectorAll('mjx-container').length),
    headings: cells.map(c => [...c.querySelectorAll('h1, h2, h3, h4, h5, h6')]
                                 .map(h => h.innerText.replace(/\u00b6/g, '').trim())),
    links: cells.map(c => [...c.querySelectorAll('a[href^="#"]')].map(a => {
      const key = decodeURIComponent(a.getAttribute('href').slice(1));
      return [key, document.getElementById(key) !== null || document.getElementsByName(key).length > 0];
    })),
    texErrors: document.querySelectorAll('mjx-merror').length,
    undefinedMacros: document.querySelectorAll('mjx-container [mathcolor="red"], mjx-container mjx-mtext[style*="red"]').length,
  };
})()
"""


@dataclass(frozen=True)
class View:
    """One notebook as a reader sees it, per code/markdown cell (keyed by cell id)."""
    closed: dict[str, dict]     # cell id -> {"text": visible text, "prose": visible text outside code and math}
    opened: dict[str, dict]     # the same after opening every <details>
    math: dict[str, int]        # cell id -> typeset formulas
    headings: dict[str, list[str]]
    links: dict[str, list[tuple[str, bool]]]  # cell id -> in-page links (fragment, target exists)
    open_at_start: int
    tex_errors: int
    undefined_macros: int


def with_ids(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """nbconvert labels each cell `cell-id=<id>`: give id-less cells (nbformat < 4.5) one."""
    for i, cell in enumerate(nb.cells):
        if not cell.get("id"):
            cell["id"] = f"cell-{i}"
    return nb


def export(nb: nbformat.NotebookNode, template: str, page: Path) -> Path:
    exporter = HTMLExporter(template_name=template, mathjax_url=mathjax_url(),
                            extra_loaders=[DictLoader({"mathjax.html.j2": MATHJAX_MACRO})])
    body, _ = exporter.from_notebook_node(nb)
    page.write_text(body, encoding="utf8")
    return page


def look(chromium: browser.Browser, page: Path) -> View:
    chromium.open(page)
    r = chromium.evaluate(READER)
    by_id = lambda values: dict(zip(r["ids"], values))  # noqa: E731
    return View(by_id(r["closed"]), by_id(r["opened"]), by_id(r["math"]), by_id(r["headings"]),
                {k: [tuple(x) for x in v] for k, v in by_id(r["links"]).items()},
                r["openAtStart"], r["texErrors"], r["undefinedMacros"])


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def problems(nb: nbformat.NotebookNode, view: View) -> list[str]:
    """Everything in the view that a reader of this notebook should not see (empty when it reads well)."""
    found: list[str] = []
    where = lambda cell: squash(cell.source)[:60]  # noqa: E731
    missing = [c.id for c in nb.cells if c.id not in view.closed]
    if missing:
        return [f"cells {missing} are not on the exported page"]
    if view.open_at_start:
        found.append(f"{view.open_at_start} <details> block(s) open before any click")
    if view.tex_errors:
        found.append(f"{view.tex_errors} TeX error(s) (<mjx-merror>)")
    if view.undefined_macros:
        found.append(f"{view.undefined_macros} undefined TeX macro(s) (typeset in red)")
    page_before_click = squash(" ".join(shown["text"] for shown in view.closed.values()))

    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    for cell in markdown:
        closed, opened = view.closed[cell.id], view.opened[cell.id]
        for state, shown in (("", closed), (" (opened)", opened)):
            if m := MYST.search(shown["text"]):
                found.append(f"raw MyST {m.group(0).strip()!r} visible{state} in: {where(cell)}")
            if m := RAW_HTML.search(shown["prose"]):
                found.append(f"raw HTML {m.group(0)!r} visible{state} in: {where(cell)}")
            if m := RAW_TEX.search(shown["prose"]):
                found.append(f"raw TeX {m.group(0)!r} left untypeset{state} in: {where(cell)}")
        if "$" in cell.source and not view.math[cell.id]:
            found.append(f"no typeset math in: {where(cell)}")
        for key, exists in view.links[cell.id]:
            if key in BIB_KEYS and not exists:
                found.append(f"citation link #{key} leads nowhere (no <a id=\"{key}\"> on the page)")

        if (exercise := portable.exercise(cell.source)) is not None:
            number, title, _, statement = exercise
            heading = f"Exercise {number}: {title}"
            if squash(heading) not in [squash(h) for h in view.headings[cell.id]]:
                found.append(f"exercise shows no heading {heading!r} (headings: {view.headings[cell.id]})")
            if not statement or squash(closed["text"]) == squash(heading):
                found.append(f"{heading}: no statement shown")

        if (body := portable.solution(cell.source)) is not None:
            if squash(closed["text"]) != "Solution":
                found.append(f"solution cell shows {squash(closed['text'])[:80]!r} before a click, not just 'Solution'")
            for code in CODE_BLOCK.findall(body):
                lines = [line.strip() for line in code.splitlines() if line.strip()]
                if not all(line in opened["text"] for line in lines):
                    found.append(f"solution code is not shown when opened: {squash(code)[:60]!r}")
                if squash(code) in page_before_click:
                    found.append(f"solution code visible before a click: {squash(code)[:60]!r}")
    if any("$" in c.source for c in markdown) and not any(view.math.values()):
        found.append("no typeset math on the page (MathJax did not run)")
    return found


# --------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def chromium():
    if not browser.available():
        pytest.skip("chromium is not on PATH (Debian: apt-get install chromium, or `make chromium`): "
                    "notebooks as Jupyter shows them not checked")
    with browser.Browser() as b:
        yield b


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_reads_well_in_jupyter(chromium, tmp_path, path: Path, template: str) -> None:
    nb = with_ids(nbformat.read(path, as_version=4))
    view = look(chromium, export(nb, template, tmp_path / f"{path.stem}.{template}.html"))
    found = problems(nb, view)
    assert not found, f"{path.name} as Jupyter shows it ({template} template):\n  " + "\n  ".join(found)


# --------------------------------------------------------------------------------------------------- the check
GOOD = [
    "# A page\n\nInline $x^2$ and display $$\\sum_i x_i$$ with a citation [Huber 1964](#huber1964robust).",
    "### Exercise 1: Square it\n<!-- exercise: ex-square -->\n\nWrite `square(x)` returning $x^2$.",
    "<details>\n<summary>Solution</summary>\n\nMultiply.\n\n```python\ndef square(x):\n    return x * x\n```\n\n</details>",
    '## References\n\n- <a id="huber1964robust"></a>Huber (1964), *Robust Estimation of a Location Parameter*.',
]
BROKEN = {
    # a MyST directive fence and its options, as the old format wrote exercises
    "```{exercise} Cube it\n:label: ex-cube\n\nWrite `cube(x)`.\n```": "raw MyST '{exercise}'",
    # a solution that opens by itself
    "<details open>\n<summary>Solution</summary>\n\n```python\ndef cube(x):\n    return x ** 3\n```\n\n</details>":
        "open before any click",
    # a MyST role
    "As {cite}`huber1964robust` shows.": "raw MyST '{cite}'",
    # a solution whose code sits outside the block: the <details> ends at its own line
    "<details>\n<summary>Solution</summary>\n</details>\n\n```python\ndef cube(x):\n    return x * x * x\n```\n\n</details>":
        "solution cell shows",
    # a TeX error, a macro MathJax does not know, and TeX that no delimiter opens
    "Broken $\\frac{1}$ and $\\notamacro{x}$ and \\begin{x} left.": "TeX error",
    # a citation whose reference entry has no anchor
    "See [Kakade & Lee 2018](#kakade2018provably).": "citation link #kakade2018provably leads nowhere",
}


def test_the_reader_check_sees_broken_markup(chromium, tmp_path) -> None:
    if "huber1964robust" not in BIB_KEYS or "kakade2018provably" not in BIB_KEYS:
        pytest.skip("the example keys are not in book/references.bib")
    good = with_ids(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(s) for s in GOOD]))
    for template in TEMPLATES:
        view = look(chromium, export(good, template, tmp_path / f"good.{template}.html"))
        assert problems(good, view) == [], f"a well-written notebook is flagged ({template})"

    cells = [nbformat.v4.new_markdown_cell(s) for s in GOOD[:-1] + list(BROKEN) + GOOD[-1:]]
    bad = with_ids(nbformat.v4.new_notebook(cells=cells))
    for template in TEMPLATES:
        found = "\n".join(problems(bad, look(chromium, export(bad, template, tmp_path / f"bad.{template}.html"))))
        for markup, expected in BROKEN.items():
            assert expected in found, f"not seen ({template}): {markup!r}\nfound:\n{found}"
        for expected in ("undefined TeX macro", "raw TeX '\\\\begin{' left untypeset", "solution code visible before"):
            assert expected in found, f"not seen ({template}): {expected}\nfound:\n{found}"
