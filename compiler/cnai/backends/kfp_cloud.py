"""Cloud-native steps on Kubeflow: a KFP task cannot create a Kubernetes object itself, so
each becomes a task of one of our runtime images that does (runtime_images/README.md):

- ``distributed``: the launcher creates the TFJob / PyTorchJob that cloud.training_job builds
  and waits for cloud.job_conditions (Argo's condition grammar, which the launcher reads the
  same way); a ``disruption_budget`` is a ``--before-text`` object, created before the job and
  deleted with it, selecting the job's pods by the run id and step labels they carry. The job
  is deleted when the step ends (``--delete-on-exit``): nothing else would.
- ``service``: the deploy image applies the Knative Service, DestinationRule and
  VirtualService that cloud.py builds, waits for the new revision, then routes traffic.
- ``dataset ... engine = "fluid"``: the launcher ensures the shared Fluid Dataset and creates
  the run's DataLoad, as on Argo (cloud.fluid_load_args). The step outputs the Dataset's
  name, which is its claim's name too: steps mount it as they mount a CreatePVC claim.

The objects are the Argo target's (cloud.py), built from the step's container rendered as a
plain Kubernetes container. Values KFP would have to paste into them travel as arguments
instead and are filled in by the image after parsing (cnai_launcher.tokens): a parameter input
``x`` is ``${CNAI_INPUT_X}`` with ``--set CNAI_INPUT_X={{$.inputs.parameters['x']}}``; the run
is ``${CNAI_RUN_ID}`` from ``--run-id``, fed by a task input whose constant is
``{{$.pipeline_job_uuid}}`` (the driver replaces exactly that constant with the run's id:
backend/src/v2/driver/resolve.go, resolveInputParameter), and ``${CNAI_RUN_SHORT}`` is its
first eight letters and digits (a Knative revision is ``<service>-<those 8>``, a DNS label as
on Argo); the namespace in Istio hosts is ``${CNAI_NAMESPACE}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cnai.backends import cloud, identity, k8s, k8s_configuration, k8s_placement
from cnai.backends.kfp_contract import Unsupported
from cnai.backends.kfp_dag import Channel, Spec
from cnai.backends.serialize import to_yaml
from cnai.semantics import ir

if TYPE_CHECKING:
    from cnai.backends.kfp import KfpBackend

RUN_INPUT = "cnai-run-id"  # a dash: no step input of the IR can take this name
RUN_ID = "{{$.pipeline_job_uuid}}"
CLAIM_INPUT = "cnai-claim-{}"
NAME_OUTPUT = "name"  # the Fluid Dataset's name, i.e. its claim's
SERVICE_TIMEOUT = 600  # seconds a service may take to become ready, unless `timeout` says
SHORT_RUN = "${CNAI_RUN_SHORT}"


def parameter(name: str) -> str:
    return f"{{{{$.inputs.parameters['{name}']}}}}"


def token(name: str) -> str:
    return f"${{{name}}}"


def claim_token(dataset: ir.Dataset) -> str:
    return f"CNAI_CLAIM_{dataset.k8s_name.upper().replace('-', '_')}"


class CloudSteps:
    """The launcher and deploy tasks of one pipeline."""

    def __init__(self, backend: KfpBackend) -> None:
        self.backend = backend
        self.pipeline = backend.pipeline
        self.options = backend.ctx.options

    # ---- the task's extra inputs and outputs --------------------------------------

    def extra_input_names(self, step: ir.Step) -> list[str]:
        """Inputs the image needs beyond the step's own: the run's id, the claims to mount."""
        names = [RUN_INPUT]
        if step.kind == "distributed":
            names += [CLAIM_INPUT.format(self.pipeline.dataset(m.dataset).k8s_name)
                      for m in step.mounts]
        return names

    def extra_inputs(self, step: ir.Step) -> list[tuple[str, Spec]]:
        """(name, how the task reads it) for each of ``extra_input_names``."""
        inputs = [(RUN_INPUT, {"runtimeValue": {"constant": RUN_ID}})]
        task = self.backend.step_tasks[step.name]
        if step.kind == "distributed":
            for mount in step.mounts:
                dataset = self.pipeline.dataset(mount.dataset)
                channel = self.backend.pvc_name(dataset.name)
                inputs.append((CLAIM_INPUT.format(dataset.k8s_name),
                               self.backend.dag.reference(channel, task)))
        return inputs

    def extra_outputs(self, step: ir.Step) -> list[tuple[str, Spec]]:
        return [(NAME_OUTPUT, {"parameterType": "STRING"})] if step.kind == "dataload" else []

    def name_channel(self, step: ir.Step) -> Channel:
        """The Fluid Dataset's name, an output of the data load's task."""
        return Channel(self.backend.step_tasks[step.name].name, NAME_OUTPUT,
                       {"parameterType": "STRING"})

    # ---- the image's container ------------------------------------------------------

    def container(self, step: ir.Step) -> Spec:
        sets = [f"{k8s.input_env_name(i.name)}={parameter(i.name)}" for i in step.inputs]
        if step.kind == "distributed":
            for mount in step.mounts:
                dataset = self.pipeline.dataset(mount.dataset)
                sets.append(f"{claim_token(dataset)}="
                            f"{parameter(CLAIM_INPUT.format(dataset.k8s_name))}")
        args = [arg for item in sets for arg in ("--set", item)]
        args += ["--run-id", parameter(RUN_INPUT)]
        if step.kind == "service":
            image, command = "deploy", ["python", "-m", "cnai_deploy"]
            args = ["--manifests-text", k8s.literal_text(to_yaml(self.service_objects(step))),
                    *args,
                    "--timeout", str(step.timeout_seconds or SERVICE_TIMEOUT)]
        else:
            image, command = "launcher", cloud.LAUNCHER
            args = self._launch_args(step) + args
        return {"image": self.options.runtime_image(image), "command": command, "args": args}

    def _launch_args(self, step: ir.Step) -> list[str]:
        if step.kind == "distributed":
            labels = cloud.labels(self.pipeline, step, token("CNAI_RUN_ID"))
            job = cloud.training_job(identity.own_account(self.pipeline, step),
                                     self.k8s_container(step), self._job_volumes(step),
                                     labels, self.options)
            success, failure = cloud.job_conditions(step)
            args = ["--manifest-text", cloud.as_json(job)]
            if step.disruption_budget is not None:
                selector = {cloud.RUN_LABEL: token("CNAI_RUN_ID"),
                            cloud.STEP_LABEL: step.k8s_name}
                args += ["--before-text", cloud.as_json(cloud.disruption_budget(step, selector))]
            args += ["--success-condition", success, "--failure-condition", failure,
                     "--timeout", str(cloud.wait_deadline(step))]
            return [*args, "--delete-on-exit"]
        assert step.fills is not None
        dataset = self.pipeline.dataset(step.fills)
        source = dataset.source or ""
        if dataset.source_ref is not None:
            (item,) = step.inputs
            source = token(k8s.input_env_name(item.name))
        output = f"{{{{$.outputs.parameters['{NAME_OUTPUT}'].output_file}}}}"
        return [*cloud.fluid_load_args(step, dataset, source),
                "--write", output, dataset.k8s_name]

    def service_objects(self, step: ir.Step) -> list[dict[str, Any]]:
        labels = cloud.labels(self.pipeline, step, token("CNAI_RUN_ID"))
        namespace = token("CNAI_NAMESPACE")
        objects = [cloud.knative_service(identity.own_account(self.pipeline, step),
                                         self.k8s_container(step), SHORT_RUN, labels)]
        for extra in (cloud.destination_rule(step, namespace, SHORT_RUN),
                      cloud.virtual_service(step, namespace)):
            if extra is not None:
                objects.append(extra)
        return objects

    # ---- the step's own container, for pods Kubernetes makes --------------------------

    def k8s_container(self, step: ir.Step) -> dict[str, Any]:
        """The step's container as a Kubernetes container, values as tokens."""
        for item in step.inputs:
            if item.type.is_artifact:
                raise Unsupported(
                    f"`{step.name}` reads the artifact `{item.name}`; a {step.kind} step's pods "
                    "are made by Kubernetes, not Kubeflow, so Kubeflow cannot place artifacts "
                    "in them")
        image = k8s_placement.image(step, self.options, lambda t: self._text(step, t))
        return k8s.container(step, self.pipeline, image, lambda t: self._text(step, t),
                             lambda name: token(k8s.input_env_name(name)))

    def _text(self, step: ir.Step, text: ir.Text) -> str:
        pieces = []
        for part in text.parts:
            if isinstance(part, str):
                pieces.append(k8s.literal_text(part))
            elif isinstance(part, ir.InputValue):
                pieces.append(token(k8s.input_env_name(part.name)))
            else:  # the checker refuses outputs of distributed steps and services
                raise AssertionError(part)
        return "".join(pieces)

    def _job_volumes(self, step: ir.Step) -> list[dict[str, Any]]:
        datasets = [self.pipeline.dataset(m.dataset) for m in step.mounts]
        return [{"name": d.k8s_name, "persistentVolumeClaim": {
            "claimName": token(claim_token(d)), "readOnly": True}} for d in datasets
        ] + k8s_configuration.pod_volumes(step)
