"""Regenerate each image's pinned requirements.txt from its requirements.in.

    python runtime_images/tools/lock.py [IMAGE ...]

Resolves with this interpreter's pip (``pip install --dry-run --report``), so run it with
the Python minor version the images use (3.11) on Linux. Every transitive dependency is
pinned to an exact version.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ("preload", "launcher", "deploy", "evaluate")


def lock(image: str) -> Path:
    source = ROOT / image / "requirements.in"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
             "--quiet", "--report", str(report), "-r", str(source)],
            check=True,
        )  # fmt: skip
        installs = json.loads(report.read_text())["install"]
    pins = sorted(
        f"{item['metadata']['name'].lower()}=={item['metadata']['version']}" for item in installs
    )
    target = ROOT / image / "requirements.txt"
    header = (
        f"# Pinned from {image}/requirements.in by runtime_images/tools/lock.py "
        f"(Python {sys.version_info.major}.{sys.version_info.minor}, Linux). Do not edit.\n"
    )
    target.write_text(header + "\n".join(pins) + "\n", encoding="utf-8")
    return target


def main(argv: list[str]) -> int:
    for image in argv or IMAGES:
        print(f"locked {lock(image).relative_to(ROOT.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
