"""``python -m cnai_deploy``: roll out a model service, then shift canary traffic.

1. Read each Knative Service's current ready revision (none on a first deploy).
2. Create or replace the Knative Service(s).
3. Wait until each is Ready for the new generation: ``observedGeneration`` caught up,
   ``Ready`` condition ``True``, ``latestReadyRevisionName == latestCreatedRevisionName``.
4. Only then apply every other document (DestinationRules first, VirtualServices last),
   with ``${CNAI_NEW_REVISION}`` / ``${CNAI_CURRENT_REVISION}`` replaced by revision names
   (both the new revision on a first deploy, so its whole weight goes to it).

Before all that, the tokens of ``--set``, ``--run-id`` and ``${CNAI_NAMESPACE}`` are
replaced in every document (cnai_launcher.tokens): Kubeflow Pipelines passes values as
arguments, and the compiler names the namespace in Istio hosts with ``${CNAI_NAMESPACE}``.

A revision that fails leaves the VirtualService untouched: traffic stays where it was.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

from kubernetes.client.rest import ApiException

from cnai_deploy.apply import (
    CURRENT_REVISION,
    NEW_REVISION,
    apply,
    check_weights,
    describe_traffic,
    is_knative_service,
    is_virtual_service,
    substitute,
)
from cnai_launcher.kube import Kube, add_cluster_options, api_error
from cnai_launcher.resources import Ref, load_documents, ref_for
from cnai_launcher.tokens import add_token_options, parse_sets, token_values
from cnai_launcher.tokens import substitute as substitute_tokens
from cnai_launcher.wait import Judge, Waiter
from cnai_runtime import output, outputs_configured
from cnai_runtime.cli import raise_on_signals, run, setup_logging
from cnai_runtime.exitcodes import CONDITION_FAILED, USAGE, StepError

NAME = "cnai-deploy"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnai_deploy",
        description="Apply a model service (Knative Service + Istio VirtualService/"
        "DestinationRule), wait for the new revision, then shift canary traffic.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifests", help="multi-document YAML/JSON file, or - for stdin")
    source.add_argument("--manifests-text", help="the manifests themselves")
    parser.add_argument("--namespace", help="overrides the manifests' namespace")
    add_token_options(parser, "replace ${NAME} in the manifests' strings by VALUE "
                      "(${CNAI_NAMESPACE} is always the namespace the objects go to)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds (default 600)")
    parser.add_argument("--poll-interval", type=float, default=5.0)
    add_cluster_options(parser)
    parser.add_argument("--verbose", action="store_true")
    return parser


def ready_judge(ref: Ref, generation: int, log: logging.Logger) -> Judge:
    """Success once the Service is Ready for ``generation``; failure when Ready is False."""

    def judge(obj: dict[str, Any]) -> bool:
        status = obj.get("status") or {}
        if int(status.get("observedGeneration") or 0) < generation:
            return False  # the controller has not seen this spec yet: old status
        ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
        if ready and ready.get("status") == "False":
            raise StepError(
                f"{ref}: the new revision is not ready: {ready.get('reason', '')} "
                f"{ready.get('message', '')}".rstrip(),
                CONDITION_FAILED,
            )
        latest_ready = status.get("latestReadyRevisionName")
        if (
            ready
            and ready.get("status") == "True"
            and latest_ready
            and latest_ready == status.get("latestCreatedRevisionName", latest_ready)
        ):
            log.info("%s is Ready: revision %s", ref, latest_ready)
            return True
        return False

    return judge


def _current_revision(kube: Kube, ref: Ref) -> str | None:
    try:
        return (kube.get(ref).get("status") or {}).get("latestReadyRevisionName")
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise api_error(exc, f"reading {ref}") from None


def _order(obj: dict[str, Any]) -> int:
    if obj.get("kind") == "DestinationRule":
        return 0
    return 2 if is_virtual_service(obj) else 1


def _deploy(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    log = setup_logging(NAME, args.verbose)
    docs = load_documents(args.manifests, args.manifests_text)
    services = [d for d in docs if is_knative_service(d)]
    rest = sorted((d for d in docs if not is_knative_service(d)), key=_order)
    if len(services) != 1:
        raise StepError(
            f"expected one Knative Service in the manifests, found {len(services)}", USAGE
        )
    for doc in rest:
        if is_virtual_service(doc):
            check_weights(doc)
    parse_sets(args.set)  # a malformed --set is a usage error before any API access
    kube, default_ns = Kube.connect(args.kubeconfig, args.context)
    raise_on_signals()
    try:
        namespace = ref_for(services[0], args.namespace, default_ns).namespace
        values = token_values(args.set, args.run_id, namespace)
        service = substitute_tokens(services[0], values)
        rest = [substitute_tokens(doc, values) for doc in rest]
        ref = ref_for(service, args.namespace, default_ns)
        if not ref.name:
            raise StepError("the Knative Service needs metadata.name (not generateName)", USAGE)
        current = _current_revision(kube, ref)
        log.info("current ready revision of %s: %s", ref, current or "none (first deploy)")
        applied = apply(kube, ref, service, log)
        generation = int(applied.get("metadata", {}).get("generation") or 1)
        judge = ready_judge(ref, generation, log)
        outcome = Waiter(kube, ref, judge, log, args.poll_interval).wait(args.timeout)
        status = outcome.obj.get("status") or {}
        new = str(status["latestReadyRevisionName"])
        replacements = {NEW_REVISION: new, CURRENT_REVISION: current or new}
        for doc in rest:
            doc = substitute(doc, replacements)
            apply(kube, ref_for(doc, args.namespace, default_ns), doc, log)
            if is_virtual_service(doc):
                log.info("traffic for %s: %s", doc["metadata"]["name"], describe_traffic(doc))
        log.info(
            "deployed %s: revision %s (previous %s) at %s",
            ref,
            new,
            current or "none",
            status.get("url", "?"),
        )
        if outputs_configured():
            output("revision", new)
            output("previous_revision", current or "")
            output("url", str(status.get("url", "")))
        return 0
    finally:
        kube.close()


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, _deploy, argv)
