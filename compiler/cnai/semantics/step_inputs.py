"""The values a step reads, each under the input name its template and code read it by."""

from __future__ import annotations

from cnai.semantics import ir
from cnai.semantics.units import free_name
from cnai.source import Span

_NO_NAMES: frozenset[str] = frozenset()
# ir.Input.of, looked up once: an attribute of a pydantic model's class is found through its
# metaclass's __getattr__ hook (pydantic's ModelMetaclass), at several times the usual cost.
_input_of = ir.Input.of

# A source, its key (_source_key), the input name it asks for, that name in upper case, and
# whether it keeps that name (a param or loop variable read whole).
InputNaming = tuple[ir.Source, object, str, str, bool]


def _naming(source: ir.Source) -> InputNaming:
    """How StepInputs.add keys and names ``source`` (once per source and pipeline:
    StepInputs.named)."""
    # (Tested by type(), not isinstance(): a failed isinstance of a pydantic model's class
    # goes through its metaclass's __instancecheck__, several times the cost.)
    key = _source_key(source)
    keeps_name = False
    if type(source) is ir.OutputRef:
        # A metric's output (`scores-accuracy`) reads as `evaluate_scores_accuracy`.
        base = f"{source.step}_{source.output}".replace("-", "_")
        if source.field is not None:
            base += f"_{source.field}"
    elif type(source) is ir.ParamRef or type(source) is ir.LoopVarRef:
        if source.field is not None:
            base = f"{source.name}_{source.field}"  # `run.lr`: input run_lr
        else:
            base, keeps_name = source.name, True
    elif type(source) is ir.PipelineStatus:
        base = "pipeline_status"
    else:
        base = "value"  # a literal (ir.Literal_)
    return source, key, base, base.upper(), keeps_name


def _source_key(source: ir.Source) -> object:
    """What tells two read values apart: the source without its type (the same output read
    inside and after its loop is one input). References are keyed by their names, which is
    what their JSON without the type held, in a tenth of the time; literals keep their JSON,
    which tells 1, 1.0 and true apart where tuples would not."""
    if isinstance(source, ir.ParamRef):
        return ("param", source.name, source.field)
    if isinstance(source, ir.OutputRef):
        return ("output", source.step, source.output, source.field)
    if isinstance(source, ir.LoopVarRef):
        return ("loop_var", source.name, source.loop, source.field)
    return source.model_dump_json(exclude={"type"})


class StepInputs:
    """The distinct values a step reads, each under a stable, unique input name.

    Names are unique ignoring case: the runtime contract reads input ``NAME`` from the
    variable ``CNAI_INPUT_<NAME in upper case>`` (k8s.input_env_name), so ``lr`` and ``LR``
    would be one variable. Params and loop variables keep their names, which the step's code
    reads them by; names the compiler makes (outputs, ``pipeline_status``) avoid those of
    every param and loop variable (``kept``, in upper case) and each other, taking the next
    ``_2``, ``_3``, ...; two params or loop variables that differ only in case are refused
    with E0114 by the step (``clashes``)."""

    def __init__(self, kept: frozenset[str] = frozenset(),
                 named: dict[int, InputNaming] | None = None) -> None:
        self.kept = kept
        self.by_source: dict[object, ir.Input] = {}
        self.folded: dict[str, ir.Input] = {}  # by the name in upper case
        self.clashes: list[tuple[ir.Input, str, Span]] = []  # (the one read before, name, where)
        # How each source is keyed and named, by the source's id: the params and outputs that
        # steps read are shared sources (Checker.param_sources, output_sources), so the steps
        # of a pipeline share this (StepReaders.input_names) and name each source once.
        self.named: dict[int, InputNaming] = {} if named is None else named

    def add(self, source: ir.Source, span: Span) -> str:
        naming = self.named.get(id(source))
        if naming is None:  # (the entry holds its source: the id is not another's meanwhile)
            naming = self.named[id(source)] = _naming(source)
        _, key, base, upper, keeps_name = naming
        by_source = self.by_source
        found = by_source.get(key)
        if found is not None:
            return found.name
        # A param or loop variable read whole keeps its name; the names made avoid them.
        folded = self.folded
        other = folded.get(upper)
        if other is not None or (not keeps_name and upper in self.kept):  # (the usual: neither)
            if (keeps_name and other is not None and other.name != base
                    and type(other.source) in (ir.ParamRef, ir.LoopVarRef)):
                self.clashes.append((other, base, span))
            base = free_name(base, folded, _NO_NAMES if keeps_name else self.kept)
            upper = base.upper()
        by_source[key] = folded[upper] = _input_of(base, source, source.type, span)
        return base

    def all(self) -> list[ir.Input]:
        return list(self.by_source.values())
