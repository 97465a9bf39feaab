"""Regenerate each image's pinned requirements.txt from its requirements.in.

    python runtime_images/tools/lock.py [--constraints FILE] [IMAGE ...]

Resolves with this interpreter's pip (``pip install --dry-run --report``), so run it with
the Python minor version the images use (3.11) on Linux. Every transitive dependency is
pinned to an exact version. ``python tests/lock.py`` runs this twice, the second time with
the test environment's pins as constraints, so that a package the images share with the
tests has one version in both.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ("preload", "launcher", "deploy", "evaluate")


class ResolutionError(Exception):
    def __init__(self, requirements: list[str], output: str) -> None:
        lines = [line for line in output.splitlines() if not line.startswith("WARNING: ")]
        super().__init__(f"pip could not resolve {' '.join(requirements)}:\n"
                         + "\n".join(lines[-25:]))
        self.output = output


def resolve(requirements: list[str], constraints: Path | None = None) -> list[dict[str, Any]]:
    """What pip would install for these requirement arguments: its report's ``install``."""
    given = ["-c", str(constraints)] if constraints else []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
             "--report", str(report), *given, *requirements],
            capture_output=True, text=True,
        )  # fmt: skip
        if pip.returncode:
            raise ResolutionError(requirements, pip.stdout + pip.stderr)
        installs: list[dict[str, Any]] = json.loads(report.read_text())["install"]
    return installs


def lock(image: str, constraints: Path | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Pin ``image``'s requirements.in into its requirements.txt; also return pip's report."""
    installs = resolve(["-r", str(ROOT / image / "requirements.in")], constraints)
    pins = sorted(
        f"{item['metadata']['name'].lower()}=={item['metadata']['version']}" for item in installs
    )
    target = ROOT / image / "requirements.txt"
    header = (
        f"# Pinned from {image}/requirements.in by runtime_images/tools/lock.py "
        f"(Python {sys.version_info.major}.{sys.version_info.minor}, Linux). Do not edit.\n"
    )
    target.write_text(header + "\n".join(pins) + "\n", encoding="utf-8")
    return target, installs


def main(argv: list[str]) -> int:
    constraints = None
    if argv[:1] == ["--constraints"]:
        constraints, argv = Path(argv[1]).resolve(), argv[2:]
    for image in argv or IMAGES:
        target, _ = lock(image, constraints)
        print(f"locked {target.relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
