"""One analysis of an editor's text: the diagnostics `cnai check` gives for it and the index
of its names, from a single parse (driver.analyze takes the syntax tree the index was built
from). Imported files are parsed once per change of their modification time.

No pygls here: the server (lsp_server.py) turns these into protocol messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from cnai.authoring.lsp_index import SymbolIndex, build_index
from cnai.context import CompileContext, Options
from cnai.diagnostics import CompileError, Diagnostic
from cnai.driver import CompileFailed, analyze
from cnai.source import SourceFile, Span
from cnai.syntax import ast


@dataclass
class Analysis:
    source: SourceFile
    diagnostics: list[Diagnostic]
    index: SymbolIndex | None  # None when the text does not parse
    sources: dict[str, SourceFile] = field(default_factory=dict)

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


def analyze_text(text: str, path: str, imports: ImportCache) -> Analysis:
    """Check ``text`` as the file ``path`` (imports resolve relative to it), as `cnai check`
    does, and index its names."""
    from cnai.syntax import parse

    source = SourceFile(path, text)
    try:
        module = parse(source)
    except CompileError as error:
        return Analysis(source, list(error.diagnostics), None, {path: source})
    index = build_index(module, imports.load)
    ctx = CompileContext(options=Options())
    try:
        analyze(source, ctx, parsed=module)
        diagnostics = ctx.diagnostics.sorted()
    except CompileFailed as failed:
        diagnostics = list(failed.diagnostics)
    return Analysis(source, diagnostics, index, ctx.sources)


def span_text(span: Span) -> str:
    return span.source.text[span.start:span.end]
