"""Execute, stamp and time the book's notebooks; the tests read the same stamps.

    python tests/nbtools.py execute [NOTEBOOK ...]   # full mode, in place, stamped   (make execute)
    python tests/nbtools.py timings [NOTEBOOK ...]   # fast + full mode, timed         (make timings)
    python tests/nbtools.py reproductions            # gather the chapters' claims: book/reproductions.json
                                                     # and book/_reproductions.md (also run by execute, timings)

A stamp is notebook metadata `mlbits`: the hash of the code cells and of the mlbits_lite sources the outputs were
made with, the mode, the device, the seconds and the library versions. tests/test_notebooks.py fails when the code
changed but the outputs were not re-executed.

`timings` runs each notebook in fast mode (output thrown away) and in full mode (in place, stamped), records the
seconds in book/timings.json, and writes them where the book quotes them: book/_chapter_map.md (included by the
instructors' page and the run-times page) and each chapter's "**Run time**" line.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))  # portable.py: the notebooks' exercise and citation format
NOTEBOOKS = ROOT / "notebooks"
LIBRARY = ROOT / "mlbits_lite"
TIMINGS = ROOT / "book" / "timings.json"
CHAPTER_MAP = ROOT / "book" / "_chapter_map.md"
RUN_TIME_LINE = re.compile(r"^\*\*Run time\*\*.*$", re.M)
PREREQ_LINE = re.compile(r"^\*\*Prerequisites\*\*:?\s*(.*)$", re.M)


# ------------------------------------------------------------------------------------------------ hashes
def code_hash(nb: nbformat.NotebookNode) -> str:
    """sha256 of the code cells' sources, in order (outputs, markdown and metadata do not count)."""
    h = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            h.update(cell.source.strip().encode() + b"\0")
    return h.hexdigest()


_MODULE_REFERENCE = re.compile(r"\b(?:mb|mlbits_lite)\.(\w+)|from mlbits_lite import (?:\(([\w ,\n]+)\)|([\w ,]+))")
_RELATIVE_IMPORT = re.compile(r"^from (\.+)(\w*) import (?:\(([\w ,\n]+)\)|([\w ,]+))", re.M)


def _module_file(parts: list[str]) -> Path | None:
    path = LIBRARY.joinpath(*parts)
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _defining_modules(package: str, code: str) -> list[Path]:
    """The submodules of a package (`check`, `models`) that define the names the code takes from it."""
    used = set(re.findall(rf"\b{package}\.(\w+)", code))
    for parenthesised, plain in re.findall(rf"from mlbits_lite\.{package} import (?:\(([\w ,\n]+)\)|([\w ,]+))", code):
        used.update(n.strip() for n in (parenthesised or plain).split(","))
    defines = re.compile(rf"^(?:def|class) ({'|'.join(map(re.escape, used)) or '^$'})\b", re.M)
    return [m for m in sorted((LIBRARY / package).glob("[a-z]*.py")) if defines.search(m.read_text())]


def library_files(nb: nbformat.NotebookNode) -> list[Path]:
    """The mlbits_lite files a notebook's outputs depend on: the modules its code uses, and what those import.

    From a package (`check`, `models`) only the submodules that define the names the notebook uses count, so a new
    chapter's checks or model do not mark the other chapters stale. Data files count when a module reads `_files/`.
    """
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    names = set(re.findall(r"from mlbits_lite\.(\w+) import", code))
    for match in _MODULE_REFERENCE.finditer(code):
        names.update(n.strip() for group in match.groups() if group for n in group.split(","))
    todo: list[Path] = []
    for name in sorted(names):
        path = _module_file([name]) if name else None
        if path is not None:
            todo += _defining_modules(name, code) if path.name == "__init__.py" else [path]
    files: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.add(path)
        text = path.read_text()
        package = list(path.relative_to(LIBRARY).parent.parts)
        for dots, module, *imported in _RELATIVE_IMPORT.findall(text):
            imported = "".join(imported)
            base = package[: len(package) - (len(dots) - 1)]
            targets = [base + [module]] if module else [base + [n.strip()] for n in imported.split(",")]
            todo += [f for t in targets if (f := _module_file(t)) is not None]
        if "_files" in text:
            files.update(p for p in (LIBRARY / "_files").glob("*") if p.is_file())
    return sorted(files)


def library_hash(nb: nbformat.NotebookNode) -> str:
    """sha256 of the mlbits_lite files the notebook depends on (path and content): a change there marks it stale."""
    h = hashlib.sha256()
    for path in library_files(nb):
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def chapters() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.glob("[0-9]*.ipynb"))


def book_notebooks() -> list[Path]:
    """The book's executed pages that are not chapters (e.g. book/datasets.ipynb)."""
    return sorted((ROOT / "book").glob("*.ipynb"))


# ------------------------------------------------------------------------------------------------ execution
def _device() -> str:
    import torch

    from mlbits_lite.env import device

    dev = device()
    return f"cuda ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else dev.type


def _tidy(nb: nbformat.NotebookNode) -> None:
    """Drop papermill's per-run bookkeeping (timestamps, paths): the `mlbits` stamp says what matters."""
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)


def run(path: Path, *, fast: bool, output: Path) -> float:
    """Execute `path` with papermill in the given mode, writing `output`; return the wall-clock seconds."""
    import papermill

    os.environ["MLBITS_FAST"] = "1" if fast else "0"
    start = time.perf_counter()
    papermill.execute_notebook(str(path), str(output), cwd=str(path.parent), kernel_name="python3",
                               progress_bar=False, request_save_on_cell_execute=False)
    return time.perf_counter() - start


def execute(path: Path) -> float:
    """Full mode, in place, stamped. Returns the seconds it took."""
    from mlbits_lite.env import versions

    seconds = run(path, fast=False, output=path)
    nb = nbformat.read(path, as_version=4)
    _tidy(nb)
    nb.metadata["mlbits"] = {
        "code_sha256": code_hash(nb),
        "library_sha256": library_hash(nb),
        "mode": "full",
        "device": _device(),
        "seconds": round(seconds, 1),
        "executed": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "versions": versions(),
    }
    nbformat.write(nb, path)
    print(f"executed {path.relative_to(ROOT)} in full mode: {seconds:.1f} s")
    return seconds


# ------------------------------------------------------------------------------------------------ timings
def human(seconds: float | None) -> str:
    """12.3 -> '12 s'; 161 -> '2 min 41 s'; None -> 'not measured yet'."""
    if seconds is None:
        return "not measured yet"
    s = round(seconds)
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def run_time_line(t: dict) -> str:
    gpu = human(t.get("full_gpu_s")) + (f" ({t['gpu']})" if t.get("gpu") else "")
    return (f"**Run time** (measured with `make timings`, see [Run times](../book/run-times.md)): "
            f"fast mode {human(t.get('fast_cpu_s'))} and full mode {human(t.get('full_cpu_s'))} "
            f"on a {t.get('cpu_cores', '?')}-core CPU; full mode on one GPU: {gpu}.")


def chapter_map(timings: dict) -> str:
    rows = ["| Chapter | Prerequisites | Fast mode (CPU) | Full mode (CPU) | Full mode (GPU) |",
            "|---|---|---|---|---|"]
    for path in chapters():
        nb = nbformat.read(path, as_version=4)
        front = nb.cells[0].source
        title = front.lstrip().splitlines()[0].lstrip("# ").strip()
        number = int(path.name.split("_")[0])
        prereq = PREREQ_LINE.search(front)
        prereq_text = prereq.group(1).strip() if prereq else "none"
        prereq_text = re.sub(r"\]\((\d\d_[\w]+\.ipynb)\)", r"](../notebooks/\1)", prereq_text)
        t = timings.get(path.stem, {})
        rows.append(f"| [{number}. {title}](../notebooks/{path.name}) | {prereq_text} | {human(t.get('fast_cpu_s'))} "
                    f"| {human(t.get('full_cpu_s'))} | {human(t.get('full_gpu_s'))} |")
    return "\n".join(rows) + "\n"


def write_quotes(timings: dict) -> None:
    """Write the measured times where the book quotes them: the chapter map and each chapter's Run time line."""
    CHAPTER_MAP.write_text(chapter_map(timings))
    for path in chapters():
        if path.stem not in timings:
            continue
        nb = nbformat.read(path, as_version=4)
        front = nb.cells[0]
        new = RUN_TIME_LINE.sub(lambda _: run_time_line(timings[path.stem]), front.source, count=1)
        if new != front.source:
            front.source = new
            nbformat.write(nb, path)


def timings(paths: list[Path]) -> None:
    from mlbits_lite.env import device

    on_gpu = device().type == "cuda"
    table = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp:
            fast = run(path, fast=True, output=Path(tmp) / path.name)
        full = execute(path)
        t = table.setdefault(path.stem, {})
        if on_gpu:
            t.update(full_gpu_s=round(full, 1), fast_gpu_s=round(fast, 1), gpu=_device())
        else:
            t.update(fast_cpu_s=round(fast, 1), full_cpu_s=round(full, 1), cpu_cores=os.cpu_count())
        t["measured"] = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        print(f"{path.stem}: fast {human(fast)}, full {human(full)}")
    TIMINGS.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
    write_quotes(table)


# ------------------------------------------------------------------------------------------------ reproductions
REPRODUCTIONS_JSON = ROOT / "book" / "reproductions.json"
REPRODUCTIONS_MD = ROOT / "book" / "_reproductions.md"


def claims_outputs(nb: nbformat.NotebookNode) -> list[dict]:
    """The payloads {"chapter", "records"} that `experiment.Claims.show()` left in a notebook's outputs, in order."""
    from mlbits_lite.experiment import MIME_TYPE

    return [out["data"][MIME_TYPE] for cell in nb.cells if cell.cell_type == "code"
            for out in cell.get("outputs", []) if MIME_TYPE in out.get("data", {})]


def chapter_claims(path: Path) -> list[dict]:
    """A chapter's records: those of its last claims output, which holds every claim shown before it.

    Raises ValueError when the claims name another chapter, a record is malformed or its verdict does not follow from
    its numbers, or a claim shown earlier is missing from (or differs in) the last table.
    """
    from mlbits_lite.experiment import validate_record

    payloads = claims_outputs(nbformat.read(path, as_version=4))
    if not payloads:
        return []
    for payload in payloads:
        if payload.get("chapter") != path.stem:
            raise ValueError(f"{path.name} records claims for chapter {payload.get('chapter')!r}: "
                             f"use experiment.Claims({path.stem!r})")
        for record in payload["records"]:
            try:
                validate_record(record)
            except (TypeError, ValueError) as error:
                raise ValueError(f"{path.name}: {error}") from None
    last = payloads[-1]["records"]
    for payload in payloads[:-1]:
        for record in payload["records"]:
            if record not in last:
                raise ValueError(f"{path.name}: claim {record['id']!r} is shown in an earlier table but not, or "
                                 f"not the same, in the last: show the claims once more after the last one is made")
    return [dict(r) for r in last]


def gather(paths: list[Path] | None = None) -> dict[str, list[dict]]:
    """{chapter stem: [record, ...]} for every chapter (or the given notebooks) that records claims."""
    found = {path.stem: chapter_claims(path) for path in sorted(paths if paths is not None else chapters())}
    return {stem: records for stem, records in sorted(found.items()) if records}


def reproductions_json(gathered: dict[str, list[dict]]) -> str:
    """book/reproductions.json: chapters and record keys sorted, records in the order each chapter made them."""
    return json.dumps(gathered, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _chapter_link(path: Path) -> str:
    front = nbformat.read(path, as_version=4).cells[0].source
    title = front.lstrip().splitlines()[0].lstrip("# ").strip()
    return f"[{int(path.name.split('_')[0])}. {title}](../notebooks/{path.name})"


def reproductions_markdown(gathered: dict[str, list[dict]], paths: list[Path] | None = None) -> str:
    """book/_reproductions.md: a count of verdicts, then each chapter's claims in one table under a link to it."""
    from mlbits_lite.experiment import VERDICTS, table

    paths = sorted(paths if paths is not None else chapters())
    lines = ["<!-- Generated by `python tests/nbtools.py reproductions` from the chapters' executed outputs. -->", ""]
    records = [r for stem in gathered for r in gathered[stem]]
    if not records:
        lines += ["No chapter records a claim yet. When a chapter records its claims with "
                  "`mlbits_lite.experiment.Claims`, they appear here with their verdicts."]
        return "\n".join(lines) + "\n"
    counts = {v: sum(r["verdict"] == v for r in records) for v in VERDICTS}
    chapters_ = "chapter" if len(gathered) == 1 else "chapters"
    lines += [f"{len(records)} {'claim' if len(records) == 1 else 'claims'} in {len(gathered)} {chapters_}:", "",
              "| Verdict | Claims |", "|---|---|"]
    lines += [f"| {verdict} | {count} |" for verdict, count in counts.items()]
    for path in paths:
        if path.stem in gathered:
            lines += ["", f"### {_chapter_link(path)}", "", table(gathered[path.stem]).rstrip("\n")]
    silent = [_chapter_link(path) for path in paths if path.stem not in gathered]
    if silent:
        lines += ["", "Chapters that record no claims yet: " + ", ".join(silent) + "."]
    return "\n".join(lines) + "\n"


def reproductions() -> dict[str, list[dict]]:
    """Gather every chapter's claims and write book/reproductions.json and book/_reproductions.md."""
    gathered = gather()
    REPRODUCTIONS_JSON.write_text(reproductions_json(gathered), encoding="utf8")
    REPRODUCTIONS_MD.write_text(reproductions_markdown(gathered), encoding="utf8")
    count = sum(map(len, gathered.values()))
    print(f"gathered {count} claims from {len(gathered)} chapters into {REPRODUCTIONS_JSON.relative_to(ROOT)} "
          f"and {REPRODUCTIONS_MD.relative_to(ROOT)}")
    return gathered


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"execute", "timings", "quotes", "reproductions"}:
        print(__doc__)
        return 2
    if argv[0] == "reproductions":
        reproductions()
        return 0
    paths = [Path(p).resolve() for p in argv[1:]] or chapters()
    # jupyter kernels resolve `python` on PATH: make it this interpreter's environment
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    if argv[0] == "execute":
        for path in paths:
            execute(path)
        reproductions()
    elif argv[0] == "timings":
        timings(paths)
        reproductions()
    else:  # rewrite the quoted times from book/timings.json without running anything
        write_quotes(json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
