"""Submit to the Kubeflow Pipelines API (v2beta1) through kfp.Client.

1. Upload the compiled PipelineSpec as a pipeline, or, if a pipeline with that name exists,
   as a new version named ``<pipeline>-<12 hex digits of its sha256>``; a version with that
   name is the same file, and is reused.
2. Find or create the experiment (``--experiment``, default ``Default``).
3. Create a run of that version, or a recurring run when the pipeline has a ``schedule``.
   KFP's scheduler reads cron with six fields, seconds first (robfig/cron v1's ``Parse``, in
   UTC); a five-field schedule would be read as "second minute hour day month", so it gets a
   ``0`` seconds field in front. @-descriptors (@daily...) mean the same to both.

kfp is imported here only, when the command runs. kfp.Client is used with three changes
(the Client subclass below): a request timeout, no following of redirects (a login page is
not an API answer), and a single health check through cnai's retries instead of kfp's five
tries five seconds apart that log tracebacks. kfp's own "details" links on stdout are
swallowed: cnai prints its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from cnai.submit.errors import (
    Action,
    HttpFailure,
    Service,
    SubmitError,
    Unreachable,
    explained,
    server_message,
    unreachable,
)
from cnai.submit.job import NOTIFY, Connection, Job, note
from cnai.submit.retry import Transient, is_transient, with_retries
from cnai.submit.watch import Snapshot, follow

T = TypeVar("T")

SERVICE = Service("the Kubeflow Pipelines API", "pass a valid token with --token or "
                  "--token-file (sent as `Authorization: Bearer TOKEN`)", "--host")
DONE = {"SUCCEEDED": True, "FAILED": False, "CANCELED": False, "SKIPPED": False}
TASK_DONE = {"SUCCEEDED", "SKIPPED", "FAILED", "CANCELED"}


def kfp_cron(schedule: str) -> str:
    """Our five-field cron (or @descriptor) as KFP's six-field cron."""
    return schedule if schedule.startswith("@") else f"0 {schedule}"


def run_service_account(job: Job) -> str | None:
    """The run's Kubernetes service account: --service-account, else the pipeline's
    `service_account` (kfp Client.run_pipeline / create_recurring_run's service_account; the
    API server gives it to the run's Argo Workflow, whose pods all run as it)."""
    return job.service_account or job.compiled.service_account


class Calls:
    """Runs one kfp.Client call with cnai's retries; failures become HttpFailure/Unreachable."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def run(self, call: Callable[[], T]) -> T:
        return with_retries(lambda: self.attempt(call), self.connection.backoff, NOTIFY)

    def attempt(self, call: Callable[[], T]) -> T:
        import urllib3
        from kfp_server_api import ApiException  # type: ignore[import-untyped]

        url = self.connection.url
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                return call()
        except ApiException as error:
            headers = error.headers or {}
            if not error.status:  # kfp_server_api's way of reporting an SSLError
                raise Unreachable(url, f"TLS failure ({error.reason})", "tls") from None
            failure = HttpFailure(error.status, server_message(error.body), url,
                                  location=headers.get("Location"))
            if is_transient(error.status):
                raise Transient(failure, headers.get("Retry-After")) from None
            raise failure from None
        except urllib3.exceptions.HTTPError as error:
            raise unreachable(url, error) from None
        except ValueError as error:  # kfp's own checks, e.g. two experiments with one name
            raise SubmitError(str(error)) from None


def make_client(connection: Connection, calls: Calls) -> Any:
    import kfp  # type: ignore[import-untyped]
    import urllib3

    def harden(api_client: Any) -> None:
        # kfp never passes a timeout, and the generated REST client then waits forever. All
        # of kfp's API objects share this one REST client.
        rest = api_client.rest_client
        if getattr(rest, "cnai_timeout", False):
            return
        send = rest.request

        def request(*args: Any, **kwargs: Any) -> Any:
            kwargs["_request_timeout"] = kwargs.get("_request_timeout") or (
                connection.timeout, connection.timeout)
            return send(*args, **kwargs)

        rest.request, rest.cnai_timeout = request, True

    class Client(kfp.Client):  # type: ignore[misc]
        def _load_config(self, *args: Any, **kwargs: Any) -> Any:
            config = super()._load_config(*args, **kwargs)
            # A refused or dropped connection is tried once more (kfp's default is three
            # times, for reads too); a read timeout is final; a redirect is returned, not
            # followed, so that explain() can say where it went.
            config.retries = urllib3.Retry(total=1, read=0, redirect=False)
            return config

        def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:
            harden(self._healthz_api.api_client)
            self.cnai_healthz = calls.run(self._healthz_api.healthz_service_get_healthz)
            return self.cnai_healthz

    with warnings.catch_warnings():
        # kfp warns on every construction that it needs a v2 backend, which we know.
        warnings.filterwarnings("ignore", "This client only works", FutureWarning)
        client = Client(host=connection.url, existing_token=connection.token,
                        namespace=connection.namespace or "kubeflow",
                        verify_ssl=connection.verify_tls, ssl_ca_cert=connection.ca_cert)
    harden(client._healthz_api.api_client)
    healthz = getattr(client, "cnai_healthz", None)
    if healthz is not None and healthz.multi_user and not client.get_user_namespace():
        raise SubmitError(f"{SERVICE.name} at {connection.url} is a multi-user install: it "
                          "needs the namespace (profile) to submit into",
                          "pass --namespace NS")
    return client


def equals(key: str, value: str) -> str:
    """A v2beta1 filter (backend/api/v2beta1/filter.proto) matching ``key == value``."""
    return json.dumps({"predicates": [{"operation": "EQUALS", "key": key,
                                       "stringValue": value}]})


def upload(job: Job, client: Any, calls: Calls, package: str) -> tuple[str, str, str]:
    """(pipeline id, version id, version name), uploading what is new."""
    compiled, namespace = job.compiled, job.connection.namespace
    name = compiled.name
    with explained(SERVICE, Action(f"look up the pipeline {name}")):
        listing = calls.run(lambda: client.list_pipelines(
            filter=equals("display_name", name), namespace=namespace, page_size=2))
    found = [p for p in listing.pipelines or [] if p.display_name == name]
    if len(found) > 1:
        raise SubmitError(f"{len(found)} pipelines are named {name}; cnai cannot tell which "
                          "to add a version to", "delete or rename all but one")
    if not found:
        with explained(SERVICE, Action(f"upload the pipeline {name}")):
            pipeline = calls.run(lambda: client.upload_pipeline(
                package, pipeline_name=name, description=compiled.description,
                namespace=namespace))
            versions = calls.run(lambda: client.list_pipeline_versions(
                pipeline.pipeline_id, page_size=1, sort_by="created_at desc"))
        version = (versions.pipeline_versions or [None])[0]
        if version is None:
            raise SubmitError(f"the pipeline {name} was uploaded but has no version")
        return (present(pipeline.pipeline_id, "a pipeline id"),
                present(version.pipeline_version_id, "a version id"), version.display_name)
    pipeline_id = present(found[0].pipeline_id, "a pipeline id")
    version_name = f"{name}-{hashlib.sha256(compiled.text.encode()).hexdigest()[:12]}"
    action = Action(f"upload version {version_name} of the pipeline {name}",
                    "delete that version or rename the pipeline")
    with explained(SERVICE, action):
        same = calls.run(lambda: client.list_pipeline_versions(
            pipeline_id, filter=equals("display_name", version_name), page_size=1))
        if same.pipeline_versions:
            return (pipeline_id, present(same.pipeline_versions[0].pipeline_version_id,
                                         "a version id"), version_name)
        version = calls.run(lambda: client.upload_pipeline_version(
            package, version_name, pipeline_id=pipeline_id,
            description=compiled.description))
    return pipeline_id, present(version.pipeline_version_id, "a version id"), version_name


def submit(job: Job) -> int:
    connection, compiled, out = job.connection, job.compiled, job.out
    calls = Calls(connection)
    with explained(SERVICE, Action("reach the API")):
        client = make_client(connection, calls)
    with tempfile.TemporaryDirectory(prefix="cnai-submit-") as directory:
        package = str(Path(directory) / f"{compiled.name}.yaml")
        Path(package).write_text(compiled.text, encoding="utf-8")
        pipeline_id, version_id, version_name = upload(job, client, calls, package)
    out.write(f"pipeline {compiled.name}, version {version_name}\n"
              f"{connection.url}/#/pipelines/details/{pipeline_id}/version/{version_id}\n")
    with explained(SERVICE, Action(f"find or create the experiment {job.experiment}")):
        experiment = calls.run(lambda: client.create_experiment(
            name=job.experiment, namespace=connection.namespace))
    experiment_id = present(experiment.experiment_id, "an experiment id")
    common = {"params": job.values, "pipeline_id": pipeline_id, "version_id": version_id}
    account = run_service_account(job)
    if account is not None:
        common["service_account"] = account
    if compiled.schedule is not None:
        cron = kfp_cron(compiled.schedule)
        with explained(SERVICE, Action("create the recurring run")):
            recurring = calls.run(lambda: client.create_recurring_run(
                experiment_id, job_name=compiled.name,
                description=compiled.description, cron_expression=cron, no_catchup=True,
                **common))
        recurring_id = present(recurring.recurring_run_id, "a recurring run id")
        out.write(f"recurring run {compiled.name} created in experiment {job.experiment} "
                  f"(cron {cron}, UTC)\n{connection.url}/#/recurringrun/details/"
                  f"{recurring_id}\n")
        if job.watch:
            note("--watch: a recurring run starts runs on its schedule; nothing to watch now")
        return 0
    run_name = f"{compiled.name} {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    with explained(SERVICE, Action("create the run")):
        run_id = present(calls.run(lambda: client.run_pipeline(
            experiment_id, run_name, **common)).run_id, "a run id")
    out.write(f"run {run_name} created in experiment {job.experiment}\n"
              f"{connection.url}/#/runs/details/{run_id}\n")
    out.flush()
    if not job.watch:
        return 0
    with explained(SERVICE, Action(f"get the run {run_id}")):
        last = follow(lambda: snapshot(calls.run(lambda: client.get_run(run_id))),
                      f"run {run_id}", out, job.poll_interval)
    return 0 if last.succeeded else 1


def present(value: Any, what: str) -> str:
    """An id the API must return; its absence means this is not the KFP v2 API."""
    if not value:
        raise SubmitError(f"{SERVICE.name} answered without {what}",
                          "check that --host points at the Kubeflow Pipelines v2 API")
    return str(value)


def snapshot(run: Any) -> Snapshot:
    state = str(run.state or "PENDING")
    tasks = getattr(run.run_details, "task_details", None) or []
    progress = None
    if tasks:
        done = sum(1 for t in tasks if str(t.state) in TASK_DONE)
        progress = f"{done}/{len(tasks)} tasks"
    message = run.error.message if run.error is not None else None
    return Snapshot(phase=state, finished=state in DONE, succeeded=DONE.get(state, False),
                    progress=progress, message=message)
