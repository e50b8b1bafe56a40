"""The notebook runner never waits forever (tests/nbtools.py `run`): its client looks at the socket at least once a
second, so a reply the event loop was not woken for is still read; a kernel that does not start, or a cell that does
not finish, is run once more from the start and then fails with the notebook and the cell."""
from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path
from queue import Empty

import nbformat
import papermill
import pytest

import nbtools


def notebook(tmp_path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A notebook")] +
                                  [nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    return path


def test_a_cell_that_never_finishes_is_retried_once_then_named(tmp_path):
    path = notebook(tmp_path, "print('set up')", "import time\ntime.sleep(600)  # stands in for a stalled kernel")
    retried: list[str] = []
    with pytest.raises(nbtools.NotebookStalled) as stalled:
        nbtools.run(path, fast=True, output=tmp_path / "out.ipynb", cell_timeout=3, retried=retried)
    assert re.search(r"probe\.ipynb: run 2 of 2 stalled: cells\[2\] \(import time\) did not finish within 3 s",
                     str(stalled.value)), stalled.value
    assert len(retried) == 1 and "run 1 of 2 stalled: cells[2]" in retried[0]


def test_a_kernel_that_does_not_answer_in_time_is_named(tmp_path, monkeypatch):
    spec = tmp_path / "jupyter" / "kernels" / "python3"  # a "python3" kernel that starts and never answers
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({"argv": [sys.executable, "-c", "import time; time.sleep(60)",
                                                           "{connection_file}"], "display_name": "mute"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    path = notebook(tmp_path, "print(1)")
    with pytest.raises(nbtools.NotebookStalled, match="run 1 of 1 stalled: the kernel did not answer within 2 s"):
        nbtools.run(path, fast=True, output=tmp_path / "out.ipynb", start_timeout=2, attempts=1)


def test_an_error_in_a_cell_is_not_retried(tmp_path):
    path = notebook(tmp_path, "1 / 0")
    retried: list[str] = []
    with pytest.raises(papermill.PapermillExecutionError, match="ZeroDivisionError"):
        nbtools.run(path, fast=True, output=tmp_path / "out.ipynb", retried=retried)
    assert retried == []


def test_a_run_within_its_bounds_returns_its_seconds(tmp_path):
    path = notebook(tmp_path, "import os\nprint(os.environ['MLBITS_FAST'])")
    seconds = nbtools.run(path, fast=True, output=tmp_path / "out.ipynb", cell_timeout=60)
    assert seconds > 0
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert out.cells[1].outputs[0]["text"] == "1\n"


@pytest.mark.parametrize("bad", [dict(attempts=0), dict(cell_timeout=0), dict(start_timeout=-1),
                                 dict(cell_timeout=2.5)])
def test_run_refuses_bounds_that_are_not_bounds(tmp_path, bad):
    with pytest.raises(ValueError, match="attempts|timeouts"):
        nbtools.run(notebook(tmp_path, "1"), fast=True, output=tmp_path / "out.ipynb", **bad)


def test_soak_refuses_no_runs(tmp_path):
    with pytest.raises(ValueError, match="runs must be at least 1"):
        nbtools.soak(notebook(tmp_path, "1"), 0)


def test_make_test_bounds_nbval():
    makefile = (nbtools.ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\ntest:"):makefile.index("\n\n", makefile.index("\ntest:"))]
    assert re.search(r"--nbval-cell-timeout=\d+", recipe) and re.search(r"--nbval-kernel-startup-timeout=\d+", recipe)


@pytest.fixture
def sliced_channel(monkeypatch):
    """A SlicedChannel with 0.05 s slices; the test replaces the base channel's wait."""
    import zmq.asyncio
    from jupyter_client.session import Session

    monkeypatch.setattr(nbtools, "WAIT_SLICE", 0.05)
    monkeypatch.setattr(nbtools.SlicedChannel, "missed_wakeups", {})
    context = zmq.asyncio.Context()
    channel = nbtools.SlicedChannel(context.socket(zmq.DEALER), Session())
    yield channel
    channel.close()
    context.term()


def test_a_reply_the_event_loop_missed_is_found_at_the_end_of_a_slice(sliced_channel, monkeypatch):
    waits = []

    async def missed_twice(self, timeout=None):  # the base wait: the loop is not woken for the reply ...
        waits.append(timeout)
        await asyncio.sleep(timeout)
        if len(waits) < 3:
            raise Empty
        return {"msg_type": "execute_reply"}  # ... which the direct look at the socket finds as a slice ends

    monkeypatch.setattr(nbtools.AsyncChannel, "get_msg", missed_twice)
    assert asyncio.run(sliced_channel.get_msg(timeout=None)) == {"msg_type": "execute_reply"}
    assert waits == [0.05, 0.05, 0.05] and nbtools.SlicedChannel.missed_wakeups == {"DEALER": 1}


def test_a_sliced_wait_still_ends_at_its_timeout(sliced_channel, monkeypatch):
    async def never(self, timeout=None):
        await asyncio.sleep(timeout)
        raise Empty

    monkeypatch.setattr(nbtools.AsyncChannel, "get_msg", never)
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(sliced_channel.get_msg(timeout=0.12))
    assert 0.12 <= time.monotonic() - start < 0.5


def test_every_run_uses_the_sliced_client():
    manager = nbtools.SlicedKernelManager(kernel_name="python3")
    client = manager.client()
    assert isinstance(client, nbtools.SlicedKernelClient)
    assert client.shell_channel_class is nbtools.SlicedChannel and client.iopub_channel_class is nbtools.SlicedChannel
