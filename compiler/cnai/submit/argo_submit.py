"""Submit to the Argo Server's REST API through hera's WorkflowsService.

First the WorkflowTemplates of a pipeline too large for one object (backends/argo_package.py),
POST /api/v1/workflow-templates/{namespace}, each before the Workflow that references it: one
that already exists is fine when it is the same (its name is a hash of its content, so a
pipeline's version re-submitted finds its own), and an error otherwise. Then POST
/api/v1/workflows/{namespace} (a Workflow) or /api/v1/cron-workflows/{namespace} (a
CronWorkflow, for a pipeline with a ``schedule``); ``--watch`` polls
GET /api/v1/workflows/{namespace}/{name}. hera builds each request; the Transport below, mounted
on hera's requests session, adds what hera leaves out: a timeout, bounded retries of 5xx and
429 answers, and failures that keep the status, the server's message and Retry-After (hera's
exceptions keep only a formatted string and fail on bodies without ``message``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from cnai.submit.errors import (
    Action,
    HttpFailure,
    Service,
    SubmitError,
    Unreachable,
    explain,
    explained,
    server_message,
    unreachable,
)
from cnai.submit.job import NOTIFY, Connection, Job, note
from cnai.submit.params import apply_to_argo
from cnai.submit.retry import Transient, is_transient, with_retries
from cnai.submit.watch import Snapshot, follow

if TYPE_CHECKING:
    from hera.workflows.service import WorkflowsService

TOKEN_ENV = "ARGO_TOKEN"
SERVICE = Service("the Argo Server", "pass a valid token with --token, --token-file or "
                  f"{TOKEN_ENV} (`argo auth token` prints one)", "--server")
RUN_KINDS = ("Workflow", "CronWorkflow")
TEMPLATE_KIND = "WorkflowTemplate"
DONE = {"Succeeded": True, "Failed": False, "Error": False}  # final phase -> success


def make_transport(connection: Connection) -> Any:
    """A requests adapter for every request hera makes (see the module docstring)."""
    from requests import RequestException  # type: ignore[import-untyped]
    from requests.adapters import HTTPAdapter  # type: ignore[import-untyped]

    class Transport(HTTPAdapter):  # type: ignore[misc]
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            if not kwargs.get("timeout"):
                kwargs["timeout"] = connection.timeout
            if connection.ca_cert and kwargs.get("verify") is True:
                kwargs["verify"] = connection.ca_cert  # hera's verify_ssl is only a bool
            return with_retries(lambda: self.attempt(request, *args, **kwargs),
                                connection.backoff, NOTIFY)

        def attempt(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                response = super().send(request, *args, **kwargs)
            except RequestException as error:
                raise unreachable(connection.url, error) from None
            status = response.status_code
            if status < 300:
                return response
            failure = HttpFailure(status, server_message(response.content),
                                  f"{request.method} {request.url}",
                                  location=response.headers.get("Location"))
            response.close()
            if is_transient(status):
                raise Transient(failure, response.headers.get("Retry-After"))
            raise failure

    return Transport()


def make_service(connection: Connection) -> WorkflowsService:
    import requests
    from hera.workflows.service import WorkflowsService

    session = requests.Session()
    transport = make_transport(connection)
    session.mount("http://", transport)
    session.mount("https://", transport)
    # hera joins "api/v1/..." onto the host; a trailing slash keeps a path prefix such as
    # https://example.com/argo/ (urljoin would replace its last segment).
    return WorkflowsService(host=connection.url + "/", token=connection.token,
                            verify_ssl=connection.verify_tls, namespace=connection.namespace,
                            session=session)


@contextmanager
def answered(connection: Connection, kind: str) -> Iterator[None]:
    """A 2xx answer hera cannot read (an HTML page from a proxy, say) is the server's fault,
    not a bug in cnai."""
    try:
        yield
    except ValueError as error:  # json's JSONDecodeError and pydantic's ValidationError
        raise SubmitError(
            f"{SERVICE.name} at {connection.url} answered with something that is not an Argo "
            f"{kind} ({type(error).__name__}: {str(error).splitlines()[0]})",
            "check that --server points at the Argo Server itself, not a login page or proxy"
        ) from None


def pick_run_document(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """The Workflow or CronWorkflow; other objects (quotas...) are noted, not sent."""
    runs = [d for d in documents if d.get("kind") in RUN_KINDS]
    others = [d for d in documents if d.get("kind") not in (*RUN_KINDS, TEMPLATE_KIND)]
    if others:
        names = ", ".join(f"{d.get('kind')}/{d.get('metadata', {}).get('name', '?')}"
                          for d in others)
        note(f"the pipeline also needs {names}; the Argo Server cannot create those, so apply "
             "them with kubectl (`cnai compile --split DIR` writes one file per object)")
    return runs[0]


def submit(job: Job) -> int:
    document = pick_run_document(job.compiled.documents)
    apply_to_argo(document, job.values)
    if job.service_account is not None:  # the Workflow's; templates with their own keep it
        document["spec"].get("workflowSpec", document["spec"])["serviceAccountName"] = \
            job.service_account
    service = make_service(job.connection)
    for template in job.compiled.documents:
        if template.get("kind") == TEMPLATE_KIND:
            create_workflow_template(job, service, template)
    if document["kind"] == "CronWorkflow":
        return create_cron_workflow(job, service, document)
    return create_workflow(job, service, document)


def create_workflow_template(job: Job, service: WorkflowsService,
                             document: dict[str, Any]) -> None:
    """Create one WorkflowTemplate; an existing one of the same name must be the same."""
    from hera.workflows.models import WorkflowTemplate, WorkflowTemplateCreateRequest

    connection, namespace = job.connection, job.connection.namespace or "default"
    name = document["metadata"]["name"]
    template = WorkflowTemplate.model_validate(document)
    request = WorkflowTemplateCreateRequest(template=template, namespace=namespace)
    action = Action(f"create the WorkflowTemplate {name}")
    try:
        with answered(connection, "WorkflowTemplate"):
            service.create_workflow_template(request, namespace=namespace)
    except HttpFailure as failure:
        if failure.status != 409:
            raise explain(failure, SERVICE, action) from None
        with explained(SERVICE, Action(f"get the WorkflowTemplate {name}")), \
                answered(connection, "WorkflowTemplate"):
            existing = service.get_workflow_template(name=name, namespace=namespace)
        if _spec_of(existing) != _spec_of(template):
            raise SubmitError(
                f"a different WorkflowTemplate named {name} exists in namespace {namespace}",
                f"delete it (`argo template delete {name} -n {namespace}`); cnai names them "
                "after a hash of their content, so another tool wrote this one") from None
        job.out.write(f"WorkflowTemplate {name} already exists in namespace {namespace} "
                      "(the same)\n")
        return
    except Unreachable as failure:
        raise explain(failure, SERVICE, action) from None
    job.out.write(f"WorkflowTemplate {name} created in namespace {namespace}\n")


def _spec_of(template: Any) -> Any:
    """A WorkflowTemplate's spec as JSON, read through hera's model (as both sides are)."""
    return template.spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def create_cron_workflow(job: Job, service: WorkflowsService, document: dict[str, Any]) -> int:
    from hera.workflows.models import CreateCronWorkflowRequest, CronWorkflow

    connection, namespace = job.connection, job.connection.namespace or "default"
    name = document["metadata"]["name"]
    request = CreateCronWorkflowRequest(cron_workflow=CronWorkflow.model_validate(document),
                                        namespace=namespace)
    action = Action("create the CronWorkflow",
                    f"a CronWorkflow named {name} exists in namespace {namespace}: delete it "
                    f"first (`argo cron delete {name} -n {namespace}`) or rename the pipeline")
    with explained(SERVICE, action), answered(connection, "CronWorkflow"):
        created = service.create_cron_workflow(request, namespace=namespace).metadata.name or name
    schedule = ", ".join(document["spec"].get("schedules", []))
    job.out.write(f"CronWorkflow {created} created in namespace {namespace} (schedule: "
                  f"{schedule})\n{connection.url}/cron-workflows/{namespace}/{created}\n")
    if job.watch:
        note("--watch: a CronWorkflow starts workflows on its schedule; nothing to watch now")
    return 0


def create_workflow(job: Job, service: WorkflowsService, document: dict[str, Any]) -> int:
    from hera.workflows.models import Workflow, WorkflowCreateRequest

    connection, namespace = job.connection, job.connection.namespace or "default"
    request = WorkflowCreateRequest(workflow=Workflow.model_validate(document),
                                    namespace=namespace)
    action = Action("create the Workflow",
                    "set metadata.generateName, or choose another metadata.name")
    with explained(SERVICE, action), answered(connection, "Workflow"):
        name = service.create_workflow(request, namespace=namespace).metadata.name or "?"
    job.out.write(f"Workflow {name} created in namespace {namespace}\n"
                  f"{connection.url}/workflows/{namespace}/{name}\n")
    job.out.flush()
    if not job.watch:
        return 0
    label = f"Workflow {name}"
    with explained(SERVICE, Action(f"get the {label}")), answered(connection, "Workflow"):
        last = follow(lambda: snapshot(service, name, namespace), label, job.out,
                      job.poll_interval)
    return 0 if last.succeeded else 1


def snapshot(service: WorkflowsService, name: str, namespace: str) -> Snapshot:
    workflow = service.get_workflow(name=name, namespace=namespace)
    status = workflow.status
    phase = (status.phase if status else None) or "Pending"
    return Snapshot(phase=phase, finished=phase in DONE, succeeded=DONE.get(phase, False),
                    progress=status.progress if status else None,
                    message=status.message if status else None)
