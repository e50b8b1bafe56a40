"""Student editions (`make student`): solutions removed, exercise stubs kept without outputs, the rest intact.

That every student edition runs top to bottom with each self-check saying "not attempted yet" is tested on Colab's
versions, in tests/colab/test_run.py.
"""
from __future__ import annotations

import copy
import re

import nbformat
import pytest

import nbtools

CHAPTERS = nbtools.chapters()
SOLUTION = "<details>\n<summary>Solution</summary>\n\nBecause $x$.\n\n```python\ndef f(x):\n    return x\n```\n</details>"


@pytest.fixture(scope="module", params=CHAPTERS, ids=[p.name for p in CHAPTERS])
def chapter(request):
    return nbformat.read(request.param, as_version=4)


def test_student_edition_of_every_chapter(chapter):
    edition = nbtools.student_edition(chapter)
    kept = [c for c in chapter.cells if not nbtools.is_solution(c)]
    assert len(kept) < len(chapter.cells), "the chapter has solutions to remove"
    assert len(edition.cells) == len(kept)
    stubs = 0
    for before, after in zip(kept, edition.cells):
        if nbtools.is_exercise_stub(before):
            stubs += 1
            assert after.source == before.source and "raise NotImplementedError" in after.source
            assert after.outputs == [] and after.execution_count is None
        elif after != before:  # only the sentence that points to the solutions may go
            assert after.cell_type == "markdown" and after.source == nbtools.SOLUTIONS_POINTER.sub("", before.source)
    exercises_intro = next(c.source for c in edition.cells if c.source.startswith("## Exercises"))
    assert not re.search(r"[Ss]olutions? (?:are|is) (?:in|below|under)", exercises_intro), exercises_intro
    assert stubs >= 3
    assert not any("<summary>Solution</summary>" in c.source for c in edition.cells)
    assert "mlbits" not in edition.metadata and edition.metadata["mlbits_edition"] == "student"
    nbformat.validate(edition)


def test_student_edition_leaves_the_chapter_alone(chapter):
    before = copy.deepcopy(chapter)
    nbtools.student_edition(chapter)
    assert chapter == before


def test_what_counts_as_a_solution_and_as_an_exercise_stub():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    assert nbtools.is_solution(md(SOLUTION))
    assert not nbtools.is_solution(md(SOLUTION.replace("Solution", "Hint")))  # other dropdowns stay
    assert not nbtools.is_solution(code(SOLUTION))
    assert nbtools.is_exercise_stub(code("def f(x):\n    raise NotImplementedError\n\n\ncheck.softmax_vjp(f)"))
    assert nbtools.is_exercise_stub(code("mlbits_lite.check.gelu_tanh(my_gelu)"))
    assert not nbtools.is_exercise_stub(code("checker.run(f)"))
    assert not nbtools.is_exercise_stub(md("check.softmax_vjp(f)"))


def test_the_pointer_to_the_solutions_goes_with_them():
    intro = nbformat.v4.new_markdown_cell("## Exercises\n\nReplace the stub and run the cell. Solutions are in the "
                                          "dropdowns. Good luck.")
    edition = nbtools.student_edition(nbformat.v4.new_notebook(cells=[intro, nbformat.v4.new_markdown_cell(SOLUTION)]))
    assert [c.source for c in edition.cells] == ["## Exercises\n\nReplace the stub and run the cell. Good luck."]


def test_student_edition_refuses_what_is_not_a_notebook():
    with pytest.raises(TypeError, match="nb must be a notebook"):
        nbtools.student_edition({"cells": []})


def test_write_student_editions(tmp_path):
    written = nbtools.write_student_editions(CHAPTERS[:2], tmp_path / "student")
    assert [p.name for p in written] == [p.name for p in CHAPTERS[:2]]
    for path in written:
        nb = nbformat.read(path, as_version=4)
        assert nb.metadata["mlbits_edition"] == "student"
        assert not any(nbtools.is_solution(c) for c in nb.cells)
