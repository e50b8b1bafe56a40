"""The Colab-versions tests run in .venv-colab, which `make colab` builds from tests/colab/constraints.txt.

In any other environment (the book's .venv) they are not collected: they would test that environment's versions.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))  # nbtools

COLAB_VENV = ROOT / ".venv-colab"

if Path(sys.prefix).resolve() != COLAB_VENV.resolve():
    collect_ignore_glob = ["test_*.py"]
