"""book/_ext/portable.py: the notebooks' portable exercises, solutions and citations, and their MyST for the book."""
from __future__ import annotations

import nbtools  # noqa: F401  (puts book/_ext on sys.path)
import portable

KEYS = {"huber1964robust", "yun2019cutmix"}
EXERCISE = "### Exercise 2: Cube it\n<!-- exercise: ex-cube -->\n\nWrite `cube(x)` returning $x^3$."
SOLUTION = "<details>\n<summary>Solution</summary>\n\nMultiply.\n\n```python\ndef cube(x):\n    return x * x * x\n```\n\n</details>"


def markdown_cells(*sources: str) -> list[dict]:
    return [{"cell_type": "markdown", "source": s} for s in sources]


def test_exercise_and_solution_are_recognised():
    assert portable.exercise(EXERCISE) == (2, "Cube it", "ex-cube", "Write `cube(x)` returning $x^3$.")
    assert portable.solution(SOLUTION) == "Multiply.\n\n```python\ndef cube(x):\n    return x * x * x\n```"
    assert portable.exercise("### Exercise: no number\n<!-- exercise: ex -->\n") is None
    assert portable.exercise("### Exercise 1: No label\n\nText") is None
    assert portable.solution("<details>\n<summary>Hint</summary>\n\nText\n</details>") is None
    assert portable.solution("<details open>\n<summary>Solution</summary>\n\nText\n</details>") is None


def test_to_myst_makes_numbered_exercises_and_dropdown_solutions():
    cells = markdown_cells(EXERCISE, SOLUTION) + [{"cell_type": "code", "source": "[A](#huber1964robust)"}]
    portable.to_myst(cells, KEYS)
    assert cells[0]["source"] == "::::{exercise} Cube it\n:label: ex-cube\n\nWrite `cube(x)` returning $x^3$.\n::::\n"
    assert cells[1]["source"].startswith("::::{solution} ex-cube\n:class: dropdown\n\nMultiply.\n\n```python\n")
    assert cells[1]["source"].endswith("```\n::::\n")
    assert cells[2]["source"] == "[A](#huber1964robust)", "code cells are never rewritten"


def test_a_solution_before_any_exercise_stays_html():
    cells = markdown_cells(SOLUTION)
    portable.to_myst(cells, KEYS)
    assert cells[0]["source"] == SOLUTION


def test_citations_become_cite_roles_outside_code_only():
    text = ("As [Huber 1964](#huber1964robust) shows; see [the plot](#figure-1) and [Yun 2019](#yun2019cutmix).\n"
            "Write `[Huber 1964](#huber1964robust)` to cite.\n\n```md\n[Huber 1964](#huber1964robust)\n```\n")
    assert portable.cited_keys(text, KEYS) == ["huber1964robust", "yun2019cutmix"]
    cells = markdown_cells(text)
    portable.to_myst(cells, KEYS)
    assert cells[0]["source"] == (
        "As {cite}`huber1964robust` shows; see [the plot](#figure-1) and {cite}`yun2019cutmix`.\n"
        "Write `[Huber 1964](#huber1964robust)` to cite.\n\n```md\n[Huber 1964](#huber1964robust)\n```\n")


def test_notebook_sources_given_as_lists_are_read():
    cells = [{"cell_type": "markdown", "source": ["### Exercise 1: T\n", "<!-- exercise: ex-t -->\n", "\n", "Do it."]}]
    portable.to_myst(cells, KEYS)
    assert cells[0]["source"] == "::::{exercise} T\n:label: ex-t\n\nDo it.\n::::\n"
