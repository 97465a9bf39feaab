"""How long `cnai fmt` takes on a large file, beside a parse of the same file.

Usage: python bench/fmt_speed.py [--steps 2000]

Formats a generated N-step file (a chain of steps with comments) in this process and prints
the best of three CPU times of the formatter and of one parse: the formatter parses, scans
and checks its result, so a few parses' worth is what to expect, growing linearly with N.
A measurement, not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def chain(steps: int) -> str:
    body = "".join(f'  step s{i} after s{i - 1} {{\n    image = "python:3.12"  # the image\n'
                   f'    command = ["python", "run.py", "--n", "{i}"]\n'
                   f'    resources {{ cpu = 1  memory = "1Gi" }}\n  }}\n'
                   for i in range(1, steps))
    return f'pipeline big {{\n  step s0 {{ image = "x" }}\n{body}}}\n'


def best(action: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        started = time.process_time()
        action()
        times.append(time.process_time() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "compiler"))
    from cnai.authoring.fmt import format_source
    from cnai.source import SourceFile
    from cnai.syntax import parse

    text = chain(args.steps)
    format_source(text)  # warm: the parser's tables
    formatting = best(lambda: format_source(text))
    parsing = best(lambda: parse(SourceFile("big.cnai", text)))
    print(f"{args.steps} steps ({len(text):,} bytes): fmt {formatting * 1000:.0f} ms CPU, "
          f"parse {parsing * 1000:.0f} ms ({formatting / parsing:.1f} parses)")


if __name__ == "__main__":
    main()
