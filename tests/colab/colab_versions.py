"""Colab's versions as tests/colab/constraints.txt records them: `name==version`, and where this machine cannot
follow Colab, the version used here with Colab's own after `# Colab:`."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CONSTRAINTS = Path(__file__).with_name("constraints.txt")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)==(\S+)(?:\s+#\s*Colab:\s*([^\s,;]+))?")


@dataclass(frozen=True)
class Pin:
    name: str  # as Colab's pip freeze spells it
    here: str  # the version in .venv-colab
    colab: str  # the version Colab preinstalls (== here unless the line says otherwise)

    def admits(self, version: str) -> bool:
        """Whether an installed version is this pin's (a local label such as torch's +cpu aside)."""
        from packaging.specifiers import SpecifierSet
        from packaging.version import InvalidVersion

        try:
            return SpecifierSet(f"=={self.here}").contains(version, prereleases=True)
        except InvalidVersion:
            return False


def canonical(name: str) -> str:
    """PEP 503 name: 'Jinja2' and 'jinja2', 'jupyter_client' and 'jupyter-client' are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path = CONSTRAINTS) -> dict[str, Pin]:
    """Every pinned package of the constraints file, by canonical name."""
    found = {}
    for line in path.read_text().splitlines():
        if (m := PIN.match(line)) is not None:
            name, here, colab = m.groups()
            found[canonical(name)] = Pin(name, here, colab or here)
    return found
