"""check(module) -> ir.Pipeline: resolve names, type everything, read fields into the IR.

All semantic errors are collected (never first-only); the caller sorts and caps them.
Dependencies other than `after` are derived later, by dag.build_graph.
"""

from __future__ import annotations

import os
import re
from typing import Any, cast, get_args

from cnai.diagnostics import DiagnosticBag, Label
from cnai.semantics import credentials, hygiene, ir, records, types
from cnai.semantics.cloud import CloudChecker
from cnai.semantics.configuration import PipelineConfiguration
from cnai.semantics.control import GroupChecker, LoopItems, LoopSource
from cnai.semantics.fields import FieldReader, assigned
from cnai.semantics.groups import TOP, Collected, Context, GroupWalker
from cnai.semantics.identity import MERGED, PodReader, inherited
from cnai.semantics.imports import Importer
from cnai.semantics.nested import NestedCalls, pipeline_outputs
from cnai.semantics.placement import PlacementChecker, check_gpu_params
from cnai.semantics.resolver import Scope, Symbol, suggest
from cnai.semantics.settings import REPLACED, Setting
from cnai.semantics.steps import Arguments, StepChecker, StepReaders
from cnai.semantics.streams import stream_ok
from cnai.semantics.synchronization import LockReader
from cnai.semantics.templates import TemplateExpander, TemplateLibrary
from cnai.semantics.units import k8s_name
from cnai.source import SourceFile, Span
from cnai.syntax import ast
from cnai.syntax.grammar import KEYWORDS

_CLAIM = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(/.*)?$")
# (A set: every step's name and outputs are looked up in it.)
RESERVED = frozenset(("outputs", "inputs", "workflow", "item", "tasks", "steps"))

# Looked up once, as an attribute of a pydantic model's class costs several times the usual
# (step_inputs._input_of): every step declares its outputs.
_output_of = ir.Output.of
_output_ref_of = ir.OutputRef.of

_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")
_CRON_MACRO = re.compile(r"^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$")


class Checker:
    def __init__(self, source: SourceFile, diagnostics: DiagnosticBag,
                 sources: dict[str, SourceFile] | None = None, release: bool = False) -> None:
        self.source = source
        # The caller hands its tree over: each step's body is dropped once checked (below).
        self.release = release
        self.sources = sources if sources is not None else {source.path: source}
        self.importer = Importer(source, diagnostics, self.sources)
        # The files being checked: this one, and those of the pipelines using it as a step.
        self.import_stack: tuple[str, ...] = (os.path.normpath(source.path),)
        self.diagnostics = diagnostics
        self.fields = FieldReader(diagnostics)
        self.scope = Scope(diagnostics)
        self.shared = ir.SharedNodes()
        self.datasets: dict[str, ir.Dataset] = {}
        self.loop_vars: dict[str, tuple[str, ir.Type]] = {}
        self.loop_sources: dict[str, tuple[LoopSource, ir.Type]] = {}
        # Params' and loop variables' names in upper case: inputs keep these names, so the
        # names the checker makes for other inputs avoid them (StepInputs).
        self.kept_names: frozenset[str] = frozenset()
        self.scheduling: ir.Scheduling | None = None  # the pipeline's
        self.defaults: list[tuple[Setting, Any]] = []  # settings.REPLACED the pipeline sets
        self.pod_base: dict[str, Any] = {}  # the pipeline's identity.MERGED settings
        self.pod_inherited = inherited(self.pod_base)  # what a step without its own takes
        self.placement: dict[str, Any] = {}  # the pipeline's placement (semantics/placement.py)
        self.param_defaults: dict[str, ir.JSONValue] = {}  # by name: `gpu = PARAM` counts it
        # Params read as a whole (`lr`, `${lr}`), by name, once one step has: every step reads
        # the same source (StepChecker._source).
        self.param_sources: dict[str, ir.ParamRef] = {}
        # So too the steps' outputs read whole, by step and output (StepChecker._source).
        self.output_sources: dict[tuple[str, str], ir.OutputRef] = {}
        self.library = TemplateLibrary(diagnostics)
        self.expander = TemplateExpander(self.library, diagnostics)
        self.configuration = PipelineConfiguration(self)

    def unsupported(self, span: Span, what: str) -> None:
        self.diagnostics.error("E0401", f"{what} are not supported by this version of cnai",
                               span, "not supported yet")

    # ---- module -----------------------------------------------------------------------

    def check_module(self, module: ast.Module) -> ir.Pipeline | None:
        credentials.scan(self.source, self.diagnostics)
        self.importer.load(module, self.library, self.import_stack)
        for template in module.templates:
            self.library.add(template)
        if not module.pipelines:
            if not module.templates and not module.imports:
                end = len(self.source.text)
                self.diagnostics.error(
                    "E0009", "no pipeline in this file", self.source.span(0, min(end, 1)),
                    "expected `pipeline NAME { ... }`",
                    help=["a .cnai file declares one pipeline: `pipeline my_pipeline { ... }`"])
            return None
        first, *others = module.pipelines
        for other in others:
            self.diagnostics.error(
                "E0109", "a file declares one pipeline", other.name.span,
                f"second pipeline `{other.name.name}`",
                secondary=[Label(first.name.span, "first pipeline here")],
                help=["put each pipeline in its own file; share steps with `template`"])
        return self.check_pipeline(first)

    # ---- pipeline ---------------------------------------------------------------------

    def check_pipeline(self, decl: ast.Pipeline) -> ir.Pipeline:
        found = GroupWalker(self.diagnostics).walk(decl.items)
        for template in found.templates:
            self.library.add(template)
        params = [p for p in map(self._param, found.params) if p is not None]
        self.param_defaults = {p.name: p.default for p in params}
        for dataset_decl in found.datasets:
            self._declare(dataset_decl.name, "dataset", dataset_decl, "volume")
        for volume_decl in found.volumes:
            self._declare(volume_decl.name, "volume", volume_decl, "volume")
        # (the step with its template applied, the step as written, arguments, context)
        expanded: list[tuple[ast.StepDecl, ast.StepDecl, Arguments, Context]] = []
        nested = NestedCalls(self)  # steps that run a pipeline (semantics/nested.py)
        for step_decl, ctx in found.steps:
            use = nested.match(step_decl)
            if use is not None:
                if self._declare(step_decl.name, step_decl.kind, step_decl, "task", ctx=ctx):
                    nested.add(step_decl, ctx, use)
                continue
            applied, arguments = self.expander.expand(step_decl)
            if self._declare(applied.name, applied.kind, applied, "task", ctx=ctx):
                expanded.append((applied, step_decl, arguments, ctx))
        for step_decl, _, _, _ in expanded:
            self._declare_outputs(step_decl)
        self._declare_loop_vars(found)
        fields = self.fields.collect(found.settings, "pipeline", decl.name, decl.span)
        values = self.fields.read(fields, "pipeline")
        PodReader(self).read(fields, values, {})
        self.pod_base = {name: values[name] for name in MERGED}
        self.pod_inherited = inherited(self.pod_base)
        values.update(self._configuration(fields, found))
        description = values.get("description")
        # The pipeline's values of settings its steps take unless they set their own.
        self.defaults = [(s, values[s.ir]) for s in REPLACED if values.get(s.ir) is not None]
        schedule = None
        if "schedule" in fields:
            schedule = self._schedule(assigned(fields["schedule"]))
        cloud = CloudChecker(self)
        if "scheduling" in fields:
            block = fields["scheduling"]
            assert isinstance(block, ast.Block)
            self.scheduling = cloud.scheduling(block, None)
        self.placement = PlacementChecker(self).read(fields)
        quota = None
        if "quota" in fields:
            block = fields["quota"]
            assert isinstance(block, ast.Block)
            quota = cloud.quota(block)
        ir_datasets = [d for d in map(self._dataset, found.datasets) if d is not None]
        self._check_preload_names(ir_datasets)
        groups = GroupChecker(self).check(found)
        self.kept_names = frozenset([p.name.upper() for p in params]
                                    + [var.upper() for var, _ in self.loop_vars.values()])
        ir_steps = self._check_steps(expanded)
        ir_steps, groups, outputs = nested.splice(ir_steps, groups,
                                                  pipeline_outputs(self, found.outputs))
        if not found.steps:
            self.diagnostics.error("E0106", f"pipeline `{decl.name.name}` has no steps",
                                   decl.name.span, "nothing to run",
                                   help=['add a step: `step hello { image = "busybox" }`'])
        if quota is not None:
            cloud.check_quota(quota, ir_steps)
            check_gpu_params(quota, ir_steps, self.diagnostics)
        self.configuration.check_unmounted(ir_steps)
        return ir.Pipeline(name=decl.name.name, k8s_name=k8s_name(decl.name.name),
                           description=description, params=params, datasets=ir_datasets,
                           steps=ir_steps, groups=groups, schedule=schedule, quota=quota,
                           outputs=outputs, given=nested.given,
                           scheduling=self.scheduling, span=decl.span,
                           env=values["env"], volumes=values["volumes"],
                           **{s.ir: value for s, value in self.defaults}, **self.pod_base,
                           **self.placement,
                           **LockReader(self.diagnostics, self.fields).read(fields),
                           **hygiene.pipeline_values(self.fields, self.diagnostics, fields,
                                                     values))

    def _check_steps(self, expanded: list[tuple[ast.StepDecl, ast.StepDecl, Arguments, Context]]
                     ) -> list[ir.Step]:
        """Each step's IR, in order. With ``release``, a step's body and gate are dropped from
        the tree once its IR is made, so that the tree and the IR never both exist in full
        (the compile's peak memory); nothing reads a checked step's body again: other steps
        read its symbol (outputs, loops), the shell (name, span, ``after``) stays."""
        steps: list[ir.Step] = []
        readers = StepReaders(self)
        for applied, written, arguments, ctx in expanded:
            step = StepChecker(self, ctx, readers).check(applied, arguments)
            if step is not None:
                steps.append(step)
            if self.release:
                for released in (applied, written):
                    released.items = ()
                    released.when = None
        return steps

    def _configuration(self, fields: dict[str, ast.Assignment | ast.Block],
                       found: Collected) -> dict[str, Any]:
        """The pipeline's `env`, `env_from` and volumes (semantics/configuration.py)."""
        configuration = self.configuration
        values: dict[str, Any] = {"env": [], "volumes": []}
        if "env" in fields:
            values["env"] = configuration.env(fields["env"])
        if "env_from" in fields:
            values["env_from"] = configuration.env_from(assigned(fields["env_from"]))
        for volume_decl in found.volumes:
            symbol = self.scope.get(volume_decl.name.name)
            if symbol is not None and symbol.decl is volume_decl:  # not a refused duplicate
                volume = configuration.volume(volume_decl)
                if volume is not None:
                    values["volumes"].append(volume)
        return values

    def source_text(self, expr: ast.Expr) -> str:
        source = self.sources.get(expr.span.file, self.source)
        return source.text[expr.span.start:expr.span.end]

    def visible_loop_vars(self, ctx: Context) -> dict[str, tuple[str, ir.Type]]:
        """Loop variables in scope at ``ctx``: name -> (loop id, item type)."""
        if not ctx.loops:  # most steps
            return {}
        return {self.loop_vars[loop][0]: (loop, self.loop_vars[loop][1])
                for loop in ctx.loops if loop in self.loop_vars}

    def _declare_loop_vars(self, found: Collected) -> None:
        for loop in found.loops:
            var = loop.decl.var
            clash = self.scope.get(var.name)
            outer = self.visible_loop_vars(loop.outer)
            if not self.name_ok(var):
                continue
            if clash is not None or var.name in outer:
                where = clash.span if clash is not None else None
                self.diagnostics.error(
                    "E0101", f"loop variable `{var.name}` hides another name", var.span,
                    "already declared", secondary=[Label(where, "declared here")] if where
                    else [], help=["choose another name for the loop variable"])
                continue
            resolved = LoopItems(self, loop).resolve()
            if resolved is not None:
                self.loop_sources[loop.id] = resolved
                self.loop_vars[loop.id] = (var.name, resolved[1])
            else:
                self.scope.broken.add(var.name)

    def _schedule(self, expr: ast.Expr) -> str | None:
        text = self.fields.string(expr)
        if text is None:
            return None
        fields = text.split()
        if not (_CRON_MACRO.match(text) or (len(fields) == 5 and all(
                _CRON_FIELD.match(f) for f in fields))):
            self.diagnostics.error(
                "E0208", f"invalid schedule \"{text}\"", expr.span, "not a cron schedule",
                help=['five fields: minute hour day-of-month month day-of-week, e.g. '
                      '"0 2 * * *"; or @hourly, @daily, @weekly, @monthly, @yearly'])
            return None
        return text

    def name_ok(self, name: ast.Ident) -> bool:
        """Keywords and names the targets reserve cannot name anything."""
        if name.name in KEYWORDS or name.name in RESERVED:
            what = "a keyword" if name.name in KEYWORDS else "a reserved name"
            self.diagnostics.error("E0208", f"`{name.name}` is {what}", name.span, what,
                                   help=["choose another name"])
            return False
        return True

    def _declare(self, name: ast.Ident, kind: str, decl: ast.Node, space: str | None,
                 type_: ir.Type | None = None, ctx: Context = TOP) -> bool:
        if not self.name_ok(name):
            return False
        symbol = Symbol(name.name, kind, name.span, type=type_, decl=decl,  # type: ignore[arg-type]
                        loops=ctx.loops, in_finally=ctx.in_finally)
        return self.scope.declare(symbol, space)

    def _declare_outputs(self, decl: ast.StepDecl) -> None:
        symbol = self.scope.symbols.get(decl.name.name)
        if symbol is None or symbol.decl is not decl:
            return
        streams: dict[str, Span] = {}  # `at stdout`, once per step
        for item in decl.items:
            if not isinstance(item, ast.OutputDecl):
                continue
            type_expr = item.type
            # A plain type (`float`) is the usual output type: type_of returns BY_NAME's.
            out_type = types.BY_NAME.get(type_expr.name.name) if (
                type_expr.fields is None and type_expr.arg is None) else None
            if out_type is None:
                out_type = self.type_of(type_expr, allow_artifacts=True)
            if item.stream is not None and not stream_ok(item, out_type, streams,
                                                         self.diagnostics):
                continue
            if (item.name.name in KEYWORDS or item.name.name in RESERVED) and \
                    not self.name_ok(item.name):
                continue
            if item.name.name in symbol.outputs:
                first = symbol.outputs[item.name.name]
                self.diagnostics.error(
                    "E0101", f"output `{item.name.name}` is declared twice", item.name.span,
                    "second declaration", secondary=[Label(first.span, "first declared here")])
                continue
            path = None
            if item.path is not None:
                path = self.fields.string(item.path)
                if path is not None and not path.startswith("/"):
                    self.diagnostics.error("E0208", "an output path must be absolute",
                                           item.path.span, "not an absolute path")
                    path = None
            if out_type is not None:
                symbol.outputs[item.name.name] = _output_of(item.name.name, out_type, path,
                                                            item.name.span,
                                                            item.stream is not None)
                if not symbol.loops:
                    # Read whole outside loops, the output is this source wherever it is read
                    # (StepChecker._source): made now, every read takes the short way
                    # (StepChecker._text_items), the first one too.
                    self.output_sources[symbol.name, item.name.name] = _output_ref_of(
                        symbol.name, item.name.name, out_type)
                for scalar, scalar_type in out_type.fields or () if (
                        out_type.name == "metrics") else ():
                    hidden = types.metric_output_name(item.name.name, scalar)
                    symbol.outputs[hidden] = ir.Output.of(hidden, scalar_type, None,
                                                          item.name.span,
                                                          metric_of=item.name.name)

    def type_of(self, expr: ast.TypeExpr, allow_artifacts: bool) -> ir.Type | None:
        name = expr.name.name
        if expr.fields is not None:
            braced = records.braced_type(expr, self.type_of, self.diagnostics)
            if braced is not None and braced.name == "metrics" and not allow_artifacts:
                self.diagnostics.error("E0202", "`metrics` is an artifact type; it cannot be "
                                       "used here", expr.span, "artifact type")
                return None
            return braced
        if name not in types.TYPE_NAMES:
            self.diagnostics.error("E0202", f"unknown type `{name}`", expr.name.span,
                                   "not a type", help=suggest(name, types.TYPE_NAMES) or [
                                       "types: " + ", ".join(types.TYPE_NAMES)])
            return None
        if name == "list":
            if expr.arg is None:
                self.diagnostics.error("E0202", "`list` needs an item type", expr.span,
                                       "write `list[T]`", help=["e.g. `list[float]`"])
                return None
            item = self.type_of(expr.arg, allow_artifacts=False)
            return None if item is None else types.list_of(item)
        if expr.arg is not None:
            self.diagnostics.error("E0202", f"`{name}` takes no item type", expr.arg.span,
                                   "unexpected `[...]`")
            return None
        if name in types.ARTIFACTS and not allow_artifacts:
            self.diagnostics.error("E0202", f"`{name}` is an artifact type; it cannot be used "
                                   "here", expr.span, "artifact type",
                                   help=["params and list items are strings, numbers or bools"])
            return None
        return types.BY_NAME[name]

    def _param(self, decl: ast.ParamDecl) -> ir.Param | None:
        param_type = self.type_of(decl.type, allow_artifacts=False)
        if not self._declare(decl.name, "param", decl, None, param_type) or param_type is None:
            return None
        default = None
        if decl.default is not None:
            default = self.literal(decl.default, param_type)
        return ir.Param(name=decl.name.name, type=param_type, default=default, span=decl.span)

    def literal(self, expr: ast.Expr, expected: ir.Type) -> ir.JSONValue | None:
        """A constant of type ``expected`` (int widens to float), or a reported mismatch."""
        value, found = records.literal_value(expr)
        if (found is None or not types.assignable(found, expected)) and records.report_literal(
                expr, expected, records.literal_value, self.diagnostics):
            return None
        if found is None:
            mixed = isinstance(expr, ast.ListLit) and all(
                records.literal_value(item)[1] is not None for item in expr.items)
            message = ("the items of a list have one type" if mixed
                       else "a default must be a literal value")
            self.diagnostics.error("E0201", message, expr.span,
                                   "mixed types" if mixed else "not a literal")
            return None
        if not types.assignable(found, expected):
            self.diagnostics.error("E0201", f"expected {expected}, found {found}", expr.span,
                                   f"this is a {found}")
            return None
        return _widen(value, expected)

    # ---- data sets ------------------------------------------------------------------------

    def _dataset(self, decl: ast.DatasetDecl) -> ir.Dataset | None:
        fields = self.fields.collect(decl.items, "dataset", decl.name, decl.span)
        for item in decl.items:
            if not isinstance(item, (ast.Assignment, ast.Block)):
                self.diagnostics.error("E0201", "a data set takes fields only", item.span,
                                       "not allowed in a data set")
        path = size = None
        if "path" in fields:
            path_expr = assigned(fields["path"])
            path = self.fields.string(path_expr)
            if path is not None and not path.startswith("/"):
                self.diagnostics.error("E0208", "a data set path must be absolute",
                                       path_expr.span, "not an absolute path")
                path = None
        if "size" in fields:
            size = self.fields.quantity(assigned(fields["size"]), "storage")
        engine, access_mode, storage_class = "copy", "ReadWriteMany", None
        if "engine" in fields:
            engine_expr = assigned(fields["engine"])
            engine = self.fields.string(engine_expr) or engine
            if engine not in get_args(ir.Engine):
                self._bad_choice(engine_expr, "engine", engine, get_args(ir.Engine))
                engine = "copy"
        if "access_mode" in fields:
            mode_expr = assigned(fields["access_mode"])
            access_mode = self.fields.string(mode_expr) or access_mode
            if access_mode not in get_args(ir.AccessMode):
                self._bad_choice(mode_expr, "access_mode", access_mode, get_args(ir.AccessMode))
                access_mode = "ReadWriteMany"
        if "storage_class" in fields:
            storage_class = self.fields.string(assigned(fields["storage_class"]))
        secret = self._dataset_credentials(fields, engine)
        source = self._dataset_source(fields)
        if path is None or size is None or source is None:
            return None
        literal, ref = (source, None) if isinstance(source, str) else (None, source)
        dataset = ir.Dataset(
            name=decl.name.name, k8s_name=k8s_name(decl.name.name), source=literal,
            source_ref=ref, path=path, size=size, engine=cast(ir.Engine, engine),
            access_mode=cast(ir.AccessMode, access_mode), storage_class=storage_class,
            credentials=secret, span=decl.name.span)
        self.datasets[dataset.name] = dataset
        return dataset

    def _dataset_credentials(self, fields: dict[str, ast.Assignment | ast.Block],
                             engine: str) -> str | None:
        """The Secret whose keys the preload step gets (docs/language.md, data sets)."""
        if "credentials" not in fields:
            return None
        expr = assigned(fields["credentials"])
        name = self.fields.string(expr)
        if name is None:
            return None
        if not credentials.valid_secret_part("name", name, expr.span, self.diagnostics):
            return None
        if engine == "fluid":
            self.diagnostics.error(
                "E0208", "`credentials` is for data sets the preload step copies", expr.span,
                "not for `engine = \"fluid\"`", help=["a Fluid runtime reads the source's "
                                                      "credentials itself (its Dataset's "
                                                      "encryptOptions); configure them there"])
            return None
        return name

    def _dataset_source(self, fields: dict[str, ast.Assignment | ast.Block]
                        ) -> str | ir.ParamRef | ir.OutputRef | None:
        if "source" not in fields:
            return None
        expr = assigned(fields["source"])
        if isinstance(expr, ast.StringLit) and expr.is_plain:
            text = expr.text
            schemes = ("s3://", "gs://", "http://", "https://", "pvc://")
            if text.startswith("pvc://") and not _CLAIM.match(text[len("pvc://"):]):
                self.diagnostics.error(
                    "E0208", f"invalid claim in \"{text}\"", expr.span, "not pvc://CLAIM/PATH",
                    help=["a claim name is lower-case letters, digits, `-` and `.`"])
                return None
            if not text.startswith(schemes) and not text.startswith("/"):
                self.diagnostics.error(
                    "E0208", f"unsupported data set source \"{text}\"", expr.span,
                    "unknown scheme", help=["sources are s3://, gs://, http(s)://, pvc://CLAIM"
                                            "/PATH, or an absolute path in the image"])
                return None
            return text
        if isinstance(expr, ast.Ref):
            return self._source_ref(expr)
        self.diagnostics.error("E0201", "a data set source is a string or a param", expr.span,
                               "expected a URI")
        return None

    def _source_ref(self, ref: ast.Ref) -> ir.ParamRef | ir.OutputRef | None:
        head = ref.parts[0]
        symbol = self.scope.get(head.name)
        resolved: ir.ParamRef | ir.OutputRef | None = None
        if symbol is None:
            self.scope.unknown(head, "name", "E0103", "param", "step")
            return None
        if symbol.kind == "param" and len(ref.parts) == 1 and symbol.type is not None:
            resolved = ir.ParamRef(name=symbol.name, type=symbol.type)
        elif symbol.kind == "step" and len(ref.parts) == 2:
            output = symbol.outputs.get(ref.parts[1].name)
            if output is None:
                self.diagnostics.error(
                    "E0104", f"step `{symbol.name}` has no output `{ref.parts[1].name}`",
                    ref.parts[1].span, "unknown output", help=suggest(ref.parts[1].name,
                                                                      symbol.outputs))
                return None
            resolved = ir.OutputRef(step=symbol.name, output=output.name, type=output.type)
        if resolved is None or resolved.type != types.STRING:
            self.diagnostics.error(
                "E0201", f"a data set source must be a string, found `{ref.dotted}`", ref.span,
                "expected a string param or a string output")
            return None
        return resolved

    def _bad_choice(self, expr: ast.Expr, field: str, value: str, choices: tuple[str, ...]) -> None:
        self.diagnostics.error(
            "E0208", f"`{field}` must be one of " + ", ".join(f'"{c}"' for c in choices),
            expr.span, f'"{value}" is not allowed', help=suggest(value, choices))

    def _check_preload_names(self, datasets: list[ir.Dataset]) -> None:
        if not datasets:
            return
        # Each step's task name once, not once per data set (it was quadratic).
        tasks: dict[str, list[Symbol]] = {}
        for symbol in self.scope.symbols.values():
            if symbol.kind in ("step", "service"):
                tasks.setdefault(k8s_name(symbol.name), []).append(symbol)
        for dataset in datasets:
            task = f"preload-{dataset.k8s_name}"
            for symbol in tasks.get(task, ()):
                self.diagnostics.error(
                    "E0107", f"step `{symbol.name}` clashes with the preload step of data "
                    f"set `{dataset.name}`", symbol.span, f"maps to `{task}`",
                    secondary=[Label(dataset.span, f"its preload step is `{task}`")],
                    help=["rename the step"])


def _widen(value: ir.JSONValue, expected: ir.Type) -> ir.JSONValue:
    """Ints where floats are expected become floats, at any depth of a list."""
    if expected.name == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected.name == "list" and expected.item is not None and isinstance(value, list):
        return [_widen(item, expected.item) for item in value]
    if expected.name == "record" and isinstance(value, dict):
        return records.widen(value, expected, _widen)
    return value


def check(module: ast.Module, source: SourceFile, diagnostics: DiagnosticBag,
          sources: dict[str, SourceFile] | None = None, release: bool = False
          ) -> ir.Pipeline | None:
    """Check one parsed file; diagnostics go to ``diagnostics``; files it imports are added
    to ``sources`` (for rendering their diagnostics). ``release``: the caller will not read
    ``module`` again, so each step's body is dropped from it once checked (the compile's
    peak memory is where the tree and the IR both exist); the language server keeps its
    tree and does not pass it."""
    return Checker(source, diagnostics, sources, release).check_module(module)
