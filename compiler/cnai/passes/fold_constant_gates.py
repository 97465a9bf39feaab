"""fold_constant_gates: evaluate gates that read only literals.

An always-true gate is dropped; an always-false one removes the steps it guards and all that
depend on them, with a warning pointing at the gate (it is almost always a bug). Branch
conditions fold the same way: later branches of a chain whose condition is always true can
never run. Safe: a constant has the same value on every run and target.
    when 1 > 2          -> W0302, the step and its dependants are removed
    if 2 > 1 { a } else { b }  -> a runs unconditionally, b is removed
"""

from __future__ import annotations

from cnai.context import CompileContext
from cnai.passes._graph import remove_steps
from cnai.semantics import ir
from cnai.semantics.dag import gate_refs


def constant_value(expr: ir.Expr) -> bool | int | float | str | None:
    """The value of an expression made of literals only; None if it reads anything."""
    if isinstance(expr, ir.Literal_):
        value = expr.value
        return value if isinstance(value, (bool, int, float, str)) else None
    if isinstance(expr, ir.Not):
        inner = constant_value(expr.operand)
        return None if inner is None else not inner
    if isinstance(expr, ir.BoolOp):
        values = [constant_value(o) for o in expr.operands]
        if any(v is None for v in values):
            return None
        return all(values) if expr.kind == "and" else any(values)
    if isinstance(expr, ir.Compare):
        left, right = constant_value(expr.left), constant_value(expr.right)
        if left is None or right is None:
            return None
        return bool({"==": left == right, "!=": left != right,
                     "<": left < right, "<=": left <= right,  # type: ignore[operator]
                     ">": left > right, ">=": left >= right}[expr.op])  # type: ignore[operator]
    return None


def _is_constant(gate: ir.Gate) -> bool:
    # `pipeline.status` (a `finally` step's gate) is no reference to a step or param, and
    # no constant either.
    return not list(gate_refs(gate.expr)) and constant_value(gate.expr) is not None


def fold_constant_gates(graph: ir.Pipeline, ctx: CompileContext) -> ir.Pipeline:
    doomed: dict[str, ir.Gate] = {}  # step -> the false gate that removes it
    steps = []
    dropped = False
    for step in graph.steps:
        gate = step.when
        if gate is not None and _is_constant(gate):
            if constant_value(gate.expr):
                ctx.explain.append(f"fold_constant_gates: `{step.name}`: `when {gate.text}` "
                                   "is always true; gate dropped")
                step = step.model_copy(update={"when": None})
                dropped = True
            else:
                doomed[step.name] = gate
        steps.append(step)
    if dropped:
        # Only then: an unchanged list tells run_passes the order needs no new check.
        graph = graph.model_copy(update={"steps": steps})
    groups: list[ir.Loop | ir.Branch | ir.Finally] = []
    dead_branches: dict[str, ir.Gate | None] = {}
    true_in_chain: dict[str, int] = {}
    for group in graph.groups:
        if isinstance(group, ir.Branch) and group.condition is not None and _is_constant(
                group.condition):
            if constant_value(group.condition.expr):
                # It runs exactly when no earlier branch did: the condition adds nothing.
                true_in_chain.setdefault(group.chain, group.index)
                ctx.explain.append(f"fold_constant_gates: `if {group.condition.text}` is "
                                   "always true; condition dropped")
                group = group.model_copy(update={"condition": None})
            else:
                dead_branches[group.id] = group.condition
        groups.append(group)
    graph = graph.model_copy(update={"groups": groups})
    for group in groups:
        if (isinstance(group, ir.Branch) and group.chain in true_in_chain
                and group.index > true_in_chain[group.chain]):
            dead_branches.setdefault(group.id, None)
    for step in graph.steps if dead_branches else ():  # most pipelines have none
        for group in graph.ancestors(step.group):
            if group.id in dead_branches:
                doomed.setdefault(step.name, dead_branches[group.id] or _never(group))
    if not doomed:
        return graph
    origin: dict[str, str] = {}  # removed step -> the doomed step it hangs on
    for step in graph.steps:
        if step.name in doomed:
            origin[step.name] = step.name
        else:
            hanging = next((d.step for d in step.depends if d.step in origin), None)
            if hanging is not None:
                origin[step.name] = origin[hanging]
    graph, removed = remove_steps(graph, set(doomed))
    by_gate: dict[tuple[int, int], tuple[ir.Gate, list[str]]] = {}
    for name in removed:
        gate = doomed[origin[name]]
        by_gate.setdefault((gate.span.start, gate.span.end), (gate, []))[1].append(name)
    for _, (gate, names) in sorted(by_gate.items()):
        listed = ", ".join(f"`{n}`" for n in names)
        message = (f"{gate.text} never runs: it removes {listed}"
                   if gate.text.startswith("a branch after") else
                   f"`{gate.text}` is always false: it removes {listed}")
        ctx.diagnostics.warn(
            "W0302", message[0].upper() + message[1:] if not message.startswith("`") else
            message, gate.span, "always false",
            help=["remove the gate or the steps, or compare with a param"])
        ctx.explain.append(f"fold_constant_gates: `{gate.text}` is always false; removed "
                           f"{len(names)} step(s): {', '.join(names)}")
    return graph


def _never(group: ir.Loop | ir.Branch | ir.Finally) -> ir.Gate:
    """Stand-in gate for a branch after an always-true one: its span is the branch's."""
    return ir.Gate(expr=ir.Literal_(value=False, type=ir.Type(name="bool")),
                   text="a branch after an always-true one", span=group.span)
