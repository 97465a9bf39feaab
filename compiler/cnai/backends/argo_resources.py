"""Argo templates for steps that are Kubernetes objects rather than a container: training
jobs (with their PodDisruptionBudget), model services (Knative + Istio), Fluid data loads.

Jobs and services are resource templates (``resource.action`` + ``manifest``): the
workflow's executor applies the object and, for create, waits for the success or failure
condition, which Argo reads as label selectors over the object's JSON
(workflow/executor/resource.go). Inputs in a manifest are JSON scalars (json_scalar). A Fluid
data load is a container of the launcher image, as on Kubeflow (cloud.fluid_load_args).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnai.backends import argo_control, cloud, identity, k8s, k8s_configuration, k8s_placement
from cnai.backends.serialize import to_yaml
from cnai.backends.verbatim import Verbatim
from cnai.semantics import ir

if TYPE_CHECKING:
    from cnai.backends.argo import ArgoBackend

MAIN = "main"
# Argo names a volumeClaimTemplate's claim <workflow name>-<template name>
# (workflow/controller/operator.go).
CLAIM = "{{{{workflow.name}}}}-{name}"
RUN = "{{workflow.uid}}"
# A Knative revision name per run: the service name and the first 8 characters of the run's
# uid, short enough for a DNS label.
REVISION = "{{=sprig.substr(0, 8, workflow.uid)}}"
SERVICE_TIMEOUT = 600  # seconds a service may take to become ready, unless `timeout` says


def roles(step: ir.Step) -> list[str]:
    """The tasks a step becomes, in order; MAIN carries its inputs."""
    if step.suspend_seconds is not None and step.kind != "suspend":  # approval first
        return [argo_control.APPROVAL, *_roles(step)]
    return _roles(step)


def _roles(step: ir.Step) -> list[str]:
    if step.kind == "distributed":
        return (["pdb"] if step.disruption_budget is not None else []) + [MAIN]
    if step.kind == "service":
        assert step.serving is not None
        return [MAIN, *(["rule"] if cloud.breaks_circuits(step.serving) else []),
                *(["route"] if cloud.splits_traffic(step.serving) else [])]
    return [MAIN]


def input_role(step: ir.Step) -> str:
    """The task of the chain whose template reads the step's inputs."""
    return MAIN


def workflow_volumes(pipeline: ir.Pipeline) -> list[dict[str, Any]]:
    """Fluid data sets: Fluid makes a claim named after the Dataset once it is bound."""
    return [{"name": d.k8s_name, "persistentVolumeClaim": {
        "claimName": d.k8s_name, "readOnly": True}}
        for d in pipeline.datasets if d.engine == "fluid"]


def templates(backend: ArgoBackend, step: ir.Step) -> list[dict[str, Any]]:
    built = []
    for role, _, name in backend.links[step.name]:
        if role == argo_control.APPROVAL or step.kind == "suspend":
            built.append(argo_control.suspend_template(step, name))
            continue
        if step.kind in ("container", "preload"):
            built.append(backend.container_template(step))
        elif step.kind == "dataload":
            built.append(_data_load(backend, step, name))
        else:
            built.append({"name": name, **_resource(backend, step, role)})
        if step.kind not in ("container", "preload"):
            identity.engine_pod(step, built[-1])  # labels, annotations, security
            if role == MAIN:  # a training job's locks: held until the job ends
                argo_control.template_synchronization(backend, step, built[-1])
    return built


def _resource(backend: ArgoBackend, step: ir.Step, role: str) -> dict[str, Any]:
    pipeline = backend.pipeline
    labels = cloud.labels(pipeline, step, RUN)
    if step.kind == "distributed":
        if role == "pdb":
            selector = {cloud.RUN_LABEL: RUN, cloud.STEP_LABEL: step.k8s_name}
            return _apply(cloud.disruption_budget(step, selector), "create", owned=True)
        _no_artifacts(backend, step)
        container = _container(backend, step)
        job = cloud.training_job(step, container, _job_volumes(pipeline, step), labels,
                                 backend.ctx.options)
        success, failure = cloud.job_conditions(step)
        template = _apply(job, "create", owned=True, success=success, failure=failure)
        # A backstop: the job's own deadline fails it first (cloud.job_conditions).
        template["activeDeadlineSeconds"] = str(cloud.wait_deadline(step))
        return _with_inputs(step, template)
    if step.kind == "service":
        namespace = "{{workflow.namespace}}"
        if role == "rule":
            rule = cloud.destination_rule(step, namespace, REVISION)
            assert rule is not None
            return _apply(rule, "apply")
        if role == "route":
            route = cloud.virtual_service(step, namespace)
            assert route is not None
            return _apply(route, "apply")
        _no_artifacts(backend, step)
        container = _container(backend, step)
        service = cloud.knative_service(step, container, REVISION, labels)
        template = _apply(service, "apply", success=cloud.knative_ready(step, REVISION))
        template["activeDeadlineSeconds"] = str(step.timeout_seconds or SERVICE_TIMEOUT)
        return _with_inputs(step, template)
    raise AssertionError(step.kind)


def _data_load(backend: ArgoBackend, step: ir.Step, name: str) -> dict[str, Any]:
    """A Fluid data load: the launcher image ensures the shared Dataset and waits for the
    run's DataLoad, as on Kubeflow (cloud.fluid_load_args). Inputs reach it as ``--set``
    arguments, filled in after the manifests are parsed (cnai_launcher.tokens)."""
    assert step.fills is not None
    dataset = backend.pipeline.dataset(step.fills)
    source = dataset.source or ""
    if dataset.source_ref is not None:
        (item,) = step.inputs
        source = "${" + k8s.input_env_name(item.name) + "}"
    args = cloud.fluid_load_args(step, dataset, source)
    for item in step.inputs:
        args += ["--set", f"{k8s.input_env_name(item.name)}={{{{inputs.parameters.{item.name}}}}}"]
    template: dict[str, Any] = {"name": name, "container": {
        "image": backend.ctx.options.runtime_image("launcher"), "command": cloud.LAUNCHER,
        "args": args}}
    template["activeDeadlineSeconds"] = str(cloud.wait_deadline(step))
    return _with_inputs(step, template)


def _container(backend: ArgoBackend, step: ir.Step) -> dict[str, Any]:
    """The step's container for pods Kubernetes makes, inside a manifest: every value that
    holds an input is a JSON scalar (see json_scalar)."""
    artifacts = {i.name for i in step.inputs if i.type.is_artifact}  # refused: _no_artifacts

    def text(value: ir.Text) -> str:
        parts: list[str | ir.InputValue] = []
        for part in value.parts:
            if isinstance(part, ir.InputValue) and part.name not in artifacts:
                parts.append(part)
            elif isinstance(part, ir.InputValue):
                parts.append(f"{k8s.INPUTS_DIR}/{part.name}")
            elif isinstance(part, ir.OutputPath):  # the checker refuses outputs here
                parts.append(k8s.output_path(step, part.name))
            else:
                parts.append(part)
        return json_scalar(parts)

    image = k8s_placement.image(step, backend.ctx.options, text)
    return k8s.container(step, backend.pipeline, image, text,
                         lambda name: json_scalar([ir.InputValue.named(name)]))


def json_scalar(parts: list[str | ir.InputValue]) -> str:
    """Text that holds runtime values, for a manifest Argo fills in as text and then parses
    as YAML. A value pasted into a quoted scalar could end the quote (`'`), start a comment
    (` #`) or lose its line breaks; so the whole text is an expression template whose result
    is a JSON string, which YAML reads as a double-quoted scalar, exactly. Argo evaluates
    ``{{=...}}`` with expr-lang after undoing the template's JSON escapes, inserts a string
    result as it is (util/template/expression_template.go), and its validation reads an
    unquoted expression in a manifest as a placeholder (workflow/validate/validate.go,
    SubstituteResourceManifestExpressions). Text without an input stays a plain string."""
    if all(isinstance(part, str) for part in parts):
        return "".join(part for part in parts if isinstance(part, str))
    # Brackets: an input may be named like an expr keyword (`in`, `not`, `matches`).
    terms = [f"inputs.parameters['{part.name}']" if isinstance(part, ir.InputValue)
             else _expr_string(part) for part in parts if part != ""]
    return Verbatim("{{=toJson(" + " + ".join(terms) + ")}}")


def _expr_string(text: str) -> str:
    """An expr-lang string literal. Braces are escaped too: Argo ends a template at the first
    ``}}`` (fasttemplate), whatever the expression's quotes say."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in "{}" or not char.isprintable():
            code = ord(char)
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _apply(manifest: dict[str, Any], action: str, *, owned: bool = False,
           success: str | None = None, failure: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"action": action, "manifest": to_yaml([manifest])}
    if owned:  # deleted with the workflow
        resource["setOwnerReference"] = True
    if success:
        resource["successCondition"] = success
    if failure:
        resource["failureCondition"] = failure
    return {"resource": resource}


def _with_inputs(step: ir.Step, template: dict[str, Any]) -> dict[str, Any]:
    parameters = [{"name": i.name} for i in step.inputs if not i.type.is_artifact]
    if parameters:
        template["inputs"] = {"parameters": parameters}
    return template


def _job_volumes(pipeline: ir.Pipeline, step: ir.Step) -> list[dict[str, Any]]:
    """The training job's pods are not Argo's: they name the claims directly."""
    volumes = []
    for mount in step.mounts:
        dataset = pipeline.dataset(mount.dataset)
        claim = dataset.k8s_name if dataset.engine == "fluid" else CLAIM.format(
            name=dataset.k8s_name)
        volumes.append({"name": dataset.k8s_name, "persistentVolumeClaim": {
            "claimName": claim, "readOnly": True}})
    return volumes + k8s_configuration.pod_volumes(step)


def _no_artifacts(backend: ArgoBackend, step: ir.Step) -> None:
    for item in step.inputs:
        if item.type.is_artifact:
            backend.ctx.unsupported(
                step.span, "E0401", f"`{step.name}` reads the artifact `{item.name}`; a "
                f"{step.kind} step's pods are made by Kubernetes, not Argo, so Argo cannot "
                "place artifacts in them", help="pass the artifact's URI as a parameter, or "
                "put the data in a data set")
