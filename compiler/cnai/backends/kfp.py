"""Kubeflow Pipelines backend: a KFP v2 ``PipelineSpec`` (schemaVersion 2.1.0), then the
kfp-kubernetes platform document when a step needs one, as plain data built from the IR.

The layout is the KFP SDK's (kfp 2.17.3): a component ``comp-<task>`` and an executor
``exec-<task>`` per step (one per template when dedupe_templates made steps share one), tasks
keyed by name in ``root.dag.tasks``, a ``condition-N`` group per gated step and pipeline
channels named ``pipelinechannel--<task>-<output>``. Choices, with the sources they rest on
(kubeflow/pipelines at 7b70c7b, backend/src/v2):
- Gates are condition groups whose ``triggerPolicy.condition`` is CEL over the group's inputs
  (kfp_cel.py). Steps downstream of a gated step stay where they are and depend on its group:
  KFP's Argo compiler orders tasks with ``.Succeeded`` (compiler/argocompiler/dag.go, depends),
  so a skipped group skips them, as on the Argo target. Their data leaves the group as a DAG
  output (kfp_dag.py), a shape the SDK refuses to build but the driver resolves.
- A data set is a PVC per run: a CreatePVC task, then an exit handler around the rest of the
  pipeline whose exit task is DeletePVC. Exit tasks run when their group ends, whatever its
  outcome (argocompiler/dag.go: ALL_UPSTREAM_TASKS_COMPLETED tasks become Argo exit hooks), so
  the claim is deleted after a failure too, as Argo deletes volumeClaimTemplates. A second data
  set nests a second exit handler: the backend supports one exit task per group. Mounts are
  read-write: kfp-kubernetes 2.17.3's PvcMount has no readOnly field.
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

from cnai import __version__
from cnai.backends import k8s, kfp_cel, kfp_platform
from cnai.backends.kfp_dag import (
    Channel,
    Dag,
    Group,
    GroupKind,
    Spec,
    Task,
    dag_outputs,
    task_output,
)
from cnai.context import CompileContext
from cnai.semantics import ir
from cnai.source import Span

SCHEMA_VERSION = "2.1.0"
SDK_VERSION = f"cnai-{__version__}"
NO_RETRY_DEADLINE = "2147483647s"  # ~68 years: Argo's duration math holds it without overflow
EXIT_STRATEGY = "ALL_UPSTREAM_TASKS_COMPLETED"
PARAMETER_TYPES = {"string": "STRING", "int": "NUMBER_INTEGER", "float": "NUMBER_DOUBLE",
                   "bool": "BOOLEAN", "list": "LIST"}
ARTIFACT_SCHEMAS = {"artifact": "system.Artifact", "dataset": "system.Dataset",
                    "model": "system.Model", "metrics": "system.Metrics"}
GROUP_WORDS = {"loop": "`for` loops are", "branch": "`if` blocks are",
               "finally": "`finally` blocks are"}
STEP_WORDS = {"distributed": "distributed steps are", "service": "services are",
              "dataload": "Fluid data loads are"}
# The driver reads these in container arguments (backend/src/v2/driver/util.go).
RESERVED_TEXT = ("{{$",)
CONDITION_CLAUSE = '{"IfPresent":'


def emit(pipeline: ir.Pipeline, ctx: CompileContext) -> list[dict[str, Any]]:
    return KfpBackend(pipeline, ctx).documents()


class Unsupported(Exception):
    """Something in a step that KFP cannot express; the message is for the user."""


def type_spec(type_: ir.Type) -> Spec:
    if type_.is_artifact:
        return {"artifactType": {"schemaTitle": ARTIFACT_SCHEMAS[type_.name],
                                 "schemaVersion": "0.0.1"}}
    return {"parameterType": PARAMETER_TYPES[type_.name]}


def definitions(named: list[tuple[str, Spec]]) -> Spec:
    """``inputDefinitions`` / ``outputDefinitions`` from (name, type spec) pairs."""
    spec: Spec = {}
    for name, typed in named:
        kind = "artifacts" if "artifactType" in typed else "parameters"
        spec.setdefault(kind, {})[name] = typed
    return spec


class KfpBackend:
    def __init__(self, pipeline: ir.Pipeline, ctx: CompileContext) -> None:
        self.pipeline = pipeline
        self.ctx = ctx
        self.dag = Dag()
        self.taken = {s.k8s_name for s in pipeline.steps}
        self.group_number = 0
        self.datasets_by_name = {d.name: d for d in pipeline.datasets}
        self.step_tasks: dict[str, Task] = {}
        self.pvc_tasks: dict[str, Task] = {}
        self.components: Spec = {}
        self.executors: Spec = {}
        self.platform: Spec = {}

    def documents(self) -> list[dict[str, Any]]:
        body = self.datasets()
        for step in self.pipeline.steps:
            self.place(step, body)
        refused = self.refuse()
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
        if self.platform:
            documents.append({"platforms": {"kubernetes": {"deploymentSpec": {
                "executors": self.platform}}}})
        return documents

    # ---- names ------------------------------------------------------------------------

    def fresh(self, base: str) -> str:
        name, counter = base, 2
        while name in self.taken:
            name, counter = f"{base}-{counter}", counter + 1
        self.taken.add(name)
        return name

    def group(self, kind: GroupKind, parent: Group) -> Group:
        """A new ``exit-handler-N`` / ``condition-N``, numbered in one sequence as kfp does."""
        self.group_number += 1
        while f"{kind}-{self.group_number}" in self.taken:
            self.group_number += 1
        name = self.fresh(f"{kind}-{self.group_number}")
        group = Group(name, parent, kind=kind)
        group.spec = {"taskInfo": {"name": name}, "componentRef": {"name": f"comp-{name}"}}
        self.dag.add(group)
        return group

    # ---- the task tree ----------------------------------------------------------------

    def datasets(self) -> Group:
        """Create each data set's PVC and nest the rest in exit handlers that delete it."""
        body = self.dag.root
        for dataset in self.pipeline.datasets:
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
        name = self.fresh(base)
        task = Task(name, parent)
        task.spec = {"taskInfo": {"name": name}, "componentRef": {"name": f"comp-{name}"},
                     "cachingOptions": {"enableCache": False}}
        self.components[f"comp-{name}"] = component(f"exec-{name}")
        self.executors[f"exec-{name}"] = kfp_platform.placeholder_executor(image)
        self.dag.add(task)
        return task

    def place(self, step: ir.Step, body: Group) -> None:
        parent = body if step.when is None else self.group("condition", body)
        task = Task(step.k8s_name, parent)
        task.spec = {"taskInfo": {"name": task.name},
                     "componentRef": {"name": f"comp-{step.template or task.name}"},
                     "cachingOptions": {"enableCache": step.cache}}
        self.step_tasks[step.name] = self.dag.add(task)

    # ---- one step -----------------------------------------------------------------------

    def refuse(self) -> set[str]:
        """Report what this version cannot put on Kubeflow, once per construct; returns the
        steps those constructs hold, which are then left out."""
        pipeline, refused = self.pipeline, set()
        for group in pipeline.groups:
            if not (isinstance(group, ir.Branch) and group.index > 0):  # once per chain
                self.refuse_one(group.span, GROUP_WORDS[group.kind])
        refused |= {s.name for s in pipeline.steps if s.group is not None}
        for dataset in pipeline.datasets:
            if dataset.engine != "copy":
                self.refuse_one(dataset.span, f"`engine = \"{dataset.engine}\"` data sets are")
        for step in pipeline.steps:
            if step.kind in STEP_WORDS:
                refused.add(step.name)
                if step.kind != "dataload":  # refused with its data set
                    self.refuse_one(step.span, STEP_WORDS[step.kind])
            elif step.disruption_budget is not None:
                self.refuse_one(step.span, "`disruption_budget` settings are")
        if any(s.scheduling and (s.scheduling.scheduler or s.scheduling.queue
                                 or s.scheduling.priority) for s in pipeline.steps):
            self.refuse_one(pipeline.span, "`scheduling` with a scheduler, queue or priority "
                            "is")
        if pipeline.quota is not None:
            self.refuse_one(pipeline.quota.span, "`quota` settings are")
        return refused

    def refuse_one(self, span: Span, what: str) -> None:
        self.ctx.unsupported(span, "E0401", f"{what} not supported on Kubeflow by this "
                             "version of cnai", help="compile with --target argo")

    def step(self, step: ir.Step) -> None:
        task = self.step_tasks[step.name]
        for item in step.inputs:
            kind = "artifacts" if item.type.is_artifact else "parameters"
            task.spec.setdefault("inputs", {}).setdefault(kind, {})[item.name] = (
                {"runtimeValue": {"constant": item.source.value}}
                if isinstance(item.source, ir.Literal_)
                else self.dag.reference(self.channel(item.source), task))
        for dependency in step.depends:
            self.dag.depend(task, self.step_tasks[dependency.step])
        if step.retry is not None:
            task.spec["retryPolicy"] = retry_policy(step.retry)
        if step.when is not None:
            self.gate(step.when, task)
        pvc_names = [self.dag.reference(self.pvc_name(m.dataset), task) for m in step.mounts]
        claim = None
        if step.kind == "preload":
            claim = k8s.source_claim(self.datasets_by_name[step.mounts[0].dataset])
        config = kfp_platform.executor_config(step, pvc_names, self.ctx.options, claim)
        # Steps that share a template (dedupe_templates) share one component and executor;
        # the pass gives them the same container and Kubernetes settings.
        shared = step.template or task.name
        if config:
            self.platform.setdefault(f"exec-{shared}", config)
        self.components.setdefault(f"comp-{shared}", self.component(step, shared))
        self.executors.setdefault(f"exec-{shared}", {"container": self.container(step)})

    def gate(self, gate: ir.Gate, task: Task) -> None:
        group = task.parent
        assert isinstance(group, Group) and group.kind == "condition"
        try:
            text = kfp_cel.condition(
                gate.expr, lambda ref: self.dag.bring_in(self.channel(ref), group))
        except kfp_cel.CelError as error:
            self.ctx.unsupported(gate.span, "E0401", str(error))
            return
        group.spec["triggerPolicy"] = {"condition": text}

    def channel(self, source: ir.Source | ir.Expr) -> Channel:
        if isinstance(source, ir.ParamRef):
            return Channel(None, source.name, type_spec(source.type))
        if isinstance(source, ir.OutputRef):
            return Channel(self.step_tasks[source.step].name, source.output,
                           type_spec(source.type))
        raise Unsupported(f"{source.kind} references are not supported on Kubeflow yet")

    def pvc_name(self, dataset: str) -> Channel:
        return Channel(self.pvc_tasks[dataset].name, kfp_platform.PVC_NAME_OUTPUT,
                       {"parameterType": "STRING"})

    def component(self, step: ir.Step, name: str) -> Spec:
        component: Spec = {"executorLabel": f"exec-{name}"}
        inputs = definitions([(i.name, type_spec(i.type)) for i in step.inputs])
        if inputs:
            component["inputDefinitions"] = inputs
        for output in step.outputs:
            if output.path is not None:
                self.ctx.unsupported(
                    output.span, "E0401", f"output `{output.name}` is written to a fixed path; "
                    "on Kubeflow the launcher chooses where outputs go",
                    help=f"write it to `outputs.{output.name}` in the command instead")
        outputs = definitions([(o.name, type_spec(o.type)) for o in step.outputs])
        if outputs:
            component["outputDefinitions"] = outputs
        return component

    def container(self, step: ir.Step) -> Spec:
        image = self.ctx.options.runtime_image(step.runtime) if step.runtime else step.image
        container: Spec = {"image": image}
        if step.command:
            container["command"] = [self.text(step, t) for t in step.command]
        if step.args:
            container["args"] = [self.text(step, t) for t in step.args]
        env = [self.env_var(step, v) for v in step.env if v.secret is None]
        if env:
            container["env"] = env
        resources = kfp_platform.container_resources(step.resources)
        if resources:
            container["resources"] = resources
        return container

    def env_var(self, step: ir.Step, var: ir.EnvVar) -> Spec:
        assert var.value is not None
        if not var.value.is_literal:
            raise Unsupported(f"environment variable `{var.name}` of step `{step.name}` reads a "
                              "value; Kubeflow sets environment variables verbatim (pass the "
                              "value in `command` instead)")
        return {"name": var.name, "value": self.literal(step, var.value.literal)}

    def text(self, step: ir.Step, text: ir.Text) -> str:
        pieces = []
        for part in text.parts:
            if isinstance(part, str):
                pieces.append(self.literal(step, part))
            elif isinstance(part, ir.OutputPath):
                kind = "artifacts" if step.output(part.name).type.is_artifact else "parameters"
                field = "path" if kind == "artifacts" else "output_file"
                pieces.append(f"{{{{$.outputs.{kind}['{part.name}'].{field}}}}}")
            elif step.input(part.name).type.is_artifact:
                pieces.append(f"{{{{$.inputs.artifacts['{part.name}'].path}}}}")
            else:
                pieces.append(f"{{{{$.inputs.parameters['{part.name}']}}}}")
        rendered = "".join(pieces)
        if rendered.strip().startswith(CONDITION_CLAUSE):
            raise Unsupported(f"an argument of step `{step.name}` starts with "
                              f"`{CONDITION_CLAUSE}`, which KFP's driver reads as a condition")
        return rendered

    def literal(self, step: ir.Step, text: str) -> str:
        if any(marker in text for marker in RESERVED_TEXT):
            raise Unsupported(f"step `{step.name}` has `{{{{$` in its text, which KFP reads as a "
                              "placeholder")
        return text

    # ---- groups and the pipeline ------------------------------------------------------

    def group_component(self, group: Group) -> Spec:
        component: Spec = {"dag": {"tasks": self.tasks(group)}}
        inputs = definitions([(n, c.type_spec) for n, c in sorted(group.inputs.items())])
        if inputs:
            component["inputDefinitions"] = inputs
        outputs, output_definitions = dag_outputs(group)
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
