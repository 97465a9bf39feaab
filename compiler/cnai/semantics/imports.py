"""`import "path.cnai"`: load the templates of other files, relative to the importing file,
and their pipeline, which the importing pipeline may use as a step (semantics/nested.py).
`import "steps.py"`: each function of a Python file is a template (semantics/pyfunctions.py).

Errors inside an imported file point at that file; an import cycle names every file in it.
"""

from __future__ import annotations

import os

from cnai.diagnostics import CompileError, Diagnostic, DiagnosticBag, Label
from cnai.semantics import credentials
from cnai.semantics.pyfunctions import read_module
from cnai.semantics.templates import TemplateLibrary
from cnai.source import SourceFile
from cnai.syntax import ast


class Importer:
    def __init__(self, root: SourceFile, diagnostics: DiagnosticBag,
                 sources: dict[str, SourceFile]) -> None:
        self.root = root
        self.diagnostics = diagnostics
        self.sources = sources
        self.loaded: set[str] = {os.path.normpath(root.path)}

    def load(self, module: ast.Module, library: TemplateLibrary,
             stack: tuple[str, ...] = ()) -> None:
        stack = stack or (os.path.normpath(module.file),)
        for statement in module.imports:
            if not statement.path.is_plain:
                self.diagnostics.error("E0111", "an import path is a plain string",
                                       statement.path.span, "interpolated")
                library.incomplete = True
                continue
            path = os.path.normpath(os.path.join(os.path.dirname(module.file),
                                                 statement.path.text))
            if path in stack:
                cycle = " -> ".join(f"`{p}`" for p in (*stack[stack.index(path):], path))
                self.diagnostics.error("E0111", f"import cycle: {cycle}", statement.path.span,
                                       "imports a file that imports this one")
                library.incomplete = True  # what it would have brought is not unknown
                continue
            if path in self.loaded:
                continue
            self.loaded.add(path)
            if path.endswith(".py"):
                self._load_python(path, statement, library)
                continue
            imported = self._parse(path, statement)
            if imported is None:
                library.incomplete = True
                continue
            for pipeline in imported.pipelines[1:]:
                self.diagnostics.error(
                    "E0109", "a file declares one pipeline", pipeline.name.span,
                    f"second pipeline `{pipeline.name.name}`",
                    secondary=[Label(statement.span, "imported here")])
            for pipeline in imported.pipelines[:1]:  # usable as a step (semantics/nested.py)
                self._add_pipeline(pipeline, imported, library)
            self.load(imported, library, (*stack, path))
            for template in imported.templates:
                library.add(template)

    def _add_pipeline(self, pipeline: ast.Pipeline, module: ast.Module,
                      library: TemplateLibrary) -> None:
        previous = library.pipelines.get(pipeline.name.name)
        if previous is not None:
            self.diagnostics.error(
                "E0101", f"pipeline `{pipeline.name.name}` is imported twice",
                pipeline.name.span, "second pipeline of that name",
                secondary=[Label(previous[0].name.span, "first declared here")])
            return
        library.pipelines[pipeline.name.name] = (pipeline, module)

    def _read(self, path: str, statement: ast.Import) -> SourceFile | None:
        try:
            source = SourceFile.read(path)
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not UTF-8 text"
            self.diagnostics.error("E0111", f"cannot import \"{statement.path.text}\": {reason}",
                                   statement.path.span, f"looked for {path}")
            return None
        self.sources[path] = source
        return source

    def _load_python(self, path: str, statement: ast.Import, library: TemplateLibrary) -> None:
        """A Python file's functions, each a template (semantics/pyfunctions.py)."""
        source = self._read(path, statement)
        if source is None:
            library.incomplete = True
            return
        errors: list[Diagnostic] = []
        module = read_module(source, errors)
        if errors:
            self.diagnostics.extend(errors)
            library.incomplete = True
        for template in module.templates:
            library.add(template)
        library.broken.update(module.broken)

    def _parse(self, path: str, statement: ast.Import) -> ast.Module | None:
        from cnai.syntax import parse

        source = self._read(path, statement)
        if source is None:
            return None
        try:
            module = parse(source)
        except CompileError as failed:
            self.diagnostics.extend(failed.diagnostics)
            return None
        credentials.scan(source, self.diagnostics)
        return module
