"""Tag a release of the book: `make release TAG=v0.1.0` (python tests/release.py v0.1.0).

The chapters' Colab set-up cells install mlbits_lite from the repository at `mlbits.release_tag` (_config.yml), so a
tag is a promise about what learners get. It is made only when

1. the tag equals `mlbits.release_tag` in _config.yml, is a version (vX.Y.Z) and does not exist yet;
2. the work tree is committed (the tag names a commit, not what is on disk);
3. every executed notebook is fresh: stamped from full mode, with the code and the mlbits_lite files it uses
   unchanged since (the stamp that tests/test_notebooks.py checks; `make execute` renews it);
4. the book builds strictly from scratch: `jupyter-book build . --builder html -W -n --keep-going --all`.

Then it makes an annotated tag on HEAD and prints the command that publishes it. Nothing is pushed.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import nbformat
import yaml

import nbtools

VERSION = re.compile(r"v\d+\.\d+\.\d+")


class Refused(Exception):
    """The release is refused; the message says why and what to do."""


def git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def configured_tag(root: Path) -> str:
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf8"))
    return str((config.get("mlbits") or {}).get("release_tag", ""))


def stale(path: Path) -> str | None:
    """Why a notebook's outputs are not fresh (as tests/test_notebooks.py judges them), or None when they are."""
    nb = nbformat.read(path, as_version=4)
    stamp = nb.metadata.get("mlbits")
    if not isinstance(stamp, dict):
        return "no execution stamp"
    if stamp.get("mode") != "full":
        return f"outputs from {stamp.get('mode')!r} mode, not full mode"
    if stamp.get("code_sha256") != nbtools.code_hash(nb):
        return "code cells changed since the outputs were made"
    if stamp.get("library_sha256") != nbtools.library_hash(nb):
        return "mlbits_lite changed since the outputs were made"
    return None


def executed_notebooks(root: Path) -> list[Path]:
    """The chapters and the book's executed pages, as nbtools finds them."""
    return sorted((root / "notebooks").glob("[0-9]*.ipynb")) + sorted((root / "book").glob("*.ipynb"))


def build_book(root: Path) -> subprocess.CompletedProcess:
    """The strict book build, every page read again (an incremental build would not repeat old warnings)."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    env = dict(os.environ, PATH=f"{jupyter_book.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(jupyter_book), "build", str(root), "--builder", "html", "-W", "-n", "--keep-going",
                           "--all"], cwd=root, env=env, capture_output=True, text=True)


def release(root: Path, tag: str,
            build: Callable[[Path], subprocess.CompletedProcess] = build_book) -> str:
    """Check everything, then tag HEAD with `tag`. Returns the command that publishes the tag; raises Refused.

    Args:
        root: the repository's work tree.
        tag: the tag to make, e.g. "v0.1.0"; must equal `mlbits.release_tag` in _config.yml.
        build: builds the book in `root` and returns the finished process (its returncode and output).
    """
    if not isinstance(tag, str) or not VERSION.fullmatch(tag):
        raise Refused(f"tag must look like v1.2.3, got {tag!r}: make release TAG=vX.Y.Z")
    configured = configured_tag(root)
    if tag != configured:
        raise Refused(f"tag {tag} differs from _config.yml's mlbits.release_tag ({configured}): the chapters' Colab "
                      f"set-up cells install that tag. Set mlbits.release_tag to {tag} first (and update the "
                      f"notebooks' set-up cells and Colab badges, which tests/test_notebooks.py checks).")
    if git(root, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}").returncode == 0:
        raise Refused(f"tag {tag} already exists")
    status = git(root, "status", "--porcelain", "--untracked-files=no")
    if status.returncode != 0:
        raise Refused(f"not a git work tree: {status.stderr.strip()}")
    if status.stdout.strip():
        raise Refused("uncommitted changes (the tag would not contain them):\n" + status.stdout.rstrip())

    notebooks = executed_notebooks(root)
    if not notebooks:
        raise Refused("no executed notebooks found under notebooks/ and book/")
    problems = [f"  {p.relative_to(root)}: {why}" for p in notebooks if (why := stale(p))]
    if problems:
        raise Refused("notebooks are not fresh; re-execute them with `make execute NB=...`:\n" + "\n".join(problems))

    built = build(root)
    if built.returncode != 0 or "WARNING" in built.stdout + built.stderr:
        log = (built.stdout + built.stderr).strip().splitlines()
        warnings = [line for line in log if "WARNING" in line] or log[-30:]
        raise Refused("the book does not build strictly (`make book`):\n" + "\n".join(warnings))

    made = git(root, "tag", "--annotate", tag, "--message", f"ML Bits {tag}")
    if made.returncode != 0:
        raise Refused(f"git tag failed: {made.stderr.strip()}")
    return f"git push origin {tag}"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    try:
        publish = release(nbtools.ROOT, argv[0])
    except Refused as refusal:
        print(f"release refused: {refusal}", file=sys.stderr)
        return 1
    print(f"tagged {argv[0]}. Publish it (the Colab set-up cells install from it): {publish}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
