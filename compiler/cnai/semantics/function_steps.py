"""What a step that runs a Python function adds to the IR step: the function and the
``packages`` it installs (semantics/pyfunctions.py makes its template)."""

from __future__ import annotations

from cnai.diagnostics import DiagnosticBag, Label
from cnai.semantics import ir
from cnai.syntax import ast


def apply(step: ir.Step, fields: dict[str, ast.Assignment | ast.Block],
          function: ast.FunctionSource | None, diagnostics: DiagnosticBag) -> None:
    if function is not None:
        step.function = ir.Function(name=function.name, module=function.module,
                                    source=function.text)
        for name in ("command", "args"):
            _refuse_own(fields.get(name), function, diagnostics)
    field = fields.get("packages")
    if not isinstance(field, ast.Assignment):
        return
    if function is None:
        diagnostics.error(
            "E0210", f"step `{step.name}` runs no Python function: nothing installs "
            "`packages`", field.key.span, "only for function steps",
            help=["`use` a function of an imported .py file, or install the packages in "
                  "the step's image"])
        return
    step.packages = _requirements(field.value, diagnostics)


def _requirements(value: ast.Expr, diagnostics: DiagnosticBag) -> list[str]:
    """``packages = ["scikit-learn==1.5.2", ...]``: plain, non-empty strings."""
    if not isinstance(value, ast.ListLit):
        diagnostics.error("E0201", "`packages` is a list of pip requirements", value.span,
                          "expected a list", help=['e.g. `packages = ["numpy==2.1.3"]`'])
        return []
    found: list[str] = []
    for item in value.items:
        if not isinstance(item, ast.StringLit) or not item.is_plain:
            diagnostics.error("E0201", "a package is a plain string", item.span,
                              "expected a string such as \"numpy==2.1.3\"")
        elif (not item.text.strip() or item.text.startswith("-")
              or any(c in item.text for c in "\n$`")):
            diagnostics.error("E0208", f"`{item.text}` is not a pip requirement", item.span,
                              "invalid requirement",
                              help=['a requirement such as "numpy==2.1.3"; no pip options, '
                                    "no `$`"])
        else:
            found.append(item.text)
    return found


def no_return(step: str, function: ast.FunctionSource, name: ast.Ident,
              diagnostics: DiagnosticBag) -> None:
    """A step reads an output of a function that has no return annotation (E0104)."""
    diagnostics.error(
        "E0104", f"step `{step}` has no output `{name.name}`: function `{function.name}` "
        "returns nothing", name.span, "unknown output",
        secondary=[Label(function.span, "no return annotation")] if function.span else [],
        help=[f"annotate what `{function.name}` returns, e.g. `-> float` (its output "
              "`Output`), or a NamedTuple (one output per field)"])


def _refuse_own(field: ast.Assignment | ast.Block | None, function: ast.FunctionSource,
                diagnostics: DiagnosticBag) -> None:
    """A function step's program is the runner its template writes: a `command` or `args` of
    the step's own would replace it or be appended to it (pyfunctions.py)."""
    if field is None or function.span is None or field.span.source is function.span.source:
        return
    name = field.key.name if isinstance(field, ast.Assignment) else field.name.name
    diagnostics.error(
        "E0105", f"a function step takes no `{name}`: it runs `{function.name}`", field.span,
        "not for a function step", help=["pass values as the function's arguments in `use`"])
