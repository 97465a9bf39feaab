"""Golden files: every compiling example and valid fixture, for every target, byte for byte.

Regenerate on request only: ``CNAI_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py``
(never under CI, which must compare).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnai import compile_file
from cnai.backends import BACKENDS
from testpaths import GOLDEN, GOLDEN_CASES

UPDATE = os.environ.get("CNAI_UPDATE_GOLDEN") == "1" and os.environ.get("CI") != "true"
CASES = [(path, target) for target in BACKENDS for path in GOLDEN_CASES[target]]


@pytest.mark.parametrize("path, target", CASES, ids=[f"{p.stem}-{t}" for p, t in CASES])
def test_golden(path: Path, target: str) -> None:
    golden = GOLDEN / f"{path.stem}.{target}.yaml"
    text = compile_file(path, target).text
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; run with CNAI_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


def test_every_target_has_golden_files() -> None:
    assert set(GOLDEN_CASES) == set(BACKENDS)


def test_no_stale_golden_files() -> None:
    expected = {f"{p.stem}.{t}.yaml" for p, t in CASES}
    assert {p.name for p in GOLDEN.glob("*.yaml")} <= expected
