"""The claims the chapters record (mlbits_lite.experiment.Claims), gathered into book/reproductions.json and the
Reproductions page (book/_reproductions.md): current, well formed, and shown by every chapter that makes them."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

import nbtools
from mlbits_lite import experiment
from mlbits_lite.experiment import Claims, Paper, Summary

CHAPTERS = nbtools.chapters()
HINT = "run `python tests/nbtools.py reproductions`"
ADDS_A_CLAIM = re.compile(r"\.(?:direction|value)\(\s*id\s*=")


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


# ------------------------------------------------------------------------------------------------ the committed files
def test_reproductions_json_and_page_are_current():
    gathered = nbtools.gather()
    assert nbtools.REPRODUCTIONS_JSON.is_file(), f"book/reproductions.json is missing: {HINT}"
    assert nbtools.REPRODUCTIONS_JSON.read_text(encoding="utf8") == nbtools.reproductions_json(gathered), \
        f"book/reproductions.json is not what the chapters' outputs give: {HINT}"
    assert nbtools.REPRODUCTIONS_MD.read_text(encoding="utf8") == nbtools.reproductions_markdown(gathered), \
        f"book/_reproductions.md is not what the chapters' outputs give: {HINT}"


def test_the_reproductions_page_includes_the_generated_table():
    page = (nbtools.ROOT / "book" / "reproductions.md").read_text(encoding="utf8")
    assert "```{include} _reproductions.md" in page
    assert re.search(r"^\s*- file: book/reproductions\s*$", (nbtools.ROOT / "_toc.yml").read_text(), re.M)


@pytest.fixture(scope="module", params=CHAPTERS, ids=[p.name for p in CHAPTERS])
def chapter(request):
    path = request.param
    return path, nbformat.read(path, as_version=4)


def test_records_follow_the_schema(chapter):
    path, _ = chapter
    records = nbtools.chapter_claims(path)  # validates every record of every claims output
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), f"{path.name}: claim ids repeat: {ids}"
    for r in records:
        assert experiment.validate_record(r) == r
        if r["kind"] == "direction":
            assert r["verdict"] == experiment.verdict(Summary(**r["ours"]), r["expected_sign"]), r["id"]
        if r["paper"] is not None:
            assert r["paper"]["source"].strip(), f"{path.name}, {r['id']}: a paper number names its source"


def test_a_chapter_that_makes_claims_shows_them(chapter):
    path, nb = chapter
    cells = code_cells(nb)
    makes = [i for i, c in enumerate(cells) if "Claims(" in c.source]
    shown = [i for i, c in enumerate(cells)
             if any(experiment.MIME_TYPE in o.get("data", {}) for o in c.get("outputs", []))]
    if not makes:
        assert not shown, f"{path.name} shows claims but never makes experiment.Claims"
        return
    assert shown, f"{path.name} makes experiment.Claims but never shows them: call claims.show() (and re-execute)"
    assert nbtools.chapter_claims(path), f"{path.name}: its claims table is empty"
    late = [c.source.splitlines()[0] for c in cells[shown[-1] + 1:] if ADDS_A_CLAIM.search(c.source)]
    assert not late, f"{path.name} adds claims after its last claims.show(): {late}; show them again at the end"


# ------------------------------------------------------------------------------------------------ gathering
def notebook(path: Path, *payloads: list[dict] | None, chapter: str | None = None) -> Path:
    """A chapter notebook whose code cells each show the given claims (None: a cell without claims)."""
    cells = [nbformat.v4.new_markdown_cell(f"# Chapter {path.stem}")]
    for records in payloads:
        cell = nbformat.v4.new_code_cell("claims.show()")
        if records is not None:
            text = "| Claim | Metric | Paper | Ours | How they compare | Verdict |\n"  # gathering reads the JSON only
            bundle = {"text/markdown": text, "text/plain": text,
                      experiment.MIME_TYPE: {"chapter": chapter or path.stem, "records": records}}
            cell.outputs = [nbformat.v4.new_output("display_data", data=bundle)]
        cells.append(cell)
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def some_claims() -> list[dict]:
    claims = Claims("02_gelu")
    claims.direction(id="a-vs-b", claim="A beats B", metric="error, points", expected_sign=-1,
                     ours=Summary(-1.0, -1.5, -0.5, 5), paper=Paper(-0.3, "Some 2020, Table 1, row A"))
    claims.value(id="ece", claim="A is calibrated", metric="ECE (15 bins)", ours=Summary(0.03, 0.02, 0.04, 5),
                 paper=Paper(0.05, "Some 2020, Table 2"))
    return claims.records


def test_gather_takes_each_chapters_last_table(tmp_path):
    records = some_claims()
    paths = [notebook(tmp_path / "02_gelu.ipynb", records[:1], None, records),
             notebook(tmp_path / "01_first.ipynb", None),
             notebook(tmp_path / "03_third.ipynb", records[1:])]
    gathered = nbtools.gather(paths)
    assert list(gathered) == ["02_gelu", "03_third"]  # sorted; chapters without claims left out
    assert gathered["02_gelu"] == records and gathered["03_third"] == records[1:]
    text = nbtools.reproductions_json(gathered)
    assert text.endswith("}\n") and text == nbtools.reproductions_json(nbtools.gather(paths[::-1]))  # stable


def test_gather_refuses_inconsistent_claims(tmp_path):
    records = some_claims()
    with pytest.raises(ValueError, match=r"02_gelu.ipynb records claims for chapter '04_other'.*Claims\('02_gelu'\)"):
        nbtools.gather([notebook(tmp_path / "02_gelu.ipynb", records, chapter="04_other")])
    edited = [dict(records[0], verdict="contradicted")]
    with pytest.raises(ValueError, match="02_gelu.ipynb: record 'a-vs-b': verdict is 'contradicted'"):
        nbtools.gather([notebook(tmp_path / "02_gelu.ipynb", edited)])
    with pytest.raises(ValueError, match="claim 'ece' is shown in an earlier table but not"):
        nbtools.gather([notebook(tmp_path / "02_gelu.ipynb", records, records[:1])])


def test_reproductions_page_counts_verdicts_and_links_chapters(tmp_path):
    records = some_claims()
    first = notebook(tmp_path / "01_first.ipynb", None)
    second = notebook(tmp_path / "02_gelu.ipynb", records)
    text = nbtools.reproductions_markdown(nbtools.gather([first, second]), [first, second])
    assert "2 claims in 1 chapter:" in text
    assert "| reproduced | 1 |" in text and "| differs | 1 |" in text and "| contradicted | 0 |" in text
    assert "### [2. Chapter 02_gelu](../notebooks/02_gelu.ipynb)" in text
    assert experiment.table(records) in text
    assert "Chapters that record no claims yet: [1. Chapter 01_first](../notebooks/01_first.ipynb)." in text
    empty = nbtools.reproductions_markdown({}, [first])
    assert "No chapter records a claim yet" in empty and "|" not in empty


def test_claims_shown_in_a_kernel_are_gathered(tmp_path):
    """The whole path: Claims.show() in a real kernel leaves an output that gathering reads back unchanged."""
    import nbclient

    code = ("from mlbits_lite import experiment\n"
            "claims = experiment.Claims('02_gelu')\n"
            "claims.direction(id='a-vs-b', claim='A beats B', metric='error', expected_sign=-1,\n"
            "                 ours=experiment.paired_difference([1.0, 1.2, 0.9], [1.5, 1.6, 1.6]))\n"
            "claims.value(id='ece', claim='A is calibrated', metric='ECE', ours=experiment.summarize([0.1, 0.2]),\n"
            "             paper=experiment.Paper(0.05, 'Some 2020, Table 2'), comparable=False, note='other data')\n"
            "claims.show()\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A chapter"),
                                         nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    path = tmp_path / "02_gelu.ipynb"
    nbformat.write(nb, path)
    (output,) = nb.cells[1].outputs
    assert output.output_type == "display_data" and "| Paper | Ours |" in output.data["text/markdown"]
    records = nbtools.gather([path])["02_gelu"]
    assert [(r["id"], r["verdict"]) for r in records] == [("a-vs-b", "reproduced"), ("ece", "not comparable")]


# ------------------------------------------------------------------------------------------------ the rendered book
def test_the_book_skips_no_output_but_the_claims_json():
    """_config.yml suppresses myst-nb's warning about output types it cannot render, for the claims' JSON: so no
    other output may depend on such a type, and every output must have a type the HTML book renders."""
    from myst_nb.core.render import base_render_priority

    rendered = set(base_render_priority()["html"])
    for path in nbtools.chapters() + nbtools.book_notebooks():
        for cell in code_cells(nbformat.read(path, as_version=4)):
            for out in cell.get("outputs", []):
                if out.output_type not in ("display_data", "execute_result"):
                    continue
                types = set(out.get("data", {}))
                where = f"{path.name}, output of: {cell.source.splitlines()[0] if cell.source else '(empty cell)'}"
                assert types & rendered, f"{where}: none of {sorted(types)} renders in the book"
                assert types - rendered <= {experiment.MIME_TYPE}, \
                    f"{where}: the book would skip {sorted(types - rendered - {experiment.MIME_TYPE})} without a warning"
