"""Output sizes of a generated pipeline, optimized and not, for Argo and Kubeflow.

Usage: python bench/bench_size.py [--steps 2000] [--shapes 50]
Argo stores a Workflow in etcd (about 1 MB at most); the optimizer's shared templates keep a
2,000-step pipeline of 50 step shapes under it. A measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "compiler"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import generate

from cnai import compile_source
from cnai.context import Options
from cnai.driver import CompileFailed


def measure(text: str, target: str, optimize: bool) -> str:
    start = time.perf_counter()
    try:
        # Without the optimizer the size check is skipped too, to see how large it gets.
        options = Options(optimize=optimize, passes=None if optimize else ())
        result = compile_source(text, "bench.cnai", target, options)
    except CompileFailed as failure:
        return f"refused: {', '.join(sorted({d.code for d in failure.diagnostics}))}"
    seconds = time.perf_counter() - start
    first = json.dumps(result.documents[0], separators=(",", ":"))
    return (f"{len(first.encode()) / 1000:8.0f} KB as JSON, {len(result.text) / 1000:6.0f} KB "
            f"as YAML ({seconds:.2f} s in-process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--shapes", type=int, default=50)
    args = parser.parse_args()
    text = generate(args.steps, shapes=args.shapes)
    print(f"{args.steps} steps, {args.shapes} step shapes")
    for target in ("argo", "kfp"):
        for optimize in (True, False):
            label = "optimized   " if optimize else "--no-optimize"
            print(f"  {target:4} {label}: {measure(text, target, optimize)}")


if __name__ == "__main__":
    main()
