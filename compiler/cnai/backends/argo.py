"""Argo Workflows backend: one Workflow with a DAG template and a container template per step.

Choices, with the Argo sources they rest on (argoproj/argo-workflows v4.1.2, also true of v3.6):
- Dependencies use ``depends`` with ``X.Succeeded``: with plain ``dependencies`` a Skipped task
  counts as done and would fire its dependants (workflow/controller/dag.go).
- Gates use an expression tag, ``when: "{{= ... }}"``. Argo substitutes tags in ``when`` first
  (expr-lang, util/template/expression_template.go) and hands the result to govaluate
  (shouldExecute in workflow/controller/steps.go). Pasting values into govaluate text would let
  a value holding a quote or an operator rewrite the condition; inside the expression, values
  are data. Numbers are cast with asFloat/asInt (util/expr/env/env.go); task names are indexed
  (``tasks['my-step']``) because expr reads ``-`` as minus (docs/variables.md).
- Outputs of steps that may be skipped get ``valueFrom.default: ""`` (docs/variables.md,
  "Outputs of Skipped and Omitted Nodes"); their consumers never run, as they depend on
  ``.Succeeded``, but exit handlers may read them.
- Gates read an output's text as cnai/output_text.py says, so they decide as Kubeflow's do:
  numbers and bools ``trim``-med (strings.TrimSpace, as the KFP launcher), a bool true for
  Go's ParseBool spellings of true; the executor already trimmed one trailing newline.
- A fan-in is typed and holds the iterations where the step succeeded: each iteration of the
  loop body exports ``[value]`` or ``[]`` (``valueFrom.expression`` over the task's status, so
  a skipped step never leaves an absent reference that would fail the body), Argo parses the
  aggregated lists (operator.go, aggregatedJSONValueList) and the reader takes them apart.
- Memoization keys must match ``^[a-zA-Z0-9][-a-zA-Z0-9]*$``
  (workflow/controller/cache/cache.go), so the key is a sha256 of the step's spec and inputs.
"""

from __future__ import annotations

import hashlib
import json
from itertools import pairwise
from typing import Any

from cnai import function_contract, output_text
from cnai.backends import (
    argo_control,
    argo_hygiene,
    argo_package,
    argo_resources,
    argo_settings,
    cloud,
    identity,
    k8s,
    k8s_placement,
)
from cnai.backends.argo_resources import MAIN
from cnai.context import CompileContext
from cnai.contract import param_text
from cnai.lowering import (
    FINALLY,
    PlanTask,
    ScopeId,
    StatusRef,
    Value,
    build_plan,
    export_name,
    import_name,
    partition_plan,
)
from cnai.semantics import ir
from cnai.semantics.units import Names, generate_name, k8s_name

API_VERSION = "argoproj.io/v1alpha1"
# Argo v4's full CRDs cap spec.templates and each DAG's tasks (maxItems in
# manifests/base/crds/full/argoproj.io_workflows.yaml).
MAX_ITEMS = 200
ENTRYPOINT = "main"
CACHE_CONFIGMAP = "cnai-cache"
LOOP_ITEMS = "items"  # the wrapper's input holding the list a `parallel` loop runs over
ITERATION = "iteration"  # the task in that wrapper that runs the body once per item
CRON_NAME_MAX = 52
# Go's strconv.ParseBool spellings of true (cnai.output_text), as an expr-lang list.
_TRUTHS = "[" + ", ".join(f"'{t}'" for t in output_text.TRUE_TEXTS) + "]"
CLAIM_GC = "OnWorkflowCompletion"  # delete the run's claims after success and failure


def emit(pipeline: ir.Pipeline, ctx: CompileContext) -> list[dict[str, Any]]:
    """The Workflow (or CronWorkflow), its DAGs partitioned to MAX_ITEMS tasks; over 1 MiB or
    MAX_ITEMS templates, the WorkflowTemplates it needs first (argo_package); then the
    namespace objects it needs."""
    workflow = ArgoBackend(pipeline, ctx).workflow()
    packed = argo_package.package_sized(workflow, pipeline.k8s_name)
    ctx.sizes.update((id(document), (document, size)) for document, size in packed)
    return [*(document for document, _ in packed), *cloud.quota_objects(pipeline)]


class ArgoBackend:
    def __init__(self, pipeline: ir.Pipeline, ctx: CompileContext,
                 limit: int | None = MAX_ITEMS) -> None:
        """``limit``: the most tasks a DAG may have before it is partitioned (None: never)."""
        self.pipeline = pipeline
        self.ctx = ctx
        self.plan = build_plan(pipeline, flows=limit is None)  # partitioning notes them
        self.values = ArgoValues(self)
        self.inputs = k8s.InputsByName()
        self.skippable = self.plan.skippable
        templates = Names(ENTRYPOINT)
        self.loop_templates: dict[str, tuple[str, str]] = {}  # loop -> (task template, body)
        self.finally_template = templates.take(FINALLY) if self._has_finally() else ""
        for group in pipeline.groups:
            if isinstance(group, ir.Loop):
                body = templates.take(f"{group.id}-body")
                outer = templates.take(group.id) if group.parallelism else body
                self.loop_templates[group.id] = (outer, body)
        # Each step is a chain of tasks (a PodDisruptionBudget before a training job, Istio
        # routing after a Knative Service): (role, task name wanted, template name).
        self.links: dict[str, list[tuple[str, str, str]]] = {}
        self.template_names: dict[str, str] = {}  # step -> the template of its MAIN task
        shared: dict[str, str] = {}  # dedupe_templates' group -> its one template
        # The steps whose templates workflow() renders: one per dedupe_templates' group.
        self.template_steps: list[ir.Step] = []
        emitted: set[str] = set()
        for step in pipeline.steps:
            if step.template is None or step.template not in emitted:
                emitted.add(step.template or step.name)
                self.template_steps.append(step)
            links = []
            for role in argo_resources.roles(step):
                if role != MAIN:
                    base = f"{step.k8s_name}-{role}"
                    links.append((role, base, templates.take(base)))
                    continue
                if step.template is None:
                    template = templates.take(step.k8s_name)
                else:
                    found = shared.get(step.template)
                    if found is None:
                        found = shared[step.template] = templates.take(step.template)
                    template = found
                links.append((role, step.k8s_name, template))
                self.template_names[step.name] = template
            self.links[step.name] = links
        self.part_templates: dict[str, str] = {}  # part scope -> its DAG template
        if limit is not None and partition_plan(self.plan, self._weight, limit):
            self._refuse_cut_outcomes()
            parts = [s for s in self.plan.scopes.values() if s.kind == "part"]
            parts.sort(key=lambda s: len(self.plan.chain(s.id)))  # parents first
            for part in parts:
                assert part.id is not None
                parent = self.dag_template_name(self.plan.parent(part.id))
                self.part_templates[part.id] = templates.take(f"{parent}-{_part_task(part.id)}")
        self.task_names: dict[ScopeId, dict[str, str]] = {}
        self.last_tasks: dict[ScopeId, dict[str, str]] = {}

    def _refuse_cut_outcomes(self) -> None:
        """A wait for a failure or an end that partitioning put across parts: the later part
        waits for the earlier one to succeed (lowering/partition.py), so the step would
        never run after the failure it handles. Refused rather than emitted."""
        if not self.plan.cut_outcomes:
            return
        member, waited = self.plan.cut_outcomes[0]
        step = self.pipeline.step(member)
        self.ctx.unsupported(
            step.span, "E0401", f"`{step.name}` waits for `{waited}` to fail or end, but the "
            f"DAG is over Argo's {MAX_ITEMS} tasks and is cut into parts between them; a "
            "part waits for the parts before it to succeed",
            help="put the failure handling in `finally` (it runs whatever happened and reads "
            "`pipeline.status`), or make the pipeline's DAG smaller")

    def _has_finally(self) -> bool:
        return any(isinstance(g, ir.Finally) for g in self.pipeline.groups)

    def _weight(self, member: PlanTask) -> int:
        """The tasks a member renders as: a step's chain, or one."""
        return len(self.links[member.name]) if member.kind == "step" else 1

    def dag_template_name(self, scope: ScopeId) -> str:
        if scope is None:
            return ENTRYPOINT
        if scope == FINALLY:
            return self.finally_template
        if scope in self.loop_templates:
            return self.loop_templates[scope][1]
        return self.part_templates[scope]

    # ---- workflow ---------------------------------------------------------------------

    def workflow(self) -> dict[str, Any]:
        pipeline = self.pipeline
        labels = {"cnai.dev/pipeline": pipeline.k8s_name}
        metadata: dict[str, Any] = {"labels": labels}
        if pipeline.description:
            metadata["annotations"] = {"workflows.argoproj.io/description": pipeline.description}
        templates = [self.dag_template(ENTRYPOINT, None)]
        for group in pipeline.groups:
            if isinstance(group, ir.Loop):
                templates += self.loop_templates_of(group)
        if self.finally_template:
            templates.append(self.dag_template(self.finally_template, FINALLY))
        for step in self.template_steps:
            templates += argo_resources.templates(self, step)
        templates += [self.part_template(part) for part in self.part_templates]
        spec: dict[str, Any] = {"entrypoint": ENTRYPOINT, "templates": templates}
        parallelism = cloud.gpu_parallelism(pipeline)
        if parallelism is not None:
            spec["parallelism"] = parallelism
        identity.workflow_spec(pipeline, spec)  # service account, image pull secrets
        argo_control.workflow_synchronization(pipeline, spec)  # the run's locks
        volumes = argo_resources.workflow_volumes(pipeline)
        if volumes:
            spec["volumes"] = volumes
        if self.finally_template:
            spec["onExit"] = self.finally_template
        if pipeline.params:
            spec["arguments"] = {"parameters": [self.param(p) for p in pipeline.params]}
        claims = [self.claim(d) for d in pipeline.datasets if d.engine == "copy"]
        if claims:
            spec["volumeClaimTemplates"] = claims
            # Argo's default, OnWorkflowSuccess, keeps a failed run's claims until the
            # Workflow is deleted (workflow/controller/operator.go, deletePVCs); KFP's DeletePVC
            # exit task deletes them whatever the outcome, and so do we.
            spec["volumeClaimGC"] = {"strategy": CLAIM_GC}
        if pipeline.schedule is None:
            metadata["generateName"] = generate_name(pipeline.name)
            return argo_hygiene.workflow(pipeline, {
                "apiVersion": API_VERSION, "kind": "Workflow", "metadata": metadata,
                "spec": spec})
        # Argo v4 removed CronWorkflowSpec.schedule; `schedules` works on v3.6+ and v4. Argo
        # appends "-" and a 10-digit time to a CronWorkflow's name for each run, so the name
        # is kept to 52 characters.
        metadata["name"] = k8s_name(pipeline.name, CRON_NAME_MAX)
        return argo_hygiene.workflow(pipeline, {
            "apiVersion": API_VERSION, "kind": "CronWorkflow", "metadata": metadata,
            "spec": {"schedules": [pipeline.schedule], "workflowSpec": spec,
                     "workflowMetadata": {"labels": dict(labels)}}})

    def param(self, param: ir.Param) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": param.name}
        if param.default is not None:
            entry["value"] = param_text(param.default)
        return entry

    def claim(self, dataset: ir.Dataset) -> dict[str, Any]:
        return {"metadata": {"name": dataset.k8s_name}, "spec": k8s.pvc_spec(dataset)}

    # ---- DAG templates: the plan's scopes, rendered -----------------------------------

    def dag_template(self, name: str, scope: ScopeId) -> dict[str, Any]:
        members = self.plan.members(scope)
        names = Names()
        task_names: dict[str, str] = {}
        last_tasks: dict[str, str] = {}
        self.task_names[scope], self.last_tasks[scope] = task_names, last_tasks
        chains: dict[str, list[str]] = {}  # a step's tasks, when it has more than one
        others: list[PlanTask] = []  # loops and parts
        for member in members:  # steps take their names first, as they always have
            if member.step is None:
                others.append(member)
                continue
            links = self.links[member.name]
            if len(links) == 1:  # most steps: one task
                task_names[member.name] = last_tasks[member.name] = names.take(links[0][1])
                continue
            taken = chains[member.name] = [names.take(base) for _, base, _ in links]
            task_names[member.name] = next(
                task for (role, _, _), task in zip(links, taken, strict=True) if role == MAIN)
            last_tasks[member.name] = taken[-1]
        for member in others:
            base = member.name if member.loop is not None else _part_task(member.name)
            task_names[member.name] = last_tasks[member.name] = names.take(base)
        tasks: list[dict[str, Any]] = []
        for member in members:
            if member.step is not None:
                self.step_tasks(member, member.step, scope,
                                chains.get(member.name) or [task_names[member.name]], tasks)
            elif member.loop is not None:
                tasks.append(self.loop_task(member, member.loop, scope))
            else:
                tasks.append(self.part_task(member, scope))
        return {"name": name, "dag": {"tasks": tasks}}

    def task_name(self, member: str, scope: ScopeId) -> str:
        return self.task_names[scope][member]

    def _depends(self, member: PlanTask, scope: ScopeId) -> str | None:
        if not member.waits_for:
            return None
        last = self.last_tasks[scope]
        # Sorted by task name: each member of a DAG has a task name of its own.
        if not member.outcomes:  # most members wait for success alone
            return argo_hygiene.depends_on_success(sorted(
                [last[name] for name in member.waits_for]))
        return argo_hygiene.depends_on(sorted(
            [(last[name], member.outcome(name)) for name in member.waits_for]))

    def step_tasks(self, member: PlanTask, step: ir.Step, scope: ScopeId, names: list[str],
                   tasks: list[dict[str, Any]]) -> None:
        """The step's chain of tasks (named ``names``), added to ``tasks``: the first task
        waits for the step's dependencies and carries its conditions, one gets its inputs,
        each later one waits for the one before."""
        input_role = argo_resources.input_role(step)
        for index, (role, _, template) in enumerate(self.links[step.name]):
            name = names[index]
            task: dict[str, Any] = {"name": name, "template": template}
            depends: str | None
            if index == 0:
                depends = self._depends(member, scope)
                if member.conditions or member.status_waits:
                    when = self.when(member, scope)
                    if when:
                        task["when"] = when
            else:
                depends = f"{names[index - 1]}.Succeeded"
            if step.continue_on_failure:
                argo_hygiene.continue_on(step, task)
            if depends:
                task["depends"] = depends
            if role == input_role and step.inputs:
                task["arguments"] = self.arguments(
                    [(item.name, item.source) for item in step.inputs], scope)
            tasks.append(task)

    def loop_task(self, member: PlanTask, loop: ir.Loop, scope: ScopeId) -> dict[str, Any]:
        outer, _body = self.loop_templates[loop.id]
        task: dict[str, Any] = {"name": self.task_name(loop.id, scope), "template": outer}
        depends = self._depends(member, scope)
        if depends:
            task["depends"] = depends
        imports: list[tuple[str, Value]] = sorted(self.plan.scopes[loop.id].imports.items())
        literal = isinstance(loop.items, ir.Literal_)
        if loop.parallelism and not literal:  # the wrapper DAG iterates over its input
            imports = [*imports, (LOOP_ITEMS, loop.items)]
        arguments = self.arguments(imports, scope)
        if not loop.parallelism:
            _iterate(task, loop, arguments,
                     "" if literal else self.values.tag(loop.items, scope))
        if arguments:
            task["arguments"] = arguments
        when = self.when(member, scope)
        if when:
            task["when"] = when
        return task

    def part_task(self, member: PlanTask, scope: ScopeId) -> dict[str, Any]:
        task: dict[str, Any] = {"name": self.task_name(member.name, scope),
                                "template": self.part_templates[member.name]}
        depends = self._depends(member, scope)
        if depends:
            task["depends"] = depends
        arguments = self.arguments(sorted(self.plan.scopes[member.name].imports.items()), scope)
        if arguments:
            task["arguments"] = arguments
        return task

    def part_template(self, part: str) -> dict[str, Any]:
        """A part of a partitioned DAG: its members' DAG, what they read from outside as
        inputs, what is read of them outside as outputs (lowering/partition.py)."""
        template = self.dag_template(self.part_templates[part], part)
        scope = self.plan.scopes[part]
        inputs = self.dag_inputs(sorted(scope.imports.items()))
        inputs = {kind: entries for kind, entries in inputs.items() if entries}
        if inputs:
            template["inputs"] = inputs
        parameters, artifacts = [], []
        for name, source in sorted(scope.exports.items()):
            member, text = self.values.raw_tag(source, part)
            # What was skipped or omitted has no outputs: a default keeps the part's outputs
            # resolvable (docs/variables.md, "Outputs of Skipped and Omitted Nodes").
            optional = not isinstance(source, StatusRef) and (
                self.plan.member(member).may_skip or member in self.plan.skippable)
            if source.type.is_artifact:
                artifacts.append({"name": name, "from": text,
                                  **({"optional": True} if optional else {})})
            else:
                value_from: dict[str, Any] = {"parameter": text}
                if optional:
                    value_from["default"] = ""
                parameters.append({"name": name, "valueFrom": value_from})
        outputs = _lists(parameters, artifacts)
        if outputs:
            template["outputs"] = outputs
        return template

    def loop_templates_of(self, loop: ir.Loop) -> list[dict[str, Any]]:
        """The body DAG, and for ``parallel N`` a DAG around it that caps the iterations."""
        outer, body_name = self.loop_templates[loop.id]
        imports: list[tuple[str, Value]] = sorted(self.plan.scopes[loop.id].imports.items())
        body = self.dag_template(body_name, loop.id)
        inputs = self.dag_inputs(imports)
        inputs["parameters"].insert(0, {"name": loop.var})
        body["inputs"] = inputs
        exports = sorted(self.plan.scopes[loop.id].exports.items())
        outputs = self.export_outputs(exports, loop.id, loop)
        if outputs:
            body["outputs"] = outputs
        if not loop.parallelism:
            return [body]
        wrapper_imports = list(imports)
        if not isinstance(loop.items, ir.Literal_):
            wrapper_imports.append((LOOP_ITEMS, loop.items))
        task: dict[str, Any] = {"name": ITERATION, "template": body_name}
        passed = [{"name": name, "value": f"{{{{inputs.parameters.{name}}}}}"}
                  for name, source in imports if not source.type.is_artifact]
        artifacts = [{"name": name, "from": f"{{{{inputs.artifacts.{name}}}}}"}
                     for name, source in imports if source.type.is_artifact]
        arguments: dict[str, Any] = {"parameters": passed}
        if artifacts:
            arguments["artifacts"] = artifacts
        _iterate(task, loop, arguments, f"{{{{inputs.parameters.{LOOP_ITEMS}}}}}")
        task["arguments"] = arguments
        wrapper: dict[str, Any] = {"name": outer, "parallelism": loop.parallelism,
                                   "dag": {"tasks": [task]}}
        wrapper_inputs = self.dag_inputs(wrapper_imports)
        if wrapper_inputs["parameters"] or wrapper_inputs.get("artifacts"):
            wrapper["inputs"] = {k: v for k, v in wrapper_inputs.items() if v}
        if outputs:
            wrapper["outputs"] = {"parameters": [
                {"name": p["name"], "valueFrom": {
                    "parameter": f"{{{{tasks.{ITERATION}.outputs.parameters.{p['name']}}}}}"}}
                for p in outputs["parameters"]]}
        return [wrapper, body]

    def dag_inputs(self, imports: list[tuple[str, Value]]) -> dict[str, Any]:
        parameters = [{"name": n} for n, s in imports if not s.type.is_artifact]
        artifacts = [{"name": n} for n, s in imports if s.type.is_artifact]
        inputs: dict[str, Any] = {"parameters": parameters}
        if artifacts:
            inputs["artifacts"] = artifacts
        return inputs

    def export_outputs(self, exports: list[tuple[str, ir.OutputRef | StatusRef]],
                       scope: ScopeId, loop: ir.Loop) -> dict[str, Any]:
        parameters = []
        for name, source in exports:
            assert isinstance(source, ir.OutputRef)
            producer = self.pipeline.step(source.step)
            if producer.output(source.output).type.is_artifact:
                self.ctx.unsupported(
                    loop.span, "E0401", f"`{source.step}.{source.output}` is an artifact made "
                    f"in loop `{loop.var}`; Argo aggregates parameters only, not artifacts",
                    help="write what the next steps need as a parameter output, or read the "
                    "artifact inside the loop")
                continue
            # Each iteration exports a JSON list: [its value, typed as declared] if the step
            # succeeded, [] if it was skipped or omitted. Argo aggregates the iterations'
            # texts and, as all of them are JSON lists, parses them (operator.go,
            # aggregatedJSONValueList); ArgoValues.gathered takes the one value out of each.
            # No `default` here: a value that does not read as its type fails the loop.
            read = self.values.typed(self.values.raw_operand(source, scope),
                                     producer.output(source.output).type)
            status = self.values.raw_operand(StatusRef(source.step), scope)
            expression = f"{status} == 'Succeeded' ? toJson([{read}]) : '[]'"
            parameters.append({"name": name, "valueFrom": {"expression": expression}})
        return {"parameters": parameters} if parameters else {}

    def arguments(self, values: list[tuple[str, Value]], scope: ScopeId) -> dict[str, Any]:
        parameters, artifacts = [], []
        worked_out = self.values.argument
        # Each source's argument is worked out once per scope (ArgoValues.argument_texts),
        # looked up here without a call: every step has a few, most read before in its DAG.
        texts = self.values.texts_in(scope)
        for name, source in values:
            found = texts.get(id(source))
            if found is None:
                found = texts[id(source)] = (source, *worked_out(source, scope))
            if found[1]:
                artifacts.append({"name": name, "from": found[2]})
            else:
                parameters.append({"name": name, "value": found[2]})
        return _lists(parameters, artifacts)

    def when(self, member: PlanTask, scope: ScopeId) -> str | None:
        """The member's conditions as one expression tag: the statuses it needs from earlier
        parts, the conditions of the branches around it (within its DAG), its own gate."""
        conditions = [f"{self.values.raw_operand(StatusRef(name), scope)} == 'Succeeded'"
                      for name in member.status_waits]
        for condition in member.conditions:
            expr = self.values.expr(condition.expr, scope)
            conditions.append(expr if condition.expected else f"!({expr})")
        if not conditions:
            return None
        body = conditions[0] if len(conditions) == 1 else " && ".join(
            f"({c})" for c in conditions)
        return "{{=" + body + "}}"

    # ---- container templates ----------------------------------------------------------

    def container_template(self, step: ir.Step) -> dict[str, Any]:
        template: dict[str, Any] = {"name": self.template_names[step.name]}
        inputs = self.template_inputs(step)
        if inputs:
            template["inputs"] = inputs
        outputs = self.template_outputs(step)
        if outputs:
            template["outputs"] = outputs
        template["container"] = self.container(step)
        volumes = self.volumes(step)
        if volumes:
            template["volumes"] = volumes
        if step.runtime is not None:  # our images run as a non-root user (runtime_images/)
            template["securityContext"] = {"fsGroup": k8s.RUNTIME_GROUP}
        # The step's settings (semantics/settings.py), each by its registered renderer.
        for render in argo_settings.TEMPLATE_RENDERERS.values():
            render(self, step, template)
        if step.function is not None:
            return _script_template(step, template)
        return template

    def volumes(self, step: ir.Step) -> list[dict[str, Any]]:
        """Pod volumes beyond the data sets (those are the workflow's claim templates)."""
        volumes: list[dict[str, Any]] = []
        if step.outputs:
            volumes.append({"name": k8s.OUTPUTS_VOLUME, "emptyDir": {}})
        claim = self.source_claim(step)
        if claim is not None:
            volumes.append({"name": k8s.SOURCE_VOLUME, "persistentVolumeClaim": {
                "claimName": claim[0], "readOnly": True}})
        secret = k8s.preload_credentials(self.pipeline, step)
        if secret is not None:
            volumes.append({"name": k8s.CREDENTIALS_VOLUME, "secret": {"secretName": secret}})
        return volumes

    def source_claim(self, step: ir.Step) -> tuple[str, str] | None:
        if step.kind != "preload":
            return None
        return k8s.source_claim(self.pipeline.dataset(step.mounts[0].dataset))

    def template_inputs(self, step: ir.Step) -> dict[str, Any]:
        parameters = [{"name": i.name} for i in step.inputs if not i.type.is_artifact]
        artifacts = [{"name": i.name, "path": f"{k8s.INPUTS_DIR}/{i.name}"}
                     for i in step.inputs if i.type.is_artifact]
        return _lists(parameters, artifacts)

    def template_outputs(self, step: ir.Step) -> dict[str, Any]:
        parameters, artifacts = [], []
        for output in step.outputs:
            if output.stdout:  # `outputs.result`, kept by the executor (ArgoValues._where)
                continue
            path = k8s.output_path(step, output.name)
            if output.type.is_artifact:
                artifacts.append({"name": output.name, "path": path})
            else:
                value_from: dict[str, Any] = {"path": path}
                if step.name in self.skippable:
                    value_from["default"] = ""
                parameters.append({"name": output.name, "valueFrom": value_from})
        return _lists(parameters, artifacts)

    def container(self, step: ir.Step) -> dict[str, Any]:
        image = k8s_placement.image(step, self.ctx.options, lambda t: self.text(step, t))
        container = k8s.container(step, self.pipeline, image, lambda t: self.text(step, t),
                                  lambda name: f"{{{{inputs.parameters.{name}}}}}")
        mounts = container.pop("volumeMounts", [])
        if step.outputs:
            mounts.append({"name": k8s.OUTPUTS_VOLUME, "mountPath": k8s.OUTPUTS_DIR})
        claim = self.source_claim(step)
        if claim is not None:
            mounts.append({"name": k8s.SOURCE_VOLUME, "mountPath": claim[1], "readOnly": True})
        if k8s.preload_credentials(self.pipeline, step) is not None:
            mounts.append({"name": k8s.CREDENTIALS_VOLUME, "mountPath": k8s.CREDENTIALS_DIR,
                           "readOnly": True})
        if mounts:
            container["volumeMounts"] = mounts
        return container

    def text(self, step: ir.Step, text: ir.Text) -> str:
        """The text with each parameter as a ``{{inputs.parameters.NAME}}`` tag. The checker
        leaves no ``{{`` in literal text, so the only tags are ours; but a literal ``{`` just
        before one of them would make ``{{{``, whose tag Argo reads as ``{inputs...``
        (fasttemplate: a tag ends at the first ``}}``). Such a text is one expression tag
        instead, its literal pieces expr string literals, in which braces are escaped."""
        parts = text.parts
        if len(parts) == 1:  # most texts: one word or placeholder, which cannot make `{{{`
            piece, is_name = self._piece(step, parts[0])
            return f"{{{{inputs.parameters.{piece}}}}}" if is_name else piece
        pieces = [self._piece(step, part) for part in parts]
        if any(not is_name and piece.endswith("{") and next_is_name
               for (piece, is_name), (_, next_is_name) in pairwise(pieces)):
            return "{{=" + " + ".join(f"inputs.parameters['{piece}']" if is_name
                                      else literal(piece) for piece, is_name in pieces) + "}}"
        return "".join(f"{{{{inputs.parameters.{piece}}}}}" if is_name else piece
                       for piece, is_name in pieces)

    def _piece(self, step: ir.Step, part: str | ir.Placeholder) -> tuple[str, bool]:
        """A part of a text: (its text, or the name of the parameter it is; whether a
        parameter's name)."""
        if isinstance(part, str):
            return k8s.literal_text(part), False
        if isinstance(part, ir.OutputPath):
            return k8s.literal_text(k8s.output_path(step, part.name)), False
        if self.inputs(step)[part.name].type.is_artifact:
            return f"{k8s.INPUTS_DIR}/{part.name}", False
        return part.name, True

    def memoize(self, step: ir.Step, template: dict[str, Any]) -> dict[str, Any]:
        spec_hash = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
        values = ", ".join([f"'{spec_hash[:16]}'"] + [
            f"inputs.parameters['{i.name}']" for i in step.inputs if not i.type.is_artifact])
        if any(i.type.is_artifact for i in step.inputs):
            self.ctx.diagnostics.warn(
                "W0201", f"the cache key of `{step.name}` covers its parameters, not the "
                "contents of its input artifacts", step.span, "cached step",
                help=["Argo keys memoization on text; pass a version or digest as a parameter "
                      "if the artifact can change while its producer's inputs do not"])
        # An empty maxAge keeps entries until the ConfigMap is cleared (operator.go).
        return {"key": f"{{{{=sprig.sha256sum(toJson([{values}]))}}}}", "maxAge": "",
                "cache": {"configMap": {"name": CACHE_CONFIGMAP}}}




class ArgoValues:
    """How a value is written in one DAG scope: as a ``{{...}}`` tag in task arguments, or as
    an expr-lang operand in a ``when``."""

    def __init__(self, backend: ArgoBackend) -> None:
        self.backend = backend
        self.plan = backend.plan
        # scope -> id(source) -> (the source, is an artifact, argument text). By identity: the
        # steps of a pipeline share one source object per param or output they read
        # (semantics/step_inputs.py), so most steps find theirs read before in their DAG. The
        # entry holds its source: the id is not another's meanwhile.
        self.argument_texts: dict[ScopeId, dict[int, tuple[Value, bool, str]]] = {}

    def texts_in(self, scope: ScopeId) -> dict[int, tuple[Value, bool, str]]:
        """The arguments worked out in ``scope`` so far (see argument_texts)."""
        texts = self.argument_texts.get(scope)
        if texts is None:
            texts = self.argument_texts[scope] = {}
        return texts

    def _where(self, source: Value, scope: ScopeId) -> tuple[str, str, str, bool]:
        """(root, kind, name, gathered over a loop): e.g. ("tasks.train", "parameters",
        "loss", False); kind "status" for a task's own status, "result" for its stdout
        (output `at stdout`: the executor keeps it as `outputs.result`)."""
        if isinstance(source, ir.OutputRef | StatusRef):
            made_by = source.step if isinstance(source, ir.OutputRef) else source.member
            kind = "artifacts" if source.type.is_artifact else "parameters"
            member = self.plan.representative(made_by, scope)
            if member is None:  # made outside this loop body or part: it came in as an input
                return "inputs", kind, import_name(source), False
            task = self.backend.task_names[scope][member]
            if member != made_by:  # out of a loop (gathered) or a part (as it is)
                return (f"tasks.{task}", kind, export_name(source),
                        self.plan.gathered(made_by, member))
            if isinstance(source, StatusRef):
                return f"tasks.{task}", "status", "", False
            if self.backend.pipeline.step(made_by).output(source.output).stdout:
                return f"tasks.{task}", "result", "", False
            return f"tasks.{task}", kind, source.output, False
        if isinstance(source, ir.ParamRef):
            return "workflow", "parameters", source.name, False
        if isinstance(source, ir.LoopVarRef):
            return "inputs", "parameters", source.name, False
        raise AssertionError(source.kind)

    def argument(self, source: Value, scope: ScopeId) -> tuple[bool, str]:
        """(whether ``source`` is an artifact, its text as a task's argument in ``scope``)."""
        if type(source) is ir.OutputRef and source.field is None:
            made_by = source.step
            if self.plan.member_scope[made_by] == scope:
                # Most arguments: an output made in the reader's DAG (tag and _where's
                # usual case, inline).
                artifact = source.type.is_artifact
                task = self.backend.task_names[scope][made_by]
                producer = self.plan.member(made_by).step  # (the plan's index: one call)
                assert producer is not None
                if producer.output(source.output).stdout:
                    return artifact, f"{{{{tasks.{task}.outputs.result}}}}"
                kind = "artifacts" if artifact else "parameters"
                return artifact, f"{{{{tasks.{task}.outputs.{kind}.{source.output}}}}}"
        if source.type.is_artifact:
            return True, self.tag(source, scope)
        if isinstance(source, ir.Literal_):  # a word dedupe_templates lifted: it is text
            return False, k8s.literal_text(param_text(source.value))
        return False, self.tag(source, scope)

    def tag(self, source: Value, scope: ScopeId) -> str:
        if isinstance(source, ir.OutputRef | ir.ParamRef | ir.LoopVarRef):
            if source.field is not None:
                return "{{=" + self.field_value(source, scope, as_text=True) + "}}"
        elif isinstance(source, ir.PipelineStatus):
            return "{{workflow.status}}"
        elif isinstance(source, ir.Literal_):
            return param_text(source.value)
        root, kind, name, gathered = self._where(source, scope)
        if gathered:
            return "{{=" + self.gathered(f"tasks['{root[len('tasks.'):]}']"
                                         f".outputs.{kind}['{name}']") + "}}"
        return self._tag(root, kind, name)

    @staticmethod
    def _tag(root: str, kind: str, name: str) -> str:
        if kind in ("status", "result"):  # `tasks.X.status`, `tasks.X.outputs.result`
            return f"{{{{{root}.{'status' if kind == 'status' else 'outputs.result'}}}}}"
        if root.startswith("tasks."):
            return f"{{{{{root}.outputs.{kind}.{name}}}}}"
        return f"{{{{{root}.{kind}.{name}}}}}"

    def raw_tag(self, source: ir.OutputRef | StatusRef, scope: ScopeId) -> tuple[str, str]:
        """A part's export: (the member of ``scope`` that makes it, the tag of its text as
        that member holds it: a loop's aggregate is passed on ungathered)."""
        made_by = source.step if isinstance(source, ir.OutputRef) else source.member
        member = self.plan.representative(made_by, scope)
        assert member is not None
        root, kind, name, _ = self._where(source, scope)
        return member, self._tag(root, kind, name)

    def raw_operand(self, source: ir.OutputRef | StatusRef, scope: ScopeId) -> str:
        """An output's text or a status, as an expr-lang operand (not read as a type)."""
        root, kind, name, _ = self._where(source, scope)
        if kind == "status":
            return f"tasks['{root[len('tasks.'):]}'].status"
        if kind == "result":
            return f"tasks['{root[len('tasks.'):]}'].outputs.result"
        if root.startswith("tasks."):
            return f"tasks['{root[len('tasks.'):]}'].outputs.{kind}['{name}']"
        return f"{root}.{kind}['{name}']"

    @staticmethod
    def gathered(aggregate: str) -> str:
        """The fan-in as a JSON list of typed values, from Argo's list of the iterations'
        exports (``[[4], [], [9]]`` -> ``[4,9]``; see ArgoBackend.export_outputs)."""
        return f"toJson(map(filter(fromJSON({aggregate}), len(#) > 0), #[0]))"

    @staticmethod
    def typed(value: str, type_: ir.Type) -> str:
        """An output's text as a typed expr-lang value, read as cnai.output_text says."""
        if type_.name in ("int", "float"):
            return f"{'asInt' if type_.name == 'int' else 'asFloat'}(trim({value}))"
        if type_.name == "bool":
            return f"(trim({value}) in {_TRUTHS})"
        if type_.name in ("list", "record"):
            return f"fromJSON({value})"
        return value

    def field_value(self, source: ir.LoopVarRef | ir.ParamRef | ir.OutputRef, scope: ScopeId,
                    as_text: bool) -> str:
        """A field of a record (``run.lr``), read out of the record's JSON text with Argo's
        ``jsonpath`` (util/expr/env/env.go). An expression tag's value is written with Go's
        ``%v`` (util/template/expression_template.go): numbers and strings as their text,
        so lists (and, in a gate, bools) go through ``toJson``."""
        if isinstance(source, ir.OutputRef):
            whole = self.raw_operand(source, scope)
        else:
            whole = f"{self._where(source, scope)[0]}.parameters['{source.name}']"
        value = f"jsonpath({whole}, '$.{source.field}')"
        if source.type.name == "list" or (source.type.name == "bool" and not as_text):
            return f"toJson({value})"
        return value

    def operand(self, source: ir.Source, scope: ScopeId, cast: str) -> str:
        if isinstance(source, ir.PipelineStatus):
            return "workflow.status"
        if isinstance(source, ir.Literal_):
            return literal(source.value)
        if isinstance(source, ir.LoopVarRef | ir.ParamRef | ir.OutputRef) and (
                source.field is not None):
            value = self.field_value(source, scope, as_text=False)
            if source.type.name == "bool":
                return f"({value} in {_TRUTHS})"
            return f"{cast}({value})" if cast else value
        value = self.raw_operand(source, scope) if isinstance(source, ir.OutputRef) else (
            f"{self._where(source, scope)[0]}.parameters['{source.name}']")
        if isinstance(source, ir.OutputRef):  # a file's text: read as cnai.output_text says
            return self.typed(value, source.type)
        if source.type.name == "bool":
            return f"({value} in {_TRUTHS})"
        return f"{cast}({value})" if cast else value

    def expr(self, expr: ir.Expr, scope: ScopeId) -> str:
        """An expr-lang expression: every operand of and/or/not kept, numbers cast."""
        if isinstance(expr, ir.BoolOp):
            joiner = " && " if expr.kind == "and" else " || "
            return joiner.join(f"({self.expr(o, scope)})" for o in expr.operands)
        if isinstance(expr, ir.Not):
            return f"!({self.expr(expr.operand, scope)})"
        if isinstance(expr, ir.Compare):
            kinds = {expr.left.type.name, expr.right.type.name}  # type: ignore[union-attr]
            cast = "asFloat" if "float" in kinds else "asInt" if "int" in kinds else ""
            return (f"{self._leaf(expr.left, scope, cast)} {expr.op} "
                    f"{self._leaf(expr.right, scope, cast)}")
        return self._leaf(expr, scope, "")

    def _leaf(self, expr: ir.Expr, scope: ScopeId, cast: str) -> str:
        if isinstance(expr, ir.Literal_):
            return literal(expr.value)
        if isinstance(expr, (ir.Compare, ir.BoolOp, ir.Not)):
            return f"({self.expr(expr, scope)})"
        return self.operand(expr, scope, cast)


def literal(value: ir.JSONValue) -> str:
    """An expr-lang literal. Strings are double-quoted with every character that could end the
    string or the ``{{= }}`` tag escaped, so no value can change the expression's meaning."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    assert isinstance(value, str)
    out = []
    for char in value:
        if char in '"\\{}' or not char.isprintable() or char == "'":
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _part_task(part: str) -> str:
    """A part's task name in its parent DAG: ``part-3`` for scope ``PARENT#part-3``."""
    return part.rsplit("#", 1)[1]


def _iterate(task: dict[str, Any], loop: ir.Loop, arguments: dict[str, Any],
             items: str) -> None:
    """Make ``task`` run once per item of ``loop`` (its literal list, else the JSON list
    ``items`` reads), passing the item as the loop variable."""
    if isinstance(loop.items, ir.Literal_):
        task["withItems"] = loop.items.value
    else:
        task["withParam"] = items
    arguments.setdefault("parameters", []).insert(0, {"name": loop.var, "value": "{{item}}"})


# The settings the workflow itself renders (semantics/settings.py names them by key).
argo_settings.RENDERERS.update({"workflow.description": ArgoBackend.workflow,
                                "cron_workflow": ArgoBackend.workflow,
                                "workflow.image_pull_secrets": identity.workflow_spec,
                                "workflow.hygiene": argo_hygiene.workflow,
                                "task.continue_on": argo_hygiene.continue_on})


def _script_template(step: ir.Step, template: dict[str, Any]) -> dict[str, Any]:
    """A function step's template: its container as a ``script`` with the function's source
    (function_contract.py says how the source and packages reach the container)."""
    assert step.function is not None
    script = template.pop("container")  # (keys are written sorted: their order is free)
    script["command"] = function_contract.argo_command(step, script["command"])
    script["source"] = function_contract.staged_source(step.function)
    template["script"] = script
    return template


def _lists(parameters: list[dict[str, Any]], artifacts: list[dict[str, Any]]
           ) -> dict[str, Any]:
    """An Argo `inputs`, `outputs` or `arguments` block: the lists that are not empty."""
    block: dict[str, Any] = {}
    if parameters:
        block["parameters"] = parameters
    if artifacts:
        block["artifacts"] = artifacts
    return block
