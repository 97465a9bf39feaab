"""The preload writes its data set's fresh volume, on both targets: the pod's identity as the
engine and Kubernetes set it (image user, security context, fsGroup), against the permissions
of a new block volume (k8s_rules.writes_fresh_volume)."""

from __future__ import annotations

from typing import Any

import yaml

from cnai import compile_file
from k8s_rules import image_user, writes_fresh_volume
from testpaths import EXAMPLES, ROOT

PIPELINE = EXAMPLES / "model_pipeline.cnai"
PRELOAD_USER = image_user((ROOT / "runtime_images" / "preload" / "Dockerfile").read_text())


def test_the_preload_image_is_not_root() -> None:
    assert PRELOAD_USER == (10001, 10001)  # what makes the volume's permissions matter


def test_argo_preload_writes_its_volume() -> None:
    (workflow,) = yaml.safe_load_all(compile_file(PIPELINE, "argo").text)
    preload = next(t for t in workflow["spec"]["templates"] if t["name"] == "preload-imagenet")
    context: dict[str, Any] = preload.get("securityContext", {})
    uid = context.get("runAsUser", PRELOAD_USER[0])
    gid = context.get("runAsGroup", PRELOAD_USER[1])
    assert writes_fresh_volume(uid, gid, context.get("fsGroup"))


def test_kfp_preload_writes_its_volume() -> None:
    # kfp-kubernetes has no fsGroup: the driver sets only the container's runAsUser/runAsGroup
    # from the executor's securityContext (backend/src/v2/driver/k8s.go), and the pod gets no
    # fsGroup (argocompiler/security_context.go).
    _, platform = compile_file(PIPELINE, "kfp").documents
    config = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"][
        "exec-preload-imagenet"]
    context = config.get("securityContext", {})
    uid = int(context.get("runAsUser", PRELOAD_USER[0]))
    gid = int(context.get("runAsGroup", PRELOAD_USER[1]))
    assert "fsGroup" not in context
    assert writes_fresh_volume(uid, gid, None)
    # The steps that read the data set keep their images' users.
    assert "securityContext" not in config_of(platform, "exec-validate")


def config_of(platform: dict[str, Any], executor: str) -> dict[str, Any]:
    return platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"][executor]  # type: ignore[no-any-return]
