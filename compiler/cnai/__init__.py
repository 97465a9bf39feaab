"""cnai: a compiler for cloud-native AI pipelines.

The facade: ``compile_source`` / ``compile_file`` run every stage (parse, check, build_graph,
passes, a backend) and return the emitted documents with any warnings.
"""

from __future__ import annotations

__version__ = "0.1.0"

from cnai.driver import CompileResult, compile_file, compile_source

# "compiled" in a wheel built with pyproject's mypyc hook (README, "A compiled build"), whose
# modules are C extensions; `cnai --version` says which.
BUILD = "pure Python" if __file__.endswith(".py") else "compiled"

__all__ = ["BUILD", "CompileResult", "__version__", "compile_file", "compile_source"]
