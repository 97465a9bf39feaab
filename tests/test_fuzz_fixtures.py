"""Every input the fuzzers ever found a bug with, kept in tests/fixtures/fuzz/ and replayed
through the real `cnai check` and `cnai compile --target argo|kfp` with the fuzzers'
properties (fuzz_support.check_and_compile_agree). A file whose first line is
`# expect: valid` must also pass check and compile on both targets to valid output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuzz_support import FUZZ_FIXTURES, assert_output_valid, check_and_compile_agree, cnai

FILES = sorted(FUZZ_FIXTURES.glob("*.cnai"))


def test_there_are_fixtures() -> None:
    assert FILES


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_fixture_keeps_the_fuzz_properties(path: Path) -> None:
    runs = check_and_compile_agree(path)
    if path.read_text(encoding="utf-8", errors="replace").startswith("# expect: valid"):
        for what, run in runs.items():
            assert run.status == 0, f"{what}: {run.stderr}"
        for target in ("argo", "kfp"):
            assert_output_valid(target, runs[target].stdout)


def test_list_defaults_join_item_types_at_any_depth() -> None:
    run = cnai("compile", str(FUZZ_FIXTURES / "nested_empty_list.cnai"), "--target", "ir")
    assert run.status == 0, run.stderr
    defaults = {p["name"]: p["default"] for p in json.loads(run.stdout)["params"]}
    assert defaults == {"a": [[1, 2], [], [3]], "b": [[1.0], [2.5], []], "c": [[], []]}
    assert all(isinstance(x, float) for item in defaults["b"] for x in item)
