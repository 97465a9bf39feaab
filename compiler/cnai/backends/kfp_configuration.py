"""Configuration and volumes on Kubeflow: a step's own pod gets them through
kfp-kubernetes 2.17.3's KubernetesExecutorConfig, written as its functions write it
(kfp/kubernetes/config_map.py, secret.py, field.py, volume.py, empty_dir.py):
`configMapAsEnv`, `fieldPathAsEnv`, `pvcMount` (constant claim, `subPath`),
`configMapAsVolume`, `secretAsVolume`, `emptyDirMounts` and `enabledSharedMemory`.

The driver turns them into the pod's env, volumes and mounts, naming a ConfigMap's or Secret's
volume after the object and a claim's after the claim, and mounting the shared memory at
/dev/shm (kubeflow/pipelines backend/src/v2/driver/k8s.go, extendPodSpecPatch;
backend/src/v2/compiler/argocompiler/container.go, applyStaticK8sConfig). What it cannot
express is refused (kfp_contract.Unsupported, reported as E0401 at the step): `env_from`
(SecretAsEnv and ConfigMapAsEnv map keys one by one), a read-only claim (PvcMount has no
readOnly), and two volumes the driver would give one name. Training jobs and services are
pods cnai writes itself (k8s_configuration.py), which take all of these.
"""

from __future__ import annotations

from typing import Any

from cnai.backends.k8s_configuration import SHM_VOLUME
from cnai.backends.kfp_contract import Unsupported
from cnai.context import Options
from cnai.semantics import ir

Spec = dict[str, Any]


def kfp_env(step: ir.Step) -> Spec:
    """`configMapAsEnv` (one entry per ConfigMap, its keys in the step's order) and
    `fieldPathAsEnv`; `env_from` is refused."""
    if step.env_from:
        raise Unsupported(
            f"step `{step.name}` takes every key of {_named(step.env_from[0])} as environment "
            "variables (`env_from`); kfp-kubernetes maps keys one by one (its SecretAsEnv and "
            "ConfigMapAsEnv need each key); write `env { NAME = secret(\"NAME\", \"KEY\") }` "
            "or `config_map(\"NAME\", \"KEY\")` per key, or compile with --target argo")
    config: Spec = {}
    maps: dict[str, Spec] = {}
    for var in step.env:
        if var.config_map is not None:
            name = var.config_map.name
            entry = maps.setdefault(name, {
                "configMapName": name,
                "configMapNameParameter": {"runtimeValue": {"constant": name}},
                "keyToEnv": [], "optional": False})
            entry["keyToEnv"].append({"configMapKey": var.config_map.key, "envVar": var.name})
    if maps:
        config["configMapAsEnv"] = list(maps.values())
    fields = [{"name": var.name, "fieldPath": var.field} for var in step.env
              if var.field is not None]
    if fields:
        config["fieldPathAsEnv"] = fields
    return config


def _named(source: ir.EnvFrom) -> str:
    return f"{'Secret' if source.kind == 'secret' else 'ConfigMap'} `{source.name}`"


def kfp_volumes(step: ir.Step, options: Options, config: Spec) -> None:
    """The step's volumes and /dev/shm in its executor config (appended to the data sets'
    claims and a preload's credentials)."""
    names: dict[str, str] = {}
    for volume in step.volumes:
        name, key, entry = _kfp_volume(step, volume)
        if name in names:
            raise Unsupported(
                f"step `{step.name}` mounts volumes `{names[name]}` and `{volume.name}`, which "
                f"Kubeflow's driver would both name `{name}` (it names a claim's, ConfigMap's "
                "or Secret's volume after the object); mount one of them, or compile with "
                "--target argo")
        names[name] = volume.name
        config.setdefault(key, []).append(entry)
    if step.shm is not None:
        config["enabledSharedMemory"] = {"volumeName": SHM_VOLUME, "size": step.shm}


def _kfp_volume(step: ir.Step, volume: ir.Volume) -> tuple[str, str, Spec]:
    """(the volume's name in the pod, the executor config's field, its entry)."""
    constant = {"runtimeValue": {"constant": volume.claim or volume.config_map or volume.secret}}
    if volume.claim is not None:
        if volume.read_only:
            raise Unsupported(
                f"volume `{volume.name}` of step `{step.name}` mounts claim `{volume.claim}` "
                "read-only; kfp-kubernetes' PvcMount has no readOnly field, so Kubeflow would "
                "mount it read-write; drop `read_only` (or use a ReadOnlyMany claim), or "
                "compile with --target argo")
        # As mount_pvc writes it: the parameter, and the deprecated constant older backends
        # read (kfp/kubernetes/volume.py).
        entry: Spec = {"mountPath": volume.path, "pvcNameParameter": constant,
                       "constant": volume.claim}
        if volume.sub_path is not None:
            entry["subPath"] = volume.sub_path
        return volume.claim, "pvcMount", entry
    if volume.config_map is not None:
        return volume.config_map, "configMapAsVolume", {
            "configMapName": volume.config_map, "mountPath": volume.path, "optional": False,
            "configMapNameParameter": constant}
    if volume.secret is not None:
        return volume.secret, "secretAsVolume", {
            "secretName": volume.secret, "mountPath": volume.path, "optional": False,
            "secretNameParameter": constant}
    empty_dir: Spec = {"volumeName": volume.k8s_name, "mountPath": volume.path}
    if volume.memory:
        empty_dir["medium"] = "Memory"
    if volume.size is not None:
        empty_dir["sizeLimit"] = volume.size
    return volume.k8s_name, "emptyDirMounts", empty_dir
