"""Configuration and volumes on both targets: env values from ConfigMaps and the
pod's fields, `env_from`, user volumes and `/dev/shm`.

- Argo and the pods cnai writes itself (training jobs, Knative Services, on both targets):
  Kubernetes' own fields. `valueFrom.configMapKeyRef` / `valueFrom.fieldRef`, `envFrom`
  (`configMapRef` / `secretRef`), a pod volume per mounted volume (`persistentVolumeClaim`,
  `configMap`, `secret`, `emptyDir` with `medium` and `sizeLimit`) named after the volume, and
  the container's `volumeMounts` (`readOnly`, `subPath`). `shm` is a memory-backed emptyDir
  mounted at /dev/shm.
- Kubeflow (a step's own pod): the executor's KubernetesExecutorConfig (kfp_configuration.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnai.semantics import ir
from cnai.semantics.configuration import SHM_PATH

if TYPE_CHECKING:
    from cnai.backends.argo import ArgoBackend

Spec = dict[str, Any]
SHM_VOLUME = "cnai-shm"


# ---- Kubernetes' own fields (Argo, training jobs, Knative) --------------------------------

def value_from(var: ir.EnvVar) -> Spec:
    """The `valueFrom` of a variable read from a ConfigMap's key or a pod field."""
    if var.config_map is not None:
        return {"configMapKeyRef": {"name": var.config_map.name, "key": var.config_map.key}}
    assert var.field is not None
    return {"fieldRef": {"fieldPath": var.field}}


def env_from(step: ir.Step) -> list[Spec]:
    return [{"configMapRef" if source.kind == "config_map" else "secretRef": {
        "name": source.name}} for source in step.env_from]


def volume_mounts(step: ir.Step) -> list[Spec]:
    """The container's mounts of the step's volumes and of /dev/shm."""
    mounts: list[Spec] = []
    for volume in step.volumes:
        mount: Spec = {"name": volume.k8s_name, "mountPath": volume.path}
        if volume.read_only or volume.source in ("config_map", "secret"):
            mount["readOnly"] = True
        if volume.sub_path is not None:
            mount["subPath"] = volume.sub_path
        mounts.append(mount)
    if step.shm is not None:
        mounts.append({"name": SHM_VOLUME, "mountPath": SHM_PATH})
    return mounts


def pod_volumes(step: ir.Step) -> list[Spec]:
    """The pod's volumes for volume_mounts."""
    volumes = [{"name": volume.k8s_name, **_source(volume)} for volume in step.volumes]
    if step.shm is not None:
        volumes.append({"name": SHM_VOLUME, "emptyDir": {"medium": "Memory",
                                                         "sizeLimit": step.shm}})
    return volumes


def _source(volume: ir.Volume) -> Spec:
    if volume.claim is not None:
        claim: Spec = {"claimName": volume.claim}
        if volume.read_only:
            claim["readOnly"] = True
        return {"persistentVolumeClaim": claim}
    if volume.config_map is not None:
        return {"configMap": {"name": volume.config_map}}
    if volume.secret is not None:
        return {"secret": {"secretName": volume.secret}}
    empty_dir: Spec = {}
    if volume.memory:
        empty_dir["medium"] = "Memory"
    if volume.size is not None:
        empty_dir["sizeLimit"] = volume.size
    return {"emptyDir": empty_dir}


def argo_volumes(backend: ArgoBackend, step: ir.Step, template: Spec) -> None:
    """A container template's volumes, after cnai's own (the mounts are k8s.container's)."""
    volumes = pod_volumes(step)
    if volumes:
        template.setdefault("volumes", []).extend(volumes)
