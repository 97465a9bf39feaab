"""Where a value comes from, in one iteration of the loops around the reader, and gates.

- A param is its ``-p`` value or default; a loop variable, the current item.
- ``STEP.OUTPUT`` of a step in the same iterations is that instance's output: a parameter as
  the text the step wrote (less one trailing newline, as Argo reads it), an artifact as the
  path the step wrote it to.
- Read after the step's loop, it is the fan-in: a JSON list of the typed values of the
  iterations where the step succeeded, in item order (``[0.1, 0.2]``; artifacts give their
  paths), as on both targets; an iteration where the step was skipped or omitted adds nothing.
- Gates compare numbers as numbers, strings and bools by equality (the typing rules of the
  language), with outputs read by their declared type as cnai.output_text says, which is
  how both backends' gates read them.
"""

from __future__ import annotations

from pathlib import Path

from cnai.local.params import value_text
from cnai.local.state import JSON, Context, Registry, Status, Value
from cnai.lowering import Condition, ExecutionPlan
from cnai.output_text import output_text, parse_bool, parse_int
from cnai.params import parse_value
from cnai.semantics import ir

# Argo's executor keeps at most 256 kB of a step's output as a parameter (maxAnnotationSize in
# workflow/executor/executor.go, argoproj/argo-workflows); a file parameter has no lower cap
# there, but it is stored in the WorkflowTaskResult and the Workflow's status, which the API
# server refuses past etcd's request limit (1.5 MiB by default). The runner fails a larger
# parameter output instead of copying it into run.json and onto the terminal.
MAX_PARAMETER_BYTES = 256 * 1024


class Unavailable(Exception):
    """A value that cannot be had or read: the reading node fails with this message."""


class Values:
    def __init__(self, plan: ExecutionPlan, params: dict[str, JSON], registry: Registry) -> None:
        self.plan = plan
        self.params = params
        self.registry = registry
        self.pipeline_status = "Running"

    # ---- sources ------------------------------------------------------------------------

    def get(self, source: ir.Source, context: Context) -> Value:
        if isinstance(source, ir.Literal_):
            return _typed(source.value)
        if isinstance(source, ir.ParamRef):
            value = self.params[source.name]
            if source.field is not None:  # `base.lr`: a field of a record param
                assert isinstance(value, dict)
                value = value[source.field]
            return _typed(value)
        if isinstance(source, ir.LoopVarRef):
            binding = context.find(source.loop)
            if binding is None:
                raise Unavailable(f"loop variable `{source.name}` is not bound here")
            if source.field is not None:  # `run.lr`: a field of a record item
                assert isinstance(binding.item, dict)
                return _typed(binding.item[source.field])
            return _typed(binding.item)
        if isinstance(source, ir.PipelineStatus):
            return Value(self.pipeline_status, self.pipeline_status)
        whole = self.output(source, context)
        if source.field is None:
            return whole
        if not isinstance(whole.typed, dict) or source.field not in whole.typed:
            raise Unavailable(f"`{source.step}.{source.output}` has no field `{source.field}`")
        return _typed(whole.typed[source.field])

    def output(self, ref: ir.OutputRef, context: Context) -> Value:
        producer = self.plan.pipeline.step(ref.step)
        loops = self.plan.loops_of(producer)
        unbound = [loop for loop in loops if context.find(loop) is None]
        bound = tuple(b.index for b in context.bindings if b.loop in loops)
        if not unbound:
            return self._instance_output(ref, bound)
        if len(unbound) > 1 or unbound[0] != loops[-1]:
            raise Unavailable(f"`{ref.step}.{ref.output}` is gathered over more than one loop")
        loop_run = self.registry.loops.get((unbound[0], bound))
        count = len(loop_run.items) if loop_run is not None else 0
        gathered: list[JSON] = []
        for index in range(count):
            run = self.registry.steps.get((ref.step, (*bound, index)))
            if run is not None and run.status == Status.SUCCEEDED:
                gathered.append(run.outputs[ref.output].typed)
        return _typed(gathered)

    def _instance_output(self, ref: ir.OutputRef, index: tuple[int, ...]) -> Value:
        run = self.registry.steps.get((ref.step, index))
        if run is None or run.status != Status.SUCCEEDED or ref.output not in run.outputs:
            raise Unavailable(f"`{ref.step}.{ref.output}` has no value: `{ref.step}` did not "
                              "succeed")
        return run.outputs[ref.output]

    def items(self, loop: ir.Loop, context: Context) -> list[JSON]:
        """The list a loop runs over, its items typed as the loop variable."""
        value = self.get(loop.items, context)
        typed = value.typed
        if not isinstance(typed, list):
            try:
                typed = parse_value(value.text, ir.Type(name="list", item=loop.item_type))
            except ValueError as error:
                raise Unavailable(f"the items of `for {loop.var}`: {error}") from None
        assert isinstance(typed, list)
        return typed

    # ---- gates --------------------------------------------------------------------------

    def holds(self, conditions: list[Condition], context: Context) -> Condition | None:
        """The first condition that does not hold, or None when all do."""
        for condition in conditions:
            if bool(self.evaluate(condition.expr, context)) != condition.expected:
                return condition
        return None

    def evaluate(self, expr: ir.Expr, context: Context) -> JSON:
        if isinstance(expr, ir.BoolOp):
            results = [bool(self.evaluate(o, context)) for o in expr.operands]
            return all(results) if expr.kind == "and" else any(results)
        if isinstance(expr, ir.Not):
            return not self.evaluate(expr.operand, context)
        if isinstance(expr, ir.Compare):
            return _compare(expr.op, self.evaluate(expr.left, context),
                            self.evaluate(expr.right, context))
        return self.get(expr, context).typed


def _typed(value: JSON) -> Value:
    return Value(value_text(value), value)


def output_value(path: Path, type_: ir.Type) -> Value:
    """What a step wrote to output ``path``; ValueError when it is missing or not of its type."""
    if type_.is_artifact:
        if not path.exists():
            raise ValueError(f"nothing was written at {path}")
        return Value(str(path), str(path), path)
    if not path.is_file():
        what = "a directory" if path.is_dir() else "nothing"
        raise ValueError(f"{what} was written at {path}, expected a file")
    with path.open("rb") as handle:  # never more than the cap: a step may write gigabytes
        data = handle.read(MAX_PARAMETER_BYTES + 2)
    if len(data.removesuffix(b"\n")) > MAX_PARAMETER_BYTES:
        size = path.stat().st_size
        raise ValueError(f"{size:,} bytes were written at {path}, more than the "
                         f"{MAX_PARAMETER_BYTES // 1024} KiB a parameter output may hold "
                         "(Argo keeps no more of a step's result); write it as an artifact "
                         "output instead")
    text = output_text(data.decode("utf-8", errors="replace"))
    if type_.name == "bool":  # read as Kubeflow's launcher and both engines' gates do
        flag = parse_bool(text)
        if flag is None:
            raise ValueError(f"{text!r} is not a bool (true/false, True/False, TRUE/FALSE, "
                             "t/f or 1/0)")
        return Value(text, flag, path)
    if type_.name == "int":
        number = parse_int(text)
        if number is None:
            raise ValueError(f"{text!r} is not an int (decimal digits)")
        return Value(text, number, path)
    return Value(text, parse_value(text, type_), path)


def _compare(op: str, left: JSON, right: JSON) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if not numbers:
        raise Unavailable(f"cannot order {left!r} and {right!r}")
    assert isinstance(left, int | float) and isinstance(right, int | float)
    results = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}
    return results[op]
