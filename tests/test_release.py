"""`make release` (tests/release.py): every refusal, and the tag it makes when nothing is wrong.

The checks run on a small git repository made here (a _config.yml and one stamped notebook); the book build is the
real one where it must fail, and a stand-in where it must pass (tests/test_book.py builds the real book).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import nbformat
import pytest

import nbtools
import release

TAG = "v9.9.9"


def git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-c", "user.name=ML Bits", "-c", "user.email=mlbits@example.org", *args],
                          cwd=root, capture_output=True, text=True, check=True)
    return proc.stdout


def stamped_notebook(code: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A chapter"), nbformat.v4.new_code_cell(code)])
    nb.metadata["mlbits"] = {"code_sha256": nbtools.code_hash(nb), "library_sha256": nbtools.library_hash(nb),
                             "mode": "full"}
    return nb


def built(returncode: int = 0, output: str = "build succeeded.") -> Callable[[Path], subprocess.CompletedProcess]:
    """A stand-in for the book build that finishes with `returncode` and prints `output`."""
    return lambda root: subprocess.CompletedProcess(["jupyter-book"], returncode, output, "")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "_config.yml").write_text(f"title: T\nmlbits:\n  release_tag: {TAG}\n")
    (tmp_path / "notebooks").mkdir()
    nbformat.write(stamped_notebook("x = 1"), tmp_path / "notebooks" / "01_chapter.ipynb")
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "--quiet", "-m", "A book")
    return tmp_path


def refusal(repo: Path, tag: str = TAG, build=None) -> str:
    with pytest.raises(release.Refused) as refused:
        release.release(repo, tag, build or built())
    assert not git(repo, "tag", "--list").strip(), "a refused release made a tag"
    return str(refused.value)


def test_tags_when_everything_is_in_order(repo: Path) -> None:
    assert release.release(repo, TAG, built()) == f"git push origin {TAG}"
    assert git(repo, "tag", "--list").split() == [TAG]
    assert git(repo, "rev-parse", f"{TAG}^{{commit}}") == git(repo, "rev-parse", "HEAD")
    assert git(repo, "cat-file", "-t", TAG).strip() == "tag", "an annotated tag"


def test_refuses_a_tag_that_is_not_the_configured_one(repo: Path) -> None:
    assert "differs from _config.yml's mlbits.release_tag (v9.9.9)" in refusal(repo, "v9.9.8")


def test_refuses_a_tag_that_is_not_a_version(repo: Path) -> None:
    assert "must look like v1.2.3" in refusal(repo, "latest")
    assert "must look like v1.2.3" in refusal(repo, "")


def test_refuses_a_tag_that_exists(repo: Path) -> None:
    git(repo, "tag", TAG)
    with pytest.raises(release.Refused, match="already exists"):
        release.release(repo, TAG, built())


def test_refuses_uncommitted_changes(repo: Path) -> None:
    (repo / "_config.yml").write_text(f"title: Changed\nmlbits:\n  release_tag: {TAG}\n")
    assert "uncommitted changes" in refusal(repo)


@pytest.mark.parametrize("change, why", [
    (lambda nb: setattr(nb.cells[1], "source", "x = 2"), "code cells changed since the outputs were made"),
    (lambda nb: nb.metadata["mlbits"].update(library_sha256="0" * 64), "mlbits_lite changed since the outputs"),
    (lambda nb: nb.metadata["mlbits"].update(mode="fast"), "not full mode"),
    (lambda nb: nb.metadata.pop("mlbits"), "no execution stamp"),
])
def test_refuses_stale_notebooks(repo: Path, change, why: str) -> None:
    path = repo / "notebooks" / "01_chapter.ipynb"
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)
    git(repo, "commit", "--quiet", "-am", "Change the chapter")
    message = refusal(repo)
    assert "notebooks/01_chapter.ipynb" in message and why in message and "make execute" in message


def test_refuses_a_book_that_does_not_build(repo: Path) -> None:
    # the real build: this small repository has no _toc.yml, so jupyter-book fails
    assert "the book does not build strictly" in refusal(repo, build=release.build_book)
    # a build that finishes but warns is refused too (the book builds with -W)
    warned = built(0, "book/intro.md:3: WARNING: undefined label: 'nowhere'")
    assert "WARNING: undefined label" in refusal(repo, build=warned)


def test_make_release_refuses_a_wrong_tag() -> None:
    env = dict(os.environ, MAKEFLAGS="")
    proc = subprocess.run(["make", "--no-print-directory", "release", "TAG=v0.0.0-not-a-version"], cwd=nbtools.ROOT,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode != 0
    assert "release refused: tag must look like v1.2.3" in proc.stderr, proc.stdout + proc.stderr
