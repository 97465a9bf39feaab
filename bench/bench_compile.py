"""Time `cnai compile` on generated N-step pipelines (bench/generate.py), as a user runs it.

Usage: python bench/bench_compile.py [--steps 1000 2000] [--target argo] [--repeat 5]
Prints the best and median wall time of the whole CLI process (interpreter start included)
and the size of the output. A measurement, not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import cnai_under_test, generate


def time_compile(source: Path, target: str, repeat: int) -> tuple[float, float, int]:
    output = source.with_suffix(f".{target}.yaml")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "cnai", "compile", str(source),
                                 "--target", target, "-o", str(output)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:  # warnings (Argo's size limit near at 2,000) stay quiet
            sys.exit(f"cnai compile failed:\n{result.stderr}")
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), output.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 1000, 2000])
    parser.add_argument("--target", default="argo")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        print(cnai_under_test())
        print(f"{'steps':>6} {'best s':>8} {'median s':>9} {'output KB':>10}")
        for steps in args.steps:
            source = Path(workdir) / f"bench{steps}.cnai"
            source.write_text(generate(steps))
            best, median, size = time_compile(source, args.target, args.repeat)
            print(f"{steps:>6} {best:>8.3f} {median:>9.3f} {size / 1024:>10.0f}")


if __name__ == "__main__":
    main()
