"""Arrows point down the stages: every module's imports, read with ast, never reach a later
stage (semantics/ and passes/ know nothing of lowering or a backend; the local runner and
`cnai submit` read the shared contract and the plan, not a backend's helpers)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from testpaths import ROOT

PACKAGE = ROOT / "compiler" / "cnai"
FORBIDDEN = {
    "semantics": ("backends", "lowering", "local", "submit"),
    "passes": ("backends", "lowering", "local", "submit"),
    "local": ("backends",),
    "submit": ("backends",),
    "lowering": ("backends", "local", "submit"),
}


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, as dotted names (relative imports resolved)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    return imports_of(path.read_text(), package)


def imports_of(text: str, package: str) -> set[str]:
    tree = ast.parse(text)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("stage", sorted(FORBIDDEN))
def test_a_stage_never_imports_a_later_one(stage: str) -> None:
    modules = sorted((PACKAGE / stage).rglob("*.py"))
    assert modules
    wrong = [f"{path.relative_to(PACKAGE)} imports {name}" for path in modules
             for name in sorted(imported(path))
             if any(name == f"cnai.{later}" or name.startswith(f"cnai.{later}.")
                    for later in FORBIDDEN[stage])]
    assert wrong == []


def test_the_contract_is_a_leaf() -> None:
    """It may read the IR's data classes (themselves a leaf), nothing else of cnai."""
    names = imported(PACKAGE / "contract.py")
    assert {n for n in names if n.startswith("cnai")} == {"cnai.semantics",
                                                          "cnai.semantics.ir"}
    assert {n for n in imported(PACKAGE / "semantics" / "ir.py") if n.startswith("cnai")} == {
        "cnai.source", "cnai.source.Span"}


def test_the_walk_sees_every_spelling_of_an_import() -> None:
    """So that the checks above can fail: absolute, plain and relative imports, and one
    inside a function (as submit/params.py once imported the Argo backend)."""
    text = ("from cnai.backends.argo import literal\nimport cnai.backends.k8s\n"
            "from ..backends import kfp\ndef f():\n    from cnai.backends import cloud\n")
    assert {"cnai.backends.argo", "cnai.backends.k8s", "cnai.backends.kfp",
            "cnai.backends.cloud"} <= imports_of(text, "cnai.local")
