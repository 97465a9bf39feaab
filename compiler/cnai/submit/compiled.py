"""Compile the file for submission, reporting diagnostics exactly as ``cnai compile`` does.

The target's documents alone do not say everything submit needs: a KFP PipelineSpec has no
schedule, and Argo parameters carry no types. Both come from the IR, compiled first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from cnai.context import Options
from cnai.diagnostics import Diagnostic
from cnai.driver import CompileFailed, compile_source
from cnai.source import SourceFile
from cnai.submit.params import Param, params_of
from cnai.usage import UsageError


@dataclass(frozen=True)
class Compiled:
    name: str  # the pipeline's Kubernetes name
    description: str | None
    schedule: str | None  # five-field cron or @descriptor, as written
    params: list[Param]
    documents: list[dict[str, Any]]
    text: str  # the target's YAML, as `cnai compile` writes it


def colour_wanted(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ


def report(diagnostics: Sequence[Diagnostic], sources: dict[str, SourceFile],
           colour: str) -> None:
    from cnai.diagnostics.render import render_text

    if diagnostics:
        sys.stderr.write(render_text(diagnostics, sources,
                                     colour=colour_wanted(colour, sys.stderr)))


def read_source(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise UsageError(f"cannot read {path}: {reason}") from None


def compile_for(path: str, target: str, options: Options, colour: str) -> Compiled | None:
    """The compiled pipeline, or None once errors have been reported (exit 1)."""
    data = read_source(path)
    try:
        pipeline = compile_source(data, path, "ir", options).documents[0]
        result = compile_source(data, path, target, options)
    except CompileFailed as failure:
        report(failure.diagnostics, failure.sources, colour)
        return None
    report(result.warnings, result.sources, colour)
    return Compiled(name=pipeline["k8s_name"], description=pipeline.get("description"),
                    schedule=pipeline.get("schedule"), params=params_of(pipeline),
                    documents=result.documents, text=result.text)
