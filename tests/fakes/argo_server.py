"""A fake Argo Server: the REST endpoints ``cnai submit --target argo`` uses, answering as
Argo Server v3.6/v4 does (grpc-gateway error bodies, Kubernetes-style conflict messages).

Every request body is validated against Argo's official swagger.json
(tests/schemas/argo-workflows/swagger.json, v4.1.2; see tests/schemas/README.md): the
``WorkflowCreateRequest`` / ``CreateCronWorkflowRequest`` definition, with ``$ref`` resolved
inside the file and every object schema that has ``properties`` closed with
``additionalProperties: false``, so an unknown or misspelt field anywhere in the body is an
error, as with the API server's strict field validation. A body that fails gets a 400 with the
errors, and is recorded in ``server.rejected`` so tests can assert that none happened.

Endpoints: POST /api/v1/workflows/{ns}, POST /api/v1/cron-workflows/{ns},
GET /api/v1/workflows/{ns}/{name} (whose phase follows ``server.phases``),
POST /api/v1/workflow-templates/{ns} and GET /api/v1/workflow-templates/{ns}/{name}.
As Argo's validation does (workflow/validate/validate.go, validateTemplateHolder), a Workflow
or CronWorkflow whose ``templateRef`` names a WorkflowTemplate the namespace does not have, or
a template that WorkflowTemplate does not hold, is refused with 400.
"""

from __future__ import annotations

import functools
import json
import random
import uuid
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry

from fakes.http_fake import ApiError, FakeServer, Reply, Request

SWAGGER = Path(__file__).resolve().parent.parent / "schemas" / "argo-workflows" / "swagger.json"
V1ALPHA1 = "io.argoproj.workflow.v1alpha1"
NAMESPACE = r"(?P<namespace>[a-z0-9-]+)"
CREATED = "2025-01-01T00:00:00Z"
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 502: 14, 503: 14,
              504: 4}
# Kubernetes' generateName suffix alphabet (no vowels, no confusable characters).
SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


def strict(node: Any) -> Any:
    """A copy of a swagger schema that rejects unknown fields (see the module docstring)."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for keyword in ("properties", "definitions"):
        if isinstance(node.get(keyword), dict):
            out[keyword] = {name: strict(sub) for name, sub in node[keyword].items()}
    for keyword in ("items", "additionalProperties"):
        if isinstance(node.get(keyword), dict):
            out[keyword] = strict(node[keyword])
    if "properties" in node:
        out.setdefault("additionalProperties", False)
    return out


@functools.cache
def definitions() -> dict[str, Any]:
    with SWAGGER.open("rb") as handle:
        swagger = json.load(handle)
    result: dict[str, Any] = strict({"definitions": swagger["definitions"]})["definitions"]
    return result


@functools.cache
def validator(definition: str) -> Draft4Validator:
    schema = {"$ref": f"#/definitions/{V1ALPHA1}.{definition}", "definitions": definitions()}
    return Draft4Validator(schema, registry=Registry())  # an empty registry: never fetch


def schema_errors(body: Any, definition: str) -> list[str]:
    errors = sorted(validator(definition).iter_errors(body), key=lambda e: list(e.path))
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in errors]


class ArgoServer(FakeServer):
    unauthorised_message = ("token not valid. see "
                            "https://argo-workflows.readthedocs.io/en/latest/faq/")
    forbidden_message = ('workflows.argoproj.io is forbidden: User "system:serviceaccount:argo:'
                         'viewer" cannot create resource "workflows" in API group '
                         '"argoproj.io" in the namespace "argo"')

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.workflows: dict[tuple[str, str], dict[str, Any]] = {}
        self.cron_workflows: dict[tuple[str, str], dict[str, Any]] = {}
        self.workflow_templates: dict[tuple[str, str], dict[str, Any]] = {}
        self.bodies: list[dict[str, Any]] = []  # accepted create requests, as sent
        self.phases: list[str] = ["Running", "Succeeded"]  # one per GET, the last repeats
        self.failure_message = "child 'train' failed"
        self.polls: dict[str, int] = {}
        self.random = random.Random(8)
        self.route("POST", f"/api/v1/workflows/{NAMESPACE}", self.create_workflow)
        self.route("POST", f"/api/v1/cron-workflows/{NAMESPACE}", self.create_cron_workflow)
        self.route("GET", f"/api/v1/workflows/{NAMESPACE}/(?P<name>[a-z0-9.-]+)",
                   self.get_workflow)
        self.route("POST", f"/api/v1/workflow-templates/{NAMESPACE}",
                   self.create_workflow_template)
        self.route("GET", f"/api/v1/workflow-templates/{NAMESPACE}/(?P<name>[a-z0-9.-]+)",
                   self.get_workflow_template)

    def error_body(self, status: int, message: str) -> Any:
        # grpc-gateway v1's runtime.Error (swagger: grpc.gateway.runtime.Error)
        return {"code": GRPC_CODES.get(status, 2), "message": message, "error": message}

    # ---- handlers ----------------------------------------------------------------------

    def create_workflow(self, request: Request) -> Reply:
        body = self._checked(request, "WorkflowCreateRequest", "workflow")
        workflow = body["workflow"]
        self._check_arguments(workflow["spec"])
        self._check_template_refs(request.params["namespace"], workflow["spec"])
        stored = self._store(self.workflows, request.params["namespace"], workflow, "workflows")
        stored["status"] = {}
        return Reply(200, stored)

    def create_cron_workflow(self, request: Request) -> Reply:
        body = self._checked(request, "CreateCronWorkflowRequest", "cronWorkflow")
        cron = body["cronWorkflow"]
        if not cron["spec"].get("schedules") and not cron["spec"].get("schedule"):
            raise self.reject(400, "cron workflow must have a schedule")
        self._check_arguments(cron["spec"]["workflowSpec"])
        self._check_template_refs(request.params["namespace"], cron["spec"]["workflowSpec"])
        stored = self._store(self.cron_workflows, request.params["namespace"], cron,
                             "cronworkflows")
        return Reply(200, stored)

    def create_workflow_template(self, request: Request) -> Reply:
        body = self._checked(request, "WorkflowTemplateCreateRequest", "template")
        template = body["template"]
        self._check_template_refs(request.params["namespace"], template["spec"])
        stored = self._store(self.workflow_templates, request.params["namespace"], template,
                             "workflowtemplates")
        return Reply(200, stored)

    def get_workflow_template(self, request: Request) -> Reply:
        key = (request.params["namespace"], request.params["name"])
        template = self.workflow_templates.get(key)
        if template is None:
            raise ApiError(404, f'workflowtemplates.argoproj.io "{key[1]}" not found')
        return Reply(200, template)

    def get_workflow(self, request: Request) -> Reply:
        key = (request.params["namespace"], request.params["name"])
        workflow = self.workflows.get(key)
        if workflow is None:
            raise ApiError(404, f'workflows.argoproj.io "{key[1]}" not found')
        count = self.polls[key[1]] = self.polls.get(key[1], 0) + 1
        phase = self.phases[min(count, len(self.phases)) - 1]
        finished = phase in ("Succeeded", "Failed", "Error")
        status: dict[str, Any] = {"phase": phase, "startedAt": CREATED,
                                  "progress": "1/1" if finished else "0/1"}
        if finished:
            status["finishedAt"] = CREATED
        if phase in ("Failed", "Error"):
            status["message"] = self.failure_message
        return Reply(200, {**workflow, "status": status})

    # ---- checks Argo makes -------------------------------------------------------------

    def _checked(self, request: Request, definition: str, key: str) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError as error:
            raise self.reject(400, f"invalid JSON body: {error}") from None
        errors = schema_errors(body, definition)
        if errors:
            raise self.reject(400, f"{definition} does not match swagger.json: "
                              + "; ".join(errors))
        if not isinstance(body.get(key), dict):
            raise self.reject(400, f"{key} is required")
        namespace = body.get("namespace")
        if namespace not in (None, request.params["namespace"]):
            raise self.reject(400, f"namespace {namespace} does not match the URL")
        self.bodies.append(body)
        checked: dict[str, Any] = body
        return checked

    def _check_arguments(self, spec: dict[str, Any]) -> None:
        # workflow/validate/validate.go: every workflow argument needs a value
        for param in spec.get("arguments", {}).get("parameters", []):
            if "value" not in param and "valueFrom" not in param:
                raise ApiError(400, f"spec.arguments.{param['name']}.value is required")

    def _check_template_refs(self, namespace: str, spec: dict[str, Any]) -> None:
        for template in spec.get("templates", []):
            tasks = [*template.get("dag", {}).get("tasks", []),
                     *(step for group in template.get("steps", []) for step in group)]
            for task in tasks:
                ref = task.get("templateRef")
                if ref is None:
                    continue
                held = self.workflow_templates.get((namespace, ref["name"]))
                names = {t["name"] for t in held["spec"].get("templates", [])} if held else set()
                if ref["template"] not in names:
                    raise ApiError(400, f"templates.{template['name']}.tasks.{task['name']} "
                                   f"template reference {ref['name']}.{ref['template']} "
                                   "not found")

    def _store(self, table: dict[tuple[str, str], dict[str, Any]], namespace: str,
               obj: dict[str, Any], resource: str) -> dict[str, Any]:
        metadata = dict(obj.get("metadata") or {})
        name = metadata.get("name")
        if not name:
            prefix = metadata.get("generateName")
            if not prefix:
                raise ApiError(400, "name or generateName is required")
            name = prefix + "".join(self.random.choice(SUFFIX) for _ in range(5))
        if (namespace, name) in table:
            raise ApiError(409, f'{resource}.argoproj.io "{name}" already exists')
        metadata.update(name=name, namespace=namespace, uid=str(uuid.uuid4()),
                        resourceVersion="1", generation=1, creationTimestamp=CREATED)
        stored = {**obj, "metadata": metadata}
        table[(namespace, name)] = stored
        return stored
