"""The checker's ``release``: a tree handed over by the compile is dropped step by step, with
the same diagnostics and the same IR as a tree kept whole (the language server's); and what a
compile no longer needs is freed without the cycle collector, which `cnai compile` turns off."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from cnai.context import CompileContext, Options
from cnai.diagnostics import CompileError, Diagnostic, DiagnosticBag
from cnai.driver import CompileFailed, analyze, compile_source
from cnai.semantics.checker import check
from cnai.source import SourceFile
from cnai.syntax import ast, parse
from testpaths import EXAMPLES, FIXTURES


def _parses(path: Path) -> bool:
    try:
        parse(SourceFile(str(path), path.read_text()))
    except CompileError:
        return False
    return True


# Every example and fixture the checker gets to (those with a syntax error stop before it).
CASES = [path for path in sorted([*EXAMPLES.glob("*.cnai"), *FIXTURES.glob("*/*.cnai")])
         if _parses(path)]


def _steps(items: tuple[ast.PipelineItem, ...]) -> list[ast.StepDecl]:
    """Every step of a pipeline's items, in loops, branches and `finally` too."""
    found: list[ast.StepDecl] = []
    for item in items:
        if isinstance(item, ast.StepDecl):
            found.append(item)
        elif isinstance(item, ast.ForBlock | ast.FinallyBlock):
            found.extend(_steps(item.items))
        elif isinstance(item, ast.IfBlock):
            branch: ast.IfBlock | tuple[ast.PipelineItem, ...] | None = item
            while isinstance(branch, ast.IfBlock):
                found.extend(_steps(branch.items))
                branch = branch.orelse
            found.extend(_steps(branch or ()))
    return found


def _checked(path: Path, release: bool) -> tuple[str | None, list[Diagnostic], ast.Module]:
    source = SourceFile(str(path), path.read_text())
    module = parse(source)
    bag = DiagnosticBag()
    pipeline = check(module, source, bag, {source.path: source}, release=release)
    return (None if pipeline is None else pipeline.model_dump_json()), bag.sorted(), module


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_released_and_kept_trees_check_alike(path: Path) -> None:
    kept = _checked(path, release=False)
    released = _checked(path, release=True)
    assert released[:2] == kept[:2]
    source = SourceFile(str(path), path.read_text())
    assert kept[2] == parse(source)  # kept whole
    for pipeline in released[2].pipelines[:1]:
        for step in _steps(pipeline.items):
            assert step.items == () or step.items == next(
                s for s in _steps(parse(source).pipelines[0].items)
                if s.span == step.span).items  # released, or never checked (refused)


def test_the_compile_releases_every_checked_step() -> None:
    *_, module = _checked(EXAMPLES / "model_pipeline.cnai", release=True)
    steps = _steps(module.pipelines[0].items)
    assert steps and all(step.items == () and step.when is None for step in steps)


def test_a_tree_given_to_analyze_is_kept_whole() -> None:
    # The language server passes its tree (parsed=) and keeps it for its index of names.
    text = (EXAMPLES / "model_pipeline.cnai").read_text()
    source = SourceFile("p.cnai", text)
    module = parse(source)
    analyze(source, CompileContext(Options()), parsed=module)
    assert module == parse(source)
    assert all(step.items for step in _steps(module.pipelines[0].items))


def test_a_released_tree_still_reports_every_error() -> None:
    # Steps read each other's outputs through their symbols, never a checked step's body.
    text = """pipeline p {
      step a { image = "x"  command = ["a", outputs.m]  output m: int }
      step b { image = "x"  command = ["b", a.m, a.n, outputs.m]  output m: int }
      step c after a { image = "x"  command = ["c", b.m, a.m, b.z] }
    }"""
    with pytest.raises(CompileFailed) as failure:
        analyze(SourceFile("t.cnai", text), CompileContext())
    assert [(d.code, d.span.line) for d in failure.value.diagnostics] == [
        ("E0104", 3), ("E0104", 4)]


def test_the_checker_is_freed_without_the_cycle_collector() -> None:
    # A reference cycle would keep it, and the syntax tree it holds, alive to the end of the
    # process.
    text = (EXAMPLES / "model_pipeline.cnai").read_text()
    gc.collect()
    gc.disable()
    try:
        compile_source(text, "p.cnai", "argo")
        left = [type(o).__name__ for o in gc.get_objects()
                if type(o).__name__ in ("Checker", "PipelineConfiguration")]
    finally:
        gc.enable()
    assert left == []
