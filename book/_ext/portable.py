"""The notebooks' portable markdown, and its translation to MyST for the book.

A chapter is read in three places: the book, Jupyter (Lab or classic) and Colab. Its markdown is written in the
form all three render, and this Sphinx extension turns that form into MyST when the book is built:

    ### Exercise 2: Title                          ```{exercise} Title
    <!-- exercise: ex-label -->             ->     :label: ex-label
                                                   statement ...
    statement ...                                  ```

    <details>                                      ```{solution} ex-label
    <summary>Solution</summary>             ->     :class: dropdown
                                                   explanation and code ...
    explanation and code ...                       ```
    </details>

    [Huber 1964](#huber1964robust)          ->     {cite}`huber1964robust`   (when the key is in references.bib)

In Jupyter and Colab the exercise is a heading with its statement, the solution a closed <details> block, and a
citation a link to the chapter's own reference list, whose entries carry `<a id="key"></a>` anchors. In the book
they are sphinx-exercise's numbered, linked exercises and dropdown solutions, and sphinxcontrib-bibtex citations.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

EXERCISE = re.compile(r"\A\s*### Exercise (\d+): (.+)\n<!-- exercise: ([\w-]+) -->\n(.*?)\s*\Z", re.S)
SOLUTION = re.compile(r"\A\s*<details>\s*\n<summary>Solution</summary>\s*\n(.*?)\n\s*</details>\s*\Z", re.S)
CITATION = re.compile(r"\[([^\]\n]+)\]\(#([\w-]+)\)")
CODE = re.compile(r"(```.*?```|`[^`\n]+`)", re.S)  # fenced blocks and inline spans: shown as written, never rewritten
BIB_KEY = re.compile(r"^@\w+\{([^,\s]+),", re.M)
FENCE = "::::"  # colon fences outlast any backtick code block inside


def bib_keys(bib: Path) -> set[str]:
    return set(BIB_KEY.findall(bib.read_text(encoding="utf-8")))


def exercise(markdown: str) -> tuple[int, str, str, str] | None:
    """(number, title, label, statement) when the cell is an exercise, else None."""
    m = EXERCISE.match(markdown)
    return (int(m.group(1)), m.group(2).strip(), m.group(3), m.group(4).strip()) if m else None


def solution(markdown: str) -> str | None:
    """The body of a solution cell (a <details> block summarised "Solution"), else None."""
    m = SOLUTION.match(markdown)
    return m.group(1).strip() if m else None


def prose(markdown: str) -> list[str]:
    """The markdown split at code: even items are prose, odd items are code blocks and spans."""
    return CODE.split(markdown)


def cited_keys(markdown: str, keys: set[str]) -> list[str]:
    """The bibliography keys this markdown cites with portable citation links (outside code)."""
    return [key for part in prose(markdown)[::2] for _, key in CITATION.findall(part) if key in keys]


def cite(markdown: str, keys: set[str]) -> str:
    """Portable citation links whose key is in `keys` -> {cite}`key`; code and other links stay as written."""
    parts = prose(markdown)
    parts[::2] = [CITATION.sub(lambda m: f"{{cite}}`{m.group(2)}`" if m.group(2) in keys else m.group(0), part)
                  for part in parts[::2]]
    return "".join(parts)


def to_myst(cells: list[dict], keys: set[str]) -> None:
    """Rewrite the markdown cells of a notebook (nbformat JSON) from the portable form to MyST, in place."""
    label = None
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if (found := exercise(text)) is not None:
            _, title, label, body = found
            text = f"{FENCE}{{exercise}} {title}\n:label: {label}\n\n{body}\n{FENCE}\n"
        elif (body := solution(text)) is not None and label is not None:
            text = f"{FENCE}{{solution}} {label}\n:class: dropdown\n\n{body}\n{FENCE}\n"
        cell["source"] = cite(text, keys)


def _on_source_read(app, docname: str, source: list[str]) -> None:
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    keys = set().union(*(bib_keys(Path(app.srcdir) / f) for f in app.config.bibtex_bibfiles))
    notebook = json.loads(source[0])
    to_myst(notebook.get("cells", []), keys)
    source[0] = json.dumps(notebook)


def setup(app):
    app.connect("source-read", _on_source_read)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
