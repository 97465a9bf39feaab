"""How long a keystroke waits for its diagnostics from `cnai lsp`, on bench/generate.py's
pipeline.

Usage: python bench/lsp_latency.py [--steps 500 2000] [--keystrokes 10]

For each size, a `cnai lsp` process is started and driven over stdio by pygls's
LanguageClient, as an editor drives it: the file is opened, then each keystroke is one
incremental change (a step's `cpu = 4` becomes 5, then 4 again, so the text stays valid and
every analysis checks the whole pipeline), sent only after the previous one's diagnostics
arrived: a typist's keystroke, not a burst, so the server does not pause before analysing
(lsp_server.DEBOUNCE_SECONDS), and it reuses the syntax tree of the text before
(syntax/incremental.py). A keystroke's latency is the wall time from sending the change to
receiving the publishDiagnostics of that version. The same text is also analysed in this
process, stage by stage, to show where that time goes. A measurement, not a test: CI does
not run it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate

ROOT = Path(__file__).resolve().parent.parent


async def keystrokes(path: Path, count: int) -> tuple[float, list[float]]:
    """(seconds to the first diagnostics after opening, each keystroke's seconds)."""
    from lsprotocol import types
    from pygls.lsp.client import LanguageClient
    from pygls.uris import from_fs_path

    client = LanguageClient("lsp-latency", "0")
    arrived: asyncio.Queue[tuple[int | None, float]] = asyncio.Queue()

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def published(params: types.PublishDiagnosticsParams) -> None:
        arrived.put_nowait((params.version, time.perf_counter()))

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [os.environ.get("PYTHONPATH"), str(ROOT / "compiler")]))}
    await client.start_io(sys.executable, "-m", "cnai", "lsp", env=env)
    await client.initialize_async(types.InitializeParams(capabilities=types.ClientCapabilities()))
    client.initialized(types.InitializedParams())
    uri = from_fs_path(str(path)) or ""
    text = path.read_text()

    async def wait_for(version: int, sent: float) -> float:
        while True:
            got, at = await arrived.get()
            if got == version:
                return at - sent

    sent = time.perf_counter()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri, "cnai", 1, text)))
    first = await wait_for(1, sent)
    # The middle step's `cpu = 4`: its digit, as (line, character).
    offset = text.index("cpu = 4", len(text) // 2) + len("cpu = ")
    line = text.count("\n", 0, offset)
    character = offset - text.rfind("\n", 0, offset) - 1
    latencies = []
    for version in range(2, count + 2):
        digit = "5" if version % 2 == 0 else "4"
        change = types.TextDocumentContentChangePartial(
            types.Range(types.Position(line, character), types.Position(line, character + 1)),
            digit)
        sent = time.perf_counter()
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(version, uri), [change]))
        latencies.append(await wait_for(version, sent))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return first, latencies


def stages(path: Path) -> dict[str, float]:
    """CPU seconds per stage of one analysis in this process (the best of three): the
    parse and the rest of `cnai check` (every pass), then the server's analysis
    (lsp_analysis.py: one parse and the check without the passes that report nothing), its
    index, and the analysis of a keystroke that reuses that tree (syntax/incremental.py).
    CPU time, not wall time: on a machine other processes share, it is what the stage
    costs; the keystroke figures above are wall times and include the waiting."""
    import gc

    from cnai.authoring.lsp_analysis import ImportCache, analyze_text
    from cnai.context import CompileContext, Options
    from cnai.driver import analyze
    from cnai.source import SourceFile
    from cnai.syntax import parse

    text = path.read_text()
    offset = text.index("cpu = 4", len(text) // 2) + len("cpu = ")
    edited = text[:offset] + "5" + text[offset + 1:]  # the keystroke keystrokes() sends
    best: dict[str, float] = {}
    gc.disable()  # as the server runs (lsp_server.serve), collecting between analyses
    for _ in range(3):
        gc.collect()
        started = time.process_time()
        module = parse(SourceFile(str(path), text))
        parsed = time.process_time()
        analyze(SourceFile(str(path), text), CompileContext(options=Options()), parsed=module)
        checked = time.process_time()
        del module
        gc.collect()
        analysed_from = time.process_time()
        analysis = analyze_text(text, str(path))
        analysed = time.process_time()
        analysis.index_names(ImportCache())
        indexed = time.process_time()
        keystroke = analyze_text(edited, str(path), analysis)
        assert keystroke.spans is not None  # the tree was reused
        reused = time.process_time()
        for name, seconds in (("parse", parsed - started),  # CPU seconds
                              ("cnai check's check, all passes", checked - parsed),
                              ("the server's parse + check", analysed - analysed_from),
                              ("the server's index", indexed - analysed),
                              ("a keystroke's reparse + check", reused - indexed)):
            best[name] = min(best.get(name, seconds), seconds)
        del analysis, keystroke
    gc.enable()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--keystrokes", type=int, default=10)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "compiler"))
    with tempfile.TemporaryDirectory() as folder:
        for steps in args.steps:
            path = Path(folder) / f"bench{steps}.cnai"
            path.write_text(generate(steps))
            first, latencies = asyncio.run(keystrokes(path, args.keystrokes))
            print(f"{steps} steps ({path.stat().st_size:,} bytes):")
            print(f"  open -> diagnostics       {first * 1000:7.0f} ms")
            print(f"  keystroke -> diagnostics  {statistics.median(latencies) * 1000:7.0f} ms "
                  f"median, {min(latencies) * 1000:.0f}-{max(latencies) * 1000:.0f} ms "
                  f"over {len(latencies)}")
            for name, seconds in stages(path).items():
                print(f"  CPU, in process: {name:<31} {seconds * 1000:6.0f} ms")


if __name__ == "__main__":
    main()
