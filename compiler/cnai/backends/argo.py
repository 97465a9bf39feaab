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

from cnai import output_text
from cnai.backends import argo_chunks, argo_package, argo_resources, cloud, k8s
from cnai.backends.argo_resources import MAIN
from cnai.backends.argo_scope import FINALLY, Scope, Scopes, export_name, import_name
from cnai.context import CompileContext
from cnai.semantics import ir
from cnai.semantics.units import Names, format_duration, generate_name, k8s_name
from cnai.source import Span

API_VERSION = "argoproj.io/v1alpha1"
# Argo v4's full CRDs cap spec.templates and each DAG's tasks (maxItems in
# manifests/base/crds/full/argoproj.io_workflows.yaml).
MAX_ITEMS = 200
ENTRYPOINT = "main"
CACHE_CONFIGMAP = "cnai-cache"
LOOP_ITEMS = "items"  # the wrapper's input holding the list a `parallel` loop runs over
ITERATION = "iteration"  # the task in that wrapper that runs the body once per item
SPOT_RETRIES = 3
CRON_NAME_MAX = 52
# Go's strconv.ParseBool spellings of true (cnai.output_text), as an expr-lang list.
_TRUTHS = "[" + ", ".join(f"'{t}'" for t in output_text.TRUE_TEXTS) + "]"
CLAIM_GC = "OnWorkflowCompletion"  # delete the run's claims after success and failure


def emit(pipeline: ir.Pipeline, ctx: CompileContext) -> list[dict[str, Any]]:
    """The Workflow (or CronWorkflow), then the namespace objects it needs."""
    workflow = ArgoBackend(pipeline, ctx).workflow()
    spec = workflow["spec"].get("workflowSpec", workflow["spec"])
    templates = spec["templates"]
    split = argo_chunks.split_large_dags(templates)
    count = len(templates)
    tasks = max(len(t["dag"]["tasks"]) for t in templates if "dag" in t)
    # Over 1 MiB or 200 templates: the Workflow plus WorkflowTemplates (argo_package).
    objects = argo_package.package(workflow, pipeline.k8s_name)
    most = max(len(argo_package.templates_of(o)) for o in objects)
    if most > MAX_ITEMS or tasks > MAX_ITEMS or not split:
        ctx.diagnostics.warn(
            "W0401", f"the Workflow has {count} templates and up to {tasks} tasks in "
            f"one DAG; Argo v4's CRD validation admits {MAX_ITEMS} of each", pipeline.span,
            "too large for Argo", help=["clusters that install Argo's full CRDs will reject "
                                        "it; steps of one shape share a template unless "
                                        "--no-optimize"])
    return [*objects, *cloud.quota_objects(pipeline)]


class ArgoBackend:
    def __init__(self, pipeline: ir.Pipeline, ctx: CompileContext) -> None:
        self.pipeline = pipeline
        self.ctx = ctx
        self.scopes = Scopes(pipeline)
        self.values = ArgoValues(self)
        self.inputs = k8s.InputsByName()
        self.skippable = k8s.is_skippable(pipeline)
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
        shared: dict[str, str] = {}  # dedupe_templates' group -> its one template
        for step in pipeline.steps:
            links = []
            for role in argo_resources.roles(step):
                base = step.k8s_name if role == MAIN else f"{step.k8s_name}-{role}"
                if role == MAIN and step.template is not None:
                    if step.template not in shared:
                        shared[step.template] = templates.take(step.template)
                    links.append((role, base, shared[step.template]))
                else:
                    links.append((role, base, templates.take(base)))
            self.links[step.name] = links
        self.template_names = {s.name: next(t for r, _, t in self.links[s.name] if r == MAIN)
                               for s in pipeline.steps}
        self.task_names: dict[Scope, dict[str, str]] = {}
        self.last_tasks: dict[Scope, dict[str, str]] = {}
        self.link_tasks: dict[tuple[Scope, str], list[str]] = {}  # a step's chain of tasks

    def _has_finally(self) -> bool:
        return any(isinstance(g, ir.Finally) for g in self.pipeline.groups)

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
        emitted: set[str] = set()
        for step in pipeline.steps:
            if step.template is not None and step.template in emitted:
                continue  # one template serves the whole group
            emitted.add(step.template or step.name)
            templates += argo_resources.templates(self, step)
        spec: dict[str, Any] = {"entrypoint": ENTRYPOINT, "templates": templates}
        parallelism = cloud.gpu_parallelism(pipeline)
        if parallelism is not None:
            spec["parallelism"] = parallelism
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
            return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": metadata,
                    "spec": spec}
        # Argo v4 removed CronWorkflowSpec.schedule; `schedules` works on v3.6+ and v4. Argo
        # appends "-" and a 10-digit time to a CronWorkflow's name for each run, so the name
        # is kept to 52 characters.
        metadata["name"] = k8s_name(pipeline.name, CRON_NAME_MAX)
        return {"apiVersion": API_VERSION, "kind": "CronWorkflow", "metadata": metadata,
                "spec": {"schedules": [pipeline.schedule], "workflowSpec": spec,
                         "workflowMetadata": {"labels": dict(labels)}}}

    def param(self, param: ir.Param) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": param.name}
        if param.default is not None:
            entry["value"] = param_text(param.default)
        return entry

    def claim(self, dataset: ir.Dataset) -> dict[str, Any]:
        return {"metadata": {"name": dataset.k8s_name}, "spec": k8s.pvc_spec(dataset)}

    # ---- DAG templates ----------------------------------------------------------------

    def dag_template(self, name: str, scope: Scope) -> dict[str, Any]:
        steps, loops = self.scopes.members(scope)
        names = Names()
        self.task_names[scope], self.last_tasks[scope] = {}, {}
        for step in steps:
            taken = [names.take(base) for _, base, _ in self.links[step.name]]
            self.link_tasks[(scope, step.name)] = taken
            roles = [role for role, _, _ in self.links[step.name]]
            self.task_names[scope][step.name] = taken[roles.index(MAIN)]
            self.last_tasks[scope][step.name] = taken[-1]
        for loop in loops:
            self.task_names[scope][loop.id] = self.last_tasks[scope][loop.id] = names.take(
                loop.id)
        tasks = [task for s in steps for task in self.step_tasks(s, scope)]
        tasks += [self.loop_task(loop, scope) for loop in loops]
        tasks.sort(key=lambda t: t.pop("_order"))
        return {"name": name, "dag": {"tasks": tasks}}

    def task_name(self, member: str, scope: Scope) -> str:
        return self.task_names[scope][member]

    def _depends(self, upstream: list[str], scope: Scope, member: str) -> str | None:
        names = []
        for step_name in upstream:
            representative = self.scopes.representative(step_name, scope)
            if representative is not None and representative != member:
                names.append(self.last_tasks[scope][representative])
        unique = sorted(set(names))
        return " && ".join(f"{n}.Succeeded" for n in unique) or None

    def _order(self, member: str) -> int:
        """Tasks are listed in the pipeline's topological order of their first step."""
        if not hasattr(self, "_orders"):
            self._orders: dict[str, int] = {}
            for index, step in enumerate(self.pipeline.steps):
                for key in (step.name, *self.scopes.loops_around(step.group)):
                    self._orders.setdefault(key, index)
        return self._orders.get(member, len(self.pipeline.steps))

    def step_tasks(self, step: ir.Step, scope: Scope) -> list[dict[str, Any]]:
        """The step's chain: the first task waits for the step's dependencies and carries its
        gate, one gets its inputs, each later one waits for the one before."""
        order = self._order(step.name)
        tasks: list[dict[str, Any]] = []
        names = self.link_tasks[(scope, step.name)]
        for index, ((role, _, template), name) in enumerate(zip(self.links[step.name], names,
                                                                strict=True)):
            task: dict[str, Any] = {"name": name, "template": template, "_order": order}
            if index == 0:
                depends = self._depends([d.step for d in step.depends], scope, step.name)
                when = self.when(step.group, scope, step.when, step.span)
                if when:
                    task["when"] = when
            else:
                depends = f"{names[index - 1]}.Succeeded"
            if depends:
                task["depends"] = depends
            if role == argo_resources.input_role(step):
                arguments = self.arguments([(i.name, i.source) for i in step.inputs], scope)
                if arguments:
                    task["arguments"] = arguments
            tasks.append(task)
        return tasks

    def loop_task(self, loop: ir.Loop, scope: Scope) -> dict[str, Any]:
        inside = {s.name for s in self.scopes.steps_in_loop(loop.id)}
        upstream = [d.step for s in self.scopes.steps_in_loop(loop.id) for d in s.depends
                    if d.step not in inside]
        if isinstance(loop.items, ir.OutputRef):
            upstream.append(loop.items.step)
        outer, _body = self.loop_templates[loop.id]
        task: dict[str, Any] = {"name": self.task_name(loop.id, scope), "template": outer,
                                "_order": self._order(loop.id)}
        depends = self._depends(upstream, scope, loop.id)
        if depends:
            task["depends"] = depends
        imports = sorted(self.scopes.imports[loop.id].items())
        literal = isinstance(loop.items, ir.Literal_)
        if loop.parallelism and not literal:  # the wrapper DAG iterates over its input
            imports = [*imports, (LOOP_ITEMS, loop.items)]
        arguments = self.arguments(imports, scope)
        if not loop.parallelism:
            _iterate(task, loop, arguments,
                     "" if literal else self.values.tag(loop.items, scope))
        if arguments:
            task["arguments"] = arguments
        when = self.when(loop.parent, scope, None, loop.span)
        if when:
            task["when"] = when
        return task

    def loop_templates_of(self, loop: ir.Loop) -> list[dict[str, Any]]:
        """The body DAG, and for ``parallel N`` a DAG around it that caps the iterations."""
        outer, body_name = self.loop_templates[loop.id]
        imports = sorted(self.scopes.imports[loop.id].items())
        body = self.dag_template(body_name, loop.id)
        inputs = self.dag_inputs(imports)
        inputs["parameters"].insert(0, {"name": loop.var})
        body["inputs"] = inputs
        exports = sorted(self.scopes.exports[loop.id].items())
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

    def dag_inputs(self, imports: list[tuple[str, ir.Source]]) -> dict[str, Any]:
        parameters = [{"name": n} for n, s in imports if not s.type.is_artifact]
        artifacts = [{"name": n} for n, s in imports if s.type.is_artifact]
        inputs: dict[str, Any] = {"parameters": parameters}
        if artifacts:
            inputs["artifacts"] = artifacts
        return inputs

    def export_outputs(self, exports: list[tuple[str, ir.OutputRef]], scope: Scope,
                       loop: ir.Loop) -> dict[str, Any]:
        parameters = []
        for name, source in exports:
            producer = self.pipeline.step(source.step)
            if producer.output(source.output).type.is_artifact:
                self.ctx.unsupported(
                    loop.span, "E0401", f"`{source.step}.{source.output}` is an artifact made "
                    f"in loop `{loop.var}`; Argo aggregates parameters only, not artifacts",
                    help="write what the next steps need as a parameter output, or read the "
                    "artifact inside the loop")
                continue
            task = self.task_name(source.step, scope)
            # Each iteration exports a JSON list: [its value, typed as declared] if the step
            # succeeded, [] if it was skipped or omitted. Argo aggregates the iterations'
            # texts and, as all of them are JSON lists, parses them (operator.go,
            # aggregatedJSONValueList); ArgoValues.gathered takes the one value out of each.
            # No `default` here: a value that does not read as its type fails the loop.
            read = self.values.typed(f"tasks['{task}'].outputs.parameters['{source.output}']",
                                     producer.output(source.output).type)
            expression = (f"tasks['{task}'].status == 'Succeeded' ? toJson([{read}]) : '[]'")
            parameters.append({"name": name, "valueFrom": {"expression": expression}})
        return {"parameters": parameters} if parameters else {}

    def arguments(self, values: list[tuple[str, ir.Source]], scope: Scope) -> dict[str, Any]:
        parameters, artifacts = [], []
        for name, source in values:
            if source.type.is_artifact:
                artifacts.append({"name": name, "from": self.values.tag(source, scope)})
            elif isinstance(source, ir.Literal_):  # a word dedupe_templates lifted: it is text
                parameters.append({"name": name,
                                   "value": k8s.literal_text(param_text(source.value))})
            else:
                parameters.append({"name": name, "value": self.values.tag(source, scope)})
        arguments: dict[str, Any] = {}
        if parameters:
            arguments["parameters"] = parameters
        if artifacts:
            arguments["artifacts"] = artifacts
        return arguments

    def when(self, group_id: str | None, scope: Scope, gate: ir.Gate | None,
             span: Span) -> str | None:
        """The conditions of the branches around a task (within its DAG) and its own gate."""
        conditions = []
        for branch in self.scopes.branches_between(group_id, scope):
            conditions += self.branch_conditions(branch, scope)
        if gate is not None:
            conditions.append(self.values.expr(gate.expr, scope))
        if not conditions:
            return None
        body = conditions[0] if len(conditions) == 1 else " && ".join(
            f"({c})" for c in conditions)
        return "{{=" + body + "}}"

    def branch_conditions(self, branch: ir.Branch, scope: Scope) -> list[str]:
        """A branch runs when its condition holds and no earlier branch of its chain did."""
        earlier = [g for g in self.pipeline.chain(branch.chain) if g.index < branch.index]
        conditions = [f"!({self.values.expr(g.condition.expr, scope)})" for g in earlier
                      if g.condition is not None]
        if branch.condition is not None:
            conditions.append(self.values.expr(branch.condition.expr, scope))
        return conditions

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
        template.update(cloud.placement(step, self.ctx.options))
        queue = cloud.volcano_queue(step)
        if queue is not None:
            template["metadata"] = {"annotations": {cloud.VOLCANO_QUEUE: queue}}
        if step.retry is not None:
            template["retryStrategy"] = retry_strategy(step.retry)
        elif step.scheduling is not None and step.scheduling.spot:
            # A preempted spot node deletes the pod: Argo marks the node Error, and OnError
            # retries exactly those, not failures of the step's own code.
            template["retryStrategy"] = {"limit": str(SPOT_RETRIES), "retryPolicy": "OnError"}
        if step.timeout_seconds is not None:
            template["activeDeadlineSeconds"] = str(step.timeout_seconds)
        if step.runtime is not None:  # our images run as a non-root user (runtime_images/)
            template["securityContext"] = {"fsGroup": k8s.RUNTIME_GROUP}
        if step.cache:
            template["memoize"] = self.memoize(step, template)
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
        inputs: dict[str, Any] = {}
        if parameters:
            inputs["parameters"] = parameters
        if artifacts:
            inputs["artifacts"] = artifacts
        return inputs

    def template_outputs(self, step: ir.Step) -> dict[str, Any]:
        parameters, artifacts = [], []
        for output in step.outputs:
            path = k8s.output_path(step, output.name)
            if output.type.is_artifact:
                artifacts.append({"name": output.name, "path": path})
            else:
                value_from: dict[str, Any] = {"path": path}
                if step.name in self.skippable:
                    value_from["default"] = ""
                parameters.append({"name": output.name, "valueFrom": value_from})
        outputs: dict[str, Any] = {}
        if parameters:
            outputs["parameters"] = parameters
        if artifacts:
            outputs["artifacts"] = artifacts
        return outputs

    def container(self, step: ir.Step) -> dict[str, Any]:
        image = self.ctx.options.runtime_image(step.runtime) if step.runtime else step.image
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
        pieces: list[tuple[str, bool]] = []  # (text, is a parameter's name)
        for part in text.parts:
            if isinstance(part, str):
                pieces.append((k8s.literal_text(part), False))
            elif isinstance(part, ir.OutputPath):
                pieces.append((k8s.literal_text(k8s.output_path(step, part.name)), False))
            elif self.inputs(step)[part.name].type.is_artifact:
                pieces.append((f"{k8s.INPUTS_DIR}/{part.name}", False))
            else:
                pieces.append((part.name, True))
        if any(not is_name and piece.endswith("{") and next_is_name
               for (piece, is_name), (_, next_is_name) in pairwise(pieces)):
            return "{{=" + " + ".join(f"inputs.parameters['{piece}']" if is_name
                                      else literal(piece) for piece, is_name in pieces) + "}}"
        return "".join(f"{{{{inputs.parameters.{piece}}}}}" if is_name else piece
                       for piece, is_name in pieces)

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


def retry_strategy(retry: ir.Retry) -> dict[str, Any]:
    # "Always" also retries errors (evictions, node loss), not only non-zero exits.
    strategy: dict[str, Any] = {"limit": str(retry.limit), "retryPolicy": "Always"}
    if retry.backoff_seconds:
        backoff: dict[str, Any] = {"duration": format_duration(retry.backoff_seconds)}
        if retry.factor is not None:
            backoff["factor"] = param_text(retry.factor)
        strategy["backoff"] = backoff
    return strategy


def param_text(value: ir.JSONValue) -> str:
    """A parameter value as Argo and our runtime read it: JSON for lists, true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "))


class ArgoValues:
    """How a value is written in one DAG scope: as a ``{{...}}`` tag in task arguments, or as
    an expr-lang operand in a ``when``."""

    def __init__(self, backend: ArgoBackend) -> None:
        self.backend = backend
        self.scopes = backend.scopes

    def _where(self, source: ir.Source, scope: Scope) -> tuple[str, str, str]:
        """(root, kind, name): e.g. ("tasks.train", "parameters", "loss")."""
        if isinstance(source, ir.ParamRef):
            return "workflow", "parameters", source.name
        if isinstance(source, ir.LoopVarRef):
            return "inputs", "parameters", source.name
        if isinstance(source, ir.OutputRef):
            kind = "artifacts" if source.type.is_artifact else "parameters"
            member = self.scopes.representative(source.step, scope)
            if member is None:  # made outside this loop body: it came in as an input
                return "inputs", kind, import_name(source)
            task = self.backend.task_name(member, scope)
            if member == source.step:
                return f"tasks.{task}", kind, source.output
            return f"tasks.{task}", kind, export_name(source)  # gathered over a loop
        raise AssertionError(source.kind)

    def tag(self, source: ir.Source, scope: Scope) -> str:
        if isinstance(source, ir.PipelineStatus):
            return "{{workflow.status}}"
        if isinstance(source, ir.Literal_):
            return param_text(source.value)
        root, kind, name = self._where(source, scope)
        if not root.startswith("tasks."):
            return f"{{{{{root}.{kind}.{name}}}}}"
        if isinstance(source, ir.OutputRef) and name != source.output:  # gathered over a loop
            return "{{=" + self.gathered(f"tasks['{root[len('tasks.'):]}']"
                                         f".outputs.{kind}['{name}']") + "}}"
        return f"{{{{{root}.outputs.{kind}.{name}}}}}"

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
        if type_.name == "list":
            return f"fromJSON({value})"
        return value

    def operand(self, source: ir.Source, scope: Scope, cast: str) -> str:
        if isinstance(source, ir.PipelineStatus):
            return "workflow.status"
        if isinstance(source, ir.Literal_):
            return literal(source.value)
        root, kind, name = self._where(source, scope)
        if root.startswith("tasks."):
            value = f"tasks['{root[len('tasks.'):]}'].outputs.{kind}['{name}']"
        else:
            value = f"{root}.{kind}['{name}']"
        if isinstance(source, ir.OutputRef):  # a file's text: read as cnai.output_text says
            return self.typed(value, source.type)
        if source.type.name == "bool":
            return f"({value} in {_TRUTHS})"
        return f"{cast}({value})" if cast else value

    def expr(self, expr: ir.Expr, scope: Scope) -> str:
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

    def _leaf(self, expr: ir.Expr, scope: Scope, cast: str) -> str:
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


def _iterate(task: dict[str, Any], loop: ir.Loop, arguments: dict[str, Any],
             items: str) -> None:
    """Make ``task`` run once per item of ``loop`` (its literal list, else the JSON list
    ``items`` reads), passing the item as the loop variable."""
    if isinstance(loop.items, ir.Literal_):
        task["withItems"] = loop.items.value
    else:
        task["withParam"] = items
    arguments.setdefault("parameters", []).insert(0, {"name": loop.var, "value": "{{item}}"})
