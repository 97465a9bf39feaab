"""Cloud-native fields: distributed training, scheduling, quotas, disruption budgets, and the
serving fields of a ``service``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast, get_args

from cnai.diagnostics import Label
from cnai.semantics import ir
from cnai.semantics.fields import assigned, block_of, fill
from cnai.semantics.units import quantity_value
from cnai.syntax import ast

if TYPE_CHECKING:
    from cnai.semantics.checker import Checker

FRAMEWORKS = get_args(ir.Framework)
PROTOCOLS = ("http", "grpc")
# What a container without cpu/memory requests under a quota: the LimitRange's default
# request (a ResourceQuota on cpu/memory refuses pods that do not say). No default limit.
DEFAULT_REQUEST = {"cpu": "100m", "memory": "256Mi"}


class CloudChecker:
    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.fields = checker.fields
        self.diagnostics = checker.diagnostics

    def scheduling(self, block: ast.Block, base: ir.Scheduling | None) -> ir.Scheduling:
        """The block's settings over ``base`` (the pipeline's), field by field."""
        found = self.fields.collect(block.items, "scheduling", None, block.span)
        result = base.model_copy() if base is not None else ir.Scheduling()
        fill(result, self.fields.read(found, "scheduling"))
        result.span = block.name.span
        return result

    def quota(self, block: ast.Block) -> ir.Quota:
        found = self.fields.collect(block.items, "quota", None, block.span)
        quota = ir.Quota(span=block.name.span)
        fill(quota, self.fields.read(found, "quota"))
        return quota

    def distributed(self, decl: ast.DistributedDecl) -> ir.Distributed | None:
        framework = decl.framework.name
        found = self.fields.collect(decl.items, "distributed", None, decl.span)
        masters = self.fields.integer(assigned(found["masters"])) if "masters" in found else None
        workers = self.fields.integer(assigned(found["workers"])) if "workers" in found else 0
        if framework not in FRAMEWORKS:
            self.diagnostics.error(
                "E0208", f"unknown framework `{framework}`", decl.framework.span,
                "not a framework", help=["distributed training takes `tensorflow` (TFJob) or "
                                         "`pytorch` (PyTorchJob)"])
            return None
        if masters is None:
            masters = 1
        if framework == "pytorch" and masters != 1:
            self.diagnostics.error("E0208", "a PyTorchJob has exactly one master",
                                   decl.span, "masters must be 1")
            return None
        if framework == "tensorflow" and masters > 1:
            self.diagnostics.error("E0208", "a TFJob has at most one chief (`masters`)",
                                   decl.span, "masters must be 0 or 1")
            return None
        if workers is None or masters + workers < 1:
            if workers is not None:
                self.diagnostics.error("E0208", "a distributed step needs at least one replica",
                                       decl.span, "no replicas")
            return None
        return ir.Distributed(framework=cast(ir.Framework, framework), masters=masters,
                              workers=workers)

    def serving(self, found: dict[str, ast.Assignment | ast.Block], values: dict[str, Any]
                ) -> ir.Serving:
        """A service's serving settings; ``values``: the simple ones, already read
        (FieldReader.read), by their path on the step (``serving.host``)."""
        serving = ir.Serving()
        fill(serving, {attr.removeprefix("serving."): value for attr, value in values.items()})
        if "port" in found:
            port_expr = assigned(found["port"])
            port = self.fields.integer(port_expr, minimum=1)
            if port is not None and port > 65535:
                self.diagnostics.error("E0208", "a port is at most 65535", port_expr.span,
                                       "too large")
            serving.port = port or serving.port
        if "protocol" in found:
            protocol_expr = assigned(found["protocol"])
            protocol = self.fields.string(protocol_expr)
            if protocol not in PROTOCOLS:
                if protocol is not None:
                    self.diagnostics.error("E0208", "`protocol` is \"http\" or \"grpc\"",
                                           protocol_expr.span, f'"{protocol}" is not allowed')
            else:
                serving.protocol = protocol  # type: ignore[assignment]
        if "scale" in found:
            self._scale(block_of(found["scale"]), serving)
        if "canary" in found:
            block = block_of(found["canary"])
            canary = self.fields.collect(block.items, "canary", None, block.span)
            if "weight" in canary:
                weight_expr = assigned(canary["weight"])
                weight = self.fields.integer(weight_expr)
                if weight is not None and weight > 100:
                    self.diagnostics.error("E0208", "a canary weight is a percentage, 0 to 100",
                                           weight_expr.span, "over 100")
                serving.canary_weight = weight
        if "circuit_breaker" in found:
            block = block_of(found["circuit_breaker"])
            breaker = self.fields.collect(block.items, "circuit_breaker", None, block.span)
            fill(serving, self.fields.read(breaker, "circuit_breaker"))
        return serving

    def check_service(self, decl: ast.StepDecl, step: ir.Step) -> None:
        """Names Knative can take, and fields that only mean something together."""
        serving = step.serving
        assert serving is not None
        # The revision is <service>[-canary]-<8 characters>: a DNS label of at most 63.
        longest = 63 - 9 - (len("-canary") if serving.canary_weight is not None else 0)
        if len(step.k8s_name) > longest:
            self.diagnostics.error(
                "E0208", f"service name `{step.name}` is too long for Knative revision names "
                f"({len(step.k8s_name)} characters; at most {longest})", decl.name.span,
                "too long", help=["shorten the service's name"])
        if serving.host is not None and serving.canary_weight is None:
            self.diagnostics.error(
                "E0208", "`host` is the public host a canary splits; this service has no "
                "`canary`", decl.name.span, "host without canary",
                help=["add `canary { weight = ... }`, or remove `host`"])

    def _scale(self, block: ast.Block, serving: ir.Serving) -> None:
        scale = self.fields.collect(block.items, "scale", None, block.span)
        fill(serving, self.fields.read(scale, "scale"))
        if (serving.min_scale is not None and serving.max_scale is not None
                and serving.min_scale > serving.max_scale):
            self.diagnostics.error("E0208", "`scale.min` is above `scale.max`", block.span,
                                   f"{serving.min_scale} > {serving.max_scale}")

    # ---- quotas -----------------------------------------------------------------------

    def check_quota(self, quota: ir.Quota, steps: Iterable[ir.Step]) -> None:
        """A pod that asks for more than the quota can never start: an error. A distributed
        job whose replicas together ask for more can start only in part: a warning.

        Services outlive the run: from the second run on, the replicas they keep hold part of
        the quota while the other steps run, so those steps are checked against what is left.
        """
        steps = list(steps)
        held = held_by_services(steps)
        for step in steps:
            replicas = step.distributed.replicas if step.distributed else 1
            demand = step_demand(step)
            pod = pod_demand(step)
            kept = service_replicas(step) if step.serving is not None else 0
            for resource, limit in (("gpu", quota.gpu), ("cpu", quota.cpu),
                                    ("memory", quota.memory)):
                if limit is None:
                    continue
                allowed = quantity_value(str(limit))
                label = Label(quota.span, f"quota: {limit} {resource}")
                others = held[resource] - pod[resource] * kept
                if pod[resource] > allowed:
                    per = " per replica" if replicas > 1 else ""
                    name = SIDECARS.get(step.kind, "")
                    extra = _SIDECAR_REQUESTS.get(name, {}).get(resource)
                    sidecar = (f" (the pod's {name} container asks for {extra} more)"
                               if extra else "")
                    self.diagnostics.error(
                        "E0209", f"step `{step.name}` asks for more {resource} than the "
                        f"pipeline's quota: {_show(pod[resource], resource)}{per} > {limit}",
                        step.span, f"needs {_show(pod[resource], resource)} {resource}",
                        secondary=[label],
                        help=[f"lower the step's resources or raise the quota{sidecar}"])
                elif kept and pod[resource] * kept > allowed:
                    total = _show(pod[resource] * kept, resource)
                    self.diagnostics.error(
                        "E0209", f"service `{step.name}` keeps {kept} replicas running, "
                        f"{total} {resource} together, over the pipeline's quota of {limit}",
                        step.span, f"{total} {resource} kept", secondary=[label],
                        help=[_KEPT_HELP])
                elif not kept and held[resource] and pod[resource] + held[resource] > allowed:
                    total = _show(pod[resource] + held[resource], resource)
                    self.diagnostics.error(
                        "E0209", f"step `{step.name}` asks for {_show(pod[resource], resource)}"
                        f" {resource}{' per replica' if replicas > 1 else ''}, and the "
                        f"pipeline's services keep {_show(held[resource], resource)} running: "
                        f"{total} > {limit}", step.span,
                        f"needs {_show(pod[resource], resource)} {resource}",
                        secondary=[label], help=[
                            "from the second run on, the services deployed by the first hold "
                            "their share of the quota; " + _KEPT_HELP])
                elif not kept and demand[resource] * replicas + others > allowed:
                    total = _show(demand[resource] * replicas, resource)
                    services = (f", with the {_show(others, resource)} the pipeline's services "
                                "keep running" if others else "")
                    self.diagnostics.warn(
                        "W0209", f"the {replicas} replicas of `{step.name}` ask for {total} "
                        f"{resource} together{services}, over the quota of {limit}", step.span,
                        f"{total} {resource} at once", secondary=[label],
                        help=["the job cannot run in full under this quota: with gang "
                              "scheduling it never starts, without it only some replicas run"])


# A step's pod also runs a container of its engine: Argo's executor (`wait`, which KFP's Argo
# backend runs too), which asks for nothing and so gets the LimitRange's default request, and
# Knative's queue-proxy, which asks for 25m CPU and no memory (knative/serving
# config/core/configmaps/deployment.yaml, queue-sidecar-cpu-request). Training replicas are
# made by the Training Operator, without one.
SIDECARS = {"container": "executor", "preload": "executor", "service": "queue-proxy"}
_SIDECAR_REQUESTS = {"executor": DEFAULT_REQUEST,
                     "queue-proxy": {"cpu": "25m", "memory": DEFAULT_REQUEST["memory"]}}
_KEPT_HELP = ("lower the service's resources or `scale.min`, or raise the quota; a canary "
              "keeps the current version's replicas as well as its own")


def pod_demand(step: ir.Step) -> dict[str, float]:
    """What one of the step's pods requests: its container (a job's: per replica) and the
    engine's container beside it."""
    demand = step_demand(step)
    sidecar = _SIDECAR_REQUESTS.get(SIDECARS.get(step.kind, ""), {})
    return {r: v + (quantity_value(sidecar[r]) if r in sidecar else 0.0)
            for r, v in demand.items()}


def service_replicas(step: ir.Step) -> int:
    """The replicas a service keeps running after the run that deployed it: its ``scale.min``,
    and at least the one Knative starts a revision with (initial scale 1) and the run waits
    for. A canary keeps the current version running too, at the same scale. Replicas that
    traffic adds, up to ``scale.max``, come and go and are not counted."""
    serving = step.serving
    assert serving is not None
    kept = max(serving.min_scale or 0, 1)
    return kept * (2 if serving.canary_weight is not None else 1)


def held_by_services(steps: Iterable[ir.Step]) -> dict[str, float]:
    """What the pipeline's services keep requesting between and during runs."""
    held = {"gpu": 0.0, "cpu": 0.0, "memory": 0.0}
    for step in steps:
        if step.serving is not None:
            pod = pod_demand(step)
            for resource in held:
                held[resource] += pod[resource] * service_replicas(step)
    return held


def step_demand(step: ir.Step) -> dict[str, float]:
    """Per-replica requests as numbers, which is what a ResourceQuota's ``requests.*`` count:
    a stated request, else the limit (Kubernetes sets a request without a value to its
    limit), else the LimitRange's default request. The quota's `gpu` is NVIDIA's
    ``nvidia.com/gpu`` (backends/cloud.py, quota_objects): AMD GPUs and TPUs are other
    resources, which it does not limit."""
    resources = step.resources
    nvidia = resources.gpu_vendor in (None, "nvidia")
    return {"gpu": float(resources.gpu or 0) if nvidia else 0.0,
            "cpu": quantity_value(resources.cpu_request or resources.cpu
                                  or DEFAULT_REQUEST["cpu"]),
            "memory": quantity_value(resources.memory_request or resources.memory
                                     or DEFAULT_REQUEST["memory"])}


def _show(value: float, resource: str) -> str:
    if resource == "memory":
        for unit, size in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20)):
            if value >= size and value % size == 0:
                return f"{int(value // size)}{unit}"
        return f"{int(value)}"
    return f"{value:g}"
