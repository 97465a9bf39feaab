"""A fake Kubeflow Pipelines API server (v2beta1): the endpoints kfp.Client calls for
``cnai submit --target kfp``, answering as the KFP API server does.

Answers: JSON with proto field names (``pipeline_id``, ``created_at``), enum names as strings,
errors as google.rpc.Status (``{"code", "message", "details"}``, grpc-gateway v2), except the
multipart upload handlers, which write ``{"error_message", "error_details"}`` and 409 for a
name that exists (backend/src/apiserver/server/pipeline_upload_server.go).

Checks on every request body:
- JSON bodies are checked field by field against the kfp-server-api model the endpoint takes
  (``V2beta1Run``, ``V2beta1RecurringRun``, ``V2beta1Experiment``): each key must be a JSON
  name in the model's ``attribute_map``, each value must have the type in ``openapi_types``
  (nested models, lists, maps and enums' ``allowable_values`` included). int64 fields, typed
  ``str`` in the models, also take JSON numbers, as the server's protojson decoder does.
- Uploaded pipeline files are parsed strictly into the KFP IR protobufs (``PipelineSpec``,
  then ``PlatformSpec`` for a second document), which reject unknown fields.
- Runs are checked against the uploaded spec: every runtime parameter must be declared in
  ``root.inputDefinitions`` with a matching type, and required ones must be present.
A body that fails gets a 400 and is recorded in ``server.rejected``.
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
from datetime import datetime
from typing import Any

import kfp_server_api.models as models  # type: ignore[import-untyped]
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2  # type: ignore[import-untyped]

from fakes.http_fake import ApiError, FakeServer, Reply, Request

API = "/apis/v2beta1"
ID = r"(?P<id>[a-z0-9-]+)"
CREATED = "2025-01-01T00:00:00Z"
GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 500: 13, 503: 14}
INT64_FIELDS = {("V2beta1RecurringRun", "max_concurrency"),
                ("V2beta1PeriodicSchedule", "interval_second")}
PRIMITIVES: dict[str, Any] = {"str": str, "int": int, "bool": bool, "float": (int, float)}
FINISHED = ("SUCCEEDED", "FAILED", "CANCELED", "SKIPPED")


def model_errors(value: Any, type_name: str, path: str) -> list[str]:
    """Where ``value`` does not fit the kfp-server-api type ``type_name``."""
    if value is None:
        return []  # protojson reads null as unset
    if type_name.startswith("list["):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [e for i, item in enumerate(value)
                for e in model_errors(item, type_name[5:-1], f"{path}[{i}]")]
    mapping = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if mapping:
        if not isinstance(value, dict):
            return [f"{path}: expected an object"]
        return [e for key, item in value.items()
                for e in model_errors(item, mapping.group(1), f"{path}.{key}")]
    if type_name == "object":
        return []
    if type_name in ("datetime", "date"):
        try:
            datetime.fromisoformat(str(value))
        except ValueError:
            return [f"{path}: {value!r} is not an RFC 3339 time"]
        return []
    if type_name in PRIMITIVES:
        fits = isinstance(value, PRIMITIVES[type_name]) and not (
            isinstance(value, bool) and type_name != "bool")
        return [] if fits else [f"{path}: {value!r} is not {type_name}"]
    klass = getattr(models, type_name)
    if not klass.openapi_types:  # an enum
        allowed = klass.allowable_values
        return [] if value in allowed else [f"{path}: {value!r} is not one of {allowed}"]
    if not isinstance(value, dict):
        return [f"{path}: expected a {type_name} object"]
    attributes = {json_name: attr for attr, json_name in klass.attribute_map.items()}
    errors = []
    for key, item in value.items():
        attr = attributes.get(key)
        if attr is None:
            errors.append(f"{path}: unknown field {key!r} for {type_name}")
        elif (type_name, attr) in INT64_FIELDS:
            if not ((isinstance(item, int) and not isinstance(item, bool))
                    or (isinstance(item, str) and item.lstrip("-").isdigit())):
                errors.append(f"{path}.{key}: {item!r} is not an int64")
        else:
            errors += model_errors(item, klass.openapi_types[attr], f"{path}.{key}")
    return errors


def matches(filter_text: str | None, item: dict[str, Any]) -> bool:
    """The subset of v2beta1 filters kfp.Client sends: EQUALS predicates on strings."""
    if not filter_text:
        return True
    for predicate in json.loads(filter_text).get("predicates", []):
        if predicate.get("operation") not in ("EQUALS", 1):
            raise ApiError(400, f"fake: unsupported filter operation {predicate}")
        wanted = predicate.get("stringValue", predicate.get("string_value"))
        if item.get(predicate["key"]) != wanted:
            return False
    return True


PARAMETER_TYPES = {
    "STRING": lambda v: isinstance(v, str),
    "NUMBER_INTEGER": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "NUMBER_DOUBLE": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "BOOLEAN": lambda v: isinstance(v, bool),
    "LIST": lambda v: isinstance(v, list),
    "STRUCT": lambda v: isinstance(v, dict),
}


class KfpServer(FakeServer):
    unauthorised_message = ("Unauthenticated: Request header error: there is no user identity "
                            "header.")
    forbidden_message = ("PermissionDenied: User 'someone@example.com' is not authorized with "
                         "reason: (request: &ResourceAttributes{Namespace:team-a,Verb:create,"
                         "Group:pipelines.kubeflow.org,Resource:runs})")

    def __init__(self, *, multi_user: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multi_user = multi_user
        self.ids = (f"{n:08x}-0000-4000-8000-000000000000" for n in itertools.count(1))
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, dict[str, Any]] = {}
        self.specs: dict[str, dict[str, Any]] = {}  # version id -> PipelineSpec
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.recurring_runs: dict[str, dict[str, Any]] = {}
        self.bodies: list[tuple[str, Any]] = []  # (path, accepted JSON body)
        self.states = ["RUNNING", "SUCCEEDED"]  # one per GET of a run; the last repeats
        self.polls: dict[str, int] = {}
        routes = [
            ("GET", "/healthz", self.healthz),
            ("GET", "/pipelines", self.list_pipelines),
            ("POST", "/pipelines/upload", self.upload_pipeline),
            ("POST", "/pipelines/upload_version", self.upload_version),
            ("GET", f"/pipelines/{ID}/versions", self.list_versions),
            ("GET", "/experiments", self.list_experiments),
            ("POST", "/experiments", self.create_experiment),
            ("POST", "/runs", self.create_run),
            ("GET", f"/runs/{ID}", self.get_run),
            ("POST", "/recurringruns", self.create_recurring_run),
        ]
        for method, path, handler in routes:
            self.route(method, API + path, handler)

    def error_body(self, status: int, message: str) -> Any:
        return {"code": GRPC_CODES.get(status, 2), "message": message, "details": []}

    def upload_error(self, status: int, message: str) -> ApiError:
        return ApiError(status, message, {"error_message": message, "error_details": message})

    # ---- pipelines ---------------------------------------------------------------------

    def healthz(self, request: Request) -> Reply:
        return Reply(200, {"commit_sha": "fake", "tag_name": "2.5.0",
                           "multi_user": self.multi_user, "pipeline_store": "database"})

    def list_pipelines(self, request: Request) -> Reply:
        namespace = request.arg("namespace") or ""
        found = [p for p in self.pipelines.values()
                 if p.get("namespace", "") == namespace and matches(request.arg("filter"), p)]
        return Reply(200, {"pipelines": found, "total_size": len(found)} if found else {})

    def upload_pipeline(self, request: Request) -> Reply:
        name, spec = request.arg("name"), self._uploaded_spec(request)
        namespace = request.arg("namespace") or ""
        if name is None:
            raise self.reject(400, "the fake expects ?name= (kfp.Client sends it)")
        if any(p["display_name"] == name and p.get("namespace", "") == namespace
               for p in self.pipelines.values()):
            raise self.upload_error(409, "Failed to create a pipeline and a pipeline version. "
                                    "The pipeline already exists.: AlreadyExistsError")
        pipeline: dict[str, Any] = {"pipeline_id": next(self.ids), "display_name": name,
                                    "name": name, "created_at": CREATED}
        if request.arg("description"):
            pipeline["description"] = request.arg("description")
        if namespace:
            pipeline["namespace"] = namespace
        self.pipelines[pipeline["pipeline_id"]] = pipeline
        self._add_version(pipeline["pipeline_id"], name, request.arg("description"), spec)
        return Reply(200, pipeline)

    def upload_version(self, request: Request) -> Reply:
        spec, pipeline_id = self._uploaded_spec(request), request.arg("pipelineid")
        name = request.arg("name")
        if pipeline_id not in self.pipelines or name is None:
            raise self.upload_error(400, "Failed to create a pipeline version due to error "
                                    "reading pipeline id")
        if any(v["pipeline_id"] == pipeline_id and v["display_name"] == name
               for v in self.versions.values()):
            raise self.upload_error(409, "Failed to create a pipeline version. The pipeline "
                                    "already exists.")
        return Reply(200, self._add_version(pipeline_id, name, request.arg("description"),
                                            spec))

    def list_versions(self, request: Request) -> Reply:
        found = [v for v in self.versions.values() if v["pipeline_id"] == request.params["id"]
                 and matches(request.arg("filter"), v)]
        if request.arg("sort_by") == "created_at desc":
            found.reverse()  # versions are kept in creation order
        size = int(request.arg("page_size") or 10)
        return Reply(200, {"pipeline_versions": found[:size], "total_size": len(found)}
                     if found else {})

    def _uploaded_spec(self, request: Request) -> dict[str, Any]:
        """The ``uploadfile`` part, parsed strictly into PipelineSpec (and PlatformSpec)."""
        content_type = request.headers.get("content-type", "")
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body)
        parts = {part.get_param("name", header="content-disposition"): part
                 for part in message.iter_parts()} if message.is_multipart() else {}
        part = parts.get("uploadfile")
        if part is None:
            raise self.upload_error(400, "Failed to read pipeline from file: http: no such file")
        filename = part.get_filename() or ""
        if not filename.endswith((".yaml", ".yml", ".json", ".zip", ".tar.gz", ".tgz")):
            raise self.reject(400, f"unexpected file name {filename!r}")
        try:
            documents = list(yaml.safe_load_all(bytes(part.get_payload(decode=True))))
            json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
            for platform in documents[1:]:
                json_format.ParseDict(platform, pipeline_spec_pb2.PlatformSpec())
        except (yaml.YAMLError, json_format.ParseError, IndexError) as error:
            raise self.reject(400, f"Failed to read a pipeline spec file: {error}",
                              {"error_message": str(error), "error_details": str(error)}) from None
        spec: dict[str, Any] = documents[0]
        return spec

    def _add_version(self, pipeline_id: str, name: str, description: str | None,
                     spec: dict[str, Any]) -> dict[str, Any]:
        version: dict[str, Any] = {
            "pipeline_id": pipeline_id, "pipeline_version_id": next(self.ids),
            "display_name": name, "name": name, "created_at": CREATED, "pipeline_spec": spec}
        if description:
            version["description"] = description
        self.versions[version["pipeline_version_id"]] = version
        self.specs[version["pipeline_version_id"]] = spec
        return version

    # ---- experiments -------------------------------------------------------------------

    def list_experiments(self, request: Request) -> Reply:
        namespace = request.arg("namespace") or ""
        found = [e for e in self.experiments.values()
                 if e.get("namespace", "") == namespace and matches(request.arg("filter"), e)]
        return Reply(200, {"experiments": found, "total_size": len(found)} if found else {})

    def create_experiment(self, request: Request) -> Reply:
        body = self._checked(request, "V2beta1Experiment")
        if not body.get("display_name"):
            raise ApiError(400, "Invalid input error: Experiment must have a non-empty name")
        if any(e["display_name"] == body["display_name"] for e in self.experiments.values()):
            raise ApiError(409, "Failed to create a new experiment: AlreadyExistsError")
        experiment = {**body, "experiment_id": next(self.ids), "created_at": CREATED,
                      "storage_state": "AVAILABLE"}
        self.experiments[experiment["experiment_id"]] = experiment
        return Reply(200, experiment)

    # ---- runs --------------------------------------------------------------------------

    def create_run(self, request: Request) -> Reply:
        body = self._checked(request, "V2beta1Run")
        self._check_run(body)
        run = {**body, "run_id": next(self.ids), "state": "PENDING", "created_at": CREATED,
               "storage_state": "AVAILABLE"}
        self.runs[run["run_id"]] = run
        return Reply(200, run)

    def create_recurring_run(self, request: Request) -> Reply:
        body = self._checked(request, "V2beta1RecurringRun")
        self._check_run(body)
        cron = (body.get("trigger") or {}).get("cron_schedule", {}).get("cron", "")
        if not (cron.startswith("@") or len(cron.split()) == 6):
            raise ApiError(400, f"Invalid input error: invalid cron schedule {cron!r}: expected "
                           "6 fields (second minute hour day-of-month month day-of-week)")
        if not 1 <= int(body.get("max_concurrency") or 1) <= 10:
            raise ApiError(400, "Invalid input error: max concurrency must be 1 to 10")
        recurring = {**body, "recurring_run_id": next(self.ids), "created_at": CREATED,
                     "updated_at": CREATED, "status": "ENABLED"}
        self.recurring_runs[recurring["recurring_run_id"]] = recurring
        return Reply(200, recurring)

    def get_run(self, request: Request) -> Reply:
        run = self.runs.get(request.params["id"])
        if run is None:
            raise ApiError(404, f"Failed to get run: NotFoundError: Run {request.params['id']} "
                           "not found")
        count = self.polls[run["run_id"]] = self.polls.get(run["run_id"], 0) + 1
        state = self.states[min(count, len(self.states)) - 1]
        task_state = state if state in FINISHED else "RUNNING"
        answer = {**run, "state": state, "run_details": {"task_details": [
            {"run_id": run["run_id"], "task_id": "t1", "display_name": "train",
             "state": task_state}]}}
        if state == "FAILED":
            answer["error"] = {"code": 13, "message": "task train failed"}
        return Reply(200, answer)

    def _checked(self, request: Request, model: str) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError as error:
            raise self.reject(400, f"invalid JSON body: {error}") from None
        errors = model_errors(body, model, model)
        if errors:
            raise self.reject(400, "; ".join(errors))
        self.bodies.append((request.path, body))
        result: dict[str, Any] = body
        return result

    def _check_run(self, body: dict[str, Any]) -> None:
        if body.get("experiment_id") not in self.experiments:
            raise ApiError(404, "NotFoundError: Failed to get experiment")
        reference = body.get("pipeline_version_reference") or {}
        version = self.versions.get(reference.get("pipeline_version_id", ""))
        if version is None or version["pipeline_id"] != reference.get("pipeline_id"):
            raise ApiError(404, "NotFoundError: Failed to get the pipeline version")
        declared = (self.specs[version["pipeline_version_id"]].get("root", {})
                    .get("inputDefinitions", {}).get("parameters", {}))
        given = (body.get("runtime_config") or {}).get("parameters") or {}
        for name, value in given.items():
            if name not in declared:
                raise ApiError(400, "Failed to create a run: InvalidInputError: Unrecognized "
                               f"input parameter: {name}")
            kind = declared[name]["parameterType"]
            if not PARAMETER_TYPES[kind](value):
                raise ApiError(400, f"Failed to create a run: InvalidInputError: input "
                               f"parameter {name} requires type {kind}, got {value!r}")
        for name, definition in declared.items():
            if name not in given and not definition.get("isOptional"):
                raise ApiError(400, f"Failed to create a run: InvalidInputError: input "
                               f"parameter {name} is required")
