"""Identity, access, pod metadata and security, rendered for both targets.

- Service accounts. Argo: the pipeline's is the Workflow's ``spec.serviceAccountName``, a
  step whose account differs gets its template's ``serviceAccountName`` (Argo's Template
  has one: workflow/controller/workflowpod.go, createWorkflowPod, takes the template's over
  the workflow's). The pods a resource template makes (TFJob/PyTorchJob replicas, a Knative
  revision) run as the step's account in their own pod spec; the Argo pod that creates them
  runs as the workflow's. KFP: an account is per run (kfp Client.run_pipeline's
  ``service_account``), sent by ``cnai submit`` (submit/kfp_submit.py); a task cannot have
  one (kfp-kubernetes' KubernetesExecutorConfig has no such field), so a container step of
  its own is refused (refuse_on_kfp); the pods of training jobs and services take theirs.
- Image pull secrets. Argo: a template has no ``imagePullSecrets``, only WorkflowSpec does
  (argo-workflows' schema; workflowpod.go copies ``woc.execWf.Spec.ImagePullSecrets`` into
  every pod), so the Workflow lists every step's, first seen first. KFP: the executor
  config's ``imagePullSecret`` (kfp/kubernetes/image.py, set_image_pull_secrets).
- Pod labels and annotations. Argo: the template's ``metadata`` (merged into what other
  settings put there); KFP: the executor config's ``podMetadata`` (kfp/kubernetes/
  pod_metadata.py); training jobs and Knative revisions: their pod template's metadata.
- Security: a pod valid under the ``restricted`` Pod Security Standard
  (kubernetes/pod-security-admission, policy/check_runAsNonRoot.go, check_seccompProfile_
  restricted.go, check_allowPrivilegeEscalation.go, check_capabilities_restricted.go):
  ``runAsNonRoot`` (true unless written false), ``seccompProfile: RuntimeDefault``, and in
  each container ``allowPrivilegeEscalation: false`` and ``capabilities.drop: [ALL]``.
  Knative refuses a pod-level securityContext unless its ``kubernetes.podspec-
  securitycontext`` feature is on (serving/pkg/apis/serving/fieldmask.go,
  PodSecurityContextMask), so a revision carries all of it in its container. KFP:
  kfp-kubernetes' SecurityContext has runAsUser, runAsGroup and runAsNonRoot only; KFP's
  compiler adds allowPrivilegeEscalation, the dropped capabilities and the seccomp profile
  itself (kfp/kubernetes/security_context.py), and ``fs_group`` and
  ``read_only_root_filesystem`` are refused rather than silently dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnai.context import CompileContext, Options
from cnai.semantics import ir

if TYPE_CHECKING:
    from cnai.backends.argo import ArgoBackend

Spec = dict[str, Any]

SECCOMP = {"type": "RuntimeDefault"}


# ---- what every target's pods get ------------------------------------------------------

def pod_security(security: ir.Security | None) -> Spec:
    """A PodSecurityContext: who the pod runs as, and the restricted profile's pod fields."""
    if security is None:
        return {}
    context: Spec = {"runAsNonRoot": security.run_as_non_root is not False}
    if security.run_as_user is not None:
        context["runAsUser"] = security.run_as_user
    if security.run_as_group is not None:
        context["runAsGroup"] = security.run_as_group
    if security.fs_group is not None:
        context["fsGroup"] = security.fs_group
    context["seccompProfile"] = dict(SECCOMP)
    return context


def container_security(security: ir.Security | None) -> Spec:
    """A container's SecurityContext under the restricted profile (k8s.container)."""
    if security is None:
        return {}
    context: Spec = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    if security.read_only_root_filesystem is not None:
        context["readOnlyRootFilesystem"] = security.read_only_root_filesystem
    return context


def pod_metadata(step: ir.Step, metadata: Spec) -> None:
    """The step's labels and annotations, merged into a pod template's ``metadata``."""
    if step.pod_labels:
        metadata.setdefault("labels", {}).update(step.pod_labels)
    if step.pod_annotations:
        metadata.setdefault("annotations", {}).update(step.pod_annotations)


def image_pull_secrets(names: list[str]) -> list[Spec]:
    return [{"name": name} for name in names]


def job_pod(step: ir.Step, template: Spec) -> None:
    """A training job replica's pod template (cloud.training_job): the step's account, pull
    secrets, labels, annotations and security, as a Kubernetes pod spec writes them."""
    _pod_identity(step, template)
    security = pod_security(step.security)
    if security:
        template["spec"]["securityContext"] = security


def knative_pod(step: ir.Step, template: Spec) -> None:
    """A Knative revision template (cloud.knative_service): as job_pod, with the security
    context in the container (Knative masks a pod-level one; a service mounts no volume, so
    ``fs_group`` has nothing to own there and is left out)."""
    _pod_identity(step, template)
    security = pod_security(step.security)
    security.pop("fsGroup", None)
    if security:
        (container,) = template["spec"]["containers"]
        container["securityContext"] = {**security, **container.get("securityContext", {})}


def _pod_identity(step: ir.Step, template: Spec) -> None:
    """The account, pull secrets and metadata of a pod template cnai writes whole."""
    spec = template["spec"]
    if step.service_account is not None:
        spec["serviceAccountName"] = step.service_account
    if step.image_pull_secrets:
        spec["imagePullSecrets"] = image_pull_secrets(step.image_pull_secrets)
    pod_metadata(step, template["metadata"])


# ---- Argo -------------------------------------------------------------------------------

def engine_pod(step: ir.Step, template: Spec) -> None:
    """A template whose pod runs Argo's executor alone (a resource template) or cnai's
    launcher (a Fluid data load): the step's labels, annotations and security context. Its
    account stays the Workflow's, which creates the step's objects (docs/argo.md)."""
    if step.pod_labels or step.pod_annotations:
        pod_metadata(step, template.setdefault("metadata", {}))
    security = pod_security(step.security)
    if security:
        template["securityContext"] = security
    if "container" in template and step.security is not None:
        template["container"]["securityContext"] = container_security(step.security)


def template_service_account(backend: ArgoBackend, step: ir.Step, template: Spec) -> None:
    if step.service_account is not None and \
            step.service_account != backend.pipeline.service_account:
        template["serviceAccountName"] = step.service_account


def template_pod_metadata(backend: ArgoBackend, step: ir.Step, template: Spec) -> None:
    if step.pod_labels or step.pod_annotations:
        pod_metadata(step, template.setdefault("metadata", {}))


def template_security(backend: ArgoBackend, step: ir.Step, template: Spec) -> None:
    """The pod's securityContext, over cnai's own (a runtime image's fsGroup) unless set."""
    security = pod_security(step.security)
    if security:
        template["securityContext"] = {**template.get("securityContext", {}), **security}


def workflow_spec(pipeline: ir.Pipeline, spec: Spec) -> None:
    """The Workflow's service account and every step's image pull secrets (a template has
    none of its own), in the order first seen."""
    if pipeline.service_account is not None:
        spec["serviceAccountName"] = pipeline.service_account
    names = dict.fromkeys(pipeline.image_pull_secrets)
    for step in pipeline.steps:
        for name in step.image_pull_secrets:
            names.setdefault(name)
    if names:
        spec["imagePullSecrets"] = image_pull_secrets(list(names))


# ---- Kubeflow ---------------------------------------------------------------------------

def executor_image_pull_secrets(step: ir.Step, options: Options, config: Spec) -> None:
    if step.image_pull_secrets:
        config["imagePullSecret"] = [
            {"secretName": name, "secretNameParameter": {"runtimeValue": {"constant": name}}}
            for name in step.image_pull_secrets]


def executor_pod_metadata(step: ir.Step, options: Options, config: Spec) -> None:
    metadata: Spec = {}
    pod_metadata(step, metadata)
    if metadata:
        config["podMetadata"] = metadata


def executor_security(step: ir.Step, options: Options, config: Spec) -> None:
    """kfp-kubernetes' SecurityContext (run_as_user, run_as_group, run_as_non_root); its
    int64 fields are JSON strings."""
    security = step.security
    if security is None:
        return
    context: Spec = {"runAsNonRoot": security.run_as_non_root is not False}
    if security.run_as_user is not None:
        context["runAsUser"] = str(security.run_as_user)
    if security.run_as_group is not None:
        context["runAsGroup"] = str(security.run_as_group)
    config["securityContext"] = context


def own_account(pipeline: ir.Pipeline, step: ir.Step) -> ir.Step:
    """On KFP, the step as the pods of its training job or service see it: with its own
    account, or none if it has the pipeline's. That one is the run's (`cnai submit`, which
    may override it), known only when the run is made; those pods then run as the
    namespace's default account (docs/kfp.md)."""
    if step.service_account is None or step.service_account != pipeline.service_account:
        return step
    return step.model_copy(update={"service_account": None})


def launcher_config(step: ir.Step, options: Options) -> Spec:
    """The executor config of a launcher or deploy task (a distributed step, a service, a
    Fluid data load): its pod's pull secrets, labels, annotations and security context. The
    objects it creates carry the step's own (job_pod, knative_pod)."""
    config: Spec = {}
    for render in (executor_image_pull_secrets, executor_pod_metadata, executor_security):
        render(step, options, config)
    return config


def refuse_on_kfp(pipeline: ir.Pipeline, ctx: CompileContext) -> None:
    """What a KFP task's pod cannot have: an account of its own (an account is the run's),
    an fsGroup or a read-only root filesystem (not in kfp-kubernetes' SecurityContext). A
    preload runs as root there (kfp_platform.PRELOAD_USER): said once, as a warning."""
    preload = next((s for s in pipeline.steps if s.kind == "preload" and s.security), None)
    if preload is not None and preload.fills is not None:
        ctx.diagnostics.warn(
            "W0405", f"on Kubeflow the preload of data set `{preload.fills}` runs as root: "
            "`security` has no effect on it", pipeline.dataset(preload.fills).span,
            "preloaded as root", help=[
                "kfp-kubernetes cannot give a pod an fsGroup, which a non-root preload needs "
                "to write to a fresh volume; use `engine = \"fluid\"` or --target argo"])
    for step in pipeline.steps:
        if step.kind not in ("container", "preload"):
            continue  # training jobs and services: cnai writes their pods itself
        if step.service_account != pipeline.service_account and step.service_account:
            account = f"`{pipeline.service_account}`" if pipeline.service_account \
                else "the run's"
            ctx.unsupported(
                step.span, "E0401", f"step `{step.name}` runs as service account "
                f"`{step.service_account}`, the pipeline as {account}; on Kubeflow an account is "
                "the run's, not a task's",
                help="set `service_account` on the pipeline (`cnai submit` sends it as the "
                "run's), or compile with --target argo")
            break
    for step in pipeline.steps:
        security = step.security
        if step.kind == "container" and security is not None and (
                security.fs_group is not None
                or security.read_only_root_filesystem is not None):
            field = "fs_group" if security.fs_group is not None else \
                "read_only_root_filesystem"
            wide_security = pipeline.security
            if wide_security is not None and getattr(wide_security, field) == getattr(
                    security, field):
                security = wide_security  # the pipeline's block set it
            ctx.unsupported(
                security.span or step.span, "E0401", f"`security {{ {field} }}` of "
                f"`{step.name}`: kfp-kubernetes' SecurityContext has run_as_user, "
                "run_as_group and run_as_non_root only, and a weaker pod is not made silently",
                help="leave it out on Kubeflow (a namespace's policy can set it), or compile "
                "with --target argo")
            break
