"""Kubeflow Pipelines backend: a KFP v2 ``PipelineSpec`` (schemaVersion 2.1.0), then the
kfp-kubernetes platform document when a step needs one, as plain data built from the IR.

The layout is the KFP SDK's (kfp 2.17.3): a component ``comp-<task>`` and an executor
``exec-<task>`` per step (one per template when dedupe_templates made steps share one), tasks
keyed by name in ``root.dag.tasks``, a ``condition-N`` group per gated step and pipeline
channels named ``pipelinechannel--<task>-<output>``. Loops, ``if`` chains and ``finally`` are
laid out by kfp_groups.py, the runtime contract's command prefix is kfp_contract.py's, and
training jobs, services and Fluid data sets are tasks of our runtime images (kfp_cloud.py);
docs/kfp.md has the whole mapping. Choices, with the sources they rest on
(kubeflow/pipelines at 7b70c7b, backend/src/v2):
- Gates are condition groups whose ``triggerPolicy.condition`` is CEL over the group's inputs
  (kfp_cel.py). Steps downstream of a gated step stay where they are and depend on its group:
  KFP's Argo compiler orders tasks with ``.Succeeded`` (compiler/argocompiler/dag.go, depends),
  so a skipped group skips them, as on the Argo target. Their data leaves the group as a DAG
  output (kfp_dag.py), a shape the SDK refuses to build but the driver resolves.
- A data set is a PVC per run: a CreatePVC task, then an exit handler around the rest of the
  pipeline whose exit task is DeletePVC. Exit tasks run when their group ends, whatever its
  outcome (argocompiler/dag.go: ALL_UPSTREAM_TASKS_COMPLETED tasks become Argo exit hooks), so
  the claim is deleted after a failure too, as the Argo target's volumeClaimGC does. A second data
  set nests a second exit handler: the backend supports one exit task per group (dag.go keeps
  one exit hook per task it depends on), so ``finally`` has a handler of its own inside these.
  Each nested handler takes the outer claims' names as inputs, so the IR grows with the square
  of the number of data sets (46 KB at 10, 4.8 MB at 200). A single exit task holding every
  DeletePVC would stay linear, but would need every claim's name, and a CreatePVC that failed
  would leave its input unresolved; that is unverified on a cluster. Mounts are read-write:
  kfp-kubernetes 2.17.3's PvcMount has no readOnly field.
- ``retryPolicy`` always carries all four fields: the backend passes absent ones to Argo as
  "0" (argocompiler/container.go), and Argo stops retrying once ``backoffMaxDuration`` has
  passed since the first attempt started (workflow/controller/operator.go), so the SDK's
  default of 3600s never retries a step that ran for an hour. No factor means a constant
  backoff, as on the Argo target; Argo reads the factor as an integer.
- Caching is per task and off unless the step says ``cache = true`` (``enableCache: false``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cnai import __version__, contract, function_contract
from cnai.backends import (
    cloud,
    identity,
    k8s,
    k8s_placement,
    kfp_cel,
    kfp_contract,
    kfp_control,
    kfp_hygiene,
    kfp_platform,
)
from cnai.backends.kfp_cloud import CloudSteps
from cnai.backends.kfp_contract import Unsupported
from cnai.backends.kfp_dag import (
    Channel,
    Dag,
    Group,
    GroupKind,
    Spec,
    Task,
    definitions,
    task_output,
    type_spec,
)
from cnai.backends.kfp_groups import EXIT_STRATEGY, FINAL_STATUS_TYPE, Layout
from cnai.context import CompileContext
from cnai.lowering import skippable_in_loop
from cnai.semantics import ir
from cnai.semantics.units import Names
from cnai.source import Span

SCHEMA_VERSION = "2.1.0"
SDK_VERSION = f"cnai-{__version__}"
NO_RETRY_DEADLINE = "2147483647s"  # ~68 years: Argo's duration math holds it without overflow
EXACT_INT = 2**53  # the largest integer a double holds with all its neighbours
CLOUD_KINDS = ("distributed", "service", "dataload")  # tasks of our images (kfp_cloud.py)
# The driver reads these in container arguments (backend/src/v2/driver/util.go).
RESERVED_TEXT = ("{{$",)
CONDITION_CLAUSE = '{"IfPresent":'


def emit(pipeline: ir.Pipeline, ctx: CompileContext) -> list[dict[str, Any]]:
    return KfpBackend(pipeline, ctx).documents()


def _more(steps: list[ir.Step]) -> str:
    return f" and {len(steps) - 1} more" if len(steps) > 1 else ""


def namespace_objects(pipeline: ir.Pipeline) -> list[dict[str, Any]]:
    """The objects a ``quota`` asks for in the pipeline's namespace (ResourceQuota, LimitRange),
    the Argo target's. Not part of the KFP output: kfp's loader takes one or two YAML
    documents only (kfp/dsl/structures.py, load_documents_from_yaml), and so does what
    ``cnai submit`` uploads; ``cnai compile --split`` is where they belong."""
    return cloud.quota_objects(pipeline)


class KfpBackend:
    def __init__(self, pipeline: ir.Pipeline, ctx: CompileContext) -> None:
        self.pipeline = pipeline
        self.ctx = ctx
        self.dag = Dag()
        self.names = Names(*(s.k8s_name for s in pipeline.steps))
        self.group_number = 0
        self.step_tasks: dict[str, Task] = {}
        self.param_channels: dict[str, Channel] = {}  # by param
        self.output_channels: dict[tuple[str, str], Channel] = {}  # by (step, output)
        self.configured: set[str] = set()  # executors whose platform config was built
        # What containers of many executors repeat, rendered once each (only once rendered
        # without an error: a step that cannot have it is still told so).
        self.literal_words: dict[str, str] = {}  # a literal piece of text -> as written
        self.resources_specs: dict[int, tuple[ir.Resources, Spec]] = {}  # by the node's id
        self.loaders: dict[str, ir.Step] = {}  # data set -> the step that fills it
        for step in pipeline.steps:
            if step.fills is not None:
                self.loaders.setdefault(step.fills, step)
        self.pvc_tasks: dict[str, Task] = {}
        self.components: Spec = {}
        self.executors: Spec = {}
        self.platform: Spec = {}
        self.cloud = CloudSteps(self)
        self.inputs = k8s.InputsByName()

    def refuse_inexact_numbers(self) -> None:
        """Kubeflow carries parameter values as protobuf ``Value``s, whose numbers are doubles
        (google/protobuf/struct.proto), and its driver reads a loop's raw items with Go's
        encoding/json into float64: an integer past 2^53 would arrive with other digits."""
        found = [(p.span, _inexact(p.default)) for p in self.pipeline.params]
        found += [(g.span, _inexact(g.items.value)) for g in self.pipeline.groups
                  if isinstance(g, ir.Loop) and isinstance(g.items, ir.Literal_)]
        for span, value in found:
            if value is not None:
                self.ctx.unsupported(
                    span, "E0401", f"{value} is past 2^53: Kubeflow holds numbers as 64-bit "
                    "floats, which keep integers exact only up to 9007199254740992",
                    help="pass it as a string, or use a smaller number")

    def documents(self) -> list[dict[str, Any]]:
        self.refuse_inexact_numbers()
        self.layout = Layout(self, self.datasets())
        for step in self.pipeline.steps:
            self.place(step)
        for group, expr, gate in self.layout.conditions:
            self.condition(group, expr, gate)
        refused = self.refuse()
        kfp_hygiene.refuse(self.pipeline, self.ctx)
        refused |= kfp_control.refuse(self.pipeline, self.ctx)
        for step in self.pipeline.steps:
            if step.name in refused:
                continue
            try:
                self.step(step)
            except Unsupported as error:
                self.ctx.unsupported(step.span, "E0401", str(error))
        for group in self.dag.groups():
            self.components[f"comp-{group.name}"] = self.group_component(group)
        documents: list[dict[str, Any]] = [self.pipeline_spec()]
        kubernetes: dict[str, Any] = {}
        if self.platform:
            kubernetes["deploymentSpec"] = {"executors": self.platform}
        config = kfp_hygiene.pipeline_config(self.pipeline)
        if config:
            kubernetes["pipelineConfig"] = config
        if kubernetes:
            documents.append({"platforms": {"kubernetes": kubernetes}})
        return documents

    # ---- names ------------------------------------------------------------------------

    def take_number(self) -> int:
        """The next number of the sequence kfp numbers groups (and loop items) with."""
        self.group_number += 1
        return self.group_number

    def group(self, kind: GroupKind, parent: Group) -> Group:
        """A new ``exit-handler-N`` / ``condition-N`` / ..., numbered in one sequence as kfp
        does."""
        self.group_number += 1
        while f"{kind}-{self.group_number}" in self.names.taken:
            self.group_number += 1
        name = self.names.take(f"{kind}-{self.group_number}")
        group = Group(name, parent, kind=kind)
        group.spec = {"taskInfo": {"name": name}, "componentRef": {"name": f"comp-{name}"}}
        self.dag.add(group)
        return group

    # ---- the task tree ----------------------------------------------------------------

    def datasets(self) -> Group:
        """Create each data set's PVC and nest the rest in exit handlers that delete it."""
        body = self.dag.root
        for dataset in self.pipeline.datasets:
            if dataset.engine != "copy":  # a Fluid data set is the data load step's (kfp_cloud)
                continue
            create = self.pvc_task(f"createpvc-{dataset.k8s_name}", body,
                                   kfp_platform.create_pvc_component,
                                   kfp_platform.CREATE_PVC_IMAGE)
            create.spec["inputs"] = kfp_platform.create_pvc_inputs(dataset)
            handler = self.group("exit-handler", body)
            handler.depends.add(create.name)
            delete = self.pvc_task(f"deletepvc-{dataset.k8s_name}", body,
                                   kfp_platform.delete_pvc_component,
                                   kfp_platform.DELETE_PVC_IMAGE)
            name = Channel(create.name, kfp_platform.PVC_NAME_OUTPUT,
                           {"parameterType": "STRING"})
            delete.spec["inputs"] = {"parameters": {
                "pvc_name": task_output(name, create.name, name.key)}}
            delete.spec["triggerPolicy"] = {"strategy": EXIT_STRATEGY}
            delete.depends.add(handler.name)  # only the group: each dependency gets the hook
            self.pvc_tasks[dataset.name] = create
            body = handler
        return body

    def pvc_task(self, base: str, parent: Group, component: Callable[[str], Spec],
                 image: str) -> Task:
        name = self.names.take(base)
        task = Task(name, parent)
        task.spec = {"taskInfo": {"name": name}, "componentRef": {"name": f"comp-{name}"},
                     "cachingOptions": {"enableCache": False}}
        self.components[f"comp-{name}"] = component(f"exec-{name}")
        self.executors[f"exec-{name}"] = kfp_platform.placeholder_executor(image)
        self.dag.add(task)
        return task

    def place(self, step: ir.Step) -> None:
        body = self.layout.parent_of(step)
        parent = body if step.when is None else self.group("condition", body)
        name = step.k8s_name
        task = Task(name, parent, {"taskInfo": {"name": name},
                                   "componentRef": {"name": f"comp-{step.template or name}"},
                                   "cachingOptions": {"enableCache": step.cache}})
        self.step_tasks[step.name] = self.dag.add(task)
        self.layout.placed(step, parent if step.when is not None else task)

    # ---- one step -----------------------------------------------------------------------

    def refuse(self) -> set[str]:
        """Report what KFP cannot express of the pipeline as a whole, once per construct;
        returns the steps left out because of it (none today).

        A scheduler or priority class reaches only the pods of training jobs (kfp-kubernetes'
        KubernetesExecutorConfig has no schedulerName or priorityClassName). Asked for by a
        step of its own, that is an error; set pipeline-wide, it still places the jobs, and
        the steps' own pods running without it is a warning, once."""
        wide = self.pipeline.scheduling or ir.Scheduling()
        own, inherited = [], []
        for step in self.pipeline.steps:
            placed = step.scheduling
            if step.kind not in ("container", "preload") or placed is None:
                continue
            if (placed.scheduler, placed.priority) == (wide.scheduler, wide.priority):
                inherited += [step] if placed.scheduler or placed.priority else []
            else:
                own.append(step)
        if own:
            where = own[0].scheduling.span if own[0].scheduling else None
            self.ctx.unsupported(
                where or own[0].span, "E0401", "`scheduling` with a scheduler or a priority "
                f"class applies to the pod of `{own[0].name}`{_more(own)}; Kubeflow sets "
                "neither on a task's pod (kfp-kubernetes' KubernetesExecutorConfig has no "
                "schedulerName or priorityClassName), only on the pods of distributed steps",
                help="put `scheduling` in the distributed steps, or compile with --target argo")
        if inherited:
            fields = [f"{name} `{value}`" for name, value in (
                ("scheduler", wide.scheduler), ("priority class", wide.priority)) if value]
            apply, them = ("apply", "them") if len(fields) > 1 else ("applies", "it")
            run = "run" if len(inherited) > 1 else "runs"
            scheduler = ", under the default scheduler" if wide.scheduler else ""
            self.ctx.diagnostics.warn(
                "W0403", f"on Kubeflow, the pipeline's {' and '.join(fields)} {apply} only to "
                f"the pods of distributed steps; `{inherited[0].name}`{_more(inherited)} {run} "
                f"without {them}{scheduler}", wide.span or inherited[0].span,
                "not applied to every pod", help=[
                    "kfp-kubernetes' KubernetesExecutorConfig has no schedulerName or "
                    "priorityClassName; compile with --target argo to place every pod"])
        self._refuse_skipped_iterations()
        identity.refuse_on_kfp(self.pipeline, self.ctx)
        return set()

    def _refuse_skipped_iterations(self) -> None:
        """A fan-in of a step that a gate or a branch may skip in some iteration: the driver
        walks every iteration down to the producer's execution, which a skipped iteration
        never made, and fails (backend/src/v2/driver/resolve.go, CollectInputs)."""
        skippable = skippable_in_loop(self.pipeline)
        if not skippable:
            return
        readers: list[tuple[ir.Source, str | None, Span]] = [
            (item.source, step.group, step.span) for step in self.pipeline.steps
            for item in step.inputs]
        readers += [(g.items, g.parent, g.span) for g in self.pipeline.groups
                    if isinstance(g, ir.Loop)]
        refused: set[str] = set()
        for source, group_id, span in readers:
            if not isinstance(source, ir.OutputRef) or source.step not in skippable:
                continue
            producer = self.pipeline.step(source.step)
            loop = self.pipeline.loops_around(producer.group)[0]
            if loop in self.pipeline.loops_around(group_id) or source.step in refused:
                continue
            refused.add(source.step)
            self.ctx.unsupported(
                span, "E0401", f"`{source.step}.{source.output}` is gathered over loop "
                f"`{loop.var}`, but a gate or a branch may skip `{source.step}` in some "
                "iterations; Kubeflow's driver fails when it gathers from an iteration where "
                "the step did not run",
                help="gather an output of a step that runs in every iteration (move the "
                "condition into its command), or compile with --target argo")

    def step(self, step: ir.Step) -> None:
        task = self.step_tasks[step.name]
        inputs: Spec = {}
        for item in step.inputs:
            typed = item.type
            if typed.item is not None and typed.item.is_artifact:
                # The launcher fills `{{$.inputs.artifacts['x'].path}}` from the list's first
                # artifact only (backend/src/v2/component/launcher_v2.go, getPlaceholders).
                raise Unsupported(f"`{step.name}` reads `{item.name}`, {typed.item.name} "
                                  "artifacts gathered over a loop; a Kubeflow container sees "
                                  "only the first artifact of a list")
            source = item.source
            value: Spec
            # type(), not isinstance(), on these model classes (none has subclasses): a
            # failed isinstance goes through pydantic's ABC metaclass, for every input.
            if (type(source) is ir.OutputRef or type(source) is ir.ParamRef
                    or type(source) is ir.LoopVarRef):
                value = self.dag.reference(self.channel(source), task)
                if source.field is not None:
                    # What the KFP SDK compiles `item.lr` of a ParallelFor over dicts to
                    # (kfp/compiler/pipeline_spec_builder.py); the driver gives the selector
                    # the value's JSON as `string_value` (backend/src/v2/expression/
                    # expression.go).
                    value = {**value, "parameterExpressionSelector": field_selector(
                        source.field)}
            elif isinstance(source, ir.Literal_):
                # A word dedupe_templates lifted: the driver pastes it into the command.
                value = {"runtimeValue": {"constant": k8s.literal_text(str(source.value))}}
            else:  # the run's status
                value = self.dag.reference(self.channel(source), task)
            kind = "artifacts" if typed.is_artifact else "parameters"
            named = inputs.get(kind)
            if named is None:
                named = inputs[kind] = {}
            named[item.name] = value
        if inputs:
            task.spec["inputs"] = inputs
        for dependency in step.depends:
            self.dag.depend(task, self.step_tasks[dependency.step])
        if step.when is not None:
            assert task.parent is not None
            self.condition(task.parent, step.when.expr, step.when)
        # Steps that share a template (dedupe_templates) share one component and executor;
        # the pass gives them the same container and Kubernetes settings.
        shared = step.template or task.name
        if step.kind in CLOUD_KINDS:  # a task of our launcher or deploy image
            for name, value in self.cloud.extra_inputs(step):
                task.spec.setdefault("inputs", {}).setdefault("parameters", {})[name] = value
            self._component_once(step, shared, self.cloud.container)
            launcher = identity.launcher_config(step, self.ctx.options)
            if launcher:
                self.platform.setdefault(f"exec-{shared}", launcher)
            return
        retry = step.retry or k8s_placement.spot_retry(step)
        if retry is not None:
            task.spec["retryPolicy"] = retry_policy(retry)
        pvc_names = [self.dag.reference(self.pvc_name(m.dataset), task) for m in step.mounts]
        # The first step of a shared executor builds its config (the others' settings are the
        # same); executor_config only reads, so it is not built again, set or empty.
        executor = f"exec-{shared}"
        if executor not in self.configured:
            claim = None
            if step.kind == "preload":
                claim = k8s.source_claim(self.pipeline.dataset(step.mounts[0].dataset))
            config = kfp_platform.executor_config(step, pvc_names, self.ctx.options, claim,
                                                  k8s.preload_credentials(self.pipeline, step))
            if config:
                self.platform[executor] = config
            self.configured.add(executor)
        self._component_once(step, shared, self.container)

    def _component_once(self, step: ir.Step, shared: str,
                        container: Callable[[ir.Step], Spec]) -> None:
        """The component and executor of ``shared``, built by its first step only."""
        if f"exec-{shared}" not in self.executors:
            self.components.setdefault(f"comp-{shared}", self.component(step, shared))
            self.executors[f"exec-{shared}"] = {"container": container(step)}

    def condition(self, group: Group, expr: ir.Expr, gate: ir.Gate) -> None:
        """Trigger ``group`` on ``expr``, CEL over inputs of the group."""
        assert group.kind == "condition"
        try:
            text = kfp_cel.condition(expr, lambda ref: self.dag.bring_in(self.channel(ref), group))
        except kfp_cel.CelError as error:
            self.ctx.unsupported(gate.span, "E0401", str(error))
            return
        group.spec.setdefault("triggerPolicy", {})["condition"] = text

    def channel(self, source: ir.Source | ir.Expr) -> Channel:
        # A param's or an output's channel is made once and shared (a Channel is frozen):
        # every step reads a few, and finding the type and building the channel cost more
        # than the rest of a reference.
        if type(source) is ir.ParamRef:  # the whole param, for a field too
            channel = self.param_channels.get(source.name)
            if channel is None:
                channel = self.param_channels[source.name] = Channel(
                    None, source.name, type_spec(self.pipeline.param(source.name).type))
            return channel
        if type(source) is ir.OutputRef:
            # Typed as produced: kfp_dag makes it a list where it has left a loop.
            key = (source.step, source.output)
            channel = self.output_channels.get(key)
            if channel is None:
                producer = self.pipeline.step(source.step)
                channel = self.output_channels[key] = Channel(
                    self.step_tasks[source.step].name, source.output,
                    type_spec(producer.output(source.output).type))
            return channel
        if isinstance(source, ir.LoopVarRef):
            return self.layout.item(source)
        if isinstance(source, ir.PipelineStatus):
            return self.layout.pipeline_status()
        raise AssertionError(source.kind)

    def pvc_name(self, dataset: str) -> Channel:
        """The claim of a data set: CreatePVC's output, or a Fluid data load's."""
        if self.pipeline.dataset(dataset).engine == "fluid":
            return self.cloud.name_channel(self.loaders[dataset])
        return Channel(self.pvc_tasks[dataset].name, kfp_platform.PVC_NAME_OUTPUT,
                       {"parameterType": "STRING"})

    def component(self, step: ir.Step, name: str) -> Spec:
        component: Spec = {"executorLabel": f"exec-{name}"}
        named = [(i.name, input_type(i)) for i in step.inputs]
        if step.kind in CLOUD_KINDS:
            named += [(n, {"parameterType": "STRING"}) for n in self.cloud.extra_input_names(step)]
        inputs = definitions(named)
        if inputs:
            component["inputDefinitions"] = inputs
        outputs = definitions([(o.name, type_spec(o.type)) for o in step.outputs]
                              + self.cloud.extra_outputs(step))
        if outputs:
            component["outputDefinitions"] = outputs
        return component

    def container(self, step: ir.Step) -> Spec:
        if isinstance(step.image, ir.Text) and not k8s_placement.whole_param_image(step):
            raise Unsupported(
                f"step `{step.name}`'s image puts params inside text; Kubeflow's driver "
                "replaces the whole image with one param's value (driver/util.go, "
                "resolvePodSpecInputRuntimeParameter), so write `image = \"${PARAM}\"` with "
                "the whole reference in a string param, or compile with --target argo")
        image = k8s_placement.image(step, self.ctx.options, lambda t: self.text(step, t))
        container: Spec = {"image": image}
        words = [self.text(step, t) for t in step.command]
        if step.function is not None:  # a Python function, as kfp's lightweight components
            words = function_contract.kfp_command(step, words)
        command = kfp_contract.wrap(step, words, lambda text: self.text(step, text))
        if command:
            container["command"] = command
        if step.args:
            container["args"] = [self.text(step, t) for t in step.args]
        # Values holding references are exported by the command's prefix (kfp_contract.py).
        env = [{"name": v.name, "value": k8s.literal_text(self.literal(step, v.value.literal))}
               for v in step.env if v.value is not None and v.value.is_literal]
        if k8s.preload_credentials(self.pipeline, step) is not None:
            env.append({"name": k8s.CREDENTIALS_ENV, "value": k8s.CREDENTIALS_DIR})
        if contract.logs_metrics(step):
            env.append({"name": contract.OUTPUT_METADATA_ENV,
                        "value": contract.KFP_OUTPUT_METADATA})
        if env:
            container["env"] = env
        found = self.resources_specs.get(id(step.resources))
        if found is None:  # the checker shares one Resources among steps asking the same
            found = self.resources_specs[id(step.resources)] = (
                step.resources, kfp_platform.container_resources(step.resources))
        resources = found[1]
        if resources:
            container["resources"] = resources
        return container

    def text(self, step: ir.Step, text: ir.Text) -> str:
        pieces = []
        for part in text.parts:
            if isinstance(part, str):
                piece = self.literal_words.get(part)
                if piece is None:
                    piece = self.literal_words[part] = k8s.literal_text(self.literal(step, part))
                pieces.append(piece)
            elif isinstance(part, ir.OutputPath):
                # A fixed-path output is written there; the prefix copies it for KFP.
                output = step.output(part.name)
                pieces.append(k8s.literal_text(output.path) if output.path
                              else kfp_contract.output_placeholder(output))
            elif isinstance((item := self.inputs(step)[part.name]).source, ir.PipelineStatus):
                pieces.append(kfp_contract.STATUS_MARKER)
            else:
                pieces.append(kfp_contract.input_placeholder(item))
        rendered = "".join(pieces)
        if rendered.strip().startswith(CONDITION_CLAUSE):
            raise Unsupported(f"an argument of step `{step.name}` starts with "
                              f"`{CONDITION_CLAUSE}`, which KFP's driver reads as a condition")
        return rendered

    def literal(self, step: ir.Step, text: str) -> str:
        if any(marker in text for marker in RESERVED_TEXT):
            raise Unsupported(f"step `{step.name}` has `{{{{$` in its text, which KFP reads as a "
                              "placeholder")
        if kfp_contract.STATUS_MARKER in text:
            raise Unsupported(f"step `{step.name}` has `{kfp_contract.STATUS_MARKER}` in its "
                              "text, which stands for `pipeline.status` on Kubeflow")
        return text

    # ---- groups and the pipeline ------------------------------------------------------

    def group_component(self, group: Group) -> Spec:
        component: Spec = {"dag": {"tasks": self.tasks(group)}}
        inputs = definitions(self.dag.input_definitions(group))
        if inputs:
            component["inputDefinitions"] = inputs
        outputs, output_definitions = self.dag.dag_outputs(group)
        if outputs:
            component["dag"]["outputs"] = outputs
            component["outputDefinitions"] = output_definitions
        return component

    def tasks(self, group: Group) -> Spec:
        specs: Spec = {}
        for task in group.children:
            spec = dict(task.spec)
            if task.depends:
                spec["dependentTasks"] = sorted(task.depends)
            specs[task.name] = spec
        return specs

    def pipeline_spec(self) -> dict[str, Any]:
        pipeline = self.pipeline
        info: Spec = {"name": pipeline.k8s_name}
        if pipeline.description:
            info["description"] = pipeline.description
        root: Spec = {"dag": {"tasks": self.tasks(self.dag.root)}}
        params = {p.name: param_definition(p) for p in pipeline.params}
        if params:
            root["inputDefinitions"] = {"parameters": params}
        return {"pipelineInfo": info, "sdkVersion": SDK_VERSION,
                "schemaVersion": SCHEMA_VERSION, "components": self.components,
                "deploymentSpec": {"executors": self.executors}, "root": root}


def _inexact(value: ir.JSONValue) -> int | None:
    """An integer in ``value`` that a double cannot hold exactly, if any."""
    if isinstance(value, list):
        return next((found for item in value if (found := _inexact(item)) is not None), None)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > EXACT_INT:
        return value
    return None


def field_selector(field: str) -> str:
    """The CEL that picks field ``field`` out of a record value."""
    return f'parseJson(string_value)["{field}"]'


def input_type(item: ir.Input) -> Spec:
    if isinstance(item.source, ir.PipelineStatus):  # the SDK's PipelineTaskFinalStatus input
        return {**FINAL_STATUS_TYPE, "isOptional": True}
    return type_spec(item.type)


def param_definition(param: ir.Param) -> Spec:
    spec = type_spec(param.type)
    if param.default is not None:
        default = param.default
        if param.type.name == "float" and isinstance(default, int):
            default = float(default)
        spec["defaultValue"] = default
        spec["isOptional"] = True
    return spec


def retry_policy(retry: ir.Retry) -> Spec:
    # Argo reads the factor as an integer (util/intstr/parametrizable.go); the IR's is one.
    factor = 1 if retry.factor is None else retry.factor
    return {"maxRetryCount": retry.limit, "backoffDuration": f"{retry.backoff_seconds or 0}s",
            "backoffFactor": float(factor), "backoffMaxDuration": NO_RETRY_DEADLINE}


# The settings this backend renders itself (semantics/settings.py names them by key).
kfp_platform.RENDERERS.update({
    "pipeline_info.description": KfpBackend.pipeline_spec,
    "namespace_objects": namespace_objects,  # quota: `cnai compile --split` writes them
    "container": KfpBackend.container,  # image, command, args, env, resources
    "task.cache": KfpBackend.place,
    "task.retry": retry_policy,
    "pipeline_config": kfp_hygiene.pipeline_config,
    "launcher": CloudSteps.container,  # training jobs, Fluid data loads, Volcano queues
    "deploy": CloudSteps.service_objects,  # services: Knative Service, Istio routing
})
