"""The language server (pygls 2.x, over stdio): diagnostics as the text changes, hover,
go-to-definition, find-references, completion and formatting.

Each change of a document schedules one analysis (lsp_analysis.py), run in a worker thread so
requests keep being read; a change that arrives meanwhile makes the older analysis's result be
dropped. A change is analysed at once, unless it comes within DEBOUNCE_SECONDS of the one
before (a burst: a paste in pieces, a key held down), which waits that long for the burst to
end. An analysis reuses the syntax tree of the document's last text that parsed where the
edit allows (syntax/incremental.py). A request about a document waits for the analysis of its
latest text, so answers always match what the editor shows.

Positions: LSP counts lines from 0 and characters in the code units the client and server
agreed on at initialize (UTF-16 unless both prefer another; pygls's PositionCodec converts).
cnai's spans count code points (source.py): ``position_of`` converts one to the other.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from cnai import __version__
from cnai.authoring.lsp_analysis import Analysis, ImportCache, analyze_text
from cnai.authoring.lsp_complete import complete, hover_text
from cnai.authoring.lsp_index import Occurrence, SymbolIndex
from cnai.diagnostics import Diagnostic
from cnai.source import SourceFile, Span

DEBOUNCE_SECONDS = 0.05  # a change this soon after the one before is part of a burst
INDEX_AFTER_SECONDS = 0.3  # index names once the typing has paused this long
COLLECT_EVERY = 5  # analyses between garbage collections, if typing never pauses
KINDS = {
    "step": types.CompletionItemKind.Function, "service": types.CompletionItemKind.Function,
    "param": types.CompletionItemKind.Variable, "dataset": types.CompletionItemKind.Module,
    "volume": types.CompletionItemKind.Module, "template": types.CompletionItemKind.Class,
    "output": types.CompletionItemKind.Field, "template param": types.CompletionItemKind.Variable,
    "loop variable": types.CompletionItemKind.Variable,
    "field": types.CompletionItemKind.Property, "keyword": types.CompletionItemKind.Keyword,
}
log = logging.getLogger(__name__)


class CnaiLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("cnai", __version__)
        self.imports = ImportCache()
        self.analyses: dict[str, Analysis] = {}
        self.parsed: dict[str, Analysis] = {}  # each document's last text that parsed
        self.pending: dict[str, asyncio.Task[None]] = {}  # each document's latest analysis
        self.changed_at: dict[str, float] = {}  # each document's last change (monotonic)
        self.background: set[asyncio.Task[None]] = set()  # indexing when typing pauses
        self.uncollected = 0  # analyses since the last garbage collection
        self.running = asyncio.Lock()

    # ---- positions ----------------------------------------------------------------------

    def position_of(self, source: SourceFile, offset: int) -> types.Position:
        line, column = source.line_col(offset)
        before = source.line_text(line)[:column - 1]
        return types.Position(line - 1, self.workspace.position_codec.client_num_units(before))

    def range_of(self, span: Span) -> types.Range:
        return types.Range(self.position_of(span.source, span.start),
                           self.position_of(span.source, span.end))

    def location(self, span: Span) -> types.Location:
        return types.Location(from_fs_path(span.file) or span.file, self.range_of(span))

    def offset(self, uri: str, position: types.Position) -> int:
        return self.workspace.get_text_document(uri).offset_at_position(position)

    # ---- analysis -----------------------------------------------------------------------

    def schedule(self, uri: str, files_changed: bool = False) -> None:
        """Analyse ``uri`` soon; ``files_changed``: files on disk changed (not the text)."""
        version = self.workspace.get_text_document(uri).version
        now = time.monotonic()
        burst = now - self.changed_at.get(uri, now - DEBOUNCE_SECONDS) < DEBOUNCE_SECONDS
        self.changed_at[uri] = now
        self.pending[uri] = asyncio.ensure_future(
            self._refresh(uri, version, files_changed, DEBOUNCE_SECONDS if burst else 0))

    async def _refresh(self, uri: str, version: int | None, files_changed: bool,
                       pause: float) -> None:
        """Analyse ``uri`` after ``pause`` seconds and publish its diagnostics, unless a newer
        change came first."""
        await asyncio.sleep(pause)
        async with self.running:
            document = self.workspace.get_text_document(uri)
            if document.version != version:
                return  # a newer change has its own analysis scheduled
            text, path = document.source, to_fs_path(uri) or uri
            previous = self.analyses.get(uri)
            if previous is not None and previous.source.text == text and not files_changed \
                    and not previous.consumed:
                analysis = previous  # an undo back to the text analysed last
            else:
                loop = asyncio.get_running_loop()
                base = self.parsed.get(uri)
                try:
                    analysis = await loop.run_in_executor(None, analyze_text, text, path, base)
                except Exception:  # a bug in cnai: say so, keep serving
                    log.exception("analysing %s failed", uri)
                    if base is not None and base.consumed:
                        self.parsed.pop(uri, None)
                    self.window_show_message(types.ShowMessageParams(
                        types.MessageType.Error, f"cnai lsp could not analyse {path}: a bug "
                        "in cnai (see the server's log)"))
                    return
            if analysis.module is not None:
                self.parsed[uri] = analysis  # even if outdated: the tree the next one reuses
            if self.workspace.get_text_document(uri).version != version:
                return
            self.analyses[uri] = analysis
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri, [self.to_lsp(d, analysis) for d in analysis.diagnostics], version))
            self.uncollected += 1
            if self.uncollected >= COLLECT_EVERY:
                self.collect()
        task = asyncio.ensure_future(self._index_when_idle(uri, analysis))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def _index_when_idle(self, uri: str, analysis: Analysis) -> None:
        """Index the names once typing has paused: a keystroke's diagnostics never wait for
        the index of the text before it (a request that needs it builds it at once). While
        the text does not parse, the last text that did is indexed, for completion."""
        await asyncio.sleep(INDEX_AFTER_SECONDS)
        if self.analyses.get(uri) is analysis:
            await self.names(uri)
            if self.uncollected:
                self.collect()

    def collect(self) -> None:
        """Free the cycles analyses leave (the checker's objects refer to each other), then
        freeze what is alive, so the next collection scans only what is newer. The server
        runs with automatic collection off (``serve``): it would stop a keystroke's analysis
        to rescan the trees of earlier ones. An analysis kept is acyclic, so once it is
        dropped, reference counting frees it even though it was frozen."""
        gc.collect()
        gc.freeze()
        self.uncollected = 0

    async def index(self, analysis: Analysis) -> SymbolIndex | None:
        """``analysis``'s index of names, built now if it is not yet."""
        if analysis.index is None and analysis.module is not None:
            async with self.running:
                loop = asyncio.get_running_loop()
                try:
                    await loop.run_in_executor(None, analysis.index_names, self.imports)
                except Exception:  # a bug in cnai: no names, but diagnostics go on
                    log.exception("indexing %s failed", analysis.source.path)
                    analysis.module = None
        return analysis.index

    async def names(self, uri: str) -> SymbolIndex | None:
        """The index of the document's last text that parsed (for completion)."""
        parsed = self.parsed.get(uri)
        return None if parsed is None else await self.index(parsed)

    async def current(self, uri: str) -> Analysis | None:
        """The analysis of ``uri``'s latest text, indexed (waiting for it if need be)."""
        while (task := self.pending.get(uri)) is not None and not task.done():
            await asyncio.shield(task)
        analysis = self.analyses.get(uri)
        if analysis is not None:
            await self.index(analysis)
        return analysis

    async def name_at(self, uri: str, position: types.Position
                      ) -> tuple[SymbolIndex, Occurrence] | None:
        """The declared name at ``position`` of the latest text, with the index it is in."""
        analysis = await self.current(uri)
        if analysis is None or analysis.index is None:
            return None
        found = analysis.index.at(self.offset(uri, position))
        return None if found is None else (analysis.index, found)

    def to_lsp(self, diagnostic: Diagnostic, analysis: Analysis) -> types.Diagnostic:
        """One cnai diagnostic as LSP's: its span, code, message and help. One in an
        imported file is shown on the import that brings it, pointing at where it is."""
        span = diagnostic.span
        message = diagnostic.message
        related = [types.DiagnosticRelatedInformation(self.location(label.span), label.text)
                   for label in diagnostic.secondary]
        if span.file != analysis.source.path:
            related.insert(0, types.DiagnosticRelatedInformation(
                self.location(span), diagnostic.primary.text or diagnostic.message))
            message = f"in {Path(span.file).name}: {message}"
            span = _import_span(analysis, span.file)
        elif diagnostic.primary.text:
            message = f"{message}: {diagnostic.primary.text}"
        message += "".join(f"\nhelp: {line}" for line in diagnostic.help)
        severity = (types.DiagnosticSeverity.Warning if diagnostic.code.startswith("W")
                    else types.DiagnosticSeverity.Error)
        return types.Diagnostic(self.range_of(span), message, severity, diagnostic.code,
                                source="cnai", related_information=related or None)


def _import_span(analysis: Analysis, path: str) -> Span:
    """The import statement through which ``path``'s diagnostic reached this file (the one
    naming it, else the first: it came through a file that one imports)."""
    statements = analysis.module.imports if analysis.module is not None else ()
    folder = os.path.dirname(analysis.source.path)
    for statement in statements:
        if os.path.normpath(os.path.join(folder, statement.path.text)) == path:
            return statement.path.span
    return statements[0].path.span if statements else analysis.source.span(0, 0)


def create_server() -> CnaiLanguageServer:
    server = CnaiLanguageServer()
    _register_sync(server)
    _register_navigation(server)
    _register_editing(server)
    return server


def _register_sync(server: CnaiLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CnaiLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.parsed.pop(params.text_document.uri, None)
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CnaiLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: CnaiLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, files_changed=True)  # an import may have too

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def files_changed(ls: CnaiLanguageServer, params: types.DidChangeWatchedFilesParams
                      ) -> None:
        """A .cnai file changed on disk (the extension watches them): an open document
        importing it is analysed again (the import cache sees the new modification time)."""
        for uri in list(ls.analyses):
            ls.schedule(uri, files_changed=True)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CnaiLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.analyses.pop(uri, None)
        ls.parsed.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))


def _register_navigation(server: CnaiLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: CnaiLanguageServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        analysis = await ls.current(uri)
        if analysis is None:
            return None
        text = hover_text(analysis, ls.offset(uri, params.position))
        if text is None:
            return None
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    async def definition(ls: CnaiLanguageServer, params: types.DefinitionParams
                         ) -> types.Location | None:
        found = await ls.name_at(params.text_document.uri, params.position)
        if found is None:
            return None
        symbol = found[1].symbol
        if symbol.kind == "import":  # the imported file itself
            start = types.Position(0, 0)
            return types.Location(from_fs_path(symbol.path) or symbol.path,
                                  types.Range(start, start))
        return ls.location(symbol.span)

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    async def references(ls: CnaiLanguageServer, params: types.ReferenceParams
                         ) -> list[types.Location] | None:
        found = await ls.name_at(params.text_document.uri, params.position)
        if found is None:
            return None
        index, occurrence = found
        include = params.context.include_declaration
        return [ls.location(o.span) for o in index.references(occurrence.symbol)
                if include or not o.declaration]


def _register_editing(server: CnaiLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=["."]))
    async def completion(ls: CnaiLanguageServer, params: types.CompletionParams
                         ) -> types.CompletionList:
        uri = params.text_document.uri
        if uri not in ls.parsed:  # else answer now: names rarely change with a keystroke
            await ls.current(uri)
        index = await ls.names(uri)
        document = ls.workspace.get_text_document(uri)
        items = complete(document.source, ls.offset(uri, params.position), index)
        return types.CompletionList(False, [
            types.CompletionItem(i.label, kind=KINDS.get(i.kind), detail=i.detail or i.kind)
            for i in items])

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: CnaiLanguageServer, params: types.DocumentFormattingParams
                   ) -> list[types.TextEdit] | None:
        from cnai.authoring.fmt import FormatError, format_source

        uri = params.text_document.uri
        document = ls.workspace.get_text_document(uri)
        try:
            formatted = format_source(document.source, to_fs_path(uri) or uri)
        except FormatError:
            return None  # the text does not parse: its diagnostics say why
        if formatted == document.source:
            return []
        whole = SourceFile(uri, document.source)
        end = ls.position_of(whole, len(whole.text))
        return [types.TextEdit(types.Range(types.Position(0, 0), end), formatted)]


def serve() -> int:
    gc.disable()  # the server collects when typing pauses (CnaiLanguageServer.collect)
    create_server().start_io()
    return 0
