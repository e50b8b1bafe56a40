"""Execute, stamp and time the book's notebooks; the tests read the same stamps.

    python tests/nbtools.py execute [NOTEBOOK ...]   # full mode, in place, stamped   (make execute)
    python tests/nbtools.py timings [NOTEBOOK ...]   # fast + full mode, timed         (make timings)
    python tests/nbtools.py reproductions            # gather the chapters' claims: book/reproductions.json
                                                     # and book/_reproductions.md (also run by execute, timings)
    python tests/nbtools.py student [NOTEBOOK ...]   # hand-out copies in _build/student (make student)
    python tests/nbtools.py soak RUNS NOTEBOOK       # run one notebook RUNS times in fast mode, count hangs

A stamp is notebook metadata `mlbits`: the hash of the code cells and of the mlbits_lite sources the outputs were
made with, the mode, the device, the seconds and the library versions. tests/test_notebooks.py fails when the code
changed but the outputs were not re-executed.

`timings` runs each notebook in fast mode (output thrown away) and in full mode (in place, stamped), records the
seconds in book/timings.json, and writes them where the book quotes them: book/_chapter_map.md (included by the
instructors' page and the run-times page) and each chapter's "**Run time**" line.

Every run is bounded: the kernel must answer within START_TIMEOUT seconds and each cell finish within
CELL_TIMEOUT seconds, else the notebook is run once more from the start; a second stall fails with the notebook,
the cell number and the cell's first line instead of waiting forever.

A student edition is a chapter without its solutions: solution cells removed, exercise cells left as their stubs
with no outputs, everything else as the book shows it.
"""
from __future__ import annotations

import ast
import copy
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
from queue import Empty

import nbformat
import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import Type, default

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))  # portable.py: the notebooks' exercise and citation format
NOTEBOOKS = ROOT / "notebooks"
LIBRARY = ROOT / "mlbits_lite"
TIMINGS = ROOT / "book" / "timings.json"
CHAPTER_MAP = ROOT / "book" / "_chapter_map.md"
RUN_TIME_LINE = re.compile(r"^\*\*Run time\*\*.*$", re.M)
PREREQ_LINE = re.compile(r"^\*\*Prerequisites\*\*:?\s*(.*)$", re.M)
STUDENT = ROOT / "_build" / "student"
# Bounds on a notebook run (seconds). A kernel answers in a few seconds; the slowest cell of any chapter takes a
# few minutes in full mode and under a minute in fast mode, so a cell past its bound is stuck, not slow.
START_TIMEOUT = 120
CELL_TIMEOUT = {"fast": 300, "full": 1200}
ATTEMPTS = 2  # a stalled run is retried once from the start


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
    """sha256 of the mlbits_lite code a notebook's outputs depend on: a change there marks it stale.

    Of each file in `library_files` only what can run counts: its module-level statements and the functions and
    classes reachable from a name the notebook's code mentions, following names through those definitions and across
    files. A function added to a module, or edited when no chapter reaches it, leaves the other chapters fresh; a
    changed constant, import or used function does not. Data files count whole.
    """
    code = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "code")
    files = library_files(nb)
    sources = {path: used_source(path.read_text(), set()) for path in files if path.suffix == ".py"}
    reachable = set(_IDENTIFIER.findall(code))
    while True:  # follow names until no new definition is reached
        sources = {path: used_source(path.read_text(), reachable) for path in sources}
        grown = reachable.union(*(_IDENTIFIER.findall(text) for text in sources.values()))
        if grown == reachable:
            break
        reachable = grown
    h = hashlib.sha256()
    for path in files:
        content = sources[path].encode() if path in sources else path.read_bytes()
        h.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + content + b"\0")
    return h.hexdigest()


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def used_source(text: str, names: set[str]) -> str:
    """The part of a module's source that runs for code mentioning `names`: every module-level statement (except
    the docstring and `__all__`) and each top-level function or class whose name is in `names`, in file order."""
    lines = text.splitlines()
    kept = []
    for node in ast.parse(text).body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name not in names:
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        kept.append("\n".join(lines[start - 1 : node.end_lineno]))
    return "\n".join(kept)


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


# ------------------------------------------------------------------------------------------------ a client that never misses a reply
# The hang this guards against: nbclient emulates ipywidgets' Output widget by sending comm messages to the kernel on
# the shell channel while it waits on that channel for the cell's execute_reply. Now and then the reply reaches the
# client's socket but the event loop is never woken for it (ZeroMQ signals readiness on an edge-triggered file
# descriptor), and a wait without a timeout waits forever: the kernel idle, the client idle. A wait that ends checks
# the socket directly, so the channels below wait in slices of WAIT_SLICE seconds: a missed wake-up costs one slice.
WAIT_SLICE = 1.0
# The installed jupyter_client's asynchronous channel: AsyncZMQSocketChannel from 8.0, ZMQSocketChannel in 7.x (Colab).
AsyncChannel = AsyncKernelClient.class_traits()["shell_channel_class"].default_value


class SlicedChannel(AsyncChannel):
    """A channel whose waits end every WAIT_SLICE seconds, to look at the socket itself."""

    missed_wakeups: dict[str, int] = {}  # messages found waiting as a slice ended, by socket type, in this process

    async def get_msg(self, timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = WAIT_SLICE if deadline is None else max(0.0, min(WAIT_SLICE, deadline - time.monotonic()))
            start = time.monotonic()
            try:
                msg = await super().get_msg(timeout=wait)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                continue
            if wait > 0 and time.monotonic() - start >= wait:  # it was there, but the loop was not woken for it
                kind = zmq.SocketType(self.socket.type).name if self.socket is not None else "closed"  # DEALER: shell
                SlicedChannel.missed_wakeups[kind] = SlicedChannel.missed_wakeups.get(kind, 0) + 1
            return msg


class SlicedKernelClient(AsyncKernelClient):
    shell_channel_class = Type(SlicedChannel)
    iopub_channel_class = Type(SlicedChannel)


class SlicedKernelManager(AsyncKernelManager):
    """The kernel manager of every notebook run here: its clients are SlicedKernelClients."""

    @default("client_factory")
    def _client_factory_default(self):
        return SlicedKernelClient


class NotebookStalled(RuntimeError):
    """A notebook run that stalled (kernel start or a cell past its time bound) on every attempt."""


def _cell_label(nb: nbformat.NotebookNode, index: int) -> str:
    """'cells[12] (# CHECK: ...)': where the cell is in the notebook, and its first line."""
    lines = nb.cells[index].source.strip().splitlines()
    return f"cells[{index}]" + (f" ({lines[0][:70]})" if lines else "")


def run(path: Path, *, fast: bool, output: Path, cwd: Path | None = None, cell_timeout: int | None = None,
        start_timeout: int = START_TIMEOUT, attempts: int = ATTEMPTS, retried: list[str] | None = None) -> float:
    """Execute `path` with papermill in the given mode, writing `output`; return the wall-clock seconds.

    A run whose kernel does not start within `start_timeout` seconds, or one of whose cells runs past
    `cell_timeout` (default CELL_TIMEOUT of the mode), is started again, up to `attempts` runs in all; why each
    retried run stalled is printed and appended to `retried`. An error raised by a cell is not retried.

    Args:
        path: the notebook to run.
        fast: fast mode (MLBITS_FAST=1) or full mode.
        output: where to write the executed notebook (may be `path` itself).
        cwd: the kernel's working directory (default: the notebook's folder).
        cell_timeout: seconds one cell may run (default: CELL_TIMEOUT["fast" or "full"]).
        start_timeout: seconds the kernel may take to start and answer.
        attempts: runs in all before giving up on a stalled notebook (at least 1).
        retried: a list that receives one line per stalled run that was retried.

    Raises:
        NotebookStalled: every attempt stalled; the message names the notebook and the cell.
        papermill.PapermillExecutionError: a cell raised an error (not retried).
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError

    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    cell_timeout = CELL_TIMEOUT["fast" if fast else "full"] if cell_timeout is None else cell_timeout
    if not all(isinstance(t, int) and t > 0 for t in (cell_timeout, start_timeout)):
        raise ValueError(f"timeouts are whole seconds > 0, got cell_timeout={cell_timeout!r}, "
                         f"start_timeout={start_timeout!r}")
    os.environ["MLBITS_FAST"] = "1" if fast else "0"
    nb = nbformat.read(path, as_version=4)
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    for attempt in range(1, attempts + 1):
        current: list[int] = []  # indices of the cells started so far, to name the one that stalls

        def on_cell_start(cell, cell_index, **_):
            current.append(cell_index)

        start = time.perf_counter()
        try:
            papermill.execute_notebook(str(path), str(output), cwd=str(cwd or path.parent), kernel_name="python3",
                                       progress_bar=False, request_save_on_cell_execute=False,
                                       start_timeout=start_timeout, execution_timeout=cell_timeout,
                                       kernel_manager_class=SlicedKernelManager, on_cell_start=on_cell_start)
            return time.perf_counter() - start
        except (CellTimeoutError, RuntimeError) as error:
            if not (isinstance(error, CellTimeoutError) or str(error).startswith("Kernel didn't respond")):
                raise  # a cell's own error, a dead kernel: not a stall, and not retried
            if not current:
                what = f"the kernel did not answer within {start_timeout} s"
            elif isinstance(error, CellTimeoutError) and "Cell contents not found" in str(error):
                what = f"no reply after its last cell within {cell_timeout} s"
            else:
                what = f"{_cell_label(nb, current[-1])} did not finish within {cell_timeout} s"
            line = f"{name}: run {attempt} of {attempts} stalled: {what} ({time.perf_counter() - start:.0f} s in all)"
            if attempt == attempts:
                raise NotebookStalled(line) from error
            print(f"retrying {line}", file=sys.stderr, flush=True)
            if retried is not None:
                retried.append(line)
    raise AssertionError("unreachable")


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


# ------------------------------------------------------------------------------------------------ student editions
SELF_CHECK_CALL = re.compile(r"\bcheck\.\w+\(")
SOLUTIONS_POINTER = re.compile(r" ?Solutions? (?:are|is) in the dropdowns?\.")  # the Exercises section's pointer


def is_solution(cell: nbformat.NotebookNode) -> bool:
    """A solution cell: markdown holding one <details> block summarised "Solution" (book/_ext/portable.py)."""
    import portable

    return cell.cell_type == "markdown" and portable.solution(cell.source) is not None


def is_exercise_stub(cell: nbformat.NotebookNode) -> bool:
    """An exercise's code cell: the learner's stub and the call of its self-check."""
    return cell.cell_type == "code" and SELF_CHECK_CALL.search(cell.source) is not None


def student_edition(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A hand-out copy of a chapter: solution cells removed (and the sentence that points to them), exercise cells
    left as their stubs with no outputs, every other cell as the book shows it. The execution stamp is replaced by
    `metadata.mlbits_edition`.

    Args:
        nb: the chapter, as nbformat reads it (not modified).
    """
    if not isinstance(nb, nbformat.NotebookNode) or "cells" not in nb:
        raise TypeError(f"nb must be a notebook read by nbformat, got {type(nb).__name__}")
    edition = copy.deepcopy(nb)
    edition.cells = [cell for cell in edition.cells if not is_solution(cell)]
    for cell in edition.cells:
        if is_exercise_stub(cell):
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = SOLUTIONS_POINTER.sub("", cell.source)
    edition.metadata.pop("mlbits", None)  # the stamp describes the full chapter's outputs
    edition.metadata["mlbits_edition"] = "student"
    return edition


def write_student_editions(paths: list[Path], folder: Path = STUDENT) -> list[Path]:
    """Write the student edition of each notebook into `folder` (same file names); return the files written.

    Args:
        paths: chapter notebooks.
        folder: where the hand-out copies go (created if needed).
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = folder / path.name
        nbformat.write(student_edition(nbformat.read(path, as_version=4)), target)
        written.append(target)
    return written


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
    from readme import chapters as in_book_order  # (part, number as the book numbers it, notebook)

    for _, number, path in in_book_order(ROOT):
        nb = nbformat.read(path, as_version=4)
        front = nb.cells[0].source
        title = front.lstrip().splitlines()[0].lstrip("# ").strip()
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
    """Time each notebook in fast and full mode and record it. Each result is merged into book/timings.json under a
    lock as soon as it is measured, so two runs over different notebooks (one per core) can share the file."""
    import fcntl

    from mlbits_lite.env import device

    on_gpu = device().type == "cuda"
    for path in paths:
        with tempfile.TemporaryDirectory() as tmp:
            fast = run(path, fast=True, output=Path(tmp) / path.name)
        full = execute(path)
        with open(TIMINGS.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            table = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
            t = table.setdefault(path.stem, {})
            if on_gpu:
                t.update(full_gpu_s=round(full, 1), fast_gpu_s=round(fast, 1), gpu=_device())
            else:
                t.update(fast_cpu_s=round(fast, 1), full_cpu_s=round(full, 1), cpu_cores=os.cpu_count())
            t["measured"] = datetime.now(timezone.utc).strftime("%Y-%m-%d")
            TIMINGS.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n")
            write_quotes(table)
        print(f"{path.stem}: fast {human(fast)}, full {human(full)}")


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


def soak(path: Path, runs: int) -> dict:
    """Run one notebook `runs` times in a row in fast mode with the bounds of `run`; count stalls, retries and
    the replies the event loop was not woken for (found by SlicedChannel at the end of a wait slice).

    Args:
        path: the notebook.
        runs: how many runs (at least 1).
    """
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    retried: list[str] = []
    seconds, failed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(1, runs + 1):
            try:
                seconds.append(run(path, fast=True, output=Path(tmp) / path.name, retried=retried))
                status = f"ok in {seconds[-1]:.1f} s"
            except NotebookStalled as error:
                failed.append(str(error))
                status = "stalled twice"
            print(f"run {i}/{runs}: {status} ({len(retried)} stalled runs retried; missed wake-ups recovered so far: "
                  f"{SlicedChannel.missed_wakeups})", flush=True)
    result = {"notebook": path.name, "runs": runs, "completed": len(seconds), "stalled_and_retried": len(retried),
              "failed": len(failed), "missed_wakeups_recovered": dict(SlicedChannel.missed_wakeups),
              "seconds_min": round(min(seconds), 1) if seconds else None,
              "seconds_max": round(max(seconds), 1) if seconds else None, "seconds_total": round(sum(seconds), 1),
              "retried": retried, "failures": failed}
    print(json.dumps(result, indent=2))
    return result


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"execute", "timings", "quotes", "reproductions", "student", "soak"}:
        print(__doc__)
        return 2
    if argv[0] == "reproductions":
        reproductions()
        return 0
    # jupyter kernels resolve `python` on PATH: make it this interpreter's environment
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    if argv[0] == "soak":
        result = soak(Path(argv[2]).resolve(), int(argv[1]))
        return 0 if result["failed"] == 0 else 1
    paths = [Path(p).resolve() for p in argv[1:]] or chapters()
    if argv[0] == "execute":
        for path in paths:
            execute(path)
        reproductions()
    elif argv[0] == "timings":
        timings(paths)
        reproductions()
    elif argv[0] == "student":
        for target in write_student_editions(paths):
            print(f"wrote {target.relative_to(ROOT)}")
    else:  # rewrite the quoted times from book/timings.json without running anything
        write_quotes(json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
