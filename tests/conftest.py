"""Shared test helpers: paths, compiling, and strict validation of what we emit."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"

# Examples that compile today, per target. Services and distributed steps (cloud_native) add
# theirs as they land; test_examples.py checks that the others fail only with E0401.
COMPILING_EXAMPLES = [EXAMPLES / "model_pipeline.cnai", EXAMPLES / "sweep.cnai"]
VALID_FIXTURES = sorted((FIXTURES / "valid").glob("*.cnai"))
GOLDEN_CASES = {
    "argo": COMPILING_EXAMPLES + VALID_FIXTURES,
    "kfp": [EXAMPLES / "model_pipeline.cnai"],
}


@pytest.fixture
def root() -> Path:
    return ROOT
