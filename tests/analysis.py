"""A pipeline's text analysed as the driver does: its graph, or the codes it is refused with."""

from __future__ import annotations

import pytest

from cnai.context import CompileContext, Options
from cnai.driver import CompileFailed, analyze
from cnai.semantics import ir
from cnai.source import SourceFile


def graph(text: str) -> ir.Pipeline:
    """The graph as build_graph makes it, before the optimizer."""
    result = analyze(SourceFile("t.cnai", text), CompileContext(Options(optimize=False)))
    assert isinstance(result, ir.Pipeline)
    return result


def codes(text: str) -> list[str]:
    with pytest.raises(CompileFailed) as failure:
        analyze(SourceFile("t.cnai", text), CompileContext())
    return [d.code for d in failure.value.diagnostics]
