"""Placement and resources: node selectors, tolerations, node affinity, and the
resource settings beyond cpu, memory and NVIDIA GPUs (requests, ephemeral storage, AMD GPUs,
Cloud TPUs, extended resources).

The shapes follow kubectl's own syntax, so a platform team's runbook reads the same here:
tolerations are taints as ``kubectl taint`` writes them (``KEY[=VALUE][:EFFECT]``), and node
affinity expressions are set-based label selectors as ``kubectl get -l`` reads them
(``KEY in (A, B)``, ``KEY notin (A)``, ``KEY``, ``!KEY``) plus node affinity's ``Gt``/``Lt``
(``KEY > N``). Every key, value and name is checked with Kubernetes' own rules
(semantics/k8s_names.py), as the API server would refuse it only once the pod is made.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from cnai.context import DEFAULT_GPU_LABEL, DEFAULT_SPOT_LABEL
from cnai.diagnostics import DiagnosticBag, Label
from cnai.limits import shown as _shown
from cnai.semantics import ir, k8s_names
from cnai.semantics.fields import Field, assigned, block_of
from cnai.semantics.units import quantity_value
from cnai.source import Span
from cnai.syntax import ast

if TYPE_CHECKING:
    from cnai.semantics.checker import Checker

# GKE's TPU node labels: a TPU pod selects its node pool by accelerator and topology
# (cloud.google.com/kubernetes-engine/docs/how-to/tpus, "Run your workload on TPU slice
# nodes": nodeSelector cloud.google.com/gke-tpu-accelerator and gke-tpu-topology, and the
# google.com/tpu resource in requests and limits).
TPU_RESOURCE = "google.com/tpu"
TPU_ACCELERATOR_LABEL = "cloud.google.com/gke-tpu-accelerator"
TPU_TOPOLOGY_LABEL = "cloud.google.com/gke-tpu-topology"
# The device plugins' resource names: NVIDIA's and AMD's (ROCm/k8s-device-plugin).
GPU_RESOURCES = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu"}
_TOPOLOGY = re.compile(r"^\d+(x\d+){1,2}$")  # 2x4, 4x4x4
# A node affinity expression (the user's text, not output): `KEY`, `KEY in (A, B)`,
# `KEY notin (A)`, `KEY > N`, `KEY < N`; `!KEY` is read before.
_EXPRESSION = re.compile(
    r"^(?P<key>[^\s!<>=(),]+)\s*(?:(?P<set>in|notin)\s*\((?P<values>[^()]*)\)"
    r"|(?P<compare>[<>])\s*(?P<number>-?\d+))?$")
_SET_OPERATORS: dict[str, ir.NodeOperator] = {"in": "In", "notin": "NotIn"}
_COMPARE_OPERATORS: dict[str, ir.NodeOperator] = {">": "Gt", "<": "Lt"}
# A limit and the request that may not exceed it, in `resources`.
REQUESTS = (("cpu", "cpu_request"), ("memory", "memory_request"),
            ("ephemeral_storage", "ephemeral_storage_request"))
TAINT_HELP = ('write a taint as `kubectl taint` does: "KEY", "KEY=VALUE", "KEY:EFFECT" or '
              '"KEY=VALUE:EFFECT", the effect one of ' + ", ".join(k8s_names.TAINT_EFFECTS))
EXPRESSION_HELP = ('write `KEY in (A, B)`, `KEY notin (A, B)`, `KEY` (the label exists), '
                   '`!KEY` (it does not), `KEY > N` or `KEY < N` (whole numbers)')


def shown(text: str) -> str:
    """A key, a label value or an expression in a message: whole up to a qualified name's
    usual length (a 63-character name and a short prefix), cut beyond."""
    return _shown(text, 80)


class PlacementChecker:
    """Reads the placement settings of the pipeline and of each step."""

    def __init__(self, checker: Checker) -> None:
        self.diagnostics = checker.diagnostics
        self.fields = checker.fields
        self.params = checker.param_defaults

    # ---- pipeline defaults and a step's own ---------------------------------------------

    def read(self, found: dict[str, Field]) -> dict[str, Any]:
        """The placement settings ``found`` holds, by their IR attribute."""
        values: dict[str, Any] = {}
        if "node_selector" in found:
            values["node_selector"] = self.node_selector(block_of(found["node_selector"]))
        if "tolerations" in found:
            values["tolerations"] = self.tolerations(assigned(found["tolerations"]))
        if "node_affinity" in found:
            values["node_affinity"] = self.node_affinity(block_of(found["node_affinity"]))
        return values

    def apply(self, step: ir.Step, found: dict[str, Field], pipeline: dict[str, Any]) -> None:
        """The step's placement: its node selector laid key by key over the pipeline's, its
        own tolerations and node affinity, else the pipeline's."""
        own = self.read(found)
        if not own and not pipeline:  # most steps: the empty placement, its values shared
            ir.assign(step, node_selector=ir.EMPTY_DICT, tolerations=ir.EMPTY_LIST,
                      node_affinity=None)
        else:
            merged = {**pipeline, **own}
            ir.assign(step, node_selector={**pipeline.get("node_selector", {}),
                                           **own.get("node_selector", {})},
                      tolerations=merged.get("tolerations", []),
                      node_affinity=merged.get("node_affinity"))
        param = step.resources.gpu_param
        if param is not None and step.kind in ("distributed", "service"):
            self.diagnostics.error(
                "E0401", f"a {step.kind} step's GPU count cannot come from param "
                f"`{param.name}`", step.span, "GPU count from a param",
                help=["only a step's own pod takes its GPU count from a param (Argo's "
                      "podSpecPatch, KFP's accelerator count); write a number here"])
        if step.node_selector:
            self._check_selectors(step, block_of(found["node_selector"])
                                  if "node_selector" in found else None)

    # ---- node_selector ------------------------------------------------------------------

    def node_selector(self, block: ast.Block) -> dict[str, str]:
        return {key: value for key, value, _ in self._pairs(
            block, self._label_value, "node selector")}

    def _pairs(self, block: ast.Block, read: Callable[[ast.Expr], Any], what: str
               ) -> list[tuple[str, Any, ast.Ident]]:
        """A block of ``"KEY" = value`` entries (keys: qualified names, quoted or not)."""
        pairs: list[tuple[str, Any, ast.Ident]] = []
        for item in self.fields.entries(block, what):
            key = item.key
            problem = k8s_names.qualified_name(key.name)
            value = read(item.value)
            if problem is not None:
                self._invalid(f"{what} key `{shown(key.name)}` {problem}", key.span,
                              "invalid key")
            elif value is not None:
                pairs.append((key.name, value, key))
        return pairs

    def _label_value(self, expr: ast.Expr) -> str | None:
        value = self.fields.string(expr)
        if value is None:
            return None
        problem = k8s_names.label_value(value)
        if problem is not None:
            self._invalid(f'node selector value "{shown(value)}" {problem}', expr.span,
                          "invalid label value")
            return None
        return value

    def _check_selectors(self, step: ir.Step, own: ast.Block | None) -> None:
        """A key the step's GPU type, spot nodes or TPU also select, with another value,
        could never be satisfied: no node has two values for one label. Reported at the
        step's own node selector key, or at the step for the pipeline's."""
        spans = {i.key.name: i.key.span for i in (own.items if own else ())
                 if isinstance(i, ast.Assignment)}
        for key, (value, setting) in implied_selectors(step).items():
            chosen = step.node_selector.get(key)
            if chosen is not None and chosen != value:
                self._invalid(
                    f'node selector `{shown(key)}` is "{shown(chosen)}" but `{setting}` selects '
                    f'"{shown(value)}"', spans.get(key, step.span), "two values for one label",
                    help=[f"no node has two values for `{key}`: remove one of them"])

    # ---- tolerations --------------------------------------------------------------------

    def tolerations(self, expr: ast.Expr) -> list[ir.Toleration]:
        if not isinstance(expr, ast.ListLit):
            self.diagnostics.error("E0201", "`tolerations` is a list of taints",
                                   expr.span, "expected a list",
                                   help=['e.g. tolerations = ["nvidia.com/gpu:NoSchedule"]'])
            return []
        found = [self.toleration(item) for item in expr.items]
        return [t for t in found if t is not None]

    def toleration(self, expr: ast.Expr) -> ir.Toleration | None:
        text = self.fields.string(expr)
        if text is None:
            return None
        head, colon, effect = text.partition(":")
        key, equals, value = head.partition("=")
        problem = k8s_names.qualified_name(key) if key else "is missing"
        if problem is not None:
            return self._bad_taint(text, f"its key {f'`{shown(key)}` ' if key else ''}{problem}",
                                   expr.span)
        if equals:
            problem = k8s_names.label_value(value)
            if problem is not None:
                return self._bad_taint(text, f'its value "{shown(value)}" {problem}',
                                       expr.span)
        if colon and effect not in k8s_names.TAINT_EFFECTS:
            return self._bad_taint(text, f"its effect `{shown(effect)}` "
                                   f"{k8s_names.one_of(effect, k8s_names.TAINT_EFFECTS)}",
                                   expr.span)
        operator: ir.TolerationOperator = "Equal" if equals else "Exists"
        return ir.Toleration(key=key, operator=operator, value=value if equals else None,
                             effect=effect if colon else None)

    def _bad_taint(self, text: str, problem: str, span: Span) -> ir.Toleration | None:
        """Report a taint that Kubernetes would refuse; None, as the toleration read."""
        self._invalid(f'invalid toleration "{shown(text)}": {problem}', span,
                      "not a taint", help=[TAINT_HELP])
        return None

    # ---- node_affinity ------------------------------------------------------------------

    def node_affinity(self, block: ast.Block) -> ir.NodeAffinity:
        found = self.fields.collect(block.items, "node_affinity", None, block.span)
        affinity = ir.NodeAffinity()
        if "required" in found:
            required = assigned(found["required"])
            if isinstance(required, ast.ListLit):
                found_required = [self.requirement(item) for item in required.items]
                affinity.required = [r for r in found_required if r is not None]
            else:
                self.diagnostics.error("E0201", "`required` is a list of expressions",
                                       required.span, "expected a list",
                                       help=['e.g. required = ["disktype in (ssd)"]'])
        if "preferred" in found:
            pairs = self._preferred(block_of(found["preferred"]))
            affinity.preferred = pairs
        if not affinity.required and not affinity.preferred and not found:
            self.diagnostics.error("E0106", "`node_affinity` needs `required` or `preferred`",
                                   block.name.span, "empty",
                                   help=['e.g. required = ["disktype in (ssd)"]'])
        return affinity

    def _preferred(self, block: ast.Block) -> list[ir.PreferredNodes]:
        preferred: list[ir.PreferredNodes] = []
        for item in block.items:
            if not isinstance(item, ast.Assignment):
                self.diagnostics.error("E0201", '`preferred` holds `"EXPRESSION" = WEIGHT` '
                                       "entries", item.span, "not a preference")
                continue
            weight = self.fields.integer(item.value, minimum=1, maximum=100)
            requirement = self.parse_requirement(item.key.name, item.key.span)
            if weight is not None and requirement is not None:
                preferred.append(ir.PreferredNodes(weight=weight, requirement=requirement))
        return preferred

    def requirement(self, expr: ast.Expr) -> ir.NodeRequirement | None:
        text = self.fields.string(expr)
        return None if text is None else self.parse_requirement(text, expr.span)

    def parse_requirement(self, text: str, span: Span) -> ir.NodeRequirement | None:
        """One expression of kubectl's set-based selector syntax, with Gt and Lt."""
        stripped = text.strip()
        if stripped.startswith("!"):
            key, operator, values = stripped[1:].strip(), "DoesNotExist", []
        else:
            match = _EXPRESSION.match(stripped)
            if match is None:
                self._invalid(f'invalid node affinity expression "{shown(text)}"', span,
                              "not an expression", help=[EXPRESSION_HELP])
                return None
            key = match["key"]
            if match["set"]:
                operator = _SET_OPERATORS[match["set"]]
                values = [v.strip() for v in match["values"].split(",")]
            elif match["compare"]:
                operator = _COMPARE_OPERATORS[match["compare"]]
                values = [str(int(match["number"]))]
            else:
                operator, values = "Exists", []
        problem = k8s_names.qualified_name(key)
        if problem is None and operator in ("In", "NotIn"):
            problem = _set_problem(values)
        if problem is not None:
            self._invalid(f'invalid node affinity expression "{shown(text)}": {problem}',
                          span, "not an expression", help=[EXPRESSION_HELP])
            return None
        return ir.NodeRequirement(key=key, operator=cast(ir.NodeOperator, operator),
                                  values=values)

    # ---- resources ----------------------------------------------------------------------

    def devices(self, block: ast.Block) -> dict[str, int]:
        """Extended resources: ``"DOMAIN/NAME" = COUNT`` (a device plugin's resource)."""
        devices: dict[str, int] = {}
        for key, count, ident in self._pairs(block, lambda e: self.fields.integer(e, 1),
                                             "device"):
            if "/" not in key:
                self._invalid(f"device `{shown(key)}` has no domain prefix", ident.span,
                              "not an extended resource",
                              help=["an extended resource is named DOMAIN/NAME, e.g. "
                                    '"rdma/hca_shared_devices_a"; cpu and memory have '
                                    "fields of their own"])
            elif key == TPU_RESOURCE or key in GPU_RESOURCES.values():
                self._invalid(f"device `{key}` is a GPU or TPU", ident.span, "use `gpu`/`tpu`",
                              help=["write `gpu = N` (with `gpu_vendor`) or `tpu = N`: the "
                                    "quota check and the accelerator fields count them"])
            else:
                devices[key] = count
        return devices

    def gpu_param(self, ref: ast.Ref, source: ir.Source | None
                  ) -> tuple[ir.ParamRef, int | None] | None:
        """``gpu = PARAM``: an int param (its default is what the quota check counts). The
        engine must know the count before the pod is made: a step output or a loop variable
        cannot be one."""
        if source is None:
            return None
        if not isinstance(source, ir.ParamRef) or source.field is not None:
            self._invalid("`gpu` is a number or an int param", ref.span, "not a param",
                          help=["the GPU count must be known before the step's pod is made; "
                                "a step output or a loop variable is known only at run time, "
                                "and a record's field is read out of it only then"])
            return None
        if source.type.name != "int":
            self.diagnostics.error("E0201", f"`gpu` is an int; param `{source.name}` is "
                                   f"{source.type}", ref.span, "not an int")
            return None
        default = self.params.get(source.name)
        if isinstance(default, int) and default < 0:
            self._invalid(f"param `{source.name}`'s default {default} is not a GPU count",
                          ref.span, "negative")
            return None
        return source, default if isinstance(default, int) else None

    def image(self, text: ir.Text, inputs: dict[str, ir.Input], span: Span) -> ir.Text | None:
        """An image from string params: the engine substitutes them in the pod's image
        before it is made (Argo: a template's fields; KFP: a whole-param image only).
        Outputs and loop variables are known only once the run is under way."""
        for part in text.parts:
            if isinstance(part, str):
                continue
            source = inputs[part.name].source
            if not isinstance(source, ir.ParamRef):
                self._invalid("an image may name params only", span, "not a param",
                              help=["the engine must know the image before the step's pod "
                                    "starts; a step output or a loop variable is known "
                                    "only at run time"])
                return None
            if source.type.name != "string":
                self.diagnostics.error("E0201", f"an image names string params; `{source.name}` "
                                       f"is {source.type}", span, "not a string")
                return None
        return text

    def check_resources(self, found: dict[str, Field], resources: ir.Resources) -> None:
        """Fields that only mean something together, and requests above their limits."""
        for limit, request in REQUESTS:
            if request not in found or limit not in found:
                continue
            wanted, allowed = getattr(resources, request), getattr(resources, limit)
            if wanted is not None and allowed is not None and (
                    quantity_value(wanted) > quantity_value(allowed)):
                self._invalid(f"`{request}` {wanted} is above the `{limit}` limit {allowed}",
                              assigned(found[request]).span, "request above the limit",
                              secondary=[Label(assigned(found[limit]).span, "the limit")],
                              help=["Kubernetes refuses a request above its limit; raise "
                                    "the limit or lower the request"])
        if resources.gpu_vendor is not None and not (resources.gpu or resources.gpu_param):
            self._invalid("`gpu_vendor` needs `gpu` of at least 1",
                          assigned(found["gpu_vendor"]).span, "no GPU requested",
                          help=["add `gpu = 1` (or more) to `resources`"])
        if resources.gpu_vendor == "amd" and resources.gpu_type is not None:
            self._invalid("`gpu_type` selects NVIDIA's GPU product label", assigned(
                found["gpu_type"]).span, "not for AMD GPUs",
                help=["select AMD nodes by their own label: node_selector "
                      '{ "amd.com/gpu.product-name" = "..." } (AMD\'s node labeller)'])
        if "tpu" in found and (resources.gpu or resources.gpu_param):
            self._invalid("a step asks for GPUs or TPUs, not both", assigned(found["tpu"]).span,
                          "with `gpu`", help=["GKE's TPU nodes have no GPUs: split the step"])
        for name in ("tpu_accelerator", "tpu_topology"):
            if name in found and not resources.tpu:
                self.diagnostics.error("E0106", f"`{name}` needs `tpu`",
                                       assigned(found[name]).span, "no TPU requested",
                                       help=["add `tpu = N` (the chips per pod)"])
        topology = resources.tpu_topology
        if topology is not None and not _TOPOLOGY.match(topology):
            self._invalid(f'TPU topology "{shown(topology)}" is not a topology',
                          assigned(found["tpu_topology"]).span, "not a topology",
                          help=['write the slice\'s shape as GKE names it: "2x4", "4x4x4"'])
        accelerator = resources.tpu_accelerator
        problem = None if accelerator is None else k8s_names.label_value(accelerator)
        if problem is not None:
            self._invalid(f'TPU accelerator "{shown(accelerator or "")}" {problem}',
                          assigned(found["tpu_accelerator"]).span, "invalid label value")

    def _invalid(self, message: str, span: Span, label: str, *, help: list[str] | None = None,
                 secondary: list[Label] | None = None) -> None:
        self.diagnostics.error("E0208", message, span, label, help=help or [],
                               secondary=secondary or [])


def check_gpu_params(quota: ir.Quota, steps: list[ir.Step], diagnostics: DiagnosticBag
                     ) -> None:
    """Under a GPU quota, a step's GPU count from a param is checked with the param's default
    (cloud.check_quota), and `cnai submit` checks the value a run passes (submit/params.py):
    a param without a default leaves nothing to check at compile time."""
    if quota.gpu is None:
        return
    for step in steps:
        param = step.resources.gpu_param
        if param is not None and step.resources.gpu is None:
            diagnostics.error(
                "E0208", f"step `{step.name}` takes its GPU count from param `{param.name}`, "
                "which has no default, under a GPU quota", step.span, "unchecked GPU count",
                secondary=[Label(quota.span, f"quota: {quota.gpu} gpu")],
                help=[f"give `{param.name}` a default: the quota is checked with it, and "
                      "`cnai submit` checks the value a run passes"])


def _set_problem(values: list[str]) -> str | None:
    if values == [""]:
        return "`in` and `notin` need at least one value"
    for value in values:
        problem = k8s_names.label_value(value)
        if problem is not None or not value:
            return f'the value "{shown(value)}" {problem or "is empty"}'
    return None


def place_like_pipeline(step: ir.Step, pipeline: ir.Pipeline) -> ir.Step:
    """A step cnai adds (a data set's preload) goes where the pipeline's steps go by
    default: on a cluster whose nodes are all tainted, it would not start otherwise."""
    step.node_selector = pipeline.node_selector
    step.tolerations = pipeline.tolerations
    step.node_affinity = pipeline.node_affinity
    return step


def implied_selectors(step: ir.Step) -> dict[str, tuple[str, str]]:
    """The node labels a step's other settings select: {key: (value, the setting)}. The GPU
    and spot labels are cnai's defaults (context.py); a different `--gpu-label-key` or
    `--spot-label` is the cluster administrator's and not checked here."""
    resources = step.resources
    implied: dict[str, tuple[str, str]] = {}
    if resources.gpu_type:
        implied[DEFAULT_GPU_LABEL] = (resources.gpu_type, "gpu_type")
    if step.scheduling is not None and step.scheduling.spot:
        key, _, value = DEFAULT_SPOT_LABEL.partition("=")
        implied[key] = (value, "spot")
    for key, value, name in tpu_selectors(resources):
        implied[key] = (value, name)
    return implied


def tpu_selectors(resources: ir.Resources) -> list[tuple[str, str, str]]:
    """(node label, value, the setting) for a TPU step's node pool."""
    found = []
    if resources.tpu and resources.tpu_accelerator:
        found.append((TPU_ACCELERATOR_LABEL, resources.tpu_accelerator, "tpu_accelerator"))
    if resources.tpu and resources.tpu_topology:
        found.append((TPU_TOPOLOGY_LABEL, resources.tpu_topology, "tpu_topology"))
    return found


def gpu_resource(resources: ir.Resources) -> str:
    """The resource name of the step's GPUs."""
    return GPU_RESOURCES[resources.gpu_vendor or "nvidia"]
