"""Every chapter runs on Colab's versions, as a learner gets it: the student edition, top to bottom, in fast mode.

The kernels run in .venv-colab (ipywidgets 7, ipykernel 6, Colab's numpy, matplotlib, scipy ...) and import this
checkout's mlbits_lite; test_install.py checks the set-up cell's install of the released one.
"""
from __future__ import annotations

import os
import sys

import nbformat
import pytest

import nbtools
import portable
from colab_versions import pins

ROOT = nbtools.ROOT
CHAPTERS = nbtools.chapters()
PAGES = nbtools.book_notebooks()  # the book's executed pages that are not chapters (e.g. the datasets)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def colab_kernel(monkeypatch):
    """Kernels of this environment's Python that import this checkout's mlbits_lite."""
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("PATH", f"{sys.prefix}/bin{os.pathsep}{os.environ['PATH']}")


def outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts += [v for k, v in out.get("data", {}).items() if k.startswith("text/")]
        parts += out.get("traceback", [])
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def test_the_kernel_has_colabs_versions(tmp_path, colab_kernel):
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import sys, ipykernel, ipywidgets, IPython, numpy, matplotlib\n"
        "print(sys.prefix)\n"
        "print(ipykernel.__version__, ipywidgets.__version__, IPython.__version__, numpy.__version__, "
        "matplotlib.__version__)")])
    probe.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(probe, path)
    nbtools.run(path, fast=True, output=path)
    prefix, *versions = outputs_text(nbformat.read(path, as_version=4).cells[0]).split()
    assert prefix == sys.prefix, f"the kernel runs {prefix}, not this environment ({sys.prefix})"
    expected = [pins()[name].here for name in ("ipykernel", "ipywidgets", "ipython", "numpy", "matplotlib")]
    assert versions == expected


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_student_edition_runs_and_every_self_check_waits_for_the_learner(chapter, tmp_path, colab_kernel):
    path = tmp_path / chapter.name
    nbformat.write(nbtools.student_edition(nbformat.read(chapter, as_version=4)), path)
    nbtools.run(path, fast=True, output=path, cwd=tmp_path)
    ran = nbformat.read(path, as_version=4)

    exercises = [c for c in ran.cells if c.cell_type == "markdown" and portable.exercise(c.source)]
    stubs = [(i, c) for i, c in enumerate(ran.cells) if nbtools.is_exercise_stub(c)]
    assert exercises and len(stubs) == len(exercises), f"{len(exercises)} exercises, {len(stubs)} self-check cells"
    for i, cell in stubs:
        said = outputs_text(cell)
        assert "not attempted yet" in said, f"cells[{i}] ({cell.source.splitlines()[0]}) said: {said!r}"
    assert not any(nbtools.is_solution(c) for c in ran.cells), "a solution is left in the student edition"
    widgets = [o for c in ran.cells if c.cell_type == "code" for o in c.outputs if WIDGET_VIEW in o.get("data", {})]
    assert widgets, "no ipywidgets control was displayed"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_book_page_runs(page, tmp_path, colab_kernel):
    nbtools.run(page, fast=True, output=tmp_path / page.name, cwd=tmp_path)
