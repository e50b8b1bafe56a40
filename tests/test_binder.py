"""binder/: the environment mybinder.org builds takes torch's CPU build and the versions the book is tested with.

Binder itself cannot be tried offline; this checks what can be: the files repo2docker reads and their pins.
"""
from __future__ import annotations

import os
import re
import tomllib

from packaging.requirements import Requirement

import nbtools

ROOT = nbtools.ROOT
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pins(path) -> dict[str, str]:
    """name -> exact version for each `name==version` line of a requirements file."""
    found = {}
    for line in path.read_text(encoding="utf8").splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"{path.name}: {line} is not pinned exactly"
            found[req.name.lower()] = spec.version
    return found


def test_binder_takes_torchs_cpu_build() -> None:
    text = (BINDER / "requirements.txt").read_text(encoding="utf8")
    assert re.search(rf"^--extra-index-url {re.escape(CPU_INDEX)}$", text, re.M)
    torch = pins(BINDER / "requirements.txt")["torch"]
    assert torch == pins(ROOT / "requirements.txt")["torch"] + "+cpu", "the CPU build of the book's torch version"


def test_binder_pins_are_the_books_and_only_what_the_notebooks_need() -> None:
    binder, book = pins(BINDER / "requirements.txt"), pins(ROOT / "requirements.txt")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf8"))["project"]
    needed = {Requirement(d).name.lower() for d in project["dependencies"]}
    assert set(binder) == needed, f"binder/requirements.txt should pin exactly mlbits_lite's dependencies {needed}"
    for name, version in binder.items():
        if name != "torch":
            assert version == book.get(name), f"{name}=={version} in binder/, {book.get(name)} in requirements.txt"


def test_binder_installs_mlbits_lite_and_python_matches() -> None:
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable"
    assert "pip install --no-deps ." in post_build.read_text(encoding="utf8")
    assert re.fullmatch(r"python-3\.\d+\n", (BINDER / "runtime.txt").read_text(encoding="utf8"))
