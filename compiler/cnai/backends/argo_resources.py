"""Argo templates for steps that are Kubernetes objects rather than a container: training
jobs (with their PodDisruptionBudget), model services (Knative + Istio), Fluid data loads.

Each is a resource template (``resource.action`` + ``manifest``): the workflow's executor
applies the object and, for create, waits for the success or failure condition, which Argo
reads as label selectors over the object's JSON (workflow/executor/resource.go).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnai.backends import cloud
from cnai.backends.serialize import to_yaml
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
    if step.kind == "distributed":
        return (["pdb"] if step.disruption_budget is not None else []) + [MAIN]
    if step.kind == "service":
        assert step.serving is not None
        return [MAIN, *(["rule"] if cloud.breaks_circuits(step.serving) else []),
                *(["route"] if cloud.splits_traffic(step.serving) else [])]
    if step.kind == "dataload":
        return ["dataset", MAIN]
    return [MAIN]


def input_role(step: ir.Step) -> str:
    """The task of the chain whose template reads the step's inputs."""
    return "dataset" if step.kind == "dataload" else MAIN


def workflow_volumes(pipeline: ir.Pipeline) -> list[dict[str, Any]]:
    """Fluid data sets: Fluid makes a claim named after the Dataset once it is bound."""
    return [{"name": d.k8s_name, "persistentVolumeClaim": {
        "claimName": d.k8s_name, "readOnly": True}}
        for d in pipeline.datasets if d.engine == "fluid"]


def templates(backend: ArgoBackend, step: ir.Step) -> list[dict[str, Any]]:
    built = []
    for role, _, name in backend.links[step.name]:
        if step.kind in ("container", "preload"):
            built.append(backend.container_template(step))
        else:
            built.append({"name": name, **_resource(backend, step, role)})
    return built


def _resource(backend: ArgoBackend, step: ir.Step, role: str) -> dict[str, Any]:
    pipeline = backend.pipeline
    labels = cloud.labels(pipeline, step, RUN)
    if step.kind == "distributed":
        if role == "pdb":
            selector = {cloud.RUN_LABEL: RUN, cloud.STEP_LABEL: step.k8s_name}
            return _apply(cloud.disruption_budget(step, selector), "create", owned=True)
        _no_artifacts(backend, step)
        container = backend.container(step)
        job = cloud.training_job(step, container, _job_volumes(pipeline, step), labels,
                                 backend.ctx.options)
        success, failure = cloud.job_conditions(step)
        return _with_inputs(step, _apply(job, "create", owned=True, success=success,
                                                  failure=failure))
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
        container = backend.container(step)
        service = cloud.knative_service(step, container, REVISION, labels)
        template = _apply(service, "apply", success=cloud.knative_ready(step, REVISION))
        template["activeDeadlineSeconds"] = str(step.timeout_seconds or SERVICE_TIMEOUT)
        return _with_inputs(step, template)
    assert step.fills is not None  # the remaining kind: a data-load step
    dataset = pipeline.dataset(step.fills)
    # A Fluid Dataset is a cache shared by runs: it keeps the data set's name (Fluid binds it
    # to the runtime of the same name the cluster provides) and outlives the workflow; each
    # run's DataLoad is the workflow's.
    name = dataset.k8s_name
    if role == "dataset":
        source = dataset.source or ""
        if dataset.source_ref is not None:
            (item,) = step.inputs
            source = f"{{{{inputs.parameters.{item.name}}}}}"
        manifest = cloud.fluid_dataset(name, source, dataset)
        return _with_inputs(step, _apply(manifest, "apply"))
    return _apply(cloud.fluid_data_load(name, dataset), "create", owned=True,
                  success=cloud.DATA_LOAD_SUCCESS, failure=cloud.DATA_LOAD_FAILURE)


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
    return volumes


def _no_artifacts(backend: ArgoBackend, step: ir.Step) -> None:
    for item in step.inputs:
        if item.type.is_artifact:
            backend.ctx.unsupported(
                step.span, "E0401", f"`{step.name}` reads the artifact `{item.name}`; a "
                f"{step.kind} step's pods are made by Kubernetes, not Argo, so Argo cannot "
                "place artifacts in them", help="pass the artifact's URI as a parameter, or "
                "put the data in a data set")
