"""README.md: its chapter table is the one tests/readme.py generates, and lists every chapter."""
from __future__ import annotations

import pytest

import nbtools
import readme


def test_chapter_table_is_current() -> None:
    text = readme.README.read_text(encoding="utf8")
    assert readme.with_table(text) == text, "README.md's chapter table is stale: run `python tests/readme.py`"


def test_chapter_table_lists_every_chapter() -> None:
    table = readme.table()
    listed = [notebook for _, _, notebook in readme.chapters()]
    assert sorted(listed) == nbtools.chapters(), "every chapter notebook, once"
    for part, number, notebook in readme.chapters():
        assert number == int(notebook.name[:2]), f"{notebook.name} is chapter {number} in the book"
        assert f"| {part} | [{number}. {readme.title(notebook)}](notebooks/{notebook.name}) |" in table


def test_with_table_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="readme: no chapter table markers"):
        readme.with_table("# A README without markers\n")
    marked = f"before\n{readme.BEGIN}\nold table\n{readme.END}\nafter\n"
    assert readme.with_table(marked) == f"before\n{readme.BEGIN}\n{readme.table()}{readme.END}\nafter\n"
