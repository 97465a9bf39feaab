"""Shared test helpers: paths, compiling, and strict validation of what we emit."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"

# Examples that compile today; test_examples.py checks that any other fails only with E0401.
COMPILING_EXAMPLES = [EXAMPLES / "model_pipeline.cnai", EXAMPLES / "sweep.cnai",
                      EXAMPLES / "cloud_native.cnai"]
# LANGUAGE.md's cloud_native example asks for 17 x 8 GPUs under a 64-GPU quota.
EXPECTED_WARNINGS = {"cloud_native": ["W0209"]}
VALID_FIXTURES = sorted((FIXTURES / "valid").glob("*.cnai"))
GOLDEN_CASES = {
    "argo": COMPILING_EXAMPLES + VALID_FIXTURES,
    "kfp": [EXAMPLES / "model_pipeline.cnai"],
}


@pytest.fixture
def root() -> Path:
    return ROOT
