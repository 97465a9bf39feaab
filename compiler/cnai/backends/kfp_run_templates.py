"""The templates every run Workflow of Kubeflow holds, whatever the pipeline: the drivers,
the executor and its launcher pod, as kubeflow/pipelines 2.17.0 writes them with the API
server's defaults (backend/src/v2/compiler/argocompiler: container.go, dag.go, importer.go,
common.go, security_context.go). Used by kfp_size.py."""

from __future__ import annotations

from typing import Any

Spec = dict[str, Any]
PARENT = "{{inputs.parameters.parent-dag-id}}"


def param(name: str, value: str | None = None, default: str | None = None) -> Spec:
    spec: Spec = {"name": name}
    if value is not None:
        spec["value"] = value
    if default is not None:
        spec["default"] = default
    return spec


def template(name: str, **fields: Any) -> Spec:
    # Go writes inputs, metadata and outputs even when empty (wfapi.Template).
    return {"name": name, "inputs": {}, "metadata": {}, "outputs": {}, **fields}


POD_SECURITY: Spec = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
_CONTAINER_SECURITY: Spec = {"allowPrivilegeEscalation": False,
                             "capabilities": {"drop": ["ALL"]}, **POD_SECURITY}
_DRIVER_ROLE: Spec = {"annotations": {"pipelines.kubeflow.org/runtime-role": "driver"}}
_POD_ENV = [{"name": f"KFP_POD_{field.upper()}", "valueFrom": {
    "fieldRef": {"fieldPath": f"metadata.{field}"}}} for field in ("name", "uid")]
_DRIVER_CONTAINER: Spec = {
    "command": ["driver"], "image": "ghcr.io/kubeflow/kfp-driver:latest", "name": "",
    "resources": {"limits": {"cpu": "500m", "memory": "512Mi"},
                  "requests": {"cpu": "100m", "memory": "64Mi"}},
    "securityContext": _CONTAINER_SECURITY}
_SCRATCH = [("kfp-launcher", "/kfp-launcher"), ("gcs-scratch", "/gcs"), ("s3-scratch", "/s3"),
            ("minio-scratch", "/minio"), ("dot-local-scratch", "/.local"),
            ("dot-cache-scratch", "/.cache"), ("dot-config-scratch", "/.config")]
_METADATA_ENV_FROM = [{"configMapRef": {"name": "metadata-grpc-configmap", "optional": True}}]
_IMPL: Spec = {
    "container": {
        "command": ["should-be-overridden-during-runtime"], "env": _POD_ENV,
        "envFrom": _METADATA_ENV_FROM,
        "image": "gcr.io/ml-pipeline/should-be-overridden-during-runtime", "name": "",
        "resources": {}, "securityContext": {
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"mountPath": path, "name": name} for name, path in _SCRATCH]},
    "initContainers": [{
        "args": ["--copy", "/kfp-launcher/launch"], "command": ["launcher-v2"],
        "image": "ghcr.io/kubeflow/kfp-launcher:latest", "name": "kfp-launcher",
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"},
                      "requests": {"cpu": "100m"}},
        "securityContext": _CONTAINER_SECURITY,
        "volumeMounts": [{"mountPath": "/kfp-launcher", "name": "kfp-launcher"}]}],
    "metadata": {"annotations": {"pipelines.kubeflow.org/runtime-role": "launcher"}},
    "podSpecPatch": "{{inputs.parameters.pod-spec-patch}}",
    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    "volumes": [{"emptyDir": {}, "name": name} for name, _ in _SCRATCH]}
IMPORTER: Spec = template(
    "system-importer",
    container={"args": [], "command": ["launcher-v2"], "env": _POD_ENV,
               "envFrom": _METADATA_ENV_FROM, "image": "ghcr.io/kubeflow/kfp-launcher:latest",
               "name": "", "resources": _DRIVER_CONTAINER["resources"]},
    inputs={"parameters": [param(p) for p in ("task", "component", "importer",
                                                "parent-dag-id")]})



def _driver_args(pipeline: str, kind: str, middle: list[str]) -> list[str]:
    return ["--type", kind, "--pipeline_name", pipeline, "--run_id", "{{workflow.uid}}",
            "--run_name", "{{workflow.name}}", "--run_display_name", "",
            "--pipeline_job_create_time_utc", "{{workflow.creationTimestamp}}",
            "--dag_execution_id", PARENT, "--component",
            "{{inputs.parameters.component}}", "--task", "{{inputs.parameters.task}}",
            "--task_name", "{{inputs.parameters.task-name}}", *middle,
            "--http_proxy", "", "--https_proxy", "", "--no_proxy", "",
            "--ml_pipeline_server_address", "ml-pipeline.kubeflow.svc.cluster.local",
            "--ml_pipeline_server_port", "8887",
            "--mlmd_server_address", "metadata-grpc-service.kubeflow.svc.cluster.local",
            "--mlmd_server_port", "8080"]

def container_driver(pipeline: str) -> Spec:
    """container.go, addContainerDriverTemplate."""
    middle = ["--container", "{{inputs.parameters.container}}", "--iteration_index",
              "{{inputs.parameters.iteration-index}}", "--cached_decision_path",
              "{{outputs.parameters.cached-decision.path}}", "--pod_spec_patch_path",
              "{{outputs.parameters.pod-spec-patch.path}}", "--condition_path",
              "{{outputs.parameters.condition.path}}", "--kubernetes_config",
              "{{inputs.parameters.kubernetes-config}}"]
    return template(
        "system-container-driver",
        container={**_DRIVER_CONTAINER, "args": _driver_args(pipeline, "CONTAINER", middle),
                   "env": _POD_ENV},
        inputs={"parameters": [param("component"), param("task"), param("container"),
                               param("task-name"), param("parent-dag-id"),
                               param("iteration-index", default="-1"),
                               param("kubernetes-config", default="")]},
        metadata=_DRIVER_ROLE, securityContext=POD_SECURITY,
        outputs={"parameters": [
            {"name": "pod-spec-patch", "valueFrom": {
                "default": "", "path": "/tmp/outputs/pod-spec-patch"}},
            {"name": "cached-decision", "default": "false", "valueFrom": {
                "default": "false", "path": "/tmp/outputs/cached-decision"}},
            {"name": "condition", "valueFrom": {
                "default": "true", "path": "/tmp/outputs/condition"}}]})

def dag_driver(pipeline: str) -> Spec:
    """dag.go, addDAGDriverTemplate."""
    middle = ["--runtime_config", "{{inputs.parameters.runtime-config}}",
              "--iteration_index", "{{inputs.parameters.iteration-index}}",
              "--execution_id_path", "{{outputs.parameters.execution-id.path}}",
              "--iteration_count_path", "{{outputs.parameters.iteration-count.path}}",
              "--condition_path", "{{outputs.parameters.condition.path}}"]
    args = _driver_args(pipeline, "{{inputs.parameters.driver-type}}", middle)
    return template(
        "system-dag-driver", container={**_DRIVER_CONTAINER, "args": args},
        inputs={"parameters": [
            param("component"), param("runtime-config", default=""),
            param("task", default=""), param("task-name", default=""),
            param("parent-dag-id", default="0"), param("iteration-index", default="-1"),
            param("driver-type", default="DAG")]},
        metadata=_DRIVER_ROLE, securityContext=POD_SECURITY,
        outputs={"parameters": [
            {"name": "execution-id", "valueFrom": {"path": "/tmp/outputs/execution-id"}},
            {"name": "iteration-count", "valueFrom": {
                "default": "0", "path": "/tmp/outputs/iteration-count"}},
            {"name": "condition", "valueFrom": {
                "default": "true", "path": "/tmp/outputs/condition"}}]})

def executor(prefix: str) -> list[Spec]:
    """container.go, addContainerExecutorTemplate: an executor DAG and the launcher pod;
    ``prefix`` is "retry-" for tasks with a retry policy."""
    retry = ["retry-max-count", "retry-backoff-duration", "retry-backoff-factor",
             "retry-backoff-max-duration"] if prefix else []
    executor_dag = template(
        f"{prefix}system-container-executor",
        inputs={"parameters": [param("pod-spec-patch"),
                               param("cached-decision", default="false"),
                               *[param(r, default="0") for r in retry]]},
        dag={"tasks": [{"name": "executor", "template": f"{prefix}system-container-impl",
                        "when": "{{inputs.parameters.cached-decision}} != true",
                        "arguments": {"parameters": [
                            param(p, f"{{{{inputs.parameters.{p}}}}}")
                            for p in ["pod-spec-patch", *retry]]}}]})
    impl = template(f"{prefix}system-container-impl", **_IMPL)
    impl["inputs"] = {"parameters": [param("pod-spec-patch"), *map(param, retry)]}
    if prefix:
        impl["retryStrategy"] = {"limit": "{{inputs.parameters.retry-max-count}}",
                                 "backoff": {
                                     "duration": "{{inputs.parameters.retry-backoff-duration}}",
                                     "factor": "{{inputs.parameters.retry-backoff-factor}}",
                                     "maxDuration": "{{inputs.parameters."
                                                    "retry-backoff-max-duration}}"}}
        impl["container"] = {**impl["container"], "env": [
            *_POD_ENV, {"name": "KFP_RETRY_INDEX", "value": "{{retries}}"}]}
    return [executor_dag, impl]


