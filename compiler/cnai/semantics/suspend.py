"""``suspend``: a step that waits for approval.

``suspend = true`` waits until someone resumes the run (``argo resume``); ``suspend = "24h"``
waits at most that long, then goes on by itself (Argo's suspend template: a duration resumes
it, with success; workflow/controller/operator.go, executeSuspend). A step with an image runs
its container once resumed; a step without one is an approval and nothing else.
"""

from __future__ import annotations

from cnai.diagnostics import DiagnosticBag
from cnai.semantics import ir
from cnai.semantics.fields import FieldReader, assigned
from cnai.syntax import ast

UNTIL_RESUMED = 0  # suspend_seconds of `suspend = true`: no duration, only a resume ends it

# What a step that runs no container cannot have.
_CONTAINER_FIELDS = ("command", "args", "env", "env_from", "resources", "retry", "cache",
                     "timeout")


def read(expr: ast.Expr, fields: FieldReader) -> int | None:
    """``true`` (UNTIL_RESUMED), ``false`` (None) or a duration's seconds (at least 1)."""
    if isinstance(expr, ast.BoolLit):
        return UNTIL_RESUMED if expr.value else None
    return fields.duration(expr)  # at least a second (units.parse_duration)


def check_approval(decl: ast.StepDecl, step: ir.Step,
                   found: dict[str, ast.Assignment | ast.Block],
                   diagnostics: DiagnosticBag) -> None:
    """A step with ``suspend`` and no image is an approval: it has no container to set up."""
    step.kind = "suspend"
    for name in _CONTAINER_FIELDS:
        if name in found:
            field = found[name]
            key = field.key if isinstance(field, ast.Assignment) else field.name
            diagnostics.error("E0208", f"`{name}` on `{decl.name.name}`, an approval step "
                              "without an image", key.span, "no container to apply it to",
                              help=["add `image = ...` to run a container once the step is "
                                    "resumed"])
    for item in decl.items:
        if isinstance(item, (ast.OutputDecl, ast.MountDecl, ast.DistributedDecl)):
            diagnostics.error("E0208", f"`{decl.name.name}` is an approval step without an "
                              "image: it makes no outputs and mounts nothing", item.span,
                              "needs a container",
                              help=["add `image = ...` to run a container once the step is "
                                    "resumed"])


def value(decl: ast.StepDecl, found: dict[str, ast.Assignment | ast.Block],
          fields: FieldReader) -> int | None:
    """The step's ``suspend``; ``suspend = false`` without an image is missing its image."""
    if "suspend" not in found:
        return None
    expr = assigned(found["suspend"])
    seconds = read(expr, fields)
    if "image" not in found and isinstance(expr, ast.BoolLit) and not expr.value:
        fields.diagnostics.error("E0106", f"`{decl.name.name}` is missing the required field "
                                 "`image`", decl.name.span, "needs `image = ...`",
                                 help=["`suspend = false` does not make an approval step"])
    return seconds
