"""Workflow hygiene and failure handling: the readers of the settings whose
values have rules of their own (semantics/settings.py declares them all): the pipeline's
``labels { }`` and ``annotations { }`` (keys the user's, checked as Kubernetes checks them)
and a retry's ``exit_codes``. The simple ones (``timeout``, ``ttl``, ``pod_gc``,
``parallelism``, ``run_priority``, ``continue_on_failure``, a retry's ``on``) are read from
their declarations by fields.FieldReader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnai.diagnostics import DiagnosticBag
from cnai.limits import INT32_MAX
from cnai.semantics import ir, k8s_names
from cnai.semantics.fields import FieldReader, assigned, block_of
from cnai.semantics.resolver import suggest
from cnai.syntax import ast

# The outcomes `after STEP.OUTCOME` may wait for (ir.Outcome, but "succeeded" is plain
# `after STEP`).
OUTCOMES = ("failed", "done")

def outcome(item: ast.After, diagnostics: DiagnosticBag) -> ir.Outcome | None:
    """What ``after STEP[.OUTCOME]`` waits for; None (reported) for an unknown outcome."""
    if item.status is None:
        return "succeeded"
    if item.status.name == "failed":
        return "failed"
    if item.status.name == "done":
        return "done"
    diagnostics.error("E0208", f"unknown outcome `{item.status.name}`", item.status.span,
                      "not an outcome", help=[
                          *suggest(item.status.name, OUTCOMES),
                          "the outcomes: `failed` (runs only if the step failed) and `done` "
                          "(runs when it ended, whatever the outcome)"])
    return None


def check_handler_reads(step: ir.Step, diagnostics: DiagnosticBag) -> None:
    """A step that runs after another failed (or ended either way) cannot read that step's
    outputs: a failed step made none, and Argo fails the task that reads a missing one."""
    for dependency in step.depends:  # most steps wait for none but success: one loop asks
        if dependency.outcome != "succeeded":
            break
    else:
        return
    waited = {d.step: d.outcome for d in step.depends if d.outcome != "succeeded"}
    for item in step.inputs:
        source = item.source
        if isinstance(source, ir.OutputRef) and source.step in waited and item.span:
            diagnostics.error(
                "E0201", f"`{step.name}` runs after `{source.step}.{waited[source.step]}` "
                f"but reads its output `{source.output}`", item.span, "made only on success",
                help=["a failed step makes no outputs; pass what the handler needs as a "
                      "param, or write it to object storage"])


# The pipeline's blocks of keys: (the check of a value, what a value is called).
_KEY_BLOCKS: dict[str, tuple[Callable[[str], str | None] | None, str]] = {
    "labels": (k8s_names.label_value, "label value"),
    "annotations": (None, "annotation value"),  # any text (the API limits only the total)
}


# The run's own settings that FieldReader.read reads (``values``, by IR attribute).
_RUN = ("timeout_seconds", "ttl_seconds", "pod_gc", "parallelism", "run_priority")


def pipeline_values(reader: FieldReader, diagnostics: DiagnosticBag,
                    fields: dict[str, ast.Assignment | ast.Block],
                    values: dict[str, Any]) -> dict[str, Any]:
    """The run's own settings, by their ir.Pipeline attribute: the simple ones already read
    (``values``), and the ``labels`` and ``annotations`` blocks."""
    found = {attr: values[attr] for attr in _RUN if values.get(attr) is not None}
    found.update({name: keyed_strings(reader, diagnostics, block_of(fields[name]))
                  for name in _KEY_BLOCKS if name in fields})
    return found


def keyed_strings(reader: FieldReader, diagnostics: DiagnosticBag,
                  block: ast.Block) -> dict[str, str]:
    """``labels { "app.kubernetes.io/part-of" = "x"  team = "ml" }``: keys quoted or bare,
    each a qualified name (a label's or an annotation's key), each value a plain string."""
    what = block.name.name
    check, value_name = _KEY_BLOCKS[what]
    found: dict[str, str] = {}
    for item in reader.entries(block, what.removesuffix("s")):
        key = item.key
        problem = k8s_names.qualified_name(key.name)
        if problem is not None:
            diagnostics.error("E0208", f"`{key.name}` is not a valid key", key.span,
                              "invalid key", help=[f"the key {problem}"])
            continue
        value = reader.string(item.value)
        if value is None:
            continue
        problem = check(value) if check is not None else None
        if problem is not None:
            diagnostics.error("E0208", f"invalid {value_name} \"{value}\"", item.value.span,
                              f"invalid {value_name}", help=[f"the value {problem}"])
            continue
        found[key.name] = value
    return found


def exit_codes(reader: FieldReader, diagnostics: DiagnosticBag,
               fields: dict[str, ast.Assignment | ast.Block], on: str | None) -> list[int]:
    """A retry's ``exit_codes = [1, 137]``: a non-empty list of distinct non-zero exit codes
    (Kubernetes keeps them in 32 bits), of failures: an error (``on = "error"``: a lost pod)
    has none."""
    if "exit_codes" not in fields:
        return []
    expr = assigned(fields["exit_codes"])
    if on == "error":
        diagnostics.error("E0208", "`exit_codes` are a failure's; `on = \"error\"` retries "
                          "lost pods only, which exit with none", expr.span,
                          "never matches", help=['write `on = "failure"` (or "any")'])
        return []
    if not isinstance(expr, ast.ListLit) or not expr.items:
        diagnostics.error("E0201", "`exit_codes` is a list of exit codes", expr.span,
                          "expected a non-empty list", help=["e.g. `exit_codes = [1, 137]`"])
        return []
    codes: list[int] = []
    for item in expr.items:
        code = reader.integer(item, 1, INT32_MAX)
        if code is None:
            continue
        if code in codes:
            diagnostics.error("E0110", f"exit code {code} is listed twice", item.span,
                              "listed again")
            continue
        codes.append(code)
    return codes
