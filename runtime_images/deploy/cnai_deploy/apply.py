"""Create-or-replace of manifests, revision placeholders, and canary weight checks."""

from __future__ import annotations

import logging
from typing import Any

from kubernetes.client.rest import ApiException

from cnai_launcher.kube import Kube, api_error
from cnai_launcher.resources import Ref
from cnai_runtime.exitcodes import REMOTE, USAGE, StepError

NEW_REVISION = "${CNAI_NEW_REVISION}"
CURRENT_REVISION = "${CNAI_CURRENT_REVISION}"


def is_knative_service(obj: dict[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith("serving.knative.dev/") and (
        obj.get("kind") == "Service"
    )


def is_virtual_service(obj: dict[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).startswith("networking.istio.io/") and (
        obj.get("kind") == "VirtualService"
    )


def substitute(value: Any, replacements: dict[str, str]) -> Any:
    """Replace placeholders in every string of a manifest (keys and values)."""
    if isinstance(value, str):
        for placeholder, text in replacements.items():
            value = value.replace(placeholder, text)
        return value
    if isinstance(value, list):
        return [substitute(item, replacements) for item in value]
    if isinstance(value, dict):
        return {substitute(k, replacements): substitute(v, replacements) for k, v in value.items()}
    return value


def _routes(vs: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    spec = vs.get("spec") or {}
    found = []
    for protocol in ("http", "tcp", "tls"):
        for index, route in enumerate(spec.get(protocol) or []):
            if isinstance(route, dict):
                label = f"{protocol}[{index}]" + (f" {route['name']}" if route.get("name") else "")
                found.append((label, [d for d in route.get("route") or [] if isinstance(d, dict)]))
    return found


def check_weights(vs: dict[str, Any]) -> None:
    """Weighted destinations of one route must add up to 100 (Istio rejects otherwise)."""
    name = vs.get("metadata", {}).get("name", "?")
    for label, destinations in _routes(vs):
        weights = [d.get("weight") for d in destinations]
        if len(destinations) < 2 and all(w is None for w in weights):
            continue  # a single unweighted destination takes all traffic
        if not all(
            isinstance(w, int) and not isinstance(w, bool) and 0 <= w <= 100 for w in weights
        ):
            raise StepError(
                f"VirtualService {name} {label}: every destination needs an integer "
                f"weight between 0 and 100, got {weights}",
                USAGE,
            )
        total = sum(int(w or 0) for w in weights)
        if total != 100:
            raise StepError(
                f"VirtualService {name} {label}: weights {weights} add up to {total}, not 100",
                USAGE,
            )


def describe_traffic(vs: dict[str, Any]) -> str:
    parts = []
    for label, destinations in _routes(vs):
        shown = []
        for dest in destinations:
            target = dest.get("destination") or {}
            where = target.get("host", "?") + (
                f"/{target['subset']}" if target.get("subset") else ""
            )
            shown.append(f"{dest.get('weight', 100)}% -> {where}")
        parts.append(f"{label}: " + ", ".join(shown))
    return "; ".join(parts) or "no routes"


def apply(kube: Kube, ref: Ref, obj: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """Create ``obj``, or replace the existing object of that name (kubectl-replace-like)."""
    try:
        created = kube.create(ref, obj)
        log.info("created %s", ref)
        return created
    except ApiException as exc:
        if exc.status != 409:
            raise api_error(exc, f"creating {ref}") from None
    for _ in range(3):  # re-read and retry when someone else updates it in between
        try:
            current = kube.get(ref)
            body = {
                **obj,
                "metadata": {
                    **obj.get("metadata", {}),
                    "resourceVersion": current["metadata"]["resourceVersion"],
                },
            }
            replaced = kube.replace(ref, body)
            log.info("replaced %s", ref)
            return replaced
        except ApiException as exc:
            if exc.status != 409:
                raise api_error(exc, f"replacing {ref}") from None
    raise StepError(f"replacing {ref}: it kept changing under us (HTTP 409)", REMOTE)
