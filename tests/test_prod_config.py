"""Configuration and volumes: env values from ConfigMaps and pod fields,
`env_from`, the pipeline's `env` and `shm` as defaults, `volume` declarations and `mount`.

What each target emits is checked field by field on valid/prod_config.cnai (both targets)
and valid/argo_config.cnai (Argo); their goldens are test_golden.py's, their schemas
test_argo.py's. Here: the values, the defaults and their overrides, template sharing, what
each target refuses, the bad inputs (code and span), and `cnai run --local`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import schemacheck
from cnai.cli import main
from cnai.driver import CompileFailed, compile_source
from test_kfp_support import pipeline_spec, platform_spec
from testpaths import FIXTURES

VALID = FIXTURES / "valid"
Doc = dict[str, Any]


def compiled(path: Path, target: str) -> list[Doc]:
    return compile_source(path.read_text(encoding="utf-8"), str(path), target).documents


def templates(workflow: Doc) -> dict[str, Doc]:
    return {t["name"]: t for t in workflow["spec"]["templates"]}


def task_templates(workflow: Doc) -> dict[str, str]:
    return {t["name"]: t["template"] for t in templates(workflow)["main"]["dag"]["tasks"]}


def env_of(container: Doc) -> dict[str, Any]:
    """Each variable's value, or its valueFrom."""
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


CONFIG_MAP = {"configMapKeyRef": {"name": "app-settings", "key": "log-level"}}
POD_NAME = {"fieldRef": {"fieldPath": "metadata.name"}}


@pytest.fixture(scope="module")
def argo() -> Doc:
    (workflow,) = compiled(VALID / "prod_config.cnai", "argo")
    schemacheck.assert_valid(workflow)
    return workflow


def test_argo_env_is_the_pipelines_with_the_templates_and_the_steps_on_top(argo: Doc) -> None:
    found = templates(argo)
    prepare = env_of(found["prepare"]["container"])
    assert prepare["LOG_LEVEL"] == CONFIG_MAP and prepare["POD_NAME"] == POD_NAME
    assert prepare["STAGE"] == "{{inputs.parameters.stage}}"
    assert prepare["NODE"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert prepare["TEAM"] == {"fieldRef": {"fieldPath": "metadata.labels['team']"}}
    assert prepare["API_KEY"] == {"secretKeyRef": {"name": "api-keys", "key": "prepare"}}
    assert prepare["spring.profiles.active"] == "prod"  # a quoted name
    train = env_of(found["train"]["container"])  # the step's key over the template's
    assert train["LOG_LEVEL"] == "debug" and train["POD_NAME"] == POD_NAME
    assert train["THREADS"] == {"configMapKeyRef": {"name": "app-settings", "key": "threads"}}
    assert env_of(found["tune"]["container"])["LOG_LEVEL"] == "info"  # the template's
    assert env_of(found["report"]["container"])["LOG_LEVEL"] == CONFIG_MAP  # the pipeline's


def test_argo_volumes_and_mounts(argo: Doc) -> None:
    found = templates(argo)
    prepare = found["prepare"]
    assert prepare["container"]["volumeMounts"] == [
        {"name": "shared", "mountPath": "/shared", "subPath": "runs"},
        {"name": "settings", "mountPath": "/etc/app", "readOnly": True},
        {"name": "cnai-shm", "mountPath": "/dev/shm"}]
    assert prepare["volumes"] == [
        {"name": "shared", "persistentVolumeClaim": {"claimName": "team-data"}},
        {"name": "settings", "configMap": {"name": "app-settings"}},
        {"name": "cnai-shm", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}}]
    train = {v["name"]: v for v in found["train"]["volumes"]}
    assert train["scratch"] == {"name": "scratch", "emptyDir": {"sizeLimit": "20Gi"}}
    assert train["fast"] == {"name": "fast", "emptyDir": {"medium": "Memory",
                                                          "sizeLimit": "512Mi"}}
    # shm: the template's replaces the pipeline's, and the step's replaces both.
    shm = {name: next(v["emptyDir"]["sizeLimit"] for v in found[name]["volumes"]
                      if v["name"] == "cnai-shm") for name in ("train", "tune", "report")}
    assert shm == {"train": "8Gi", "tune": "8Gi", "report": "64Mi"}


def test_argo_training_jobs_and_services_carry_them(argo: Doc) -> None:
    found = templates(argo)
    job = found["ddp"]["resource"]["manifest"]
    assert "claimName" not in job and "name: scratch" in job and "medium: Memory" in job
    assert "mountPath: /dev/shm" in job and "fieldPath: metadata.name" in job
    service = found["api"]["resource"]["manifest"]
    assert "envFrom:\n        - configMapRef:\n            name: api-settings\n" \
           "        - secretRef:\n            name: api-keys" in service
    assert "secretName: serving-tls" in service and "/dev/shm" not in service
    assert "fieldRef" not in service  # the service sets POD_NAME itself


def test_argo_env_from_and_read_only_claims() -> None:
    (workflow,) = compiled(VALID / "argo_config.cnai", "argo")
    schemacheck.assert_valid(workflow)
    found = templates(workflow)
    assert found["serve-batch"]["container"]["envFrom"] == [
        {"configMapRef": {"name": "scoring"}}, {"secretRef": {"name": "scoring-keys"}}]
    assert found["audit"]["container"]["envFrom"] == [{"configMapRef": {"name": "defaults"}}]
    assert found["serve-batch"]["volumes"] == [{"name": "models", "persistentVolumeClaim": {
        "claimName": "model-store", "readOnly": True}}]
    assert found["serve-batch"]["container"]["volumeMounts"] == [
        {"name": "models", "mountPath": "/models", "readOnly": True}]
    job = yaml.safe_load(found["train"]["resource"]["manifest"])
    for replica in job["spec"]["pytorchReplicaSpecs"].values():
        spec = replica["template"]["spec"]
        assert spec["containers"][0]["envFrom"] == [{"configMapRef": {"name": "defaults"}}]
        assert {"name": "cnai-shm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}} \
            in spec["volumes"]


# ---- Kubeflow ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kfp() -> tuple[Any, dict[str, Any]]:
    spec, platform = compiled(VALID / "prod_config.cnai", "kfp")
    return pipeline_spec(spec), platform_spec(platform)  # both parse strictly


def executor(spec: Any, task: str) -> str:
    return "exec-" + spec.root.dag.tasks[task].component_ref.name.removeprefix("comp-")


def test_kfp_executor_configs(kfp: tuple[Any, dict[str, Any]]) -> None:
    spec, configs = kfp
    prepare = configs[executor(spec, "prepare")]
    assert [(e.config_map_name_parameter.runtime_value.constant.string_value,
             [(k.config_map_key, k.env_var) for k in e.key_to_env])
            for e in prepare.config_map_as_env] == [("app-settings", [("log-level", "LOG_LEVEL")])]
    assert [(f.name, f.field_path) for f in prepare.field_path_as_env] == [
        ("POD_NAME", "metadata.name"), ("NODE", "spec.nodeName"),
        ("TEAM", "metadata.labels['team']")]
    (claim,) = prepare.pvc_mount
    assert (claim.pvc_name_parameter.runtime_value.constant.string_value, claim.mount_path,
            claim.sub_path) == ("team-data", "/shared", "runs")
    (settings,) = prepare.config_map_as_volume
    assert (settings.config_map_name, settings.mount_path) == ("app-settings", "/etc/app")
    assert (prepare.enabled_shared_memory.volume_name,
            prepare.enabled_shared_memory.size) == ("cnai-shm", "1Gi")
    train = configs[executor(spec, "train")]
    assert [(m.volume_name, m.mount_path, m.medium, m.size_limit)
            for m in train.empty_dir_mounts] == [("scratch", "/scratch", "", "20Gi"),
                                                 ("fast", "/fast", "Memory", "512Mi")]
    assert train.enabled_shared_memory.size == "8Gi"
    assert configs[executor(spec, "report")].enabled_shared_memory.size == "64Mi"


def test_kfp_containers_keep_literal_env_only(kfp: tuple[Any, dict[str, Any]]) -> None:
    spec, _ = kfp
    container = spec.deployment_spec["executors"][executor(spec, "train")]["container"]
    assert [dict(e) for e in container["env"]] == [{"name": "LOG_LEVEL", "value": "debug"}]


def test_kfp_jobs_and_services_take_what_a_steps_pod_cannot() -> None:
    """env_from is refused for a step's own pod, but the launcher's job and the deploy
    image's Knative Service are written by cnai, with every field."""
    spec, _ = compiled(VALID / "prod_config.cnai", "kfp")
    args = {name: " ".join(e["container"].get("args", []))
            for name, e in spec["deploymentSpec"]["executors"].items()}
    assert "secretRef:" in args["exec-api"] and "secretName: serving-tls" in args["exec-api"]
    assert '"medium": "Memory"' in args["exec-ddp"] and '"/dev/shm"' in args["exec-ddp"]


def refused(source: str, target: str) -> list[tuple[str, str, int]]:
    with pytest.raises(CompileFailed) as failure:
        compile_source(source, "t.cnai", target)
    return [(d.code, d.message, d.span.line) for d in failure.value.diagnostics
            if d.code.startswith("E")]


STEP = 'image = "busybox"  command = ["run"]'


@pytest.mark.parametrize(("body", "found"), [
    ('env_from = [secret("keys")]', "takes every key of Secret `keys`"),
    ('mount data', "kfp-kubernetes' PvcMount has no readOnly field"),
    ("mount app  mount app_files", "Kubeflow's driver would both name `app`"),
])
def test_kfp_refuses_what_a_steps_pod_cannot_have(body: str, found: str) -> None:
    source = f"""pipeline p {{
  volume data {{ claim = "d"  path = "/d"  read_only = true }}
  volume app {{ config_map = "app"  path = "/a" }}
  volume app_files {{ secret = "app"  path = "/b" }}
  step s {{ {STEP}  {body} }}
}}
"""
    assert compile_source(source, "t.cnai", "argo").documents
    ((code, message, line),) = refused(source, "kfp")
    assert code == "E0401" and found in message and line == 5


# ---- defaults and overrides, template sharing -------------------------------------------

def steps_of(source: str) -> dict[str, Any]:
    graph = compile_source(source, "t.cnai", "argo").graph
    assert graph is not None
    return {s.name: s for s in graph.steps}


def test_a_steps_env_from_and_shm_replace_the_pipelines() -> None:
    steps = steps_of(f"""pipeline p {{
  env_from = [config_map("a"), secret("b")]
  shm = "1Gi"
  step own {{ {STEP}  env_from = [secret("c")]  shm = "2Gi" }}
  step inherits {{ {STEP} }}
  service api {{ image = "server" }}
}}
""")
    assert [(e.kind, e.name) for e in steps["own"].env_from] == [("secret", "c")]
    assert [(e.kind, e.name) for e in steps["inherits"].env_from] == [
        ("config_map", "a"), ("secret", "b")]
    assert (steps["own"].shm, steps["inherits"].shm, steps["api"].shm) == ("2Gi", "1Gi", None)
    assert len(steps["api"].env_from) == 2


def test_the_pipelines_env_is_merged_key_by_key() -> None:
    steps = steps_of(f"""pipeline p {{
  env {{ A = "pipeline"  B = config_map("m", "b")  C = "pipeline" }}
  template t() {{ {STEP}  env {{ B = "template"  D = "template" }} }}
  step plain {{ {STEP} }}
  step own {{ {STEP}  env {{ C = field("metadata.uid") }} }}
  step templated {{ use t()  env {{ D = "step" }} }}
}}
""")

    def values(step: str) -> dict[str, Any]:
        return {v.name: v.value.literal if v.value else v.config_map or v.field
                for v in steps[step].env}

    assert values("plain")["A"] == "pipeline" and values("plain")["C"] == "pipeline"
    assert values("own")["C"] == "metadata.uid" and values("own")["A"] == "pipeline"
    templated = values("templated")
    assert (templated["A"], templated["B"], templated["D"]) == ("pipeline", "template", "step")
    assert steps["plain"].env[1].config_map.name == "m"


def test_volumes_reach_only_the_steps_that_mount_them_and_add_no_edge() -> None:
    steps = steps_of(f"""pipeline p {{
  volume v {{ empty_dir = true  path = "/v" }}
  step a {{ {STEP}  mount v }}
  step b {{ {STEP} }}
}}
""")
    assert [v.name for v in steps["a"].volumes] == ["v"] and steps["b"].volumes == []
    assert steps["a"].depends == [] and steps["b"].depends == []


@pytest.mark.parametrize("difference", [
    ('env { X = config_map("m", "k") }', 'env { X = config_map("m", "other") }'),
    ('env { X = field("metadata.name") }', 'env { X = field("metadata.uid") }'),
    ('env { X = config_map("m", "k") }', 'env { X = secret("m", "k") }'),
    ('env_from = [config_map("m")]', 'env_from = [secret("m")]'),
    ('shm = "1Gi"', 'shm = "2Gi"'),
    ("mount one", "mount two"),
    ("mount one", ""),
])
def test_steps_that_differ_in_configuration_never_share(difference: tuple[str, str]) -> None:
    first, second = difference
    source = f"""pipeline p {{
  volume one {{ empty_dir = true  path = "/v" }}
  volume two {{ empty_dir = true  path = "/v"  memory = true }}
  step a {{ {STEP}  {first} }}
  step b {{ {STEP}  {second} }}
  step c {{ {STEP}  {first} }}
  step d {{ {STEP} mount one mount two }}
}}
""".replace("mount one mount two", "")
    steps = steps_of(source)
    assert steps["a"].template is not None and steps["a"].template == steps["c"].template
    assert steps["b"].template != steps["a"].template


# ---- bad input: the code, the line and the text it points at ----------------------------

BAD = [
    # env functions
    ('env { X = config_map("app") }', "E0201", 'config_map("app")'),
    ('env { X = config_map("App", "k") }', "E0208", '"App"'),
    ('env { X = config_map("app", "a/b") }', "E0208", '"a/b"'),
    ('env { X = config_map(1, "k") }', "E0201", "1"),
    ('env { X = field("spec.containers") }', "E0208", '"spec.containers"'),
    ("env { X = field(\"metadata.labels['a b']\") }", "E0208", "\"metadata.labels['a b']\""),
    ('env { "a b" = "1" }', "E0208", '"a b"'),
    ('env { X = confg_map("a", "b") }', "E0103", "confg_map"),
    # env_from
    ('env_from = config_map("a")', "E0201", 'config_map("a")'),
    ('env_from = [config_map("a", "k")]', "E0201", 'config_map("a", "k")'),
    ('env_from = [field("metadata.name")]', "E0103", "field"),
    ('env_from = [secret("Bad_Name")]', "E0208", '"Bad_Name"'),
    ('env_from = [secret("a"), secret("a")]', "E0110", 'secret("a")'),
    ('env_from = ["a"]', "E0201", '"a"'),
    # shm and mounts
    ('shm = "lots"', "E0206", '"lots"'),
    ("shm = true", "E0201", "true"),
    ("mount nothing", "E0108", "nothing"),
]


def _diagnostic(source: str) -> tuple[str, str]:
    with pytest.raises(CompileFailed) as failure:
        compile_source(source, "t.cnai", "argo")
    (diagnostic,) = failure.value.diagnostics
    return diagnostic.code, source[diagnostic.span.start:diagnostic.span.end]


@pytest.mark.parametrize(("body", "code", "text"), BAD, ids=[b[0] for b in BAD])
def test_bad_step_settings(body: str, code: str, text: str) -> None:
    source = f'pipeline p {{\n  step s {{ {STEP}  {body} }}\n}}\n'
    assert _diagnostic(source) == (code, text)


BAD_VOLUMES = [
    ('path = "/v"', "E0106", "v"),
    ('claim = "c"', "E0106", "v"),
    ('claim = "c"  secret = "s"  path = "/v"', "E0208", "secret"),
    ('empty_dir = true  claim = "c"  path = "/v"', "E0208", "claim"),
    ('claim = "Bad"  path = "/v"', "E0208", '"Bad"'),
    ('config_map = "a_b"  path = "/v"', "E0208", '"a_b"'),
    ('claim = "c"  path = "v"', "E0208", '"v"'),
    ('claim = "c"  path = "/v"  sub_path = "../x"', "E0208", '"../x"'),
    ('claim = "c"  path = "/v"  sub_path = "/x"', "E0208", '"/x"'),
    ('secret = "s"  path = "/v"  read_only = true', "E0208", "read_only"),
    ('secret = "s"  path = "/v"  sub_path = "x"', "E0208", "sub_path"),
    ('claim = "c"  path = "/v"  size = "1Gi"', "E0208", "size"),
    ('claim = "c"  path = "/v"  memory = true', "E0208", "memory"),
    ('empty_dir = true  path = "/v"  size = "big"', "E0206", '"big"'),
    ('empty_dir = "yes"  path = "/v"', "E0201", '"yes"'),
    ('empty_dir = true  path = "/v"  medium = "Memory"', "E0105", "medium"),
    ('empty_dir = true  path = "/v"  "size" = "1Gi"', "E0201", '"size"'),
    ('empty_dir = true  path = "/v"  mount x', "E0201", "mount x"),
]


@pytest.mark.parametrize(("body", "code", "text"), BAD_VOLUMES, ids=[b[0] for b in BAD_VOLUMES])
def test_bad_volumes(body: str, code: str, text: str) -> None:
    source = f'pipeline p {{\n  volume v {{ {body} }}\n  step s {{ {STEP}  mount v }}\n}}\n'
    assert _diagnostic(source) == (code, text)


SIMPLE = 'step s { image = "b" }'
OUTPUT = 'step s { image = "b"  command = ["run", outputs.out]  output out: string  mount v }'
BAD_PIPELINES = [
    ('volume d { empty_dir = true  path = "/d" }\n  dataset d { source = "s3://b/d"  '
     'path = "/x"  size = "1Gi" }\n  ' + SIMPLE, "E0101", "d"),
    ('volume cnai_x { empty_dir = true  path = "/d" }\n  ' + SIMPLE, "E0208", "cnai_x"),
    ('shm = "1Gi"\n  volume v { empty_dir = true  path = "/dev/shm/x" }\n  '
     'step s { image = "b"  mount v }', "E0208", "s"),
    ('volume v { empty_dir = true  path = "/cnai/outputs/x" }\n  ' + OUTPUT, "E0208", "s"),
    ('env { X = s.out }\n  ' + OUTPUT.replace("  mount v", ""), "E0201", "s.out"),
    ('env { X = secret("s") }\n  ' + SIMPLE, "E0201", 'secret("s")'),
    ('env { "1X" = "1" }\n  ' + SIMPLE, "E0208", '"1X"'),
    ('env { X = "1"  X = "2" }\n  ' + SIMPLE, "E0110", "X"),
    ('env_from = [secret("a")]\n  env_from = [secret("b")]\n  ' + SIMPLE, "E0110", "env_from"),
]


@pytest.mark.parametrize(("body", "code", "text"), BAD_PIPELINES,
                         ids=[b[0].split("\n")[0] for b in BAD_PIPELINES])
def test_bad_pipeline_settings(body: str, code: str, text: str) -> None:
    assert _diagnostic(f"pipeline p {{\n  {body}\n}}\n") == (code, text)


def test_services_take_config_maps_secrets_and_empty_dirs_but_not_claims_or_pod_fields(
        ) -> None:
    ok = """pipeline p {
  volume c { config_map = "c"  path = "/c" }
  volume e { empty_dir = true  path = "/e" }
  service api { image = "server"  mount c  mount e }
}
"""
    assert compile_source(ok, "t.cnai", "argo").documents
    for body, found in (('mount d', "mounts the claim"), ('env { P = field("metadata.name") }',
                                                          "from the pod's field")):
        source = ('pipeline p {\n  volume d { claim = "d"  path = "/d" }\n'
                  f'  service api {{ image = "server"  {body} }}\n}}\n')
        ((code, message, line),) = refused(source, "argo")
        assert code == "E0401" and found in message and line == 3


def test_a_volume_no_step_mounts_is_a_warning() -> None:
    result = compile_source(f'pipeline p {{\n  volume v {{ empty_dir = true  path = "/v" }}\n'
                            f'  step s {{ {STEP} }}\n}}\n', "t.cnai", "argo")
    (warning,) = result.warnings
    assert (warning.code, warning.message, warning.span.line) == (
        "W0104", "volume `v` is never mounted", 2)
    assert "volumes" not in templates(result.documents[0])["s"]


# ---- cnai run --local --------------------------------------------------------------------

def test_run_local(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVEL", "debug")
    monkeypatch.delenv("POD", raising=False)
    code = main(["run", str(FIXTURES / "local" / "config.cnai"), "--local", "--workdir",
                 str(tmp_path)])
    capsys.readouterr()
    assert code == 1
    (folder,) = tmp_path.iterdir()
    nodes = {n["id"]: n for n in json.loads((folder / "run.json").read_text())["nodes"]}
    assert nodes["write"]["status"] == "Succeeded"
    log = (folder / nodes["write"]["log"]).read_text()
    assert "level=debug pod=\n" in log and "hi\n" in log
    assert "POD (pod field metadata.name) is not set in this environment" in log
    assert (folder / "steps" / "write" / "volumes" / "scratch" / "a").read_text() == "hi\n"
    assert nodes["read_config"]["status"] == "Failed"
    assert nodes["read_config"]["message"] == (
        "volume `settings` mounts ConfigMap `app`, which exists only in a cluster")


def test_run_local_docker_argv_has_the_volumes_and_shm() -> None:
    from cnai.local.attempt import shm_bytes
    from cnai.local.process import Mount, docker_argv

    argv = docker_argv("img", ["run"], [], [], [Mount(Path("/r/v"), "/scratch", False)], "n",
                       shm=shm_bytes("2Gi"))
    assert argv[argv.index("--shm-size") + 1] == str(2 * 1024**3)
    assert "/r/v:/scratch" in argv


@pytest.mark.parametrize(("path", "ok"), [
    ("metadata.name", True), ("metadata.namespace", True), ("metadata.uid", True),
    ("spec.nodeName", True), ("spec.serviceAccountName", True), ("status.hostIP", True),
    ("status.hostIPs", True), ("status.podIP", True), ("status.podIPs", True),
    ("metadata.labels['app.kubernetes.io/name']", True),
    ("metadata.annotations['Example.COM/x']", True),  # annotation keys: in lower case
    ("metadata.labels['Example.COM/x']", False), ("metadata.labels['a b']", False),
    ("metadata.labels", False), ("metadata.generateName", False), ("spec.containers", False),
    ("status.phase", False), ("limits.cpu", False), ("", False),
])
def test_field_paths_are_those_the_api_server_accepts(path: str, ok: bool) -> None:
    from cnai.semantics.configuration import field_path_problem

    assert (field_path_problem(path) is None) is ok


def test_an_unknown_name_in_the_pipelines_env_is_unknown() -> None:
    source = 'pipeline p {\n  param stage: string = "x"\n  env { S = "${stge}" }\n' \
             f'  step s {{ {STEP} }}\n}}\n'
    assert _diagnostic(source) == ("E0103", "stge")
