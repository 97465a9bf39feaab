"""Tests of the strict schema validator itself: it must accept real manifests and reject typos.

If these pass, a test that calls ``schemacheck.assert_valid`` on compiler output really
checks it: unknown fields, wrong types and unknown kinds all fail, with a usable path.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

import schemacheck

REFERENCE = Path(__file__).parent / "fixtures" / "reference"
ARGO_EXAMPLES = sorted((REFERENCE / "argo-examples").glob("*.yaml"))
KFP_WORKFLOWS = sorted((REFERENCE / "kfp-compiled").glob("argo_*.yaml"))

Json = dict[str, Any]


def load_documents(path: Path) -> list[Json]:
    with path.open("rb") as handle:
        return [doc for doc in yaml.load_all(handle, Loader=yaml.CSafeLoader) if doc]


def parse(text: str) -> Json:
    document: Json = yaml.load(text, Loader=yaml.CSafeLoader)
    return document


def at(obj: Any, pointer: str) -> Any:
    """The node of ``obj`` at a JSON pointer (for mutating copies of valid manifests)."""
    for part in filter(None, pointer.split("/")):
        key = part.replace("~1", "/").replace("~0", "~")
        obj = obj[int(key)] if isinstance(obj, list) else obj[key]
    return obj


def with_extra_field(obj: Json, pointer: str, field: str = "bogusField") -> Json:
    """A copy of ``obj`` with an unknown field added to the mapping at ``pointer``."""
    broken = copy.deepcopy(obj)
    at(broken, pointer)[field] = "x"
    return broken


def unexpected(pointer: str, field: str) -> str:
    return f"{pointer}: Additional properties are not allowed ('{field}' was unexpected)"


def errors_starting(errors: list[str], prefix: str) -> list[str]:
    return [error for error in errors if error.startswith(prefix)]


# --------------------------------------------------------------------------- reference data


@pytest.mark.parametrize("path", ARGO_EXAMPLES, ids=lambda path: path.stem)
def test_argo_reference_examples_are_valid(path: Path) -> None:
    documents = load_documents(path)
    assert documents
    schemacheck.assert_all_valid(documents)


@pytest.mark.parametrize("path", KFP_WORKFLOWS, ids=lambda path: path.stem)
def test_kfp_compiled_workflows_are_valid_once_status_is_dropped(path: Path) -> None:
    (workflow,) = load_documents(path)
    # The stub has nulls that fail both schemas; validate() must ignore it like the server.
    assert workflow["status"] == {"startedAt": None, "finishedAt": None}
    schemacheck.assert_valid(workflow)


def test_every_crd_table_entry_resolves_to_a_served_version() -> None:
    for (group, kind), file in schemacheck.CRD_FILES.items():
        versions = [
            version["name"]
            for crd in schemacheck._crd_documents(file)
            if crd["spec"]["names"]["kind"] == kind
            for version in crd["spec"]["versions"]
            if version.get("served")
        ]
        assert versions, f"{group}/{kind} not found in {file}"


# --------------------------------------------------------------------------- Argo negatives

DIAMOND = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-diamond-
spec:
  entrypoint: diamond
  templates:
  - name: diamond
    dag:
      tasks:
      - name: A
        template: train
      - name: B
        template: train
        dependencies: [A]
  - name: train
    retryStrategy:
      limit: "2"
    container:
      image: python:3.12
      command: [python, -c, "print(1)"]
      resources:
        limits:
          nvidia.com/gpu: "1"
"""


@pytest.fixture
def diamond() -> Json:
    return parse(DIAMOND)


def test_diamond_is_valid(diamond: Json) -> None:
    assert schemacheck.validate(diamond) == []


def test_template_typo_is_rejected_by_both_argo_schemas(diamond: Json) -> None:
    template = diamond["spec"]["templates"][1]
    template["retryStratgy"] = template.pop("retryStrategy")
    assert schemacheck.validate(diamond) == [
        unexpected("/spec/templates/1", "retryStratgy") + " [CRD, argo schema.json]"
    ]


def test_dag_task_typo_is_rejected(diamond: Json) -> None:
    task = diamond["spec"]["templates"][0]["dag"]["tasks"][1]
    task["dependancies"] = task.pop("dependencies")
    errors = schemacheck.validate(diamond)
    assert errors_starting(errors, unexpected("/spec/templates/0/dag/tasks/1", "dependancies"))
    assert len(errors) == 1


def test_container_typo_is_rejected(diamond: Json) -> None:
    container = diamond["spec"]["templates"][1]["container"]
    container["imagee"] = container.pop("image")
    errors = schemacheck.validate(diamond)
    assert errors_starting(errors, unexpected("/spec/templates/1/container", "imagee"))
    # schema.json (not the CRD) also marks Container.image as required.
    assert errors_starting(
        errors, "/spec/templates/1/container: 'image' is a required property [argo schema.json]"
    )


def test_integer_gpu_limit_is_rejected_by_argo_schema_json(diamond: Json) -> None:
    limits = diamond["spec"]["templates"][1]["container"]["resources"]["limits"]
    limits["nvidia.com/gpu"] = 1
    # The CRD accepts int-or-string; schema.json enforces the compiler's "quantities are
    # strings" promise. The "/" inside the key is escaped as in RFC 6901.
    assert schemacheck.validate(diamond) == [
        "/spec/templates/1/container/resources/limits/nvidia.com~1gpu: "
        "1 is not of type 'string' [argo schema.json]"
    ]


def test_unknown_top_level_and_metadata_fields_are_rejected(diamond: Json) -> None:
    diamond["specc"] = {}
    diamond["metadata"]["lables"] = {"a": "b"}
    errors = schemacheck.validate(diamond)
    assert errors_starting(errors, unexpected("/", "specc"))
    assert errors_starting(errors, unexpected("/metadata", "lables"))


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [
        ("argoproj.io/v1alpha1", "Workflo"),
        ("argoproj.io/v1", "Workflow"),  # known kind, version the CRD does not serve
        ("example.com/v1", "Widget"),
        ("v1", "ObjectMeta"),  # kubernetes-validate has a file for it, but it is no kind
        ("batch.example.com/v1", "Job"),  # must not fall back to batch/v1 Job
    ],
)
def test_unknown_kind_is_an_error(api_version: str, kind: str) -> None:
    obj = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "x"}}
    assert schemacheck.validate(obj) == [
        f"/: no schema for apiVersion={api_version!r} kind={kind!r} (unknown kind)"
    ]


@pytest.mark.parametrize("obj", [None, [], {"kind": "Workflow"}, {"apiVersion": "v1", "kind": 3}])
def test_malformed_input_is_an_error(obj: Any) -> None:
    assert schemacheck.validate(obj)


def test_status_is_ignored(diamond: Json) -> None:
    diamond["status"] = {"startedAt": None, "phase": 42, "whatever": True}
    assert schemacheck.validate(diamond) == []


def test_argo_crd_caps_dag_size_at_200_tasks(diamond: Json) -> None:
    # Argo v4's full CRD caps templates and dag.tasks at 200 items (to bound CEL cost).
    tasks = [{"name": f"t{i}", "template": "train"} for i in range(201)]
    diamond["spec"]["templates"][0]["dag"]["tasks"] = tasks
    assert schemacheck.validate(diamond) == [
        "/spec/templates/0/dag/tasks: <array of 201 items> is too long [CRD]"
    ]


def test_cron_workflow_errors_use_workflow_spec_path() -> None:
    (cron,) = load_documents(REFERENCE / "argo-examples" / "cron-workflow.yaml")
    cron["spec"]["schedule"] = "* * * * *"  # removed in Argo v4 (use schedules)
    cron["spec"]["workflowSpec"]["templates"][0]["container"]["imagee"] = "x"
    errors = schemacheck.validate(cron)
    assert errors_starting(errors, unexpected("/spec", "schedule"))
    assert errors_starting(errors, unexpected("/spec/workflowSpec/templates/0/container", "imagee"))


# --------------------------------------------------------------------------- embedded manifests

TFJOB = """
apiVersion: kubeflow.org/v1
kind: TFJob
metadata:
  name: mnist
  namespace: ml
spec:
  runPolicy:
    cleanPodPolicy: None
  tfReplicaSpecs:
    Worker:
      replicas: 2
      restartPolicy: OnFailure
      template:
        spec:
          containers:
          - name: tensorflow
            image: kubeflow/tf-mnist:1.0
            resources:
              limits:
                nvidia.com/gpu: 1
"""
TFJOB_CONTAINER = "/spec/tfReplicaSpecs/Worker/template/spec/containers/0"


def workflow_with_manifest(manifest: str, inline: bool = False) -> Json:
    """A Workflow whose second template (or an inline DAG task template) creates ``manifest``."""
    resource = {"action": "create", "manifest": manifest}
    workflow = parse(DIAMOND)
    if inline:
        workflow["spec"]["templates"][0]["dag"]["tasks"][0] = {
            "name": "A",
            "inline": {"resource": resource},
        }
    else:
        workflow["spec"]["templates"][1] = {"name": "train", "resource": resource}
    return workflow


def test_workflow_with_valid_embedded_tfjob_is_valid() -> None:
    assert schemacheck.validate(workflow_with_manifest(TFJOB)) == []


def test_workflow_with_invalid_embedded_tfjob_reports_manifest_path() -> None:
    manifest = yaml.safe_dump(with_extra_field(parse(TFJOB), TFJOB_CONTAINER, "imagee"))
    assert schemacheck.validate(workflow_with_manifest(manifest)) == [
        "/spec/templates/1/resource/manifest: " + unexpected(TFJOB_CONTAINER, "imagee") + " [CRD]"
    ]


def test_inline_template_manifests_are_checked_too() -> None:
    manifest = yaml.safe_dump(with_extra_field(parse(TFJOB), "/spec", "runPolicyy"))
    errors = schemacheck.validate(workflow_with_manifest(manifest, inline=True))
    assert errors == [
        "/spec/templates/0/dag/tasks/0/inline/resource/manifest: "
        + unexpected("/spec", "runPolicyy")
        + " [CRD]"
    ]


def test_steps_inline_and_cron_workflow_manifests_are_checked() -> None:
    manifest = yaml.safe_dump(with_extra_field(parse(TFJOB), "/spec", "runPolicyy"))
    inline_step = {"name": "s", "inline": {"resource": {"action": "create", "manifest": manifest}}}
    (cron,) = load_documents(REFERENCE / "argo-examples" / "cron-workflow.yaml")
    cron["spec"]["workflowSpec"]["templates"][0] = {"name": "main", "steps": [[inline_step]]}
    assert schemacheck.validate(cron) == [
        "/spec/workflowSpec/templates/0/steps/0/0/inline/resource/manifest: "
        + unexpected("/spec", "runPolicyy")
        + " [CRD]"
    ]


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ("apiVersion: example.com/v1\nkind: Widget\n", "no schema for apiVersion="),
        ("apiVersion: v1\nkind: [unclosed\n", "manifest is not valid YAML"),
        ("just a string", "expected a mapping"),
    ],
)
def test_bad_embedded_manifests_are_errors(manifest: str, expected: str) -> None:
    (error,) = schemacheck.validate(workflow_with_manifest(manifest))
    assert error.startswith("/spec/templates/1/resource/manifest: ")
    assert expected in error


# --------------------------------------------------------------------------- other kinds

VALID_MANIFESTS: dict[str, tuple[str, str]] = {
    # name: (valid manifest, pointer of a mapping where an unknown field must be rejected)
    "TFJob": (TFJOB, TFJOB_CONTAINER),
    "PyTorchJob": (
        """
apiVersion: kubeflow.org/v1
kind: PyTorchJob
metadata: {name: ddp}
spec:
  pytorchReplicaSpecs:
    Master:
      replicas: 1
      template:
        spec:
          containers: [{name: pytorch, image: pytorch/pytorch:2.4.0}]
    Worker:
      replicas: 3
      template:
        spec:
          containers: [{name: pytorch, image: pytorch/pytorch:2.4.0}]
""",
        "/spec/pytorchReplicaSpecs/Worker",
    ),
    "KnativeService": (
        """
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: predictor, namespace: ml}
spec:
  template:
    metadata:
      annotations: {autoscaling.knative.dev/min-scale: "1"}
    spec:
      containers:
      - image: ghcr.io/example/model:1
        ports: [{containerPort: 8080}]
        resources: {limits: {cpu: "1", memory: 2Gi}}
  traffic: [{latestRevision: true, percent: 100}]
""",
        "/spec/template/spec/containers/0",
    ),
    "VirtualService": (
        """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: model}
spec:
  hosts: [model.example.com]
  gateways: [ml-gateway]
  http:
  - match: [{uri: {prefix: /v1/models}}]
    route:
    - destination: {host: model-v1, subset: v1}
      weight: 90
    - destination: {host: model-v2, subset: v2}
      weight: 10
    timeout: 30s
    retries: {attempts: 3, perTryTimeout: 10s}
""",
        "/spec/http/0/route/1/destination",
    ),
    "DestinationRule": (
        """
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: model}
spec:
  host: model
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {tcp: {maxConnections: 100}}
  subsets:
  - name: v1
    labels: {version: v1}
""",
        "/spec/trafficPolicy/loadBalancer",
    ),
    "PodGroup": (
        """
apiVersion: scheduling.volcano.sh/v1beta1
kind: PodGroup
metadata: {name: train}
spec:
  minMember: 4
  queue: ml
  priorityClassName: high
  minResources: {cpu: "4", nvidia.com/gpu: "4"}
""",
        "/spec",
    ),
    "Queue": (
        """
apiVersion: scheduling.volcano.sh/v1beta1
kind: Queue
metadata: {name: ml}
spec: {weight: 1, reclaimable: true, capability: {cpu: "64"}}
""",
        "/spec",
    ),
    "Dataset": (
        """
apiVersion: data.fluid.io/v1alpha1
kind: Dataset
metadata: {name: imagenet}
spec:
  mounts:
  - mountPoint: s3://bucket/imagenet
    name: imagenet
    options: {aws.region: us-east-1}
""",
        "/spec/mounts/0",
    ),
    "DataLoad": (
        """
apiVersion: data.fluid.io/v1alpha1
kind: DataLoad
metadata: {name: warmup}
spec:
  dataset: {name: imagenet, namespace: default}
  loadMetadata: true
  target: [{path: /train, replicas: 1}]
""",
        "/spec/target/0",
    ),
    "InferenceService": (
        """
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: sklearn-iris}
spec:
  predictor:
    model:
      modelFormat: {name: sklearn}
      storageUri: gs://kfserving-examples/models/sklearn/1.0/model
""",
        "/spec/predictor/model",
    ),
    "ResourceQuota": (
        """
apiVersion: v1
kind: ResourceQuota
metadata: {name: team-quota, namespace: ml}
spec:
  hard: {requests.cpu: "20", requests.nvidia.com/gpu: 4, pods: "50"}
""",
        "/spec",
    ),
    "LimitRange": (
        """
apiVersion: v1
kind: LimitRange
metadata: {name: defaults}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 250m}
""",
        "/spec/limits/0",
    ),
    "PodDisruptionBudget": (
        """
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: serving}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: serving}}
""",
        "/spec/selector",
    ),
    "PersistentVolumeClaim": (
        """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 10Gi}}
""",
        "/spec/resources",
    ),
    "CronJob": (
        """
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, image: busybox}]
""",
        "/spec/jobTemplate/spec/template/spec/containers/0",
    ),
}


@pytest.mark.parametrize("name", VALID_MANIFESTS)
def test_valid_manifest_passes(name: str) -> None:
    manifest, _ = VALID_MANIFESTS[name]
    schemacheck.assert_valid(parse(manifest))


@pytest.mark.parametrize("name", VALID_MANIFESTS)
def test_unknown_field_fails_with_its_path(name: str) -> None:
    manifest, pointer = VALID_MANIFESTS[name]
    errors = schemacheck.validate(with_extra_field(parse(manifest), pointer))
    assert len(errors) == 1, errors
    assert errors[0].startswith(unexpected(pointer, "bogusField"))


@pytest.mark.parametrize("name", VALID_MANIFESTS)
def test_metadata_typo_fails(name: str) -> None:
    manifest, _ = VALID_MANIFESTS[name]
    errors = schemacheck.validate(with_extra_field(parse(manifest), "/metadata", "nmae"))
    assert errors_starting(errors, unexpected("/metadata", "nmae"))


def test_wrong_type_under_crd_schema_is_rejected() -> None:
    tfjob = parse(TFJOB)
    at(tfjob, "/spec/tfReplicaSpecs/Worker")["replicas"] = "two"
    assert errors_starting(
        schemacheck.validate(tfjob),
        "/spec/tfReplicaSpecs/Worker/replicas: 'two' is not of type 'integer' [CRD]",
    )


@pytest.mark.parametrize(("value", "valid"), [(1, True), ("2", True), (1.5, False), (True, False)])
def test_int_or_string_quantities_under_crd_schema(value: object, valid: bool) -> None:
    tfjob = parse(TFJOB)
    at(tfjob, TFJOB_CONTAINER + "/resources/limits")["nvidia.com/gpu"] = value
    assert (schemacheck.validate(tfjob) == []) is valid


@pytest.mark.parametrize(("value", "valid"), [(1, True), ("50%", True), (1.5, False)])
def test_int_or_string_under_core_schema(value: object, valid: bool) -> None:
    pdb = parse(VALID_MANIFESTS["PodDisruptionBudget"][0])
    pdb["spec"]["minAvailable"] = value
    assert (schemacheck.validate(pdb) == []) is valid


def test_preserve_unknown_fields_subtrees_stay_open() -> None:
    # Knative marks the pod affinity as x-kubernetes-preserve-unknown-fields.
    ksvc = parse(VALID_MANIFESTS["KnativeService"][0])
    ksvc["spec"]["template"]["spec"]["affinity"] = {"anything": {"goes": 1}}
    assert schemacheck.validate(ksvc) == []


def test_nullable_fields_accept_null() -> None:
    virtual_service = parse(VALID_MANIFESTS["VirtualService"][0])
    virtual_service["spec"]["http"][0]["corsPolicy"] = {"allowCredentials": None}
    assert schemacheck.validate(virtual_service) == []
    virtual_service["spec"]["http"][0]["timeout"] = None  # not nullable
    assert schemacheck.validate(virtual_service)


def test_istio_v1alpha3_is_served() -> None:
    destination_rule = parse(VALID_MANIFESTS["DestinationRule"][0])
    destination_rule["apiVersion"] = "networking.istio.io/v1alpha3"
    assert schemacheck.validate(destination_rule) == []


# --------------------------------------------------------------------------- assert helpers


def test_assert_valid_lists_all_errors(diamond: Json) -> None:
    diamond["spec"]["templates"][1]["retryStratgy"] = {}
    diamond["spec"]["templates"][1]["container"]["imagee"] = "x"
    with pytest.raises(AssertionError) as raised:
        schemacheck.assert_valid(diamond)
    message = str(raised.value)
    assert message.startswith("Workflow/dag-diamond- is invalid:")
    assert "'retryStratgy' was unexpected" in message
    assert "'imagee' was unexpected" in message


def test_assert_all_valid_reports_every_document(diamond: Json) -> None:
    broken = with_extra_field(parse(TFJOB), "/spec")
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    schemacheck.assert_all_valid([diamond])
    with pytest.raises(AssertionError) as raised:
        schemacheck.assert_all_valid([diamond, broken, unknown])
    message = str(raised.value)
    assert message.startswith("2 schema error(s):")
    assert "document 1 (TFJob/mnist): /spec: Additional properties" in message
    assert "document 2 (Widget/w): /: no schema" in message
