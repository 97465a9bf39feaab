"""Where one compile's time and memory go, stage by stage, for bench/generate.py's pipeline.

Usage: python bench/stages.py [--steps 10000] [--target argo|kfp] [--parser descent|lalr]
                              [--live]

Runs the driver's stages in one process (parse, check, build_graph, run_passes, the
backend, the YAML writer) and prints each one's wall time and the process's peak RSS once it
has run (``ru_maxrss``: it only grows, so a stage that raises it is where the peak is).
``--parser lalr`` parses with the LALR path alone (syntax/lalr.py), as before
syntax/descent.py, to compare the two in one run. ``--live`` adds the live Python memory
after each stage (tracemalloc: the run is several times slower, the times are not
meaningful then). A measurement for profiling, not the benchmark: bench_scale.py is that.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--target", choices=("argo", "kfp"), default="argo")
    parser.add_argument("--parser", choices=("descent", "lalr"), default="descent")
    parser.add_argument("--live", action="store_true")
    args = parser.parse_args()
    gc.disable()  # as `cnai compile` runs (cli.py)
    if args.live:
        tracemalloc.start()
    started = time.perf_counter()
    from cnai.backends import BACKENDS
    from cnai.backends.serialize import to_yaml
    from cnai.context import CompileContext, Options
    from cnai.passes import run_passes
    from cnai.semantics.checker import check
    from cnai.semantics.dag import build_graph
    from cnai.source import SourceFile
    from cnai.syntax import parse
    from cnai.syntax.lalr import run
    from cnai.syntax.tables import tables
    from cnai.syntax.to_ast import AstBuilder

    def lalr_parse(source: SourceFile) -> Any:
        builder = AstBuilder()
        builder.reset(source)
        return run(tables(), source.text, builder)

    source = SourceFile("bench.cnai", generate(args.steps))
    ctx = CompileContext(options=Options())
    ctx.sources[source.path] = source
    rows: list[tuple[str, float]] = [("imports", time.perf_counter() - started)]
    report(rows[-1], args.live)

    def stage(name: str, begin: float) -> None:
        rows.append((name, time.perf_counter() - begin))
        report(rows[-1], args.live)

    begin = time.perf_counter()
    module = (parse if args.parser == "descent" else lalr_parse)(source)
    stage("parse", begin)
    begin = time.perf_counter()
    pipeline = check(module, source, ctx.diagnostics, ctx.sources, release=True)  # as the driver
    stage("check", begin)
    del module  # as the driver does: each stage's input goes once the next has its output
    assert pipeline is not None, ctx.diagnostics.sorted()
    begin = time.perf_counter()
    built = build_graph(pipeline, ctx.diagnostics)
    stage("build_graph", begin)
    del pipeline
    assert built is not None, ctx.diagnostics.sorted()
    begin = time.perf_counter()
    graph = run_passes(built, ctx)
    del built
    stage("run_passes", begin)
    begin = time.perf_counter()
    documents = BACKENDS[args.target](graph, ctx)
    stage(f"backend ({args.target})", begin)
    begin = time.perf_counter()
    text = to_yaml(documents)
    stage("to_yaml", begin)
    assert not ctx.diagnostics.has_errors, ctx.diagnostics.sorted()
    print(f"{'total':<16} {sum(t for _, t in rows):6.2f} s   ({len(text):,} bytes of YAML)")


def report(row: tuple[str, float], live: bool) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = f"{row[0]:<16} {row[1]:6.2f} s   peak RSS {peak:6.0f} MB"
    if live:
        gc.collect()
        current, traced_peak = tracemalloc.get_traced_memory()
        line += f"   live {current / 2**20:6.0f} MB (traced peak {traced_peak / 2**20:.0f} MB)"
    print(line, flush=True)


if __name__ == "__main__":
    main()
