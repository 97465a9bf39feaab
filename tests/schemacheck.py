"""Strict schema validation for every object the compiler emits.

Usage from tests::

    import schemacheck
    schemacheck.assert_valid(obj)            # one manifest (a dict)
    schemacheck.assert_all_valid(docs)       # several, all errors reported at once
    errors = schemacheck.validate(obj)       # list of "<json-pointer>: <message> [<schema>]"

Dispatch is on (apiVersion, kind); an unknown pair is an error, so a test can never skip
validation by accident. Sources (see tests/schemas/README.md):

* CRD kinds (Argo, Kubeflow trainer, Knative, Istio, Volcano, Fluid, KServe): the CRD's
  ``openAPIV3Schema`` for the requested version, checked with Draft 4 (the dialect the
  API server uses), made strict in memory: every object schema with ``properties`` gets
  ``additionalProperties: false``, except inside ``x-kubernetes-preserve-unknown-fields``
  subtrees. This is what ``kubectl --validate=strict`` does. ``metadata`` (just
  ``type: object`` in CRDs) is checked against the strict core ObjectMeta schema.
* Argo Workflow / CronWorkflow / WorkflowTemplate, additionally: Argo's ``schema.json``
  pinned to the kind's definition and made strict the same way. It types Quantity and
  IntOrString as strings, so it enforces the compiler's promise to emit those as strings.
  Every ``resource.manifest`` in a template is parsed and validated too.
* Core kinds: kubernetes-validate's strict JSON Schemas for ``KUBERNETES_VERSION``.

Performance (2-CPU AMD EPYC, measured once): loading the Argo Workflow schemas takes ~0.5 s
per process; validating a 2,000-task Workflow (10 DAGs of 200 tasks, 189 container templates)
then takes ~0.45 s, and a 2,000-task DAG with 2,000 templates ~1.5 s.

Not checked: CEL rules (``x-kubernetes-validations``), formats, admission webhooks.
Error paths are RFC 6901 JSON pointers (``/`` in a key is written ``~1``).
Schema files on disk are never modified; strict copies are built once per process.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator, Draft202012Validator, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.protocols import Validator
from referencing import Registry, Resource

from argo_engine import placeholders

Json = dict[str, Any]
PathTuple = tuple[str | int, ...]

SCHEMA_DIR = Path(__file__).parent / "schemas"

# Newest Kubernetes release whose schemas kubernetes-validate 1.37.0 ships; pinned so that
# results do not change when the package is upgraded.
KUBERNETES_VERSION = "1.37.0"

# (API group, kind) -> CRD file under SCHEMA_DIR. The served versions come from the CRD
# itself, so e.g. VirtualService works for v1, v1beta1 and v1alpha3. Add a row to support
# another kind from the same files.
CRD_FILES: dict[tuple[str, str], str] = {
    ("argoproj.io", "Workflow"): "argo-workflows/argoproj.io_workflows.yaml",
    ("argoproj.io", "CronWorkflow"): "argo-workflows/argoproj.io_cronworkflows.yaml",
    ("argoproj.io", "WorkflowTemplate"): "argo-workflows/argoproj.io_workflowtemplates.yaml",
    ("kubeflow.org", "TFJob"): "kubeflow-trainer/kubeflow.org_tfjobs.yaml",
    ("kubeflow.org", "PyTorchJob"): "kubeflow-trainer/kubeflow.org_pytorchjobs.yaml",
    ("serving.knative.dev", "Service"): "knative-serving/service.yaml",
    ("networking.istio.io", "VirtualService"): "istio/crd-all.gen.yaml",
    ("networking.istio.io", "DestinationRule"): "istio/crd-all.gen.yaml",
    ("networking.istio.io", "Gateway"): "istio/crd-all.gen.yaml",
    ("scheduling.volcano.sh", "PodGroup"): "volcano/scheduling.volcano.sh_podgroups.yaml",
    ("scheduling.volcano.sh", "Queue"): "volcano/scheduling.volcano.sh_queues.yaml",
    ("data.fluid.io", "Dataset"): "fluid/data.fluid.io_datasets.yaml",
    ("data.fluid.io", "DataLoad"): "fluid/data.fluid.io_dataloads.yaml",
    ("serving.kserve.io", "InferenceService"): "kserve/serving.kserve.io_inferenceservices.yaml",
}

# Argo kinds also checked against schema.json (apiVersion argoproj.io/v1alpha1 only).
ARGO_API_VERSION = "argoproj.io/v1alpha1"
ARGO_KINDS = ("Workflow", "CronWorkflow", "WorkflowTemplate")

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_K8S_DEFINITIONS_URI = "https://kubernetes.io/api/_definitions.json"
_MAX_MESSAGE = 300  # jsonschema puts whole instances into some messages; keep output readable


# --------------------------------------------------------------------------- public API


def validate(obj: Json) -> list[str]:
    """Return every schema error of ``obj`` as ``"<pointer>: <message> [<schema>]"``; [] = valid."""
    if not isinstance(obj, dict):
        return [f"/: expected a mapping (Kubernetes object), got {type(obj).__name__}"]
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["/: apiVersion and kind must both be strings"]
    checks = _validators_for(api_version, kind)
    if not checks:
        return [f"/: no schema for apiVersion={api_version!r} kind={kind!r} (unknown kind)"]
    # The API server ignores status on create, and compiled output may carry status stubs.
    instance = {key: value for key, value in obj.items() if key != "status"}
    errors = _schema_errors(checks, instance)
    if api_version == ARGO_API_VERSION and kind in ARGO_KINDS:
        errors.extend(_embedded_manifest_errors(instance))
    return errors


def assert_valid(obj: Json) -> None:
    """Raise AssertionError listing all schema errors of ``obj``."""
    errors = validate(obj)
    if errors:
        raise AssertionError(f"{_describe(obj)} is invalid:\n" + "\n".join(errors))


def assert_all_valid(docs: list[Json]) -> None:
    """Validate every document; raise one AssertionError listing the errors of all of them."""
    report = [
        f"document {index} ({_describe(doc)}): {error}"
        for index, doc in enumerate(docs)
        for error in validate(doc)
    ]
    if report:
        raise AssertionError(f"{len(report)} schema error(s):\n" + "\n".join(report))


# --------------------------------------------------------------------------- dispatch

# One check = (label shown in errors, validator, path prefix of the checked subtree).
Check = tuple[str, Validator, PathTuple]


@functools.cache
def _validators_for(api_version: str, kind: str) -> tuple[Check, ...]:
    """All validators that apply to (apiVersion, kind); empty if the pair is unknown."""
    group, _, version = api_version.rpartition("/")
    crd_schema = _crd_schema(group, version, kind) if (group, kind) in CRD_FILES else None
    if crd_schema is None:
        core = _core_validator(api_version, kind)
        return () if core is None else ((f"k8s {KUBERNETES_VERSION} strict", core, ()),)
    checks: list[Check] = [
        ("CRD", Draft4Validator(crd_schema, registry=Registry()), ()),
        # CRDs declare metadata as a bare object; the API server still validates ObjectMeta.
        ("ObjectMeta", _core_definition_validator(_OBJECT_META), ("metadata",)),
    ]
    if api_version == ARGO_API_VERSION and kind in ARGO_KINDS:
        checks.append(("argo schema.json", _argo_jsonschema_validator(kind), ()))
    return tuple(checks)


def _schema_errors(checks: tuple[Check, ...], instance: Json) -> list[str]:
    """Run all checks; an error found by several schemas is listed once, naming all of them."""
    found: dict[tuple[str, str], list[str]] = {}
    for label, validator, prefix in checks:
        subject = _subtree(instance, prefix)
        if subject is None:
            continue  # a missing or ill-typed metadata is reported by the CRD check itself
        for error in validator.iter_errors(subject):
            key = (_pointer((*prefix, *error.absolute_path)), _message(error))
            found.setdefault(key, []).append(label)
    return [f"{path}: {msg} [{', '.join(found[path, msg])}]" for path, msg in sorted(found)]


def _subtree(instance: Json, prefix: PathTuple) -> Any:
    """The part of ``instance`` at ``prefix``, or None if it is absent or not a mapping."""
    subject: Any = instance
    for key in prefix:
        subject = subject.get(key) if isinstance(subject, dict) else None
    return subject if isinstance(subject, dict) else None


# --------------------------------------------------------------------------- schema loading


@functools.cache
def _crd_documents(relative_path: str) -> tuple[Json, ...]:
    """CRD documents of one file; parsed once (the Argo CRDs are ~2.8 MB each)."""
    with (SCHEMA_DIR / relative_path).open("rb") as handle:
        return tuple(doc for doc in yaml.load_all(handle, Loader=yaml.CSafeLoader) if doc)


@functools.cache
def _crd_schema(group: str, version: str, kind: str) -> Json | None:
    """Strict openAPIV3Schema of a served CRD version, or None if it does not exist."""
    for crd in _crd_documents(CRD_FILES[(group, kind)]):
        spec = crd["spec"]
        if spec["group"] != group or spec["names"]["kind"] != kind:
            continue
        for served in spec["versions"]:
            if served["name"] == version and served.get("served", False):
                return _with_implicit_root_fields(_strictify(served["schema"]["openAPIV3Schema"]))
    return None


def _with_implicit_root_fields(schema: Json) -> Json:
    """Add apiVersion/kind/metadata: the API server always accepts them at the root, but
    some CRDs (Istio's) list only spec and status, so the strict copy would reject them."""
    implicit = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}}
    implicit["metadata"] = {"type": "object"}
    return {**schema, "properties": {**implicit, **schema.get("properties", {})}}


def _strictify(node: Json) -> Json:
    """Copy of a (structural) schema that rejects unknown fields like strict field validation.

    Only the structural keywords (properties/items/additionalProperties/definitions) are
    followed: anyOf/oneOf/allOf branches in CRDs only add value constraints, and closing
    them would reject valid objects.
    """
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return node  # deliberately open: the API server keeps unknown fields here
    out = dict(node)
    if node.get("nullable") and "type" in node:
        # OpenAPI 3.0 'nullable' has no Draft 4 equivalent; allow null explicitly.
        out["type"] = [node["type"], "null"]
        if "enum" in node:
            out["enum"] = [*node["enum"], None]
    if node.get("x-kubernetes-int-or-string") and "anyOf" not in node and "type" not in node:
        # The extension alone means int-or-string; jsonschema would otherwise accept anything.
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    for keyword in ("properties", "definitions"):
        if isinstance(node.get(keyword), dict):
            out[keyword] = {name: _strictify(sub) for name, sub in node[keyword].items()}
    for keyword in ("items", "additionalProperties"):
        if isinstance(node.get(keyword), dict):
            out[keyword] = _strictify(node[keyword])
    if "properties" in node:
        out.setdefault("additionalProperties", False)
    return out


@functools.cache
def _argo_definitions() -> Json:
    """schema.json's definitions, made strict once and shared by the three Argo kinds."""
    with (SCHEMA_DIR / "argo-workflows" / "schema.json").open("rb") as handle:
        document = json.load(handle)
    strict: Json = _strictify({"definitions": document["definitions"]})["definitions"]
    return strict


@functools.cache
def _argo_jsonschema_validator(kind: str) -> Validator:
    """schema.json with $ref pinned to one kind: its top-level oneOf gives useless errors."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}",
        "definitions": _argo_definitions(),
    }
    return Draft202012Validator(schema, registry=Registry())  # empty registry: never fetch


def _k8s_schema_file(name: str) -> Json | None:
    """One JSON file from kubernetes-validate's strict schemas for KUBERNETES_VERSION."""
    directory = resources.files("kubernetes_validate").joinpath(
        "kubernetes-json-schema", f"v{KUBERNETES_VERSION}-local-strict"
    )
    path = directory.joinpath(name)
    if not path.is_file():
        return None
    document: Json = json.loads(path.read_bytes())
    return document


@functools.cache
def _k8s_registry() -> Registry[Json]:
    """Registry holding the shared core definitions, so every $ref resolves offline."""
    definitions = _k8s_schema_file("_definitions.json")
    if definitions is None:
        raise RuntimeError(f"kubernetes-validate lacks Kubernetes {KUBERNETES_VERSION}")
    resource: Resource[Json] = Resource.from_contents(definitions)
    return Registry().with_resources([(_K8S_DEFINITIONS_URI, resource)])


@functools.cache
def _core_validator(api_version: str, kind: str) -> Validator | None:
    """Strict validator for a core kind, or None if kubernetes-validate has no such kind."""
    # kubernetes-validate's file naming: "<kind>-<group prefix>-<version>.json",
    # e.g. policy/v1 PodDisruptionBudget -> poddisruptionbudget-policy-v1.json.
    file_suffix = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = _k8s_schema_file(f"{kind.lower()}-{file_suffix}.json")
    group, _, version = api_version.rpartition("/")
    # Files also exist for sub-structures (e.g. objectmeta-v1.json) and the file name drops
    # the group's domain, so only accept a file that declares exactly this top-level kind.
    gvk = {"group": group, "version": version, "kind": kind}
    if schema is None or gvk not in schema.get("x-kubernetes-group-version-kind", []):
        return None
    return Draft202012Validator(schema, registry=_k8s_registry())


@functools.cache
def _core_definition_validator(definition: str) -> Validator:
    """Strict validator for one core definition such as ObjectMeta."""
    schema = {"$ref": f"{_K8S_DEFINITIONS_URI}#/$defs/{definition}"}
    return Draft202012Validator(schema, registry=_k8s_registry())


# --------------------------------------------------------------------------- Argo deep check


def _embedded_manifest_errors(workflow: Json) -> list[str]:
    """Validate each ``resource.manifest`` string, reported under the manifest's path."""
    errors: list[str] = []
    for path, template in _argo_templates(workflow):
        resource = template.get("resource")
        if not isinstance(resource, dict) or not isinstance(resource.get("manifest"), str):
            continue
        where = _pointer((*path, "resource", "manifest"))
        try:
            # As Argo's validation reads it: each `{{=...}}` expression a placeholder.
            manifest = yaml.load(placeholders(resource["manifest"]), Loader=yaml.CSafeLoader)
        except yaml.YAMLError as exc:
            errors.append(f"{where}: manifest is not valid YAML: {exc}")
            continue
        errors.extend(f"{where}: {error}" for error in validate(manifest))
    return errors


def _argo_templates(workflow: Json) -> Iterator[tuple[PathTuple, Json]]:
    """Every template of a Workflow/WorkflowTemplate/CronWorkflow, inline ones included."""
    spec = workflow.get("spec")
    base: PathTuple = ("spec",)
    if workflow.get("kind") == "CronWorkflow" and isinstance(spec, dict):
        spec, base = spec.get("workflowSpec"), ("spec", "workflowSpec")
    templates = spec.get("templates") if isinstance(spec, dict) else None
    for index, template in enumerate(_as_list(templates)):
        yield from _with_inline_templates((*base, "templates", index), template)


def _with_inline_templates(path: PathTuple, template: Any) -> Iterator[tuple[PathTuple, Json]]:
    """A template plus the templates inlined in its DAG tasks and steps (recursively)."""
    if not isinstance(template, dict):
        return  # shape errors are already reported by the schemas
    yield path, template
    dag = template.get("dag")
    tasks = dag.get("tasks") if isinstance(dag, dict) else None
    for index, task in enumerate(_as_list(tasks)):
        if isinstance(task, dict) and "inline" in task:
            yield from _with_inline_templates(
                (*path, "dag", "tasks", index, "inline"), task["inline"]
            )
    for group_index, group in enumerate(_as_list(template.get("steps"))):
        for step_index, step in enumerate(_as_list(group)):
            if isinstance(step, dict) and "inline" in step:
                step_path = (*path, "steps", group_index, step_index, "inline")
                yield from _with_inline_templates(step_path, step["inline"])


# --------------------------------------------------------------------------- formatting


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _pointer(path: PathTuple) -> str:
    """RFC 6901 JSON pointer; "/" is the whole document."""
    escaped = (str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return "".join(f"/{part}" for part in escaped) or "/"


def _message(error: ValidationError) -> str:
    """The error's message, shortened, plus the closest sub-error for anyOf/oneOf failures."""
    message = _shorten(error.message, error.instance)
    if error.context:
        closest = best_match(error.context)
        where = _pointer(tuple(closest.relative_path)) if closest.relative_path else ""
        detail = _shorten(closest.message, closest.instance)
        message += f" (closest: {where + ': ' if where else ''}{detail})"
    return message


def _shorten(message: str, instance: Any) -> str:
    """Keep messages readable: jsonschema starts many with the repr of a whole subtree."""
    if len(message) <= _MAX_MESSAGE:
        return message
    shown = repr(instance)
    if message.startswith(shown) and isinstance(instance, dict | list):
        message = _summary(instance) + message[len(shown) :]
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


def _summary(instance: dict[str, Any] | list[Any]) -> str:
    if isinstance(instance, list):
        return f"<array of {len(instance)} items>"
    keys = ", ".join(sorted(map(str, instance))[:6])
    return f"<object with {len(instance)} keys: {keys}{', …' if len(instance) > 6 else ''}>"


def _describe(obj: Any) -> str:
    """'Kind/name' for error reports, robust to malformed objects."""
    if not isinstance(obj, dict):
        return repr(obj)[:60]
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    name = metadata.get("name") or metadata.get("generateName") or "?"
    return f"{obj.get('kind', '?')}/{name}"
