"""``python -m cnai_launcher``: create one Kubernetes object and wait for its outcome."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kubernetes.client.rest import ApiException

from cnai_launcher.conditions import Condition, ConditionError, parse
from cnai_launcher.defaults import default_conditions
from cnai_launcher.kube import Kube, add_cluster_options, api_error
from cnai_launcher.resources import Ref, load_documents, ref_for
from cnai_launcher.tokens import add_token_options, parse_sets, substitute, token_values
from cnai_launcher.wait import Waiter, conditions_judge, summarize
from cnai_runtime.cli import (
    Cancelled,
    ignore_signals,
    raise_on_signals,
    run,
    setup_logging,
    signals_deferred,
)
from cnai_runtime.exitcodes import CONDITION_FAILED, NOT_FOUND, USAGE, StepError

NAME = "cnai-launcher"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cnai_launcher",
        description="Create a Kubernetes object (TFJob, PyTorchJob, DataLoad, Knative Service, "
        "...), wait until its success or failure condition holds, clean up on cancellation.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", help="YAML/JSON file with one object, or - for stdin")
    source.add_argument("--manifest-text", help="the manifest itself (YAML or JSON)")
    parser.add_argument(
        "--before",
        action="append",
        default=[],
        metavar="FILE",
        help="objects to create first, in order (e.g. a PodDisruptionBudget); deleted with "
        "the object",
    )
    parser.add_argument(
        "--before-text", action="append", default=[], metavar="TEXT", help="as --before, inline"
    )
    parser.add_argument(
        "--ensure-text",
        action="append",
        default=[],
        metavar="TEXT",
        help="an object shared by runs (e.g. a Fluid Dataset), before the --before objects: "
        "created if absent; if it exists, its spec must hold every field of this one, else "
        "the launcher fails rather than change it under another run; never deleted",
    )
    add_token_options(parser, "replace ${NAME} in the manifests' strings by VALUE")
    parser.add_argument(
        "--write",
        nargs=2,
        action="append",
        default=[],
        metavar=("PATH", "TEXT"),
        help="after success, write TEXT (tokens filled in) to PATH, e.g. a step output",
    )
    parser.add_argument("--namespace", help="overrides the manifest's namespace")
    parser.add_argument("--success-condition", help="condition syntax: see README")
    parser.add_argument("--failure-condition", help="condition syntax: see README")
    parser.add_argument("--timeout", type=float, default=0, help="seconds; 0 waits forever")
    parser.add_argument(
        "--delete-on-exit",
        action="store_true",
        help="delete the object (and the --before objects) when done, whatever the "
        "outcome (they are always deleted when the launcher is cancelled)",
    )
    parser.add_argument(
        "--if-exists",
        choices=("fail", "adopt"),
        default="fail",
        help="an object with that name exists: fail (default) or wait on it as if created",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=5.0,
        help="seconds between reads when the watch API is unavailable",
    )
    add_cluster_options(parser)
    parser.add_argument("--verbose", action="store_true")
    return parser


def _conditions(args: argparse.Namespace, obj: dict[str, Any]) -> tuple[Condition, Condition]:
    default_success, default_failure = default_conditions(obj)
    success_text = args.success_condition
    failure_text = args.failure_condition
    if success_text is None and failure_text is None:
        success_text, failure_text = default_success, default_failure
    try:
        return parse(success_text or ""), parse(failure_text or "")
    except ConditionError as exc:
        raise StepError(f"bad condition: {exc}", USAGE) from None


def create(kube: Kube, ref: Ref, obj: dict[str, Any], if_exists: str, log: logging.Logger) -> Ref:
    """Create ``obj``; returns its ref with the final (possibly generated) name."""
    try:
        created = kube.create(ref, obj)
    except ApiException as exc:
        if exc.status == 409 and if_exists == "adopt" and ref.name:
            log.info("%s already exists: adopting it", ref)
            return ref
        if exc.status == 404:
            raise StepError(
                f"creating {ref}: the API has no {ref.collection} (is the {ref.kind} "
                f"CRD installed?)",
                NOT_FOUND,
            ) from None
        raise api_error(exc, f"creating {ref}") from None
    name = created.get("metadata", {}).get("name", ref.name)
    final = Ref(ref.api_version, ref.kind, ref.namespace, name)
    log.info("created %s (%s)", final, summarize(created))
    return final


def differences(wanted: Any, found: Any, path: str = "spec") -> list[str]:
    """Where ``found`` does not hold ``wanted``: every key of a wanted mapping, lists item by
    item (the API server may add defaults, never drop what was asked)."""
    if isinstance(wanted, dict) and isinstance(found, dict):
        return [d for key, value in wanted.items()
                for d in differences(value, found.get(key), f"{path}.{key}")]
    if isinstance(wanted, list) and isinstance(found, list) and len(wanted) == len(found):
        return [d for index, (w, f) in enumerate(zip(wanted, found, strict=True))
                for d in differences(w, f, f"{path}[{index}]")]
    return [] if wanted == found else [f"{path} is {json.dumps(found)}, not {json.dumps(wanted)}"]


def ensure(kube: Kube, ref: Ref, obj: dict[str, Any], log: logging.Logger) -> None:
    """Create a shared object, or check that the one there is the one this run needs."""
    try:
        kube.create(ref, obj)
        log.info("created %s (shared: kept after this run)", ref)
        return
    except ApiException as exc:
        if exc.status != 409:
            raise api_error(exc, f"creating {ref}") from None
    try:
        found = kube.get(ref)
    except ApiException as exc:
        raise api_error(exc, f"reading {ref}") from None
    wrong = differences(obj.get("spec", {}), found.get("spec"))
    if wrong:
        raise StepError(
            f"{ref} exists for another source or setting and is shared by runs, so it is left "
            f"as it is: {'; '.join(wrong)}",
            CONDITION_FAILED,
        )
    log.info("%s exists as this run needs it: using it", ref)


def delete(kube: Kube, ref: Ref, log: logging.Logger) -> None:
    try:
        gone = not kube.delete(ref)
    except ApiException as exc:
        log.error("could not delete %s: %s", ref, api_error(exc, "delete").message)
        return
    except Exception as exc:  # cleanup must never hide the real outcome
        log.error("could not delete %s: %s", ref, exc)
        return
    log.info("%s %s", "already gone:" if gone else "deleted", ref)


def write_text(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StepError(f"cannot write {path}: {exc.strerror or exc}", USAGE) from None


def _befores(args: argparse.Namespace) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for source in args.before:
        objects += load_documents(source)
    for text in args.before_text:
        objects += load_documents(None, text)
    return objects


def _launch(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    log = setup_logging(NAME, args.verbose)
    docs = load_documents(args.manifest, args.manifest_text)
    if len(docs) != 1:
        raise StepError(f"expected exactly one object in the manifest, found {len(docs)}", USAGE)
    obj, befores = docs[0], _befores(args)
    ensured = [o for text in args.ensure_text for o in load_documents(None, text)]
    parse_sets(args.set)  # a malformed --set is a usage error before any API access
    success, failure = _conditions(args, obj)
    kube, default_ns = Kube.connect(args.kubeconfig, args.context)
    raise_on_signals()
    namespace = ref_for(obj, args.namespace, default_ns).namespace
    values = token_values(args.set, args.run_id, namespace)
    obj = substitute(obj, values)
    befores = [substitute(b, values) for b in befores]
    ensured = [substitute(e, values) for e in ensured]
    ref = ref_for(obj, args.namespace, default_ns)
    created: list[Ref] = []  # in order of creation; deleted in reverse
    finished = False
    try:
        for shared in ensured:  # never in `created`: other runs use it
            with signals_deferred():
                ensure(kube, ref_for(shared, args.namespace, default_ns), shared, log)
        for before in befores:
            with signals_deferred():  # a SIGTERM now must still see it in `created`
                created.append(create(kube, ref_for(before, args.namespace, default_ns),
                                      before, args.if_exists, log))
        with signals_deferred():
            main_ref = create(kube, ref, obj, args.if_exists, log)
            created.append(main_ref)
        log.info(
            "waiting for %s: success [%s] failure [%s] timeout %s",
            main_ref,
            success.text or "-",
            failure.text or "-",
            f"{args.timeout:g}s" if args.timeout > 0 else "none",
        )
        if success or failure:
            judge = conditions_judge(main_ref, success, failure, log)
            outcome = Waiter(kube, main_ref, judge, log, args.poll_interval).wait(args.timeout)
            log.info("succeeded after %.1fs: %s", outcome.elapsed, summarize(outcome.obj))
        else:
            log.info("no conditions for %s: done once created", main_ref.kind)
        for path, text in args.write:
            write_text(Path(path), substitute(text, values))
        finished = True
        return 0
    except StepError:
        finished = True
        raise
    except Cancelled:
        ignore_signals()  # a second SIGTERM must not interrupt the cleanup
        for gone in reversed(created):
            log.info("cancelled: deleting %s", gone)
            delete(kube, gone, log)
        created = []
        raise
    finally:
        if args.delete_on_exit and finished:
            for gone in reversed(created):
                delete(kube, gone, log)
        kube.close()


def main(argv: Sequence[str] | None = None) -> int:
    return run(NAME, _launch, argv)
