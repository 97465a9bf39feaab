"""Paths and example lists the tests share. (Not named conftest: pytest collects tests/ and
runtime_images/ in one run, and runtime_images/ has a conftest module of its own.)"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"
# The checkout's copies of the preload and runtime SDK modules (runtime_images/), which
# `cnai run --local` puts on a preload's PYTHONPATH when cnai runs from this checkout.
PRELOAD_PATHS = [ROOT / "runtime_images" / "preload", ROOT / "runtime_images" / "sdk"]

# Examples that compile today; test_examples.py checks that any other fails only with E0401.
COMPILING_EXAMPLES = [EXAMPLES / "model_pipeline.cnai", EXAMPLES / "sweep.cnai",
                      EXAMPLES / "cloud_native.cnai", EXAMPLES / "production.cnai",
                      EXAMPLES / "functions.cnai"]
# Examples that compile with warnings, and which (none today: cloud_native's TFJob fits its
# quota, unlike LANGUAGE.md's 17 x 8 GPUs under 64, which could never start).
EXPECTED_WARNINGS: dict[str, list[str]] = {}
VALID_FIXTURES = sorted((FIXTURES / "valid").glob("*.cnai"))
GOLDEN_CASES = {
    "argo": COMPILING_EXAMPLES + VALID_FIXTURES,
    "kfp": [EXAMPLES / "model_pipeline.cnai", EXAMPLES / "sweep.cnai",
            EXAMPLES / "cloud_native.cnai", EXAMPLES / "production.cnai",
            EXAMPLES / "functions.cnai",
            FIXTURES / "valid" / "control.cnai", FIXTURES / "valid" / "records.cnai",
            FIXTURES / "valid" / "metrics.cnai",
            FIXTURES / "valid" / "control_stdout.cnai",  # #18: stdout as an output
            FIXTURES / "valid" / "control_nested.cnai",  # #18: a pipeline used as a step
            # valid/prod_*.cnai compile on both targets (Argo-only ones are named otherwise)
            *sorted((FIXTURES / "valid").glob("prod_*.cnai"))],
}

