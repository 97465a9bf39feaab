"""Service accounts, image pull secrets, pod labels and annotations, security
contexts (semantics/identity.py, backends/identity.py), on both targets, and
`cnai submit --service-account`.

The goldens (valid/prod_identity.cnai on both targets, valid/argo_identity.cnai on Argo) are
checked byte for byte by test_golden.py and strictly against the schemas here; this file
checks what they mean field by field: the pipeline's defaults, a template's, a step's own on
top, and every pod valid under Kubernetes' `restricted` Pod Security Standard.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import schemacheck
from cnai import compile_file
from cnai.backends import cloud
from cnai.driver import CompileFailed, compile_source
from cnai.semantics import identity
from fakes.argo_server import ArgoServer
from fakes.kfp_server import KfpServer
from fakes.support import hermetic, submit, write
from test_kfp_support import pipeline_spec, platform_spec
from testpaths import FIXTURES

Doc = dict[str, Any]
PROD = FIXTURES / "valid" / "prod_identity.cnai"
ARGO_ONLY = FIXTURES / "valid" / "argo_identity.cnai"


def argo_docs(path: Path) -> list[Doc]:
    return compile_file(path, "argo").documents


def workflow(path: Path) -> Doc:
    (found,) = [d for d in argo_docs(path) if d["kind"] == "Workflow"]
    return found


def templates(doc: Doc) -> dict[str, Doc]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def manifest(template: Doc) -> Doc:
    return yaml.safe_load(template["resource"]["manifest"])


def codes(source: str, target: str) -> list[tuple[str, int]]:
    """The diagnostics' (code, line), or [] if it compiles."""
    try:
        compile_source(source, "t.cnai", target)
    except CompileFailed as failure:
        return [(d.code, d.span.line) for d in failure.diagnostics]
    return []


# ---- the restricted Pod Security Standard, as pod-security-admission checks it -----------
# kubernetes/staging/src/k8s.io/pod-security-admission/policy: check_runAsNonRoot.go,
# check_runAsUser.go, check_seccompProfile_restricted.go, check_allowPrivilegeEscalation.go,
# check_capabilities_restricted.go, check_restrictedVolumes.go, and the baseline checks the
# restricted level includes (check_privileged.go, check_hostNamespaces.go,
# check_hostPathVolumes.go, check_hostPorts.go).

RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}


def restricted_violations(pod: Doc) -> list[str]:
    """What breaks the restricted profile in a pod spec (empty: it is admitted)."""
    found: list[str] = []
    pod_context = pod.get("securityContext", {})
    containers = pod.get("containers", []) + pod.get("initContainers", [])
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            found.append(key)
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume {volume['name']}: {sorted(kinds)}")
    if pod_context.get("runAsUser") == 0:
        found.append("pod runAsUser 0")
    pod_non_root = pod_context.get("runAsNonRoot") is True
    pod_seccomp = pod_context.get("seccompProfile", {}).get("type")
    if pod_seccomp not in (None, "RuntimeDefault", "Localhost"):
        found.append(f"pod seccomp {pod_seccomp}")
    for container in containers:
        context = container.get("securityContext", {})
        name = container.get("name", "main")
        if context.get("privileged"):
            found.append(f"{name}: privileged")
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation not false")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            found.append(f"{name}: capabilities not dropped")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: capabilities added")
        if context.get("runAsNonRoot") is False or not (
                pod_non_root or context.get("runAsNonRoot") is True):
            found.append(f"{name}: runAsNonRoot")
        if context.get("runAsUser") == 0:
            found.append(f"{name}: runAsUser 0")
        seccomp = context.get("seccompProfile", {}).get("type") or pod_seccomp
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccomp {seccomp}")
        if any(port.get("hostPort") for port in container.get("ports", [])):
            found.append(f"{name}: hostPort")
    return found


def argo_pods(doc: Doc) -> Iterator[tuple[str, Doc]]:
    """Every pod spec an Argo Workflow makes: its container templates' pods (with the
    workflow's volumes) and the pods of the objects its resource templates create."""
    claims = [{"name": c["metadata"]["name"], "persistentVolumeClaim": {"claimName": "x"}}
              for c in doc["spec"].get("volumeClaimTemplates", [])]
    for template in doc["spec"]["templates"]:
        if "container" in template:
            yield template["name"], {
                "securityContext": template.get("securityContext", {}),
                "containers": [template["container"]],
                "volumes": [*template.get("volumes", []), *doc["spec"].get("volumes", []),
                            *claims]}
        elif "resource" in template:
            yield from object_pods(template["name"], manifest(template))


def object_pods(name: str, obj: Doc) -> Iterator[tuple[str, Doc]]:
    if obj["kind"] in ("TFJob", "PyTorchJob"):
        for field, replicas in obj["spec"].items():
            if field.endswith("ReplicaSpecs"):
                for kind, replica in replicas.items():
                    yield f"{name}/{kind}", replica["template"]["spec"]
    elif obj["kind"] == "Service" and obj["apiVersion"].startswith("serving.knative.dev"):
        yield name, obj["spec"]["template"]["spec"]


def kfp_objects(doc: Doc) -> Iterator[tuple[str, Doc]]:
    """The objects KFP's launcher and deploy tasks create, from their arguments."""
    for name, executor in doc["deploymentSpec"]["executors"].items():
        args = executor.get("container", {}).get("args", [])
        for flag, value in itertools.pairwise(args):
            if flag == "--manifest-text":
                yield name, json.loads(value)
            elif flag == "--manifests-text":
                for obj in yaml.safe_load_all(value.replace("$$", "$")):
                    yield name, obj


@pytest.mark.parametrize("path", [PROD, ARGO_ONLY], ids=["prod", "argo"])
def test_every_argo_pod_is_restricted(path: Path) -> None:
    pods = list(argo_pods(workflow(path)))
    assert len(pods) >= 4
    for name, pod in pods:
        assert restricted_violations(pod) == [], name


def test_every_kfp_object_pod_is_restricted_and_valid() -> None:
    spec, _platform = compile_file(PROD, "kfp").documents
    objects = list(kfp_objects(spec))
    assert {o["kind"] for _, o in objects} == {"PyTorchJob", "Service"}
    for name, obj in objects:
        schemacheck.assert_valid(obj)
        for pod_name, pod in object_pods(name, obj):
            assert restricted_violations(pod) == [], pod_name


def test_the_checker_catches_what_the_profile_refuses() -> None:
    """The control: a pod without a security block breaks the profile in each way."""
    doc = compile_source('pipeline p { step a { image = "busybox" } }', "t.cnai",
                         "argo").documents[0]
    ((_, pod),) = argo_pods(doc)
    assert restricted_violations(pod) == [
        "main: allowPrivilegeEscalation not false", "main: capabilities not dropped",
        "main: runAsNonRoot", "main: seccomp None"]


# ---- strict validity -------------------------------------------------------------------

@pytest.mark.parametrize("path", [PROD, ARGO_ONLY], ids=["prod", "argo"])
def test_argo_output_is_strictly_valid(path: Path) -> None:
    docs = argo_docs(path)
    schemacheck.assert_all_valid(docs)
    for template in workflow(path)["spec"]["templates"]:
        if "resource" in template:
            schemacheck.assert_valid(manifest(template))


def test_kfp_output_parses_into_kfp_kubernetes() -> None:
    spec, platform = compile_file(PROD, "kfp").documents
    pipeline_spec(spec)
    configs = platform_spec(platform)
    assert set(configs) == {"exec-prepare", "exec-train", "exec-tune", "exec-api"}


# ---- Argo: defaults, templates, a step's own -------------------------------------------

def test_argo_service_accounts() -> None:
    doc = workflow(ARGO_ONLY)
    assert doc["spec"]["serviceAccountName"] == "pipeline-runner"
    found = templates(doc)
    assert found["index"]["serviceAccountName"] == "data-reader"  # its template's
    assert found["upload"]["serviceAccountName"] == "uploader"  # its own
    assert "serviceAccountName" not in found["same"]  # the pipeline's: the Workflow's
    assert "serviceAccountName" not in found["preload-images"]  # preloads: the pipeline's
    assert "serviceAccountName" not in found["tune"]  # creates the job as the Workflow's
    job = manifest(found["tune"])
    for replica in job["spec"]["tfReplicaSpecs"].values():
        assert replica["template"]["spec"]["serviceAccountName"] == "pipeline-runner"
        assert replica["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]


def test_argo_image_pull_secrets_are_the_workflows_union_in_first_seen_order() -> None:
    assert workflow(ARGO_ONLY)["spec"]["imagePullSecrets"] == [
        {"name": "regcred"}, {"name": "other-registry"}]
    assert workflow(PROD)["spec"]["imagePullSecrets"] == [
        {"name": "regcred"}, {"name": "mirror-creds"}, {"name": "gpu-registry"}]


def test_argo_labels_and_annotations_merge_key_by_key() -> None:
    found = templates(workflow(PROD))
    assert found["prepare"]["metadata"] == {
        "annotations": {"sidecar.istio.io/inject": "false"},
        "labels": {"app.kubernetes.io/part-of": "vision", "team": "ml", "stage": "batch"}}
    assert found["train"]["metadata"] == {
        "annotations": {"sidecar.istio.io/inject": "false",
                        "cluster-autoscaler.kubernetes.io/safe-to-evict": "false"},
        "labels": {"app.kubernetes.io/part-of": "vision", "team": "vision"}}
    service = manifest(found["api"])
    revision = service["spec"]["template"]["metadata"]
    assert revision["labels"]["tier"] == "serving" and revision["labels"]["team"] == "ml"
    assert revision["labels"][cloud.STEP_LABEL] == "api"  # cnai's own kept
    assert revision["annotations"]["sidecar.istio.io/inject"] == "false"
    assert service["spec"]["template"]["spec"]["serviceAccountName"] == "model-server"


def test_argo_security_merges_field_by_field() -> None:
    found = templates(workflow(PROD))
    restricted = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert found["prepare"]["securityContext"] == {
        **restricted, "runAsUser": 1000, "runAsGroup": 3000}  # the template's group
    assert found["train"]["securityContext"] == {
        **restricted, "runAsUser": 2000, "runAsGroup": 1000}  # its own user
    argo_only = templates(workflow(ARGO_ONLY))
    assert argo_only["upload"]["securityContext"]["fsGroup"] == 3000
    assert argo_only["same"]["securityContext"]["fsGroup"] == 2000
    # A runtime image's own fsGroup gives way to the pipeline's.
    assert argo_only["preload-images"]["securityContext"]["fsGroup"] == 2000
    assert argo_only["index"]["container"]["securityContext"] == {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True}


def test_argo_resource_templates_pods_get_the_steps_metadata_and_security() -> None:
    """The executor pod that creates a job or a service runs in the same namespace, under the
    same policy: the step's labels, annotations and pod security context, the Workflow's
    account."""
    found = templates(workflow(PROD))
    for name in ("tune", "api"):
        assert found[name]["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
        assert found[name]["securityContext"]["runAsNonRoot"] is True
        assert "serviceAccountName" not in found[name]


def test_a_volcano_queue_and_pod_annotations_share_the_templates_metadata() -> None:
    source = """pipeline p {
      scheduling { scheduler = "volcano"  queue = "training" }
      pod_annotations { "example.com/owner" = "ml" }
      step a { image = "busybox" }
    }"""
    (doc,) = compile_source(source, "t.cnai", "argo").documents
    assert templates(doc)["a"]["metadata"] == {"annotations": {
        cloud.VOLCANO_QUEUE: "training", "example.com/owner": "ml"}}


# ---- Kubeflow -----------------------------------------------------------------------------

def test_kfp_executor_configs() -> None:
    _, platform = compile_file(PROD, "kfp").documents
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    prepare, train = executors["exec-prepare"], executors["exec-train"]
    assert prepare["imagePullSecret"] == [
        {"secretName": n, "secretNameParameter": {"runtimeValue": {"constant": n}}}
        for n in ("regcred", "mirror-creds")]
    assert [s["secretName"] for s in train["imagePullSecret"]] == ["gpu-registry"]  # replaced
    assert prepare["podMetadata"]["labels"] == {
        "app.kubernetes.io/part-of": "vision", "team": "ml", "stage": "batch"}
    assert train["podMetadata"]["labels"]["team"] == "vision"
    assert prepare["securityContext"] == {"runAsNonRoot": True, "runAsUser": "1000",
                                          "runAsGroup": "3000"}
    assert train["securityContext"] == {"runAsNonRoot": True, "runAsUser": "2000",
                                        "runAsGroup": "1000"}
    # The launcher and deploy tasks' own pods (the objects they create carry theirs).
    assert executors["exec-api"]["podMetadata"]["labels"]["tier"] == "serving"
    assert executors["exec-tune"]["securityContext"]["runAsNonRoot"] is True


def test_kfp_jobs_and_services_take_a_steps_own_account_only() -> None:
    spec, _ = compile_file(PROD, "kfp").documents
    accounts = {obj["kind"]: pod.get("serviceAccountName")
                for name, obj in kfp_objects(spec) for _, pod in object_pods(name, obj)}
    assert accounts == {"PyTorchJob": "trainer", "Service": "model-server"}
    source = PROD.read_text().replace('service_account = "trainer"', "")
    spec = compile_source(source, "t.cnai", "kfp").documents[0]
    job = next(obj for _, obj in kfp_objects(spec) if obj["kind"] == "PyTorchJob")
    assert "serviceAccountName" not in job["spec"]["pytorchReplicaSpecs"]["Worker"][
        "template"]["spec"]


def test_kfp_output_is_the_same_with_a_pipeline_service_account() -> None:
    """The run's account is sent by `cnai submit`, not compiled."""
    source = PROD.read_text()
    without = source.replace('service_account    = "pipeline-runner"\n', "")
    assert without != source
    one = compile_source(source, "t.cnai", "kfp").text
    assert one == compile_source(without, "t.cnai", "kfp").text


KFP_REFUSED = """pipeline p {
  service_account = "runner"
  step a { image = "busybox"  service_account = "other" }
  step b { image = "busybox"  security { fs_group = 2000 } }
  step c { image = "busybox"  security { read_only_root_filesystem = true } }
}
"""


def test_kfp_refuses_what_a_task_pod_cannot_have() -> None:
    assert codes(KFP_REFUSED, "kfp") == [("E0401", 3), ("E0401", 4)]
    assert codes(KFP_REFUSED, "argo") == []
    only_read_only = KFP_REFUSED.replace("security { fs_group = 2000 }", "")
    assert codes(only_read_only, "kfp") == [("E0401", 3), ("E0401", 5)]


def test_kfp_refuses_a_pipelines_fs_group_at_the_pipelines_block() -> None:
    source = 'pipeline p {\n  security { fs_group = 1 }\n  step a { image = "busybox" }\n}\n'
    assert codes(source, "kfp") == [("E0401", 2)]


def test_kfp_preload_under_security_is_a_warning() -> None:
    source = """pipeline p {
  security { run_as_user = 1000 }
  dataset d { source = "s3://b/x"  path = "/data"  size = "1Gi" }
  step a { image = "busybox"  mount d }
}"""
    result = compile_source(source, "t.cnai", "kfp")
    assert [(w.code, w.span.line) for w in result.warnings] == [("W0405", 3)]
    assert compile_source(source, "t.cnai", "argo").warnings == []


# ---- the checker --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "code", "column"), [
    ('service_account = "Runner"', "E0208", 21),
    ("service_account = 3", "E0201", 21),
    ('image_pull_secrets = ["a", "a"]', "E0110", 30),
    ('image_pull_secrets = ["a_b"]', "E0208", 25),
    ('image_pull_secrets = "a"', "E0201", 24),
    ('pod_labels { "-bad" = "x" }', "E0208", 16),
    ('pod_labels { team = "a b" }', "E0208", 23),
    ("pod_labels { team = true }", "E0201", 23),
    ('pod_labels { "workflows.argoproj.io/workflow" = "x" }', "E0208", 16),
    ('pod_annotations { "scheduling.volcano.sh/queue-name" = "q" }', "E0208", 21),
    ('pod_annotations { a = "1"  a = "2" }', "E0110", 30),
    ("security { run_as_user = 0 }", "E0208", 28),
    ("security { user = 1 }", "E0105", 14),
    ('security { run_as_non_root = "yes" }', "E0201", 32),
    ("security { fs_group = -1 }", "E0002", 0),
])
def test_bad_input_is_reported_at_the_value(text: str, code: str, column: int) -> None:
    source = f'pipeline p {{\n  step a {{ image = "busybox"\n  {text} }}\n}}\n'
    try:
        compile_source(source, "t.cnai", "argo")
    except CompileFailed as failure:
        found = [(d.code, d.span.line, d.span.col) for d in failure.diagnostics]
    else:
        found = []
    if column:
        assert found[0] == (code, 3, column), found
    else:
        assert found and found[0][0] in (code, "E0201", "E0208"), found


def test_run_as_root_is_allowed_when_said() -> None:
    source = 'pipeline p { step a { image = "x"  security { run_as_user = 0  ' \
             'run_as_non_root = false } } }'
    (doc,) = compile_source(source, "t.cnai", "argo").documents
    assert templates(doc)["a"]["securityContext"]["runAsNonRoot"] is False


def test_cnais_own_keys_are_reserved() -> None:
    for key in (cloud.STEP_LABEL, cloud.RUN_LABEL, cloud.PIPELINE_LABEL, cloud.VOLCANO_QUEUE,
                cloud.BURST_CAPACITY, "autoscaling.knative.dev/min-scale",
                "autoscaling.knative.dev/max-scale"):
        assert identity.reserved(key), key


# ---- cnai submit --service-account ------------------------------------------------------

ACCOUNT = 'pipeline acct {\n  service_account = "runner"\n' \
          '  step a { image = "busybox" }\n  step b { image = "busybox"  ' \
          'service_account = "own" }\n}\n'


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    hermetic(monkeypatch)
    monkeypatch.setattr("kfp.client.client.Client._LOCAL_KFP_CONTEXT",
                        str(tmp_path / "kfp-context.json"))


# hera serialises requests with pydantic v1's `.json()` (as in test_submit_argo.py).
@pytest.mark.filterwarnings("ignore:The `json` method is deprecated:DeprecationWarning")
@pytest.mark.parametrize(("flag", "account"), [([], "runner"),
                                               (["--service-account", "override"], "override")])
def test_submit_argo_sends_the_workflows_account(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: list[str],
        account: str) -> None:
    with ArgoServer() as argo:
        result = submit(capsys, write(tmp_path, ACCOUNT), "--server", argo.url, *flag)
    assert result.code == 0, result.err
    assert argo.rejected == []
    (body,) = argo.bodies
    spec = body["workflow"]["spec"]
    assert spec["serviceAccountName"] == account
    assert templates(body["workflow"])["b"]["serviceAccountName"] == "own"  # kept


@pytest.mark.parametrize(("flag", "account"), [([], "runner"),
                                               (["--service-account", "override"], "override")])
def test_submit_kfp_sends_the_runs_account(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, flag: list[str],
        account: str) -> None:
    source = ACCOUNT.replace('  service_account = "own" ', "")
    with KfpServer() as kfp:
        result = submit(capsys, write(tmp_path, source), "-t", "kfp", "--host", kfp.url,
                        *flag)
    assert result.code == 0, result.err
    assert kfp.rejected == []
    (run,) = [body for where, body in kfp.bodies if where == "/apis/v2beta1/runs"]
    assert run["service_account"] == account


def test_submit_refuses_an_invalid_account(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    result = submit(capsys, write(tmp_path, ACCOUNT), "--server", "http://127.0.0.1:1",
                    "--service-account", "Not_Valid")
    assert result.code == 2  # a usage error: nothing is compiled or sent
    assert "--service-account 'Not_Valid' is not a DNS-1123 subdomain" in result.err


# ---- template sharing -------------------------------------------------------------------

def test_steps_with_equal_settings_written_apart_share_a_template() -> None:
    """Where a `security` block was written does not change the pod (dedupe_templates)."""
    source = """pipeline p {
  step a { image = "x"  command = ["run", "1"]  security { run_as_user = 5 } }
  step b { image = "x"  command = ["run", "2"]  security { run_as_user = 5 } }
  step c { image = "x"  command = ["run", "3"]  security { run_as_user = 6 } }
  step d { image = "x"  command = ["run", "4"]  pod_labels { a = "b" } }
}"""
    (doc,) = compile_source(source, "t.cnai", "argo").documents
    tasks = {t["name"]: t["template"] for t in templates(doc)["main"]["dag"]["tasks"]}
    assert tasks["a"] == tasks["b"]
    assert len({tasks["a"], tasks["c"], tasks["d"]}) == 3
