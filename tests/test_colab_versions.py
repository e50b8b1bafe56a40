"""Colab's versions, vendored in tests/colab/constraints.txt: where they come from, and that mlbits_lite's
dependency ranges admit every one of them (so installing it in Colab changes none; tests/colab checks it does not)."""
from __future__ import annotations

import re
import sys
import tomllib

from packaging.requirements import Requirement

import nbtools

sys.path.insert(0, str(nbtools.ROOT / "tests" / "colab"))
from colab_versions import CONSTRAINTS, canonical, pins  # noqa: E402

# The versions the book's owners quote for Colab (googlecolab/backend-info pip-freeze.txt, 2026-08).
PIN_WITH_NOTE = re.compile(r"^\S+==\S+\s+# Colab:")
QUOTED = {"torch": "2.11.0", "numpy": "2.1.3", "matplotlib": "3.10.0", "ipywidgets": "7.7.1", "ipykernel": "6.17.1",
          "notebook": "6.5.7", "scipy": "1.16.3", "scikit-learn": "1.6.1", "scikit-image": "0.25.2", "tqdm": "4.67.3",
          "pandas": "2.2.3"}


def test_constraints_name_their_source_and_date():
    header = CONSTRAINTS.read_text().split("\n\n")[0]
    assert "googlecolab/backend-info" in header and "pip-freeze.txt" in header
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", header), "the date of Colab's list"
    assert "Python 3.13" in header and "Python 3.11" in header, "Colab's Python, and the one used here"


def test_constraints_hold_the_quoted_colab_versions():
    found = pins()
    for name, version in QUOTED.items():
        assert found[name].colab.split("+")[0] == version, f"{name}: {found[name].colab}, quoted {version}"


def test_every_difference_from_colab_says_why():
    for line in CONSTRAINTS.read_text().splitlines():
        if PIN_WITH_NOTE.match(line):
            assert re.search(r"# Colab: \S+.*(Python|CUDA|CPU)", line), line
    assert pins()["torch"].here == "2.13.0" and pins()["torch"].colab.startswith("2.11.0")


def test_mlbits_lite_admits_every_colab_version():
    project = tomllib.loads((nbtools.ROOT / "pyproject.toml").read_text())["project"]
    found = pins()
    for requirement in map(Requirement, project["dependencies"]):
        pin = found.get(canonical(requirement.name))
        if pin is None:
            continue  # not preinstalled in Colab: installing mlbits_lite adds it
        for version in {pin.colab, pin.here}:
            assert requirement.specifier.contains(version, prereleases=True), \
                f"pyproject.toml's {requirement} would replace Colab's {pin.name} {version}"


def test_colab_environment_runs_the_books_own_test_tools():
    pinned = dict(re.findall(r"^([\w.-]+)==(\S+)", (nbtools.ROOT / "requirements.txt").read_text(), re.M))
    tools = re.findall(r"^([\w.-]+)==(\S+)", (CONSTRAINTS.parent / "requirements.txt").read_text(), re.M)
    assert tools, "tests/colab/requirements.txt pins the test tools"
    for name, version in tools:
        assert pinned.get(name) == version, f"{name}=={version}: requirements.txt pins {pinned.get(name)}"
