"""cnai: a compiler for cloud-native AI pipelines.

The facade: ``compile_source`` / ``compile_file`` run every stage (parse, check, build_graph,
passes, a backend) and return the emitted documents with any warnings.
"""

from __future__ import annotations

__version__ = "0.1.0"

from cnai.driver import CompileResult, compile_file, compile_source

__all__ = ["CompileResult", "__version__", "compile_file", "compile_source"]
