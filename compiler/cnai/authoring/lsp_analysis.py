"""One analysis of an editor's text: the diagnostics `cnai check` gives for it and the index
of its names, from a single parse (driver.analyze takes the syntax tree the index is built
from). The index is built after the diagnostics are out (``index_names``), so a keystroke's
diagnostics do not wait for it. Imported files are parsed once per change of their
modification time.

No pygls here: the server (lsp_server.py) turns these into protocol messages.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from cnai.authoring.lsp_index import SymbolIndex, build_index
from cnai.context import CompileContext, Options
from cnai.diagnostics import CompileError, Diagnostic
from cnai.driver import CompileFailed, analyze
from cnai.source import SourceFile, Span
from cnai.syntax import ast

# Passes that only rewrite the graph for the targets and report nothing: the diagnostics are
# the same without them (tests/test_lsp_analysis.py compares with `cnai check` on every
# fixture), and sharing templates is most of the passes' time at 2,000 steps.
SILENT_PASSES = ("reduce_edges", "dedupe_templates")


@dataclass
class Analysis:
    source: SourceFile
    diagnostics: list[Diagnostic]
    module: ast.Module | None  # None when the text does not parse
    sources: dict[str, SourceFile] = field(default_factory=dict)
    index: SymbolIndex | None = None  # once index_names has run on a text that parses
    # Every span of ``module`` (syntax/incremental.py), once an edit has been parsed from it.
    spans: list[Span] | None = None
    # Its tree became a later text's (an edit parsed by reusing it): its spans are that
    # text's now, so neither its tree nor its diagnostics may be used again.
    consumed: bool = False

    def index_names(self, imports: ImportCache) -> SymbolIndex | None:
        """The index of names, built if need be; and the list of spans the next edit's
        parse reuses, collected now (the server calls this when typing pauses) rather than
        on that edit."""
        from cnai.syntax.incremental import all_spans

        if self.module is not None:
            with _no_gc():
                if self.index is None:
                    self.index = build_index(self.module, imports.load)
                if self.spans is None:
                    self.spans = all_spans(self.module)
        return self.index

    def diagnostics_at(self, offset: int) -> list[Diagnostic]:
        """This file's diagnostics whose span covers ``offset``."""
        return [d for d in self.diagnostics if d.span.file == self.source.path
                and d.span.start <= offset <= max(d.span.end, d.span.start + 1)]


class ImportCache:
    """Imported files' syntax trees, read again only when a file's mtime or size changes."""

    def __init__(self) -> None:
        self._modules: dict[str, tuple[tuple[int, int], ast.Module | None]] = {}

    def load(self, path: str) -> ast.Module | None:
        from cnai.syntax import parse

        try:
            status = os.stat(path)
        except OSError:
            return None
        stamp = (status.st_mtime_ns, status.st_size)
        cached = self._modules.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            module: ast.Module | None = parse(SourceFile.read(path))
        except (OSError, UnicodeDecodeError, CompileError):
            module = None
        self._modules[path] = (stamp, module)
        return module


def _passes() -> tuple[str, ...]:
    from cnai.passes import PIPELINE

    return tuple(name for name, _ in PIPELINE if name not in SILENT_PASSES)


_OPTIONS = Options(passes=_passes())


@contextmanager
def _no_gc() -> Iterator[None]:
    """No cyclic collection while the compiler builds its trees (as `cnai compile` runs,
    cli.py): it would scan every new node again and again, and find nothing to free."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def analyze_text(text: str, path: str, base: Analysis | None = None) -> Analysis:
    """Check ``text`` as the file ``path`` (imports resolve relative to it), as `cnai check`
    does; the diagnostics are those `cnai check` prints for the file saved with this text.
    ``base``: the analysis of an earlier text that parsed, whose tree is reused where the
    edit allows (syntax/incremental.py); ``base`` is then consumed (see Analysis)."""
    from cnai.syntax import parse
    from cnai.syntax.incremental import reparse

    source = SourceFile(path, text)
    with _no_gc():
        module: ast.Module | None = None
        spans = None
        if base is not None and base.module is not None and not base.consumed:
            reused = reparse(base.module, base.spans, base.source, source)
            if reused is not None:
                module, spans = reused
                base.consumed = True
                base.module = base.spans = None
        if module is None:
            try:
                module = parse(source)
            except CompileError as error:
                return Analysis(source, list(error.diagnostics), None, {path: source})
        ctx = CompileContext(options=_OPTIONS)
        try:
            analyze(source, ctx, parsed=module)
            diagnostics = ctx.diagnostics.sorted()
        except CompileFailed as failed:
            diagnostics = list(failed.diagnostics)
    return Analysis(source, diagnostics, module, ctx.sources, spans=spans)


def span_text(span: Span) -> str:
    return span.source.text[span.start:span.end]
