"""Gates as the CEL that KFP's driver evaluates in a condition group's ``triggerPolicy``.

How KFP evaluates it (kubeflow/pipelines, commit 7b70c7b, cel-go v0.30.0):
- backend/src/v2/driver/dag.go (and container.go) resolve the group task's inputs, then call
  ``expr.Condition(executorInput, condition)`` (backend/src/v2/expression/expression.go). The
  CEL environment declares the fields of ``ExecutorInput``, so the condition reads
  ``inputs.parameter_values['NAME']``: a ``google.protobuf.Value``, typed ``dyn`` when checked.
- Values are stored by type (backend/src/v2/metadata/converter.go, TextToPbValue): STRING as a
  string, BOOLEAN as a bool, and NUMBER_INTEGER *and* NUMBER_DOUBLE both as a number, which CEL
  reads as a ``double``. A loop's item is an element of the list's ``google.protobuf.Value``
  (driver/resolve.go, resolveInputs for iterations): the same kinds. The result must be a
  bool, or the driver fails the task.

So every comparison here is made in one CEL type, never relying on an evaluator's cross-type
rules (cel-go and cel-python disagree on ``double == int``): two ints compare as ``int``, the
channel cast with ``int()`` as the KFP SDK does; a float on either side makes it a ``double``
comparison, where channels are already doubles and int literals are written as doubles
(``3`` -> ``3.0``). Every operand of ``and``/``or``/``not`` is kept, and string literals are
quoted with every character that could end or change them escaped.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from cnai.semantics import ir

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Names the condition group input that carries a param, a step output or a loop's item.
ChannelName = Callable[[ir.ParamRef | ir.OutputRef | ir.LoopVarRef], str]


class CelError(Exception):
    """A gate that KFP's CEL cannot express; the message is for the user."""


def condition(expr: ir.Expr, channel: ChannelName) -> str:
    """The CEL text of a gate; ``channel`` names the input holding each reference."""
    if _reads_status(expr):
        # The exit handler's task gets the status as a PipelineTaskFinalStatus input
        # (kfp/dsl/pipeline_task_final_status.py); a trigger condition reads only parameters.
        raise CelError("a gate on `pipeline.status`: a Kubeflow `finally` task receives the "
                       "status as an input of its own, which no trigger condition can read; "
                       "read `${pipeline.status}` in the step's command and exit early")
    return _Renderer(channel).expr(expr)


def _reads_status(expr: ir.Expr) -> bool:
    if isinstance(expr, ir.Compare):
        return _reads_status(expr.left) or _reads_status(expr.right)
    if isinstance(expr, ir.BoolOp):
        return any(_reads_status(o) for o in expr.operands)
    if isinstance(expr, ir.Not):
        return _reads_status(expr.operand)
    return isinstance(expr, ir.PipelineStatus)


class _Renderer:
    def __init__(self, channel: ChannelName) -> None:
        self.channel = channel

    def expr(self, expr: ir.Expr) -> str:
        if isinstance(expr, ir.BoolOp):
            joiner = " && " if expr.kind == "and" else " || "
            return joiner.join(self.operand(o) for o in expr.operands)
        if isinstance(expr, ir.Not):
            return f"!({self.expr(expr.operand)})"
        if isinstance(expr, ir.Compare):
            return self.compare(expr)
        return self.value(expr, "bool")  # a bool param, output or literal on its own

    def operand(self, expr: ir.Expr) -> str:
        """An operand of ``&&``/``||``: nested connectives keep their parentheses."""
        return f"({self.expr(expr)})" if isinstance(expr, ir.BoolOp) else self.expr(expr)

    def compare(self, expr: ir.Compare) -> str:
        kinds = {_type_of(expr.left), _type_of(expr.right)}
        cel_type = ("double" if "float" in kinds else "int" if kinds == {"int"}
                    else kinds.pop())
        if _is_output(expr.left) or _is_output(expr.right):
            # Argo trims one trailing newline from an output, the launcher keeps it: compare
            # both sides with one newline, as cnai.output_text.canonical does.
            return f"{self.canonical(expr.left)} {expr.op} {self.canonical(expr.right)}"
        return f"{self.value(expr.left, cel_type)} {expr.op} {self.value(expr.right, cel_type)}"

    def canonical(self, expr: ir.Expr) -> str:
        """One side of a string comparison with an output: an output's text as
        ``output_text.canonical`` makes it, any other value with a newline added."""
        if isinstance(expr, ir.Literal_):
            assert isinstance(expr.value, str)
            return string_literal(expr.value + "\n")
        text = self.value(expr, "string")
        if _is_output(expr):
            return f"({text}.endsWith('\\n') ? {text} : {text} + '\\n')"
        return f"({text} + '\\n')"

    def value(self, expr: ir.Expr, cel_type: str) -> str:
        if isinstance(expr, ir.Literal_):
            return literal(expr.value, cel_type)
        if isinstance(expr, (ir.ParamRef, ir.OutputRef, ir.LoopVarRef)):
            read = f"inputs.parameter_values['{self.channel(expr)}']"
            if expr.field is not None:
                # A record's field: cel-go unwraps a google.protobuf.Value holding a struct
                # into a Struct, which it indexes as a map (common/types/pb/type.go, unwrap).
                read += f"['{expr.field}']"
            # Numbers arrive as doubles: an int is cast back for an int comparison only.
            return f"int({read})" if cel_type == "int" else read
        assert isinstance(expr, (ir.Compare, ir.BoolOp, ir.Not))
        return f"({self.expr(expr)})"


def _is_output(expr: ir.Expr) -> bool:
    return isinstance(expr, ir.OutputRef) and expr.type.name == "string"


def _type_of(expr: ir.Expr) -> str:
    if isinstance(expr, (ir.Literal_, ir.ParamRef, ir.OutputRef, ir.LoopVarRef)):
        return expr.type.name
    return "bool"  # a nested condition


def literal(value: ir.JSONValue, cel_type: str) -> str:
    """A CEL literal of ``cel_type`` (int, double, string or bool)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and cel_type == "int":
        if not INT64_MIN <= value <= INT64_MAX:
            raise CelError(f"{value} does not fit in a 64-bit integer, the range of CEL's int")
        return str(value)
    if isinstance(value, (int, float)):
        return double_literal(float(value))
    if isinstance(value, str):
        return string_literal(value)
    raise CelError(f"a {type(value).__name__} literal cannot be compared in a gate")


def double_literal(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        # CEL has no literal for these; double() parses Go's spelling (strconv.ParseFloat).
        return f"double('{value}')"
    text = repr(value)  # shortest text that reads back as the same double
    return text if any(c in text for c in ".e") else f"{text}.0"


def string_literal(text: str) -> str:
    """A single-quoted CEL string; ``\\``, ``'`` and unprintable characters are escaped."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif not char.isprintable():
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"
