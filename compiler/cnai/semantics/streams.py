"""``output NAME: TYPE at stdout``: the step's standard output is the output's value.

Argo keeps a container's stdout as ``outputs.result`` when a task reads it (the executor's
CaptureScriptResult: the last 256 kB, one trailing newline trimmed); Kubeflow has no such
capture, so its command prefix copies stdout into the output's file (backends/kfp_contract.py);
``cnai run --local`` writes it to the output's file. A step has one stdout, so one such output,
of a parameter type (a text, read as its type).
"""

from __future__ import annotations

from cnai.diagnostics import DiagnosticBag, Label
from cnai.semantics import ir
from cnai.source import Span
from cnai.syntax import ast

STREAMS = ("stdout",)


def stream_ok(item: ast.OutputDecl, out_type: ir.Type | None, seen: dict[str, Span],
              diagnostics: DiagnosticBag) -> bool:
    """Whether ``at STREAM`` of ``item`` is one the step can have (reported if not); ``seen``:
    the stream outputs of the step so far, by stream."""
    stream = item.stream
    assert stream is not None
    if stream.name not in STREAMS:
        diagnostics.error("E0208", f"unknown stream `{stream.name}`", stream.span,
                          "not a stream", help=['write `at stdout`, or a file\'s absolute path '
                                                'in quotes: `at "/out/x"`'])
        return False
    if out_type is not None and out_type.is_artifact:
        diagnostics.error("E0201", f"`{item.name.name}` is an artifact ({out_type}): stdout is "
                          "a parameter's text", item.type.span, "an artifact type",
                          help=["declare it `string` (or the type its text reads as), or "
                                "write the artifact to `outputs.NAME`"])
        return False
    if stream.name in seen:
        diagnostics.error("E0110", "a step has one stdout", stream.span, "read again",
                          secondary=[Label(seen[stream.name], "first read here")])
        return False
    seen[stream.name] = stream.span
    return True
