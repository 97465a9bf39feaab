"""Identity, access, pod metadata and security: the pipeline's, a step's and a
service's ``service_account``, ``image_pull_secrets``, ``pod_labels``, ``pod_annotations``
and ``security { ... }``.

The pipeline's values are every step's defaults: ``service_account`` and
``image_pull_secrets`` are replaced by a step's own (settings.REPLACED, applied by
StepChecker), ``pod_labels``/``pod_annotations`` merged key by key and ``security`` field by
field, the step's own winning (``PodReader.read`` with the pipeline's values as ``base``).
A template's fields reach its steps as the steps' own (templates.merge). Names and keys are
checked by Kubernetes' rules (k8s_names): the API server would refuse them only when a pod is
made, deep into a run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cnai.diagnostics import DiagnosticBag, Label
from cnai.limits import shown
from cnai.semantics import ir, k8s_names
from cnai.semantics.fields import FieldReader, assigned, block_of
from cnai.source import Span
from cnai.syntax import ast

if TYPE_CHECKING:
    from cnai.semantics.checker import Checker

Fields = dict[str, ast.Assignment | ast.Block]

# Label and annotation keys cnai, Argo and Kubeflow set on the pods themselves: a user's value
# would be overwritten, or would break how the engine finds its pods (Argo's controller
# selects a workflow's pods by `workflows.argoproj.io/workflow`; KFP's driver labels its pods
# `pipelines.kubeflow.org/...`). backends/cloud.py's own keys are among these
# (tests/test_prod_identity.py checks).
RESERVED_PREFIXES = ("cnai.dev/", "workflows.argoproj.io/", "pipelines.kubeflow.org/")
RESERVED_KEYS = (
    "scheduling.volcano.sh/queue-name",  # a pod's Volcano queue (scheduling { queue })
    "autoscaling.knative.dev/min-scale", "autoscaling.knative.dev/max-scale",  # scale { }
    "autoscaling.knative.dev/target-burst-capacity",  # circuit_breaker { }
)

# The settings this module reads, by name: the IR attribute each fills.
POD_SETTINGS = ("service_account", "image_pull_secrets", "pod_labels", "pod_annotations",
                "security")
# Those a step's own merges over the pipeline's (settings.py: merge="merge").
MERGED = ("pod_labels", "pod_annotations", "security")


def inherited(base: dict[str, Any]) -> dict[str, Any]:
    """The values PodReader.read gives a step without pod settings of its own: the pipeline's
    (``base``)."""
    return {"pod_labels": base.get("pod_labels") or ir.EMPTY_DICT,
            "pod_annotations": base.get("pod_annotations") or ir.EMPTY_DICT,
            "security": base.get("security")}


class PodReader:
    """Reads one pipeline's or step's identity, metadata and security settings."""

    def __init__(self, checker: Checker) -> None:
        self.diagnostics: DiagnosticBag = checker.diagnostics
        self.fields: FieldReader = checker.fields

    def read(self, found: Fields, values: dict[str, Any], base: dict[str, Any]) -> None:
        """Check ``service_account`` in ``values`` (read generically: None if its name is not
        Kubernetes'), and add the others found to ``values``, laid over ``base`` (the
        pipeline's) where they merge; without its own, a step takes ``base``'s."""
        if found.keys().isdisjoint(POD_SETTINGS):  # most steps: the pipeline's, as below
            values.update(inherited(base))
            return
        if "service_account" in found and values.get("service_account") is not None:
            expr = assigned(found["service_account"])
            if not self.name_ok("service account", values["service_account"], expr.span):
                values["service_account"] = None
        if "image_pull_secrets" in found:
            values["image_pull_secrets"] = self.secrets(assigned(found["image_pull_secrets"]))
        values["pod_labels"] = self.metadata(found.get("pod_labels"), base.get("pod_labels"),
                                             k8s_names.label_value)
        values["pod_annotations"] = self.metadata(found.get("pod_annotations"),
                                                  base.get("pod_annotations"), None)
        values["security"] = self.security(found.get("security"), base.get("security"))

    def name_ok(self, what: str, name: str, span: Span) -> bool:
        problem = k8s_names.dns1123_subdomain(name)
        if problem is None:
            return True
        self.diagnostics.error("E0208", f"invalid {what} name \"{shown(name)}\"", span,
                               "not a Kubernetes name", help=[f"the name {problem}"])
        return False

    # ---- image_pull_secrets ---------------------------------------------------------------

    def secrets(self, expr: ast.Expr) -> list[str] | None:
        """A list of Secret names, each once; None (reported) if it is not one."""
        if not isinstance(expr, ast.ListLit):
            self.diagnostics.error("E0201", "`image_pull_secrets` is a list of Secret names",
                                   expr.span, "expected a list",
                                   help=['write `image_pull_secrets = ["regcred"]`'])
            return None
        names: dict[str, ast.Expr] = {}
        ok = True
        for item in expr.items:
            name = self.fields.string(item)
            if name is None or not self.name_ok("Secret", name, item.span):
                ok = False
            elif name in names:
                self.diagnostics.error(
                    "E0110", f"image pull secret \"{shown(name)}\" is listed twice", item.span,
                    "listed again", secondary=[Label(names[name].span, "first listed here")])
                ok = False
            else:
                names[name] = item
        return list(names) if ok else None

    # ---- pod_labels and pod_annotations ---------------------------------------------------

    def metadata(self, block: ast.Assignment | ast.Block | None, base: dict[str, str] | None,
                 check_value: Callable[[str], str | None] | None) -> dict[str, str]:
        """The block's keys over ``base``'s; ``check_value`` checks a label's value."""
        if block is None:  # most steps: the pipeline's, or the shared empty dict
            return base or ir.EMPTY_DICT
        found = self.entries(block_of(block), check_value)
        return {**base, **found} if base else found

    def entries(self, block: ast.Block, check_value: Callable[[str], str | None] | None
                ) -> dict[str, str]:
        what = "label" if check_value is not None else "annotation"
        entries: dict[str, str] = {}
        for item in self.fields.entries(block, what):
            key = item.key
            value = self.fields.string(item.value)
            if not self.key_ok(what, key) or value is None:
                continue
            problem = check_value(value) if check_value is not None else None
            if problem is not None:
                self.diagnostics.error("E0208", f"invalid label value \"{shown(value)}\"",
                                       item.value.span, "not a label value",
                                       help=[f"the value {problem}"])
                continue
            entries[key.name] = value
        return entries

    def key_ok(self, what: str, key: ast.Ident) -> bool:
        problem = k8s_names.qualified_name(key.name)
        if problem is not None:
            self.diagnostics.error("E0208", f"invalid {what} key \"{shown(key.name)}\"",
                                   key.span, f"not a {what} key", help=[f"the key {problem}"])
            return False
        if reserved(key.name):
            self.diagnostics.error(
                "E0208", f"{what} `{key.name}` is set by cnai or the engine", key.span,
                "reserved key", help=["keys under " + ", ".join(
                    f"`{p}`" for p in RESERVED_PREFIXES) + " and those cnai sets from other "
                    "settings (Volcano queues, Knative scaling) cannot be overridden"])
            return False
        return True

    # ---- security -------------------------------------------------------------------------

    def security(self, block: ast.Assignment | ast.Block | None, base: ir.Security | None
                 ) -> ir.Security | None:
        """The block's fields over ``base``'s; a pod running as root while told not to is
        refused (E0208), as the kubelet would refuse to start it."""
        if block is None:
            return base
        written = block_of(block)
        found = self.fields.collect(written.items, "security", None, written.span)
        values = {k: v for k, v in self.fields.read(found, "security").items()
                  if v is not None}
        result = (base or ir.Security()).model_copy(update={**values, "span": written.span})
        if result.run_as_user == 0 and result.run_as_non_root is not False:
            where = assigned(found["run_as_user"]).span if "run_as_user" in found \
                else written.name.span
            self.diagnostics.error(
                "E0208", "`run_as_user = 0` is root, and `security` runs pods as non-root",
                where, "root", help=["choose a non-zero user, or write `run_as_non_root = "
                                     "false` (the pod is then not `restricted`)"])
        return result


def reserved(key: str) -> bool:
    return key.startswith(RESERVED_PREFIXES) or key in RESERVED_KEYS


def pipeline_pod(pipeline: ir.Pipeline) -> dict[str, Any]:
    """The pipeline's identity settings, as the steps cnai adds (preloads, data loads) take
    them: their pods run in the same namespace, under the same rules."""
    return {name: getattr(pipeline, name) for name in POD_SETTINGS}
