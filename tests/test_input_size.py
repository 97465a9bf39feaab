"""Input size: memory stays linear with a small constant, and files past the cap get E0010."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

from cnai.driver import CompileFailed, check_source
from cnai.limits import MAX_SOURCE_BYTES
from testpaths import ROOT


def test_a_long_string_literal_costs_a_few_bytes_per_character() -> None:
    size = 1_000_000
    literal = "ab" * (size // 2)
    text = f'pipeline p {{\n  param x: string = "{literal}"\n  step s {{ image = "a" }}\n}}\n'
    check_source(text, "warm.cnai")  # tables, imports
    tracemalloc.start()
    try:
        check_source(text, "p.cnai")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A string regex with a group per character kept ~220 bytes per character on re's stack.
    assert peak < 20 * size, f"{peak / size:.0f} bytes per character"


def test_a_file_past_the_cap_is_e0010(tmp_path: Path) -> None:
    big = tmp_path / "big.cnai"
    with big.open("w") as handle:
        handle.write("pipeline p {\n")
        handle.write(("# " + "x" * 98 + "\n") * (MAX_SOURCE_BYTES // 100 + 1))
        handle.write("}\n")
    result = subprocess.run([sys.executable, "-m", "cnai", "check", str(big)], cwd=ROOT,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "error[E0010]" in result.stderr and "16,777,216 bytes" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_cap_holds_for_text_given_to_the_api() -> None:
    text = "pipeline p {}\n" + " " * MAX_SOURCE_BYTES
    try:
        check_source(text, "p.cnai")
    except CompileFailed as failed:
        assert [d.code for d in failed.diagnostics] == ["E0010"]
    else:
        raise AssertionError("no E0010")
