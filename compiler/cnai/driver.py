"""Run the stages: parse -> check -> build_graph -> run_passes -> backend -> text."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnai.context import CompileContext, Options
from cnai.diagnostics import CompileError, Diagnostic, DiagnosticBag
from cnai.limits import MAX_SOURCE_BYTES, too_large
from cnai.source import SourceFile

if TYPE_CHECKING:
    from cnai.semantics import ir

TARGETS = ("argo", "kfp", "ir")


@dataclass
class CompileResult:
    text: str
    documents: list[dict[str, Any]]
    warnings: list[Diagnostic]
    sources: dict[str, SourceFile] = field(default_factory=dict)
    explain: list[str] = field(default_factory=list)  # what each pass changed
    # Objects a run needs in its namespace that the target's file cannot carry (Kubeflow's
    # loader takes two documents): written by `cnai compile --split`.
    namespace_objects: list[dict[str, Any]] = field(default_factory=list)
    graph: ir.Pipeline | None = None  # the optimized IR the documents were made from


class CompileFailed(CompileError):
    """A CompileError that also carries the sources, so the caller can render snippets."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, SourceFile]) -> None:
        super().__init__(diagnostics)
        self.sources = sources


def decode(data: bytes, path: str) -> SourceFile:
    """UTF-8 text, or a CompileFailed: E0001 pointing at the first bad byte, E0010 for a file
    too large to read."""
    if len(data) > MAX_SOURCE_BYTES:
        empty = SourceFile(path, "")
        raise CompileFailed([too_large(path, empty.span(0, 0))], {path: empty})
    try:
        return SourceFile(path, data.decode("utf-8"))
    except UnicodeDecodeError as error:
        good = SourceFile(path, data[: error.start].decode("utf-8"))
        bag = DiagnosticBag()
        bag.error("E0001", f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                  f"{error.start})", good.span(len(good.text), len(good.text)),
                  "invalid byte here", help=["save the file as UTF-8"])
        raise CompileFailed(bag.sorted(), {path: good}) from None


def analyze(source: SourceFile, ctx: CompileContext, parsed: Any = None) -> Any:
    """Front end and passes: the optimized IR graph, or CompileFailed. Warnings stay in ctx.
    ``parsed``: ``source``'s syntax tree if the caller has it already (the language server
    keeps it for its index of names), so the text is not parsed twice."""
    from cnai.passes import run_passes
    from cnai.semantics.checker import check
    from cnai.semantics.dag import build_graph
    from cnai.syntax import parse

    sources = ctx.sources
    sources[source.path] = source
    try:
        module = parse(source) if parsed is None else parsed
    except CompileError as error:
        raise CompileFailed(error.diagnostics, sources) from None
    # A tree parsed here is the checker's to drop step by step (a caller's is kept whole).
    pipeline = check(module, source, ctx.diagnostics, sources, release=parsed is None)
    # Each stage's input is dropped once the next stage has its output: at 10,000 steps the
    # syntax tree and the checked pipeline are a third of the peak memory if kept to the end.
    del module
    if ctx.diagnostics.has_errors:
        raise CompileFailed(ctx.diagnostics.sorted(), sources)
    if pipeline is None:
        return None
    graph = build_graph(pipeline, ctx.diagnostics)
    del pipeline
    if graph is None or ctx.diagnostics.has_errors:
        raise CompileFailed(ctx.diagnostics.sorted(), sources)
    graph = run_passes(graph, ctx)
    _require_steps(graph, ctx)
    if ctx.diagnostics.has_errors:
        raise CompileFailed(ctx.diagnostics.sorted(), sources)
    return graph


def _require_steps(graph: Any, ctx: CompileContext) -> None:
    """A pipeline needs a step outside `finally` (the targets refuse an empty DAG)."""
    from cnai.semantics import ir

    if any(not any(isinstance(g, ir.Finally) for g in graph.ancestors(s.group))
           for s in graph.steps):
        return
    removed = any(d.code == "W0302" for d in ctx.diagnostics)
    ctx.diagnostics.error(
        "E0106", f"pipeline `{graph.name}` has nothing to run"
        + (": always-false gates removed every step" if removed else " outside `finally`"),
        graph.span, "no steps to run", help=["add a step outside `finally`"])


def compile_source(text: str | bytes, path: str = "<input>", target: str = "argo",
                   options: Options | None = None) -> CompileResult:
    """Compile one .cnai text to ``target`` (argo, kfp, or ir); raises CompileFailed."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected one of {', '.join(TARGETS)}")
    source = decode(text, path) if isinstance(text, bytes) else SourceFile(path, text)
    del text  # not kept through the compile: `cnai compile` hands over the bytes it read
    ctx = CompileContext(options=options or Options())
    graph = _pipeline(source, ctx)
    sources = ctx.sources
    if target == "ir":
        text_out = graph.model_dump_json(indent=2) + "\n"
        return CompileResult(text_out, [graph.model_dump(mode="json")], ctx.diagnostics.sorted(),
                             sources, ctx.explain, graph=graph)
    from cnai.backends import BACKENDS
    from cnai.backends.serialize import to_yaml

    documents = BACKENDS[target](graph, ctx)
    if target == "argo" and (ctx.options.passes is None or "check_size" in ctx.options.passes):
        from cnai.passes.check_size import check_size

        check_size(documents, graph, ctx)
    if ctx.diagnostics.has_errors:
        raise CompileFailed(ctx.diagnostics.sorted(), sources)
    extra = []
    if target == "kfp":
        from cnai.backends.kfp import namespace_objects
        from cnai.backends.kfp_size import check_run_size

        check_run_size(documents, graph, ctx)
        extra = namespace_objects(graph)
    return CompileResult(to_yaml(documents), documents, ctx.diagnostics.sorted(), sources,
                         ctx.explain, extra, graph)


def _pipeline(source: SourceFile, ctx: CompileContext) -> ir.Pipeline:
    """The optimized IR of the file's pipeline; E0009 for a file of templates only."""
    graph: ir.Pipeline | None = analyze(source, ctx)
    if graph is None:
        bag = DiagnosticBag()
        bag.error("E0009", "no pipeline to compile: this file declares templates only",
                  source.span(0, 0), "no `pipeline` here",
                  help=["compile the file that imports these templates"])
        raise CompileFailed(bag.sorted(), ctx.sources)
    return graph


def analyze_source(text: str | bytes, path: str = "<input>", options: Options | None = None
                   ) -> CompileResult:
    """The front end and the passes, no backend: a CompileResult with ``graph`` (the
    optimized IR) and no documents (``cnai graph``, the authoring tools); raises
    CompileFailed."""
    source = decode(text, path) if isinstance(text, bytes) else SourceFile(path, text)
    ctx = CompileContext(options=options or Options())
    graph = _pipeline(source, ctx)
    return CompileResult("", [], ctx.diagnostics.sorted(), ctx.sources, ctx.explain,
                         graph=graph)


def compile_file(path: str | Path, target: str = "argo",
                 options: Options | None = None) -> CompileResult:
    return compile_source(Path(path).read_bytes(), str(path), target, options)


def check_source(text: str | bytes, path: str = "<input>", options: Options | None = None
                 ) -> tuple[list[Diagnostic], dict[str, SourceFile]]:
    """The front end only: (warnings, every file read); raises CompileFailed on errors."""
    source = decode(text, path) if isinstance(text, bytes) else SourceFile(path, text)
    ctx = CompileContext(options=options or Options())
    analyze(source, ctx)
    return ctx.diagnostics.sorted(), ctx.sources
