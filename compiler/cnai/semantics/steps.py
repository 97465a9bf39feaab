"""Checking one step: its fields, its text with references, its gate, its inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnai.contract import INPUTS_DIR, OUTPUTS_DIR
from cnai.diagnostics import Label
from cnai.semantics import (
    configuration,
    credentials,
    function_steps,
    hygiene,
    ir,
    records,
    suspend,
    types,
)
from cnai.semantics.cloud import CloudChecker
from cnai.semantics.fields import GENERIC, assigned, block_of, given
from cnai.semantics.gates import GateChecker
from cnai.semantics.groups import Context
from cnai.semantics.identity import PodReader
from cnai.semantics.placement import PlacementChecker
from cnai.semantics.resolver import Symbol, suggest
from cnai.semantics.settings import FREE_BLOCKS
from cnai.semantics.step_inputs import InputNaming, StepInputs
from cnai.semantics.synchronization import LockReader
from cnai.semantics.units import k8s_name
from cnai.source import Span
from cnai.syntax import ast

if TYPE_CHECKING:
    from cnai.semantics.checker import Checker


Arguments = list[tuple[ast.TemplateParam, ast.Expr]]


# Whether a kind of step has settings of its serving (`serving.host`: a path on the step),
# which StepChecker.check keeps apart from those it assigns.
_SERVING_SETTINGS = {context: any("." in setting.ir for setting in generic.values())
                     for context, generic in GENERIC.items()}


# The fields most steps set, and all that check()'s short way (StepChecker._common_step)
# reads: a step setting any other takes the full way. (Listed, not derived: a new setting
# takes the full way until it is added here and to _common_step.)
_COMMON_FIELDS = frozenset(("image", "image_pull_policy", "command", "args", "timeout", "cache",
                            "env", "resources", "retry", "shm", "continue_on_failure"))


# Looked up once, as an attribute of a pydantic model's class costs several times the usual
# (step_inputs._input_of).
_made_step = ir.Step.made


class StepReaders:
    """The readers of a step's settings, which hold nothing of the step they read: made once
    for a pipeline's steps rather than for each (Checker._check_steps)."""

    def __init__(self, checker: Checker) -> None:
        self.pods = PodReader(checker)
        self.placement = PlacementChecker(checker)
        self.cloud = CloudChecker(checker)
        self.locks = LockReader(checker.diagnostics, checker.fields)
        self.no_resources = checker.shared.resources({})  # a step's until it has its own
        # A `resources` block of literal values each, by its fields' names, kinds and values:
        # what it reads as, when reading it reported nothing (StepChecker._resources).
        self.resources: dict[tuple[tuple[str, type, object], ...], ir.Resources] = {}
        self.input_names: dict[int, InputNaming] = {}  # StepInputs.named


class StepChecker:
    """Checks one step at its place in the pipeline (``ctx``: its loops, branch, finally)."""

    def __init__(self, checker: Checker, ctx: Context,
                 readers: StepReaders | None = None) -> None:
        self.checker = checker
        self.ctx = ctx
        self.diagnostics = checker.diagnostics
        self.fields = checker.fields
        self.scope = checker.scope
        self.shared = checker.shared
        self.symbol: Symbol | None = None
        self.readers = readers if readers is not None else StepReaders(checker)
        self.inputs = StepInputs(checker.kept_names, self.readers.input_names)
        # Loop variables visible here; every reference a step makes is checked against them.
        self.loop_vars = checker.visible_loop_vars(ctx)
        self.paths_read: dict[str, Span] = {}  # data sets whose .path the step reads
        self.calls = checker.configuration.calls

    def check(self, decl: ast.StepDecl, arguments: Arguments) -> ir.Step | None:
        """Check a step whose template, if any, is already expanded into ``decl``."""
        symbol = self.scope.symbols.get(decl.name.name)
        if symbol is None or symbol.decl is not decl:
            return None
        self.symbol = symbol
        for param, value in arguments:
            self._check_argument(param, value)
        # A `use` left in the items named an unknown template (reported): its fields are
        # unknown, so missing ones are not reported again; nor is the image of a step that
        # is written with `suspend`. One loop over the items asks this and finds the
        # step's mounts and `distributed` blocks: every step is asked.
        report_missing = True
        mounts = False
        distributed: list[ast.DistributedDecl] = []
        for item in decl.items:
            if isinstance(item, ast.Assignment):
                if item.key.name == "suspend":
                    report_missing = False
            elif isinstance(item, (ast.Block, ast.OutputDecl)):
                continue
            elif isinstance(item, ast.UseDecl):
                report_missing = False
            elif isinstance(item, ast.MountDecl):
                mounts = True
            elif isinstance(item, ast.DistributedDecl):
                distributed.append(item)
        fields = self.fields.collect(decl.items, decl.kind, decl.name, decl.span,
                                     report_missing=report_missing)
        if (report_missing and not mounts and not distributed and decl.kind == "step"
                and fields and fields.keys() <= _COMMON_FIELDS and not self.checker.placement
                and decl.name.name not in self.checker.expander.functions):
            return self._common_step(decl, symbol, fields)
        # The simple settings, read from their declarations (settings.py); the image first,
        # as the step is made with it.
        fields_read, image = self._image_from_params(fields)
        values = self.fields.read(fields_read, decl.kind)
        self.readers.pods.read(fields, values, self.checker.pod_base)
        step = ir.Step.of(decl.name.name, symbol.k8s_name or k8s_name(decl.name.name),
                          decl.name.span,
                          values.pop("image", None) or image or "",
                          list(symbol.outputs.values()), self.ctx.group, self.readers.no_resources)
        serving = {attr: values.pop(attr) for attr in list(values) if "." in attr} \
            if _SERVING_SETTINGS[decl.kind] else {}
        # The step's fields are set with ir.assign, several at once where nothing reads the
        # step between them, rather than through pydantic's __setattr__ one by one.
        ir.assign(step, **given(values))
        # (Not `value`: that name holds an ast.Expr above, and mypyc types a local once.)
        for setting, default in self.checker.defaults:  # the pipeline's, unless set here
            if setting.name not in fields:
                setattr(step, setting.ir, default)
        if mounts:
            self._mounts(decl, step)
        function_steps.apply(step, fields, self.checker.expander.functions.get(decl.name.name),
                             self.diagnostics)
        if "command" in fields:
            if "args" in fields:
                ir.assign(step, command=self._texts(assigned(fields["command"]), "command"),
                          args=self._texts(assigned(fields["args"]), "args"))
            else:
                ir.assign(step, command=self._texts(assigned(fields["command"]), "command"))
        elif "args" in fields:
            ir.assign(step, args=self._texts(assigned(fields["args"]), "args"))
        env = configuration.merge_env(self.checker.configuration.env_items,
                                      block_of(fields["env"]) if "env" in fields else None)
        if env is not None:
            step.env = self._env(env)
        if "env_from" in fields:
            step.env_from = self.calls.env_from(assigned(fields["env_from"]))
        locks = given(self.readers.locks.read(fields))
        seconds = suspend.value(decl, fields, self.fields)
        ir.assign(step, **locks, suspend_seconds=seconds)
        if seconds is not None and "image" not in fields and not step.image:
            suspend.check_approval(decl, step, fields, self.diagnostics)
        # The pipeline's scheduling, which the step's own block replaces (_cloud).
        if "resources" in fields:
            ir.assign(step, resources=self._resources(fields["resources"]),
                      scheduling=self.checker.scheduling)
        else:
            ir.assign(step, scheduling=self.checker.scheduling)
        if "retry" in fields:
            step.retry = self._retry(fields["retry"])
        self._cloud(decl, step, fields, serving, distributed)
        self.readers.placement.apply(step, fields, self.checker.placement)
        configuration.check_service(step, decl, self.diagnostics)
        depends = self._after(decl) if decl.after else []  # most steps wait for nothing
        if decl.when is not None:
            text = self.checker.source_text(decl.when)
            step.when = GateChecker(self.diagnostics, self.gate_ref).check(decl.when, text)
        ir.assign(step, depends=depends, inputs=self.inputs.all())
        hygiene.check_handler_reads(step, self.diagnostics)
        for earlier, name, span in self.inputs.clashes:
            self._report_clash(step, earlier, name, span)
        self._check_mounts(decl, step)  # after the inputs: artifact inputs take a directory
        # Made: the step (and its resources) share one fields set with every step that set
        # the same fields, instead of a set each.
        ir.share_fields_set(step)
        ir.share_fields_set(step.resources)
        return step

    def _common_step(self, decl: ast.StepDecl, symbol: Symbol,
                     fields: dict[str, ast.Assignment | ast.Block]) -> ir.Step:
        """check()'s step for a step of most pipelines' kind: one setting _COMMON_FIELDS only,
        that neither mounts, suspends, `use`s nor runs a function, in a pipeline without a
        placement. The readers of the other settings would read nothing, so they are not
        called, and every field is gathered in one dict and set at once. The same step and
        diagnostics, in the same order, as check()'s full way (tests/test_check_shortcuts.py
        compiles every example and fixture both ways)."""
        fields_read, image = self._image_from_params(fields)
        values = self.fields.read(fields_read, "step")
        values.update(self.checker.pod_inherited)  # PodReader.read, without pod settings
        step_image = values.pop("image", None) or image or ""
        values = given(values)
        for setting, default in self.checker.defaults:  # the pipeline's, unless set here
            if setting.name not in fields:
                values[setting.ir] = default
        if "command" in fields:
            values["command"] = self._texts(assigned(fields["command"]), "command")
        if "args" in fields:
            values["args"] = self._texts(assigned(fields["args"]), "args")
        env = configuration.merge_env(self.checker.configuration.env_items,
                                      block_of(fields["env"]) if "env" in fields else None)
        if env is not None:
            values["env"] = self._env(env)
        values["suspend_seconds"] = None
        if "resources" in fields:
            values["resources"] = self._resources(fields["resources"])
        values["scheduling"] = self.checker.scheduling
        if "retry" in fields:
            values["retry"] = self._retry(fields["retry"])
        # PlacementChecker.apply without a placement of the step's or the pipeline's.
        values["node_selector"] = ir.EMPTY_DICT
        values["tolerations"] = ir.EMPTY_LIST
        values["node_affinity"] = None
        depends = self._after(decl) if decl.after else []  # most steps wait for nothing
        if decl.when is not None:
            text = self.checker.source_text(decl.when)
            values["when"] = GateChecker(self.diagnostics, self.gate_ref).check(decl.when, text)
        values["depends"] = depends
        values["inputs"] = self.inputs.all()
        # Step.of's fields, then those set above, made at once (ir.Step.made).
        values["name"] = decl.name.name
        values["k8s_name"] = symbol.k8s_name or k8s_name(decl.name.name)
        values["span"] = decl.name.span
        values["image"] = step_image
        values["outputs"] = list(symbol.outputs.values())
        values["group"] = self.ctx.group
        step = _made_step(values, self.readers.no_resources)
        if decl.after:  # only `after` waits for more than success
            hygiene.check_handler_reads(step, self.diagnostics)
        for earlier, name, span in self.inputs.clashes:
            self._report_clash(step, earlier, name, span)
        if self.paths_read or step.shm is not None:  # (no mounts nor volumes: _check_mounts)
            self._check_mounts(decl, step)
        ir.share_fields_set(step.resources)
        return step

    def _image_from_params(self, fields: dict[str, ast.Assignment | ast.Block]
                           ) -> tuple[dict[str, ast.Assignment | ast.Block], ir.Text | None]:
        """``image = "registry/train:${tag}"``: an image naming string params, which the
        engine fills in before the pod is made. Returns the fields left to read generically,
        and the image's text if it names params (None if refused, reported)."""
        field = fields.get("image")
        if not isinstance(field, ast.Assignment) or not isinstance(field.value, ast.StringLit) \
                or field.value.is_plain:
            return fields, None
        rest = {name: item for name, item in fields.items() if name != "image"}
        text = self.text(field.value)
        return rest, None if text is None else self.readers.placement.image(
            text, {i.name: i for i in self.inputs.all()}, field.value.span)

    def _cloud(self, decl: ast.StepDecl, step: ir.Step,
               fields: dict[str, ast.Assignment | ast.Block], serving: dict[str, Any],
               distributed: list[ast.DistributedDecl]) -> None:
        """Distributed training, scheduling, disruption budgets and serving (``serving``: the
        simple serving settings already read, by their path on the step; ``distributed``:
        the step's `distributed` blocks)."""
        cloud = self.readers.cloud
        if "scheduling" in fields:
            block = fields["scheduling"]
            assert isinstance(block, ast.Block)
            step.scheduling = cloud.scheduling(block, self.checker.scheduling)
        for extra in distributed[1:]:
            self.diagnostics.error("E0110", "a step has one `distributed` block", extra.span,
                                   "second `distributed`")
        if distributed:
            step.distributed = cloud.distributed(distributed[0])
            if step.distributed is not None:
                step.kind = "distributed"
                self._no_outputs(step, "a distributed step's replicas")
        if "disruption_budget" in fields:
            budget_expr = assigned(fields["disruption_budget"])
            budget = self.fields.integer(budget_expr)
            if step.distributed is None:
                self.diagnostics.error(
                    "E0208", "`disruption_budget` applies to distributed steps",
                    budget_expr.span, "not a distributed step",
                    help=["a PodDisruptionBudget keeps that many replicas of a training job "
                          "running during voluntary disruptions"])
            elif budget is not None and budget > step.distributed.replicas:
                self.diagnostics.error(
                    "E0208", f"`disruption_budget` {budget} is more than the job's "
                    f"{step.distributed.replicas} replicas", budget_expr.span, "too many")
            else:
                step.disruption_budget = budget
        if decl.kind == "service":
            step.kind = "service"
            step.serving = cloud.serving(fields, serving)
            cloud.check_service(decl, step)
            for extra in distributed:
                self.diagnostics.error("E0208", "a service cannot be distributed", extra.span,
                                       "not for services",
                                       help=["scale a service with `scale { min max }`"])
            step.distributed = None
            self._no_outputs(step, "a service")
            if step.mounts:
                self.diagnostics.error("E0401", "a service cannot mount a data set",
                                       decl.span, "mounts a data set",
                                       help=["bake the model into the image or load it from "
                                             "object storage at start-up"])

    def _check_mounts(self, decl: ast.StepDecl, step: ir.Step) -> None:
        """A data set read by path must be mounted; two things cannot share a path."""
        if not step.mounts and not self.paths_read and not step.volumes and step.shm is None:
            return  # most steps: nothing to check
        mounted = {m.dataset for m in step.mounts}
        for name, span in self.paths_read.items():
            if name not in mounted:
                self.diagnostics.error(
                    "E0208", f"step `{step.name}` reads `{name}.path` but does not mount "
                    f"`{name}`", span, "not mounted", help=[f"add `mount {name}` to the step"])
        taken: dict[str, str] = {}
        if step.outputs:
            taken[OUTPUTS_DIR] = "the step's outputs"
        if any(i.type.is_artifact for i in step.inputs):
            taken[INPUTS_DIR] = "the step's input artifacts"
        if step.shm is not None:
            taken[configuration.SHM_PATH] = "the shared memory (`shm`)"
        mounts = [(m.path, f"data set `{m.dataset}`") for m in step.mounts]
        mounts += [(v.path, f"volume `{v.name}`") for v in step.volumes]
        for mount_path, what in mounts:
            for path, owner in taken.items():
                if mount_path == path or mount_path.startswith(path.rstrip("/") + "/") or \
                        path.startswith(mount_path.rstrip("/") + "/"):
                    self.diagnostics.error(
                        "E0208", f"{what} at {mount_path} overlaps {owner} at {path}",
                        decl.name.span, "mount paths overlap",
                        help=["give the data sets and volumes distinct, non-nested paths"])
            taken[mount_path] = what

    def _report_clash(self, step: ir.Step, earlier: ir.Input, name: str, span: Span) -> None:
        variable = "CNAI_INPUT_" + name.upper()  # a name's letters, digits and `_` as they are
        self.diagnostics.error(
            "E0114", f"step `{step.name}` reads `{earlier.name}` and `{name}`, which are both "
            f"`{variable}` to the step's code", span, f"also `{variable}`",
            secondary=[Label(earlier.span, f"`{earlier.name}` read here")] if earlier.span
            else [],
            help=["the runtime contract passes each input as CNAI_INPUT_ and its name in upper "
                  "case; rename one of them"])

    def _no_outputs(self, step: ir.Step, what: str) -> None:
        for output in step.outputs:
            self.diagnostics.error(
                "E0401", f"{what} cannot declare outputs", output.span, "not supported",
                help=["write results to object storage and pass its URI as a param"])

    def _check_argument(self, param: ast.TemplateParam, value: ast.Expr) -> None:
        expected = self.checker.type_of(param.type, allow_artifacts=True)
        if expected is None:
            return
        found: ir.Type | None
        symbol = self.scope.get(value.parts[0].name) if isinstance(value, ast.Ref) else None
        if isinstance(value, ast.Ref) and symbol is not None and symbol.kind == "dataset":
            if [p.name for p in value.parts[1:]] != ["path"]:
                self.diagnostics.error("E0201", f"pass `{symbol.name}.path`, the data set's "
                                       "mount path", value.span, "a data set is not a value")
                return
            found = types.STRING
        elif isinstance(value, ast.Ref):
            source = self.source_of(value)
            found = None if source is None else source.type
            if isinstance(source, ir.OutputRef):
                self.inputs.add(source, value.span)  # keep the data edge even if unused
        else:
            found = constant_type(value)
            if found is None:
                self.diagnostics.error("E0201", "a template argument is a literal or a "
                                       "reference", value.span, "not allowed here")
                return
        if found is not None and not types.assignable(found, expected):
            # A Python function's parameter is declared in its .py file (pyfunctions.py).
            what = "function" if param.span.source.path.endswith(".py") else "template"
            self.diagnostics.error(
                "E0201", f"{what} parameter `{param.name.name}` is {expected}, found {found}",
                value.span, f"this is a {found}",
                secondary=[Label(param.type.span, f"declared {expected}")])

    # ---- body items that are not fields (mounts) ----------------------------------------

    def _mounts(self, decl: ast.StepDecl, step: ir.Step) -> None:
        mounted: dict[str, ast.MountDecl] = {}
        # Set once made, not appended to: the step's empty lists are shared (ir.Step.of).
        volumes: list[ir.Volume] = []
        mounts: list[ir.Mount] = []
        for item in decl.items:
            if isinstance(item, ast.MountDecl):
                name = item.dataset.name
                dataset = self.checker.datasets.get(name)
                if name in mounted:
                    self.diagnostics.error(
                        "E0110", f"data set `{name}` is mounted twice", item.dataset.span,
                        "mounted again", secondary=[Label(mounted[name].dataset.span,
                                                          "first mounted here")])
                elif name in self.checker.configuration.volumes:
                    mounted[name] = item
                    volumes.append(self.checker.configuration.volumes[name])
                elif dataset is None:
                    symbol = self.scope.get(name)
                    if symbol is None or symbol.kind not in ("dataset", "volume"):
                        self.scope.unknown(item.dataset, "data set or volume", "E0108",
                                           "dataset", "volume")
                else:
                    mounted[name] = item
                    mounts.append(ir.Mount(dataset=name, path=dataset.path))
        if volumes:
            step.volumes = [*step.volumes, *volumes]
        if mounts:
            step.mounts = [*step.mounts, *mounts]

    def _after(self, decl: ast.StepDecl) -> list[ir.Dependency]:
        depends: list[ir.Dependency] = []
        for item in decl.after:
            name = item.step
            outcome = hygiene.outcome(item, self.diagnostics)
            if outcome is None:
                continue
            symbol = self.scope.get(name.name)
            if symbol is None or symbol.kind not in ("step", "service"):
                self.scope.unknown(name, "step", "E0102", "step", "service")
            elif symbol.name == decl.name.name:
                self.diagnostics.error("E0301", f"step `{symbol.name}` runs after itself",
                                       name.span, "a step cannot wait for itself")
            elif symbol.in_finally != self.ctx.in_finally:
                self._finally_boundary(name.span, symbol)
            elif outcome != "succeeded" and symbol.loops != self.ctx.loops:
                self.diagnostics.error(
                    "E0401", f"`after {name.name}.{outcome}` waits for a step in another loop",
                    item.span, "across a loop", help=["wait for the outcome of a step in the "
                                                      "same loop (or outside every loop)"])
            else:
                depends.append(ir.Dependency(step=symbol.name, kind="order", span=name.span,
                                             outcome=outcome))
        return depends

    def _finally_boundary(self, span: Span, symbol: Symbol) -> None:
        if self.ctx.in_finally:
            self.diagnostics.error(
                "E0201", f"a `finally` step cannot depend on `{symbol.name}`", span,
                "outside `finally`", help=["`finally` runs after everything else, whatever "
                                           "happened; read `pipeline.status` to know how it "
                                           "ended"])
        else:
            self.diagnostics.error("E0201", f"`{symbol.name}` runs in `finally`, after every "
                                   "other step", span, "inside `finally`")

    # ---- values with references ---------------------------------------------------------

    def _texts(self, expr: ast.Expr, field: str) -> list[ir.Text]:
        if not isinstance(expr, ast.ListLit):
            self.diagnostics.error("E0201", f"`{field}` is a list of strings", expr.span,
                                   "expected a list", help=[f'write `{field} = ["python", '
                                                            '"train.py"]`'])
            return []
        return self._text_items(expr.items)

    def _text_items(self, items: tuple[ast.Expr, ...]) -> list[ir.Text]:
        """The texts of a list's items, each as text() reads it, those refused left out.

        The usual items are read here rather than through text(): a plain word's shared text
        looked up; and the usual references, as _value_ref reads them: a param by its name,
        the path of one of the step's outputs, another step's output read outside loops (the
        shared texts looked up, made by SharedNodes the first time). A large pipeline has
        thousands of commands, each read in this one loop."""
        shared = self.shared
        words = shared.texts
        input_texts = shared.input_texts
        params = self.checker.param_sources
        loop_vars = self.loop_vars
        add = self.inputs.add
        own = self.symbol
        texts: list[ir.Text] = []
        text: ir.Text | None
        ref: ast.Ref
        for item in items:
            if type(item) is ast.StringLit and len(item.parts) == 1:
                only = item.parts[0]
                if isinstance(only, str):
                    found = words.get(only)
                    texts.append(shared.text(only) if found is None else found)
                    continue
                ref = only  # `"${lr}"`, as text() reads it
            elif type(item) is ast.Ref:
                ref = item
            else:
                text = self.text(item)
                if text is not None:
                    texts.append(text)
                continue
            parts = ref.parts
            head = parts[0].name
            if len(parts) == 1:
                if head not in loop_vars:
                    param = params.get(head)
                    if param is not None:
                        name = add(param, ref.span)
                        found = input_texts.get(name)
                        texts.append(shared.input_text(name) if found is None else found)
                        continue
            elif len(parts) == 2 and own is not None:
                if head == "outputs":
                    output = own.outputs.get(parts[1].name)
                    if output is not None and not output.stdout:
                        texts.append(shared.output_text(parts[1].name))
                        continue
                elif head not in loop_vars and head != own.name:
                    source = self.checker.output_sources.get((head, parts[1].name))
                    symbol = self.scope.symbols.get(head)
                    if (source is not None and symbol is not None and not symbol.loops
                            and symbol.in_finally == self.ctx.in_finally):
                        name = add(source, ref.span)
                        found = input_texts.get(name)
                        texts.append(shared.input_text(name) if found is None else found)
                        continue
            resolved = self._value_ref(ref)
            if resolved is not None:
                texts.append(shared.text(resolved))
        return texts

    def text(self, expr: ast.Expr) -> ir.Text | None:
        """A string-like value: literal text, scalars as their text, references resolved."""
        if isinstance(expr, ast.StringLit):
            if len(expr.parts) == 1:
                only = expr.parts[0]
                if isinstance(only, str):  # a plain word
                    return self.shared.text(only)
                return self._ref_text(only)  # `"${lr}"`: nothing to merge, nor a `{{`
            parts: list[str | ir.Placeholder] = []
            for part in expr.parts:
                resolved = part if isinstance(part, str) else self._value_ref(part)
                if resolved is None:
                    return None
                parts.append(resolved)
            merged = _merge(parts)
            if len(expr.parts) > 1 and any(isinstance(p, str) and "{{" in p for p in merged):
                # Each literal was checked for `{{` on its own (to_ast); a template argument
                # put between two of them can still complete one, which the engines would
                # read as a placeholder and which no escape can protect.
                self.diagnostics.error(
                    "E0208", "`{{` in a text once template arguments are put in: Argo and "
                    "Kubeflow would read it as the start of a placeholder", expr.span,
                    "makes `{{`", help=["a template argument cannot complete a `{{`: change "
                                         "the argument or the text around it"])
                return None
            return self.shared.text(merged[0]) if len(merged) == 1 else ir.Text.of(*merged)
        if isinstance(expr, ast.Ref):
            return self._ref_text(expr)
        if isinstance(expr, ast.IntLit):
            return self.shared.text(str(expr.value))
        if isinstance(expr, ast.FloatLit):
            return self.shared.text(repr(expr.value))
        if isinstance(expr, ast.BoolLit):
            return self.shared.text("true" if expr.value else "false")
        self.diagnostics.error("E0201", "expected a string, a number or a reference",
                               expr.span, "not a text value")
        return None

    def _ref_text(self, ref: ast.Ref) -> ir.Text | None:
        """The text of one reference (``epochs``, ``"${lr}"``, ``outputs.model``)."""
        made = self._text_items((ref,))
        return made[0] if made else None

    def _value_ref(self, ref: ast.Ref) -> str | ir.Placeholder | None:
        head = ref.parts[0]
        if head.name == "outputs":
            return self._own_output(ref)
        if head.name == "pipeline" or head.name in self.loop_vars:
            source = self.source_of(ref)
            return None if source is None else self.shared.input_value(
                self.inputs.add(source, ref.span))
        if len(ref.parts) == 1:
            # A param by its name, the usual reference: its source is the same in every step.
            param = self.checker.param_sources.get(head.name)
            if param is not None:
                return self.shared.input_value(self.inputs.add(param, ref.span))
        symbol = self.scope.get(head.name)
        if symbol is None:
            self.scope.unknown(head, "name", "E0103",
                               extra=["outputs", *self.loop_vars])
            return None
        if symbol.kind == "dataset":
            rest = ref.parts[1:]
            if len(rest) == 1 and rest[0].name == "path":
                dataset = self.checker.datasets.get(symbol.name)
                self.paths_read.setdefault(symbol.name, ref.span)
                return dataset.path if dataset else None
            self.diagnostics.error(
                "E0104", f"data set `{symbol.name}` has one field, `path`", ref.span,
                "not a value", help=[f"write `{symbol.name}.path`"])
            return None
        source = self._source(ref, symbol)
        if source is None:
            return None
        return self.shared.input_value(self.inputs.add(source, ref.span))

    def _own_output(self, ref: ast.Ref) -> ir.OutputPath | None:
        assert self.symbol is not None
        if len(ref.parts) == 3:  # `outputs.scores.accuracy`: a declared metric's own file
            output = self.symbol.outputs.get(ref.parts[1].name)
            if output is not None and output.type.name == "metrics" and output.type.fields:
                if records.field_of(f"outputs.{output.name}", output.type, ref.parts[2],
                                    self.diagnostics) is None:
                    return None
                return self.shared.output_path(
                    types.metric_output_name(output.name, ref.parts[2].name))
        if len(ref.parts) != 2:
            self.diagnostics.error("E0104", "write `outputs.NAME` for where an output goes",
                                   ref.span, "expected `outputs.NAME`")
            return None
        name = ref.parts[1]
        if name.name not in self.symbol.outputs:
            self.diagnostics.error(
                "E0104", f"step `{self.symbol.name}` has no output `{name.name}`", name.span,
                "not declared", help=suggest(name.name, self.symbol.outputs) or [
                    f"declare it in the step: `output {name.name}: TYPE`"])
            return None
        if self.symbol.outputs[name.name].stdout:
            self.diagnostics.error(
                "E0201", f"output `{name.name}` is the step's stdout: it has no path",
                ref.span, "read from stdout", help=[
                    f"print the value; or declare `output {name.name}: TYPE` to write a file"])
            return None
        return self.shared.output_path(name.name)

    def source_of(self, ref: ast.Ref) -> ir.Source | None:
        """Any value reference at this place: param, loop variable, output, pipeline.status."""
        head = ref.parts[0]
        if head.name == "pipeline":
            if [p.name for p in ref.parts] != ["pipeline", "status"]:
                self.diagnostics.error("E0104", "the pipeline has one field, `status`", ref.span,
                                       "expected `pipeline.status`")
                return None
            if not self.ctx.in_finally:
                self.diagnostics.error(
                    "E0201", "`pipeline.status` is known only in `finally`", ref.span,
                    "not known yet", help=["read it in a step inside `finally { ... }`"])
                return None
            return ir.PipelineStatus()
        loop_vars = self.loop_vars
        if head.name in loop_vars:
            loop_id, var_type = loop_vars[head.name]
            if len(ref.parts) == 1:
                return ir.LoopVarRef(name=head.name, loop=loop_id, type=var_type)
            if var_type.name != "record" or len(ref.parts) > 2:
                self.diagnostics.error("E0104", f"`{head.name}` has no fields" if (
                    var_type.name != "record") else "record fields hold no fields",
                    ref.parts[1 if var_type.name != "record" else 2].span, "unexpected field")
                return None
            field_type = records.field_of(head.name, var_type, ref.parts[1], self.diagnostics)
            if field_type is None:
                return None
            return ir.LoopVarRef(name=head.name, loop=loop_id, type=field_type,
                                 field=ref.parts[1].name)
        symbol = self.scope.get(head.name)
        if symbol is None:
            self.scope.unknown(head, "name", "E0103", "param", "step",
                               extra=list(loop_vars))
            return None
        return self._source(ref, symbol)

    def _source(self, ref: ast.Ref, symbol: Symbol) -> ir.ParamRef | ir.OutputRef | None:
        """A param or another step's output, typed; reports misuse."""
        rest = ref.parts[1:]
        if symbol.kind == "param":
            if symbol.type is not None and symbol.type.name == "record" and len(rest) == 1:
                field_type = records.field_of(symbol.name, symbol.type, rest[0],
                                              self.diagnostics)
                return None if field_type is None else ir.ParamRef(
                    name=symbol.name, type=field_type, field=rest[0].name)
            if rest:
                self.diagnostics.error("E0104", f"param `{symbol.name}` has no fields",
                                       rest[0].span, "unexpected field")
                return None
            if symbol.type is None:  # its type was refused already
                return None
            param = self.shared.param_ref(symbol.name, symbol.type)
            self.checker.param_sources[symbol.name] = param
            return param
        if symbol.kind in ("step", "service"):
            if len(rest) == 2:
                return self._metric(ref, symbol)
            if len(rest) != 1:
                self.diagnostics.error(
                    "E0104", f"`{symbol.name}` is a step; name one of its outputs", ref.span,
                    "expected `STEP.OUTPUT`",
                    help=[f"e.g. `{symbol.name}.{next(iter(symbol.outputs))}`"]
                    if symbol.outputs else [f"step `{symbol.name}` declares no outputs"])
                return None
            if self.symbol is not None and symbol.name == self.symbol.name:
                self.diagnostics.error(
                    "E0302", f"step `{symbol.name}` reads its own output", ref.span,
                    "a step cannot consume what it produces",
                    help=[f"write `outputs.{rest[0].name}` for the path to write it to"])
                return None
            output = symbol.outputs.get(rest[0].name)
            function = self.checker.expander.functions.get(symbol.name)
            if output is None and function is not None and not function.returns:
                function_steps.no_return(symbol.name, function, rest[0], self.diagnostics)
                return None
            if output is None:
                self.diagnostics.error(
                    "E0104", f"step `{symbol.name}` has no output `{rest[0].name}`",
                    rest[0].span, "unknown output",
                    help=suggest(rest[0].name, symbol.outputs) or
                    ([f"its outputs: {', '.join(symbol.outputs)}"] if symbol.outputs
                     else [f"step `{symbol.name}` declares no outputs"]))
                return None
            if symbol.in_finally != self.ctx.in_finally:
                self._finally_boundary(ref.span, symbol)
                return None
            fan_in = [loop for loop in symbol.loops if loop not in self.ctx.loops]
            if len(fan_in) > 1:
                self.diagnostics.error(
                    "E0401", f"`{ref.dotted}` is gathered from {len(fan_in)} nested loops; "
                    "fan-in across more than one loop level is not supported", ref.span,
                    "nested fan-in", help=["gather it inside the outer loop first"])
                return None
            if fan_in:
                return ir.OutputRef.of(symbol.name, output.name, types.list_of(output.type))
            # Read whole, an output is the same source in every step reading it: made once.
            key = (symbol.name, output.name)
            source = self.checker.output_sources.get(key)
            if source is None:
                source = self.checker.output_sources[key] = ir.OutputRef.of(
                    symbol.name, output.name, output.type)
            return source
        self.diagnostics.error("E0201", f"`{ref.dotted}` is not a value", ref.span,
                               "not a value")
        return None

    def _metric(self, ref: ast.Ref, symbol: Symbol) -> ir.OutputRef | None:
        """``STEP.OUTPUT.SCALAR``: a scalar a metrics output declares, read as the parameter
        output that carries it (types.metric_output_name); or ``STEP.OUTPUT.FIELD``, a field
        of a record output."""
        output = symbol.outputs.get(ref.parts[1].name)
        if output is not None and output.type.name == "record":
            whole = self._source(ast.Ref(ref.parts[:2], ref.span), symbol)
            if not isinstance(whole, ir.OutputRef):
                return None
            if whole.type.name != "record":  # gathered over a loop: a list of records
                self.diagnostics.error(
                    "E0201", f"`{symbol.name}.{output.name}` is a {whole.type} here; fields "
                    "are read from one record", ref.parts[2].span, "a list has no fields")
                return None
            field_type = records.field_of(f"{symbol.name}.{output.name}", output.type,
                                          ref.parts[2], self.diagnostics)
            return None if field_type is None else ir.OutputRef(
                step=whole.step, output=whole.output, type=field_type, field=ref.parts[2].name)
        if output is None or output.type.name != "metrics" or not output.type.fields:
            self.diagnostics.error(
                "E0104", f"`{symbol.name}.{ref.parts[1].name}` has no fields", ref.parts[2].span,
                "unexpected field", help=["only a `metrics {...}` output has fields: its "
                                          "declared scalars"])
            return None
        if records.field_of(f"{symbol.name}.{output.name}", output.type, ref.parts[2],
                            self.diagnostics) is None:
            return None
        hidden = ast.Ident(types.metric_output_name(output.name, ref.parts[2].name),
                           ref.parts[2].span)
        source = self._source(ast.Ref((ref.parts[0], hidden), ref.span), symbol)
        assert not isinstance(source, ir.ParamRef)  # read of a step
        return source

    def gate_ref(self, ref: ast.Ref
                 ) -> ir.ParamRef | ir.OutputRef | ir.LoopVarRef | ir.PipelineStatus | None:
        head = ref.parts[0]
        if head.name == "outputs":
            self.diagnostics.error("E0201", "a gate cannot read the step's own outputs",
                                   ref.span, "not produced yet")
            return None
        symbol = self.scope.get(head.name)
        if symbol is not None and symbol.kind == "dataset":
            self.diagnostics.error("E0201", "a data set cannot be used in a gate", ref.span,
                                   "data set in a gate")
            return None
        source = self.source_of(ref)
        if isinstance(source, ir.Literal_):
            self.diagnostics.error("E0201", f"`{ref.dotted}` is not a value", ref.span,
                                   "not a value")
            return None
        return source  # `pipeline.status`: known in `finally` only (source_of reports)

    # ---- blocks -------------------------------------------------------------------------

    def _env(self, block: ast.Assignment | ast.Block) -> list[ir.EnvVar]:
        assert isinstance(block, ast.Block) and "env" in FREE_BLOCKS
        env: list[ir.EnvVar] = []
        seen: dict[str, ast.Ident] = {}
        # The pipeline's entries were checked (and warned about) once, with the pipeline.
        inherited = {id(item) for item in self.checker.configuration.env_items}
        for item in block.items:
            if not configuration.env_entry_ok(item, seen, self.diagnostics):
                continue
            assert isinstance(item, ast.Assignment)
            if isinstance(item.value, ast.Call):
                var = self.calls.env_value(item.key.name, item.value)
                if var is not None:
                    env.append(var)
                continue
            text = self.text(item.value)
            if text is not None:
                env.append(ir.EnvVar(name=item.key.name, value=text))
                if (isinstance(item.value, ast.StringLit) and item.value.is_plain
                        and item.value.text and id(item) not in inherited
                        and credentials.SECRET_NAME.search(item.key.name)):
                    credentials.warn_literal_env(item.key.name, item.value.span,
                                                 self.diagnostics)
        return env

    def _resources(self, block: ast.Assignment | ast.Block) -> ir.Resources:
        assert isinstance(block, ast.Block)
        # Steps repeat a few blocks of literals (`resources { gpu = 1  cpu = 4 }`): one that
        # read without a word reported reads the same in every step.
        key = _literals_key(block.items)
        if key is not None:
            made = self.readers.resources.get(key)
            if made is not None:
                return made
        reported = len(self.diagnostics)
        resources = self._read_resources(block)
        if key is not None and len(self.diagnostics) == reported:
            self.readers.resources[key] = resources
        return resources

    def _read_resources(self, block: ast.Block) -> ir.Resources:
        fields = self.fields.collect(block.items, "resources", None, block.span)
        placement = self.readers.placement
        gpu = fields.get("gpu")
        counted = None  # `gpu = PARAM`: the param, and its default
        if isinstance(gpu, ast.Assignment) and isinstance(gpu.value, ast.Ref):
            fields = {name: item for name, item in fields.items() if name != "gpu"}
            counted = placement.gpu_param(gpu.value, self.source_of(gpu.value))
            if counted is not None:
                self.inputs.add(counted[0], gpu.value.span)
        # Gathered first and validated once: assigning fields one by one cost more.
        values = self.fields.read(fields, "resources")
        if counted is not None:
            values["gpu_param"], values["gpu"] = counted
        if "devices" in fields:
            values["devices"] = placement.devices(block_of(fields["devices"]))
        if "gpu_type" in fields:
            gpu_type = assigned(fields["gpu_type"])
            if not values.get("gpu") and counted is None:
                self.diagnostics.error("E0208", "`gpu_type` needs `gpu` of at least 1",
                                       gpu_type.span, "no GPU requested",
                                       help=["add `gpu = 1` (or more) to `resources`"])
        resources = self.shared.resources(values)
        placement.check_resources(fields, resources)
        return resources

    def _retry(self, block: ast.Assignment | ast.Block) -> ir.Retry | None:
        assert isinstance(block, ast.Block)
        fields = self.fields.collect(block.items, "retry", None, block.span)
        if "limit" not in fields:
            return None
        values = self.fields.read(fields, "retry")
        values["limit"] = values["limit"] or 0
        if values.get("on", "") is None:  # refused (reported)
            del values["on"]
        values["exit_codes"] = hygiene.exit_codes(self.fields, self.diagnostics, fields,
                                                  values.get("on"))
        retry = ir.Retry.model_validate(values)
        if retry.factor is not None and not retry.backoff_seconds:
            self.diagnostics.error("E0106", "`factor` needs `backoff`",
                                   block.name.span, "no `backoff`",
                                   help=['add `backoff = "30s"` (the first wait)'])
        return retry


def constant_type(expr: ast.Expr) -> ir.Type | None:
    """The type of a literal (lists: their item type; int and float mix to float)."""
    if isinstance(expr, ast.BoolLit):
        return types.BOOL
    if isinstance(expr, ast.IntLit):
        return types.INT
    if isinstance(expr, ast.FloatLit):
        return types.FLOAT
    if isinstance(expr, ast.StringLit) and expr.is_plain:
        return types.STRING
    if isinstance(expr, ast.ListLit):
        item: ir.Type | None = None
        for each in expr.items:
            item_type = constant_type(each)
            if item_type is None:
                return None
            item = item_type if item is None else records.join_types(item, item_type)
            if item is None:
                return None
        return ir.Type(name="list", item=item)
    if isinstance(expr, ast.RecordLit):
        return records.constant(expr, lambda e: (None, constant_type(e)))[1]
    return None


def _literals_key(items: tuple[ast.BodyItem, ...]
                  ) -> tuple[tuple[str, type, object], ...] | None:
    """What tells two blocks of ``NAME = LITERAL`` fields apart: each field's name, and its
    value's node type and value (``1``, ``1.0`` and ``true`` are equal in Python; a float by
    its repr, as ``-0.0 == 0.0``). None for any other block: its reading depends on more."""
    key: list[tuple[str, type, object]] = []
    for item in items:
        if type(item) is not ast.Assignment or item.key.quoted:
            return None
        value = item.value
        if type(value) is ast.StringLit:
            parts = value.parts
            if len(parts) != 1 or type(parts[0]) is not str:
                return None
            key.append((item.key.name, ast.StringLit, parts[0]))
        elif type(value) is ast.IntLit:
            key.append((item.key.name, ast.IntLit, value.value))
        elif type(value) is ast.FloatLit:
            key.append((item.key.name, ast.FloatLit, repr(value.value)))
        elif type(value) is ast.BoolLit:
            key.append((item.key.name, ast.BoolLit, value.value))
        else:
            return None
    return tuple(key)


def _merge(parts: list[str | ir.Placeholder]) -> list[str | ir.Placeholder]:
    """Join adjacent literal pieces, so equal texts have one representation."""
    merged: list[str | ir.Placeholder] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return merged or [""]
