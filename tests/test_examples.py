"""Every example of LANGUAGE.md: compiles to Argo (validating strictly), or, until its
constructs land, is refused only with E0401 "not supported by this version"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import schemacheck
from cnai import compile_file
from cnai.driver import CompileFailed
from testpaths import COMPILING_EXAMPLES, EXAMPLES, EXPECTED_WARNINGS

ALL = sorted(EXAMPLES.glob("*.cnai"))
PENDING = [p for p in ALL if p not in COMPILING_EXAMPLES]


@pytest.mark.parametrize("path", COMPILING_EXAMPLES, ids=[p.stem for p in COMPILING_EXAMPLES])
def test_example_compiles_to_valid_argo(path: Path) -> None:
    result = compile_file(path, "argo")
    assert [w.code for w in result.warnings] == EXPECTED_WARNINGS.get(path.stem, [])
    schemacheck.assert_all_valid(list(yaml.safe_load_all(result.text)))


@pytest.mark.parametrize("path", PENDING or [None], ids=[p.stem for p in PENDING] or ["none"])
def test_pending_example_is_refused_only_for_what_is_not_built(path: Path | None) -> None:
    if path is None:  # every example compiles
        assert set(ALL) == set(COMPILING_EXAMPLES)
        return
    with pytest.raises(CompileFailed) as failure:
        compile_file(path, "argo")
    assert {d.code for d in failure.value.diagnostics} == {"E0401"}
