"""Every chapter notebook follows design.md's conventions, and its committed outputs are fresh.

The notebooks themselves are re-executed by nbval (`--nbval-lax`, check cells compared); this module reads them.
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

import nbtools
import portable
from mlbits_lite import check

ROOT = nbtools.ROOT
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
RELEASE_TAG = CONFIG["mlbits"]["release_tag"]
MAX_BYTES = 2_000_000
ABS_PATH = re.compile(r"(?<![\w:/])/(?:home|root|Users|tmp|work|mnt|opt|usr|var)/[\w.-]+")
CHAPTERS = nbtools.chapters()
EXECUTED = CHAPTERS + nbtools.book_notebooks()  # chapters and the book's executed pages (e.g. the datasets)


def source(cell) -> str:
    return cell.source


def output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts += [v for k, v in out.get("data", {}).items() if k.startswith("text/")]
        parts += out.get("traceback", [])
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


@pytest.fixture(scope="module", params=CHAPTERS, ids=[p.name for p in CHAPTERS])
def chapter(request):
    path = request.param
    return path, nbformat.read(path, as_version=4)


@pytest.fixture(scope="module", params=EXECUTED, ids=[p.name for p in EXECUTED])
def executed(request):
    path = request.param
    return path, nbformat.read(path, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_is_at_least_one_chapter():
    assert CHAPTERS, "no chapter notebooks under notebooks/"


def test_every_chapter_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for path in CHAPTERS:
        assert re.search(rf"file:\s*notebooks/{path.stem}\s", toc), f"{path.name} missing from _toc.yml"


# ----------------------------------------------------------------------------------------------- front matter
def test_front_matter(chapter):
    path, nb = chapter
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "first cell must be '# Title'"
    text = first.source
    objectives = re.search(r"\*\*Learning objectives\*\*\s*\n((?:\s*\d+\..*\n?)+)", text)
    assert objectives, "front matter needs a **Learning objectives** numbered list"
    assert 3 <= len(re.findall(r"^\s*\d+\.", objectives.group(1), re.M)) <= 5, "3 to 5 learning objectives"
    assert nbtools.PREREQ_LINE.search(text), "front matter needs a **Prerequisites**: line"
    assert nbtools.RUN_TIME_LINE.search(text), "front matter needs a **Run time** line"
    badge = f"https://colab.research.google.com/github/{REPO_URL.split('github.com/')[1]}/blob/{RELEASE_TAG}/notebooks/{path.name}"
    assert badge in text, f"the Colab badge must link to {badge}"


def test_run_time_line_quotes_the_measured_timings(chapter):
    path, nb = chapter
    timings = json.loads(nbtools.TIMINGS.read_text()) if nbtools.TIMINGS.exists() else {}
    if path.stem not in timings:
        pytest.fail(f"{path.name} has no measured run time: run `make timings NB=notebooks/{path.name}`")
    assert nbtools.run_time_line(timings[path.stem]) in nb.cells[0].source, "Run time line is stale: `make timings`"


def test_chapter_map_is_current():
    timings = json.loads(nbtools.TIMINGS.read_text()) if nbtools.TIMINGS.exists() else {}
    assert nbtools.CHAPTER_MAP.read_text() == nbtools.chapter_map(timings), \
        "book/_chapter_map.md is stale: run `python tests/nbtools.py quotes`"


# ----------------------------------------------------------------------------------------------- set-up, parameters
def test_setup_cell_installs_from_the_configured_repository(executed):
    _, nb = executed
    setup = code_cells(nb)[0].source
    assert '"google.colab" in sys.modules' in setup, "the first code cell installs only in Colab"
    assert f"git+{REPO_URL}@{RELEASE_TAG}" in setup, f"install from {REPO_URL} at {RELEASE_TAG} (_config.yml)"
    assert "env.describe()" in setup, "print versions and the device"


def test_one_parameters_cell(executed):
    _, nb = executed
    params = [c for c in code_cells(nb) if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one cell tagged `parameters` (papermill)"
    assert re.search(r"^FAST = None\b", params[0].source, re.M), "parameters: FAST = None (reads MLBITS_FAST)"
    assert re.search(r"^SEED = \d+", params[0].source, re.M), "parameters: SEED"


def test_device_agnostic(executed):
    _, nb = executed
    for cell in code_cells(nb):
        assert ".cuda()" not in cell.source, "use env.device() and .to(device), never .cuda()"


# ----------------------------------------------------------------------------------------------- derivation
def test_check_cells(chapter):
    _, nb = chapter
    checks = [c for c in code_cells(nb) if c.source.lstrip().startswith("# CHECK:")]
    assert len(checks) >= 5, "at least five `# CHECK:` cells"
    for cell in checks:
        claim = cell.source.splitlines()[0]
        assert "# NBVAL_CHECK_OUTPUT" in cell.source, f"{claim}: nbval must compare its output"
        assert re.search(r"\bassert\b|assert_close", cell.source), f"{claim}: a check asserts"
        assert output_text(cell).strip(), f"{claim}: a check prints one deterministic line"


def test_widget_is_followed_by_a_static_figure(chapter):
    _, nb = chapter
    cells = code_cells(nb)
    widget_at = [i for i, c in enumerate(cells) if re.search(r"ipywidgets|interact\(", c.source)]
    assert widget_at, "at least one ipywidgets control"
    for i in widget_at:
        after = cells[i + 1] if i + 1 < len(cells) else None
        assert after is not None and any("image/png" in o.get("data", {}) for o in after.outputs), \
            "the cell after a widget shows a static figure (the rendered book has no kernel)"


def test_figures_and_paper_table(chapter):
    _, nb = chapter
    images = sum("image/png" in o.get("data", {}) for c in code_cells(nb) for o in c.outputs)
    assert images >= 3, "at least three figures"
    text = "\n".join(output_text(c) for c in code_cells(nb))
    assert re.search(r"^\|.*\bpaper\b.*\bours\b.*\|\s*$", text, re.M | re.I), \
        "an executed table with the paper's numbers and ours side by side (a header naming 'paper' and 'ours')"


def test_pitfalls_summary_references(chapter):
    _, nb = chapter
    md = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^## Pitfalls", md, re.M)
    assert re.search(r"^## Summary", md, re.M)
    assert re.search(r"^## References", md, re.M)
    bib = (ROOT / "book" / "references.bib").read_text()
    assert not re.search(r"\{cite[a-z:]*\}`", md), "cite with a portable link [Author Year](#key), not {cite}"
    keys = {key for _, key in portable.CITATION.findall(md)}
    bib_keys = portable.bib_keys(ROOT / "book" / "references.bib")
    for key in keys:  # a key-shaped fragment (firstauthorYEARword) must be a bibliography key
        assert key in bib_keys or not re.fullmatch(r"[a-z]+\d{4}\w+", key), f"{key} is not in book/references.bib"
    cited = keys & bib_keys
    assert cited, "cite the papers with portable links [Author Year](#key), key in book/references.bib"
    anchors = set(re.findall(r'<a id="([\w-]+)"></a>', md))
    for key in cited:
        assert key in anchors, f"{key} is cited but has no <a id=\"{key}\"></a> entry under ## References"


# ----------------------------------------------------------------------------------------------- exercises
def exercises(nb):
    """(label, check name, learner function name, solution code) for each exercise, in order (portable format:
    book/_ext/portable.py)."""
    found = []
    for i, cell in enumerate(nb.cells):
        ex = portable.exercise(cell.source) if cell.cell_type == "markdown" else None
        if not ex:
            continue
        number, _, label, _ = ex
        assert number == len(found) + 1, f"exercise {label}: exercises are numbered 1, 2, 3, ... in order"
        calls = [c for c in nb.cells[i + 1:i + 3] if c.cell_type == "code" and re.search(r"\bcheck\.\w+\(", c.source)]
        assert calls, f"exercise {label}: the next code cell calls a mlbits_lite.check self-check"
        name, fn = re.search(r"\bcheck\.(\w+)\((\w+)\)", calls[0].source).groups()
        solutions = [portable.solution(c.source) for c in nb.cells[i + 1:i + 4] if c.cell_type == "markdown"]
        solutions = [s for s in solutions if s is not None]
        assert solutions, f"exercise {label}: a <details> solution follows"
        code = re.search(r"```python\n(.*?)```", solutions[0], re.S)
        found.append((label, name, fn, code.group(1) if code else None))
    return found


def test_exercises_have_self_checks_and_solutions_that_pass_them(chapter):
    _, nb = chapter
    found = exercises(nb)
    assert len(found) >= 3, "at least three exercises"
    for label, name, fn, code in found:
        assert code, f"solution to {label} shows its code in a ```python block"
        namespace: dict = {}
        exec("import torch\nimport torch.nn.functional as F\n" + code, namespace)
        result = getattr(check, name)(namespace[fn])
        assert result.passed, f"the solution shown for {label} fails its own check: {result.message}"


def test_exercise_stubs_are_left_for_the_learner(chapter):
    _, nb = chapter
    for cell in code_cells(nb):
        if re.search(r"\bcheck\.\w+\(", cell.source):
            assert "raise NotImplementedError" in cell.source, "the exercise cell is a stub for the learner"


def _top_level_names(code: str) -> set[str]:
    """Names a cell binds at top level: functions, classes, assignments, imports, loop targets."""
    code = "\n".join(line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in code.splitlines())  # IPython magics and shell lines bind nothing
    names: set[str] = set()
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
            targets = (node.targets if isinstance(node, ast.Assign) else [node.target] if not isinstance(node, ast.With)
                       else [item.optional_vars for item in node.items if item.optional_vars is not None])
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def test_exercise_stubs_do_not_shadow_the_chapter(chapter):
    # a stub that redefines a name the chapter defined breaks the chapter's own cells when run again after it
    _, nb = chapter
    defined: dict[str, int] = {}
    for number, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        names = _top_level_names(cell.source)
        if re.search(r"\bcheck\.\w+\(", cell.source) and "raise NotImplementedError" in cell.source:
            shadowed = sorted(name for name in names if name in defined)
            assert not shadowed, (f"the exercise stub in cell {number} redefines {shadowed}, defined in cell "
                                  f"{defined[shadowed[0]]}: give the learner's function a name of its own")
        else:
            defined.update((name, number) for name in names if name not in defined)


def test_shadowing_is_detected():
    assert _top_level_names("import torch.nn as nn\nfrom math import sqrt\ndef f(x):\n    y = 1\nA, (b, c) = 1, (2, 3)\n"
                            "for i in range(3):\n    pass\n%matplotlib inline\n") == {"nn", "sqrt", "f", "A", "b", "c", "i"}


# ----------------------------------------------------------------------------------------------- outputs
def test_executed_in_order_without_errors(executed):
    _, nb = executed
    counts = [c.execution_count for c in code_cells(nb) if c.source.strip()]
    assert counts == list(range(1, len(counts) + 1)), "execute top to bottom in one kernel (`make execute`)"
    for cell in code_cells(nb):
        assert not any(o.output_type == "error" for o in cell.outputs), cell.source.splitlines()[0]
        assert not any(o.get("name") == "stderr" for o in cell.outputs), \
            f"stderr output (a warning?) in: {cell.source.splitlines()[0]}"


def test_no_absolute_paths_and_bounded_size(executed):
    path, nb = executed
    for cell in code_cells(nb):
        leak = ABS_PATH.search(output_text(cell))
        assert not leak, f"absolute path {leak.group(0)!r} in the output of: {cell.source.splitlines()[0]}"
    assert path.stat().st_size <= MAX_BYTES, f"{path.name} is {path.stat().st_size} bytes (max {MAX_BYTES})"


def test_outputs_are_fresh(executed):
    path, nb = executed
    stamp = nb.metadata.get("mlbits")
    hint = f"re-execute: make execute NB={path.relative_to(ROOT)}"
    assert isinstance(stamp, dict), f"no execution stamp: {hint}"
    assert stamp["mode"] == "full", f"outputs must come from full mode: {hint}"
    assert stamp["code_sha256"] == nbtools.code_hash(nb), f"code cells changed since the outputs were made: {hint}"
    assert stamp["library_sha256"] == nbtools.library_hash(nb), f"mlbits_lite changed since the outputs were made: {hint}"
    for key in ("device", "seconds", "executed", "versions"):
        assert key in stamp, f"stamp lacks {key}: {hint}"


# ----------------------------------------------------------------------------------------------- the stamp itself
def test_code_hash_sees_code_but_not_outputs_or_prose():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T"), nbformat.v4.new_code_cell("x = 1")])
    before = nbtools.code_hash(nb)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[0].source = "# Another title"
    assert nbtools.code_hash(nb) == before
    nb.cells[1].source = "x = 2"
    assert nbtools.code_hash(nb) != before


def test_library_files_follow_what_the_code_uses():
    def files(code: str) -> set[str]:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        return {p.relative_to(nbtools.LIBRARY).as_posix() for p in nbtools.library_files(nb)}

    used = files("import mlbits_lite as mb\nfrom mlbits_lite import check, env\nmb.autograd.vjp\ncheck.softmax_vjp(f)")
    assert {"env.py", "autograd.py", "check/_framework.py", "check/backward.py", "_validate.py"} <= used
    assert "plot.py" not in used and "train.py" not in used
    assert files("x = 1") == set()


def test_human_times():
    assert [nbtools.human(s) for s in (None, 4.4, 59.6, 61, 600)] == \
        ["not measured yet", "4 s", "1 min 00 s", "1 min 01 s", "10 min 00 s"]


def test_library_hash_counts_only_code_a_notebook_can_reach():
    module = "import math\nSCALE = 2.0\n__all__ = ['used']\n\ndef _helper(x):\n    return SCALE * x\n\n\n@staticmethod\ndef used(x):\n    return _helper(x)\n"
    reached = nbtools.used_source(module, {"used", "_helper", "SCALE"})
    assert "def used" in reached and "@staticmethod" in reached and "def _helper" in reached and "__all__" not in reached
    added = module + "\n\ndef unused(x):\n    return x\n"
    assert nbtools.used_source(added, {"used", "_helper", "SCALE"}) == reached
    edited = module.replace("SCALE * x", "SCALE * x + 1")
    assert nbtools.used_source(edited, {"used", "_helper", "SCALE"}) != reached
    assert "def _helper" not in nbtools.used_source(module, {"SCALE"})
