"""A `cnai lsp` subprocess driven by pygls's LanguageClient over stdio, for the LSP tests.

pytest-asyncio is not used: the session owns one event loop, and each call runs the client's
coroutines to completion on it (``run``), so a test module shares one server."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.uris import from_fs_path

from testpaths import ROOT

T = TypeVar("T")
WAIT_SECONDS = 60.0  # a loaded CI machine; not a speed bound (bench/lsp_latency.py is that)


class LspSession:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = LanguageClient("cnai-tests", "0")
        self.published: dict[str, types.PublishDiagnosticsParams] = {}
        self.arrived = asyncio.Event()
        self.versions: dict[str, int] = {}

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def collect(params: types.PublishDiagnosticsParams) -> None:
            self.published[params.uri] = params
            self.arrived.set()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, WAIT_SECONDS))

    def start(self) -> None:
        # The caller's path first: the compiled build's run puts its wheel there.
        path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"),
                                             str(ROOT / "compiler")]))
        env = {**os.environ, "PYTHONPATH": path}
        self.run(self.client.start_io(sys.executable, "-m", "cnai", "lsp", "--stdio", env=env))
        self.run(self.client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), process_id=os.getpid())))
        self.client.initialized(types.InitializedParams())

    def stop(self) -> None:
        self.run(self.client.shutdown_async(None))
        self.client.exit(None)
        self.run(self.client.stop())
        self.loop.close()

    # ---- documents ----------------------------------------------------------------------

    def open(self, path: Path, text: str | None = None) -> str:
        uri = from_fs_path(str(path)) or ""
        self.versions[uri] = 1
        self.published.pop(uri, None)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri, "cnai", 1, path.read_text() if text is None else text)))
        return uri

    def replace(self, uri: str, text: str) -> None:
        """An edit replacing the whole text (a full-text change event)."""
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(self.versions[uri], uri),
            [types.TextDocumentContentChangeWholeDocument(text)]))

    def edit(self, uri: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        """An incremental edit: replace the range (line, UTF-16 character) with ``text``."""
        self.versions[uri] += 1
        change = types.TextDocumentContentChangePartial(
            types.Range(types.Position(*start), types.Position(*end)), text)
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(self.versions[uri], uri), [change]))

    def diagnostics(self, uri: str) -> list[types.Diagnostic]:
        """The diagnostics published for the document's latest version."""
        async def wait() -> list[types.Diagnostic]:
            while True:
                published = self.published.get(uri)
                if published is not None and published.version == self.versions[uri]:
                    return list(published.diagnostics)
                self.arrived.clear()
                await self.arrived.wait()
        return self.run(wait())

    # ---- requests -----------------------------------------------------------------------

    def hover(self, uri: str, line: int, character: int) -> str | None:
        result = self.run(self.client.text_document_hover_async(types.HoverParams(
            types.TextDocumentIdentifier(uri), types.Position(line, character))))
        if result is None:
            return None
        assert isinstance(result.contents, types.MarkupContent)
        return result.contents.value

    def definition(self, uri: str, line: int, character: int) -> list[types.Location]:
        result = self.run(self.client.text_document_definition_async(types.DefinitionParams(
            types.TextDocumentIdentifier(uri), types.Position(line, character))))
        if result is None:
            return []
        return [result] if isinstance(result, types.Location) else list(result)  # type: ignore

    def references(self, uri: str, line: int, character: int, declaration: bool = True
                   ) -> list[types.Location]:
        result = self.run(self.client.text_document_references_async(types.ReferenceParams(
            context=types.ReferenceContext(declaration),
            text_document=types.TextDocumentIdentifier(uri),
            position=types.Position(line, character))))
        return list(result or [])

    def completion(self, uri: str, line: int, character: int) -> list[str]:
        result = self.run(self.client.text_document_completion_async(types.CompletionParams(
            types.TextDocumentIdentifier(uri), types.Position(line, character))))
        items = result.items if isinstance(result, types.CompletionList) else result or []
        return [item.label for item in items]

    def format(self, uri: str) -> list[types.TextEdit] | None:
        result = self.run(self.client.text_document_formatting_async(
            types.DocumentFormattingParams(types.TextDocumentIdentifier(uri),
                                           types.FormattingOptions(2, True))))
        return None if result is None else list(result)
