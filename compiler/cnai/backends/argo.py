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
- Memoization keys must match ``^[a-zA-Z0-9][-a-zA-Z0-9]*$``
  (workflow/controller/cache/cache.go), so the key is a sha256 of the step's spec and inputs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cnai.backends import k8s
from cnai.context import CompileContext
from cnai.semantics import ir
from cnai.semantics.units import format_duration

API_VERSION = "argoproj.io/v1alpha1"
ENTRYPOINT = "main"
CACHE_CONFIGMAP = "cnai-cache"


def emit(pipeline: ir.Pipeline, ctx: CompileContext) -> list[dict[str, Any]]:
    return [ArgoBackend(pipeline, ctx).workflow()]


class ArgoBackend:
    def __init__(self, pipeline: ir.Pipeline, ctx: CompileContext) -> None:
        self.pipeline = pipeline
        self.ctx = ctx
        self.steps = {s.name: s for s in pipeline.steps}
        self.skippable = k8s.is_skippable(pipeline)
        taken = {ENTRYPOINT}
        self.template_names: dict[str, str] = {}
        for step in pipeline.steps:
            name, counter = step.k8s_name, 2
            while name in taken:
                name, counter = f"{step.k8s_name}-{counter}", counter + 1
            taken.add(name)
            self.template_names[step.name] = name

    # ---- workflow ---------------------------------------------------------------------

    def workflow(self) -> dict[str, Any]:
        pipeline = self.pipeline
        metadata: dict[str, Any] = {"generateName": f"{pipeline.k8s_name}-",
                                    "labels": {"cnai.dev/pipeline": pipeline.k8s_name}}
        if pipeline.description:
            metadata["annotations"] = {"workflows.argoproj.io/description": pipeline.description}
        spec: dict[str, Any] = {"entrypoint": ENTRYPOINT,
                                "templates": [self.dag(), *map(self.container_template,
                                                               pipeline.steps)]}
        if pipeline.params:
            spec["arguments"] = {"parameters": [self.param(p) for p in pipeline.params]}
        claims = [self.claim(d) for d in pipeline.datasets]
        if claims:
            spec["volumeClaimTemplates"] = claims
        return {"apiVersion": API_VERSION, "kind": "Workflow", "metadata": metadata,
                "spec": spec}

    def param(self, param: ir.Param) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": param.name}
        if param.default is not None:
            entry["value"] = param_text(param.default)
        return entry

    def claim(self, dataset: ir.Dataset) -> dict[str, Any]:
        return {"metadata": {"name": dataset.k8s_name}, "spec": k8s.pvc_spec(dataset)}

    # ---- the DAG ----------------------------------------------------------------------

    def dag(self) -> dict[str, Any]:
        return {"name": ENTRYPOINT, "dag": {"tasks": [self.task(s) for s in self.pipeline.steps]}}

    def task(self, step: ir.Step) -> dict[str, Any]:
        task: dict[str, Any] = {"name": step.k8s_name, "template": self.template_names[step.name]}
        if step.depends:
            task["depends"] = " && ".join(f"{self.steps[d.step].k8s_name}.Succeeded"
                                          for d in step.depends)
        parameters, artifacts = [], []
        for item in step.inputs:
            if item.type.is_artifact:
                artifacts.append({"name": item.name, "from": self.source_tag(item.source)})
            else:
                parameters.append({"name": item.name, "value": self.source_tag(item.source)})
        arguments: dict[str, Any] = {}
        if parameters:
            arguments["parameters"] = parameters
        if artifacts:
            arguments["artifacts"] = artifacts
        if arguments:
            task["arguments"] = arguments
        if step.when is not None:
            task["when"] = "{{=" + WhenExpr(self).render(step.when.expr) + "}}"
        return task

    def source_tag(self, source: ir.Source) -> str:
        if isinstance(source, ir.ParamRef):
            return f"{{{{workflow.parameters.{source.name}}}}}"
        if isinstance(source, ir.OutputRef):
            kind = "artifacts" if source.type.is_artifact else "parameters"
            task = self.steps[source.step].k8s_name
            return f"{{{{tasks.{task}.outputs.{kind}.{source.output}}}}}"
        raise NotImplementedError(f"{source.kind} sources arrive with loops and finally")

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
        selector = k8s.node_selector(step.resources, self.ctx.options.gpu_label_key)
        if selector:
            template["nodeSelector"] = selector
        if step.retry is not None:
            template["retryStrategy"] = retry_strategy(step.retry)
        if step.timeout_seconds is not None:
            template["activeDeadlineSeconds"] = str(step.timeout_seconds)
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
        return volumes

    def source_claim(self, step: ir.Step) -> tuple[str, str] | None:
        if step.kind != "preload":
            return None
        return k8s.source_claim(self.pipeline_dataset(step.mounts[0].dataset))

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
        container: dict[str, Any] = {"image": image}
        if step.command:
            container["command"] = [self.text(step, t) for t in step.command]
        if step.args:
            container["args"] = [self.text(step, t) for t in step.args]
        env = []
        if step.outputs:
            env.append({"name": "CNAI_OUTPUTS_DIR", "value": k8s.OUTPUTS_DIR})
        for var in step.env:
            if var.secret is not None:
                env.append(k8s.secret_env(var.name, var.secret))
            else:
                assert var.value is not None
                env.append({"name": var.name, "value": self.text(step, var.value)})
        if env:
            container["env"] = env
        limits = k8s.resource_limits(step.resources)
        if limits:
            container["resources"] = {"limits": limits}
        mounts = [{"name": self.pipeline_dataset(m.dataset).k8s_name, "mountPath": m.path,
                   **({"readOnly": True} if m.read_only else {})} for m in step.mounts]
        if step.outputs:
            mounts.append({"name": k8s.OUTPUTS_VOLUME, "mountPath": k8s.OUTPUTS_DIR})
        claim = self.source_claim(step)
        if claim is not None:
            mounts.append({"name": k8s.SOURCE_VOLUME, "mountPath": claim[1], "readOnly": True})
        if mounts:
            container["volumeMounts"] = mounts
        return container

    def pipeline_dataset(self, name: str) -> ir.Dataset:
        return next(d for d in self.pipeline.datasets if d.name == name)

    def text(self, step: ir.Step, text: ir.Text) -> str:
        pieces = []
        for part in text.parts:
            if isinstance(part, str):
                if "{{" in part:
                    self.ctx.unsupported(
                        step.span, "E0401", f"step `{step.name}` has `{{{{` in its text, which "
                        "Argo reads as a variable", help="split the braces, e.g. \"{\" \"{\"")
                pieces.append(part)
            elif isinstance(part, ir.OutputPath):
                pieces.append(k8s.output_path(step, part.name))
            elif step.input(part.name).type.is_artifact:
                pieces.append(f"{k8s.INPUTS_DIR}/{part.name}")
            else:
                pieces.append(f"{{{{inputs.parameters.{part.name}}}}}")
        return "".join(pieces)

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


class WhenExpr:
    """Render a gate as an expr-lang expression over Argo's variables."""

    def __init__(self, backend: ArgoBackend) -> None:
        self.backend = backend

    def render(self, expr: ir.Expr) -> str:
        if isinstance(expr, ir.BoolOp):
            joiner = " && " if expr.kind == "and" else " || "
            return joiner.join(f"({self.render(o)})" for o in expr.operands)
        if isinstance(expr, ir.Not):
            return f"!({self.render(expr.operand)})"
        if isinstance(expr, ir.Compare):
            numeric = {expr.left.type.name, expr.right.type.name} if isinstance(
                expr.left, (ir.Literal_, ir.ParamRef, ir.OutputRef, ir.LoopVarRef)) and isinstance(
                expr.right, (ir.Literal_, ir.ParamRef, ir.OutputRef, ir.LoopVarRef)) else set()
            cast = "asFloat" if "float" in numeric else "asInt" if "int" in numeric else ""
            return f"{self.operand(expr.left, cast)} {expr.op} {self.operand(expr.right, cast)}"
        return self.operand(expr, "")

    def operand(self, expr: ir.Expr, cast: str) -> str:
        if isinstance(expr, ir.Literal_):
            return literal(expr.value)
        if isinstance(expr, ir.ParamRef):
            value = f"workflow.parameters['{expr.name}']"
        elif isinstance(expr, ir.OutputRef):
            task = self.backend.steps[expr.step].k8s_name
            value = f"tasks['{task}'].outputs.parameters['{expr.output}']"
        elif isinstance(expr, (ir.Compare, ir.BoolOp, ir.Not)):
            return f"({self.render(expr)})"
        else:
            raise NotImplementedError(f"{expr.kind} operands arrive with loops")
        if expr.type.name == "bool":
            return f"({value} == 'true')"
        return f"{cast}({value})" if cast else value


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
