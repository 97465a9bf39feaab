"""How large the Argo Workflow is that Kubeflow makes of our pipeline when a run starts.

KFP's API server compiles the PipelineSpec into an Argo Workflow for every run
(kubeflow/pipelines 2.17.0, 4a3592c, backend/src/v2/compiler/argocompiler/); that object
is stored in etcd and bounded by Argo's own size limit, so a pipeline that uploads fine can
have its runs refused. This module rebuilds that Workflow from our documents the way the Go
compiler builds it (the functions named in each comment) and measures it as the Go encoder
writes it. docs/kfp.md, "How large Kubeflow's run Workflow is", has the per task and per
component figures.

What is embedded where (argo.go, dag.go, container.go):
- per component with a container: its ComponentSpec and its container, each once, as
  workflow arguments ``components-<sha256>`` / ``implementations-<sha256>``, shared by every
  component whose container is the same (hashComponentContainer); its
  KubernetesExecutorConfig once as ``kubernetes-<component>`` (spec_patch.go).
- per DAG component (root, each group): its ComponentSpec, which holds the JSON of every task
  of the DAG, as ``components-<name>``, and a DAG template.
- per container task: a driver task whose ``task`` argument is the task's whole JSON again,
  and an executor task (containerDriverTask, containerExecutorTask).
- per group task: a DAG driver task with the task JSON and a DAG task (task, dagDriverTask);
  a loop adds an iterator and an iteration template, with the task JSON twice more
  (iteratorTask, iterationItemTask).
- fixed: the driver, executor and launcher templates and the entrypoint.
JSON inside a parameter is escaped once more in the object, so every quote costs two bytes.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from cnai.backends import kfp_run_templates as shared
from cnai.backends.kfp_run_templates import PARENT

if TYPE_CHECKING:
    from cnai.context import CompileContext
    from cnai.semantics import ir

Spec = dict[str, Any]
_param, _template = shared.param, shared.template

# Argo refuses to store a Workflow whose JSON passes MAX_WORKFLOW_SIZE, 1 MiB by default
# (argo-workflows workflow/packer/packer.go); etcd's own limit is 1.5 MiB. The status a run
# adds counts too, so the spec alone should stay well below.
LIMIT_BYTES = 1024 * 1024
WARN_BYTES = 700 * 1000

EXIT_STRATEGY = "ALL_UPSTREAM_TASKS_COMPLETED"
DUMMY_IMAGES = ("argostub/createpvc", "argostub/deletepvc")  # argo.go, dummyImages
# Keys whose value is a google.protobuf.Value or Struct: protojson keeps them whole.
VALUE_KEYS = frozenset({"constant", "defaultValue", "parameterValues"})
_GO_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
               ("\u2029", "\\u2029"))

# One encoder for every go_json: json.dumps with these options builds a new one per call.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            check_circular=False)  # our values are trees

# ---- encoders ---------------------------------------------------------------------------

def _go_numbers(value: Any) -> Any:
    """Numbers as Go prints a float64: integral values without a fraction."""
    kind = type(value)
    if kind is float and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if kind is dict:
        return {k: _go_numbers(v) for k, v in value.items()}
    if kind is list:
        return [_go_numbers(v) for v in value]
    return value


def go_json(value: Any) -> str:
    """Go's encoding/json of a decoded JSON value: keys sorted, compact, ``<>&`` escaped."""
    text = _ENCODER.encode(value)
    for char, escape in _GO_ESCAPES:  # these stand only inside strings in JSON text
        if char in text:
            text = text.replace(char, escape)
    return text


def _object_json(texts: dict[str, str]) -> str:
    """go_json of an object whose values are written already (``texts``: their go_json):
    json.dumps with sort_keys writes the keys in sorted order, and Go's escapes stand only
    inside strings, so the pieces join to the same text."""
    return "{" + ",".join([f"{go_json(key)}:{texts[key]}" for key in sorted(texts)]) + "}"


def proto_json(value: Any) -> Any:
    """What protojson keeps of one of our messages: proto3 scalars at their default (false,
    0, "") and empty lists are left out; a Value or Struct (``constant``, ``defaultValue``)
    is kept whole; an empty message stays ``{}`` (our documents write no empty maps)."""
    if type(value) is list:
        return [proto_json(item) for item in value]
    if type(value) is not dict:
        return _go_numbers(value)
    kept = {}
    for key, item in value.items():
        kind = type(item)
        if key in VALUE_KEYS:
            kept[key] = _go_numbers(item)
        elif kind is dict:
            kept[key] = proto_json(item)
        elif kind is str or kind is int or kind is bool:
            if item:
                kept[key] = item
        elif item or item is None:
            kept[key] = proto_json(item)
    return kept


def stable_json(message: Spec) -> str:
    """argocompiler/proto.go, stablyMarshalJSON: protojson, then re-encoded by encoding/json."""
    return go_json(proto_json(message))


def _go_float(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# ---- the Workflow -----------------------------------------------------------------------

def _depends(tasks: list[str]) -> str:
    return " && ".join(f"{t}.Succeeded" for t in tasks)  # dag.go, depends


def _outputs(task: str, name: str) -> str:
    return f"{{{{tasks.{task}.outputs.parameters.{name}}}}}"


def _hook(task: Spec, exit_template: str, parent: str) -> None:
    if exit_template:  # common.go, addExitTask
        task["hooks"] = {"exit": {"template": exit_template, "arguments": {
            "parameters": [_param("parent-dag-id", parent)]}}}


class RunWorkflow:
    """argocompiler.Compile over one PipelineSpec (and its kubernetes platform document)."""

    def __init__(self, spec: Spec, platform: Spec | None = None, measure: bool = False) -> None:
        self.spec = spec
        # Measuring only, the JSON texts the Workflow holds as strings are left out of it
        # and their bytes counted here instead (embed).
        self.measure = measure
        self.embedded_bytes = 0
        self.components: Spec = spec.get("components", {})
        self.executors: Spec = spec.get("deploymentSpec", {}).get("executors", {})
        self.platform: Spec = platform or {}
        self.arguments: dict[str, str] = {}
        self.templates: dict[str, Spec] = {}
        self.visited: set[str] = set()
        self.keys: dict[str, str] = {}
        self.name = spec["pipelineInfo"]["name"]

    def workflow(self, api_server: bool = True) -> Spec:
        self.visit("root", self.spec["root"], None)
        templates = list(self.templates.values())
        metadata: Spec = {"creationTimestamp": None, "generateName": self.name.rsplit("/")[-1]
                          + "-"}
        pod_labels = {"pipelines.kubeflow.org/v2_component": "true"}
        if api_server:  # template/v2_template.go, RunWorkflow
            run = "00000000-0000-0000-0000-000000000000"
            metadata["labels"] = {"pipeline/runid": run}
            metadata["annotations"] = {"pipelines.kubeflow.org/run_name": self.name}
            pod_labels = {**pod_labels, "pipeline/runid": run}
            for template in templates:
                template["metadata"] = {**template["metadata"], "annotations": {
                    **template["metadata"].get("annotations", {}),
                    "sidecar.istio.io/inject": "false"}}
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": metadata,
                "spec": {"arguments": {"parameters": [
                    _param(k, v) for k, v in self.arguments.items()]},
                    "entrypoint": "entrypoint",
                    "podMetadata": {"annotations": {"pipelines.kubeflow.org/v2_component":
                                                    "true"}, "labels": pod_labels},
                    "securityContext": shared.POD_SECURITY,
                    "serviceAccountName": "pipeline-runner",
                    "templates": templates},
                "status": {"finishedAt": None, "startedAt": None}}

    # ---- visitor.go, Accept: components bottom-up, each once ----

    def visit(self, name: str, component: Spec, parent_task: Spec | None) -> None:
        if name in self.visited:
            return
        self.visited.add(name)
        label = component.get("executorLabel")
        if label:
            if label in self.platform:
                self.argument(f"kubernetes-{name}", lambda: go_json(
                    _go_numbers(self.platform[label])))
            self.argument(f"components-{self.key(name)}", lambda: stable_json(component))
            executor = self.executors[label]
            impl = executor.get("container", executor.get("importer", {}))
            self.argument(f"implementations-{self.key(name)}", lambda: stable_json(impl))
            return
        # The Go compiler changes its copy of the spec; ours stays as the backend wrote it.
        tasks = dict(component["dag"]["tasks"])
        for key in sorted(tasks):
            task = tasks[key]
            if parent_task is not None and "retryPolicy" not in task and (
                    "retryPolicy" in parent_task):
                task = tasks[key] = {**task, "retryPolicy": parent_task["retryPolicy"]}
            ref = task["componentRef"]["name"]
            self.visit(ref, self.components[ref], task)
        self.dag(name, component, tasks)

    def key(self, name: str) -> str:
        """hashComponentContainer: components with one container share their arguments."""
        if name not in self.keys:
            label = self.components[name].get("executorLabel") if name != "root" else None
            container = self.executors.get(label or "", {}).get("container")
            self.keys[name] = name if container is None else hashlib.sha256(
                go_json(container).encode()).hexdigest()
        return self.keys[name]

    # ---- dag.go ----

    def dag(self, name: str, component: Spec, tasks: dict[str, Spec]) -> None:
        for key, task in tasks.items():  # addImplicitDependencies
            producers = [kind[source]["producerTask"]
                         for inputs in task.get("inputs", {}).values()
                         for kind in inputs.values()
                         for source in ("taskOutputParameter", "taskOutputArtifact")
                         if source in kind]
            depends = task.get("dependentTasks", [])
            missing = [p for p in dict.fromkeys(producers) if p not in depends]
            if missing:
                tasks[key] = {**task, "dependentTasks": [*depends, *missing]}
        # Each task's JSON is made once: the DAG's component spec and its driver embed it.
        texts = {key: go_json(proto_json(task)) for key, task in tasks.items()}
        dag = proto_json({k: v for k, v in component["dag"].items() if k != "tasks"})
        spec = proto_json({k: v for k, v in component.items() if k != "dag"})
        dag_text = _object_json({**{k: go_json(v) for k, v in dag.items()},
                                 "tasks": _object_json(texts)})
        self.argument(f"components-{self.key(name)}", lambda: _object_json(
            {**{k: go_json(v) for k, v in spec.items()}, "dag": dag_text}))
        exit_of: dict[str, str] = {}
        for key in sorted(tasks):
            task = tasks[key]
            if task.get("triggerPolicy", {}).get("strategy") != EXIT_STRATEGY:
                continue
            hook = f"exit-hook-{name}-{key}"
            for dependency in task.get("dependentTasks", []):
                exit_of[dependency] = hook
            self.add(_template(hook, inputs={"parameters": [_param("parent-dag-id")]},
                               dag={"tasks": self.task(key, task, texts[key],
                                                       PARENT)}))
        dag_tasks: list[Spec] = []
        # Measuring, a plain container task's two Argo tasks are counted, not built
        # (counted_task); ``counted`` is how many, ``counted_bytes`` their JSON's bytes.
        counted = counted_bytes = 0
        measure = self.measure and name not in self.templates
        for key in sorted(tasks):
            task = tasks[key]
            if task.get("triggerPolicy", {}).get("strategy") == EXIT_STRATEGY:
                continue
            exit_template = exit_of.get(key, "")
            size = self.counted_task(key, task, texts[key]) if (
                measure and not exit_template) else 0
            if size:
                counted += 2
                counted_bytes += size
            else:
                dag_tasks += self.task(key, task, texts[key], PARENT,
                                       exit_template=exit_template)
        if counted:  # a comma before each counted task, but the first of an empty list
            self.embedded_bytes += counted_bytes + counted - (not dag_tasks)
        self.add(_template(name, inputs={"parameters": [_param("parent-dag-id")]},
                           dag={"tasks": dag_tasks}))
        if name == "root":
            driver = self.dag_driver("root-driver", self.placeholder("root"),
                                     runtime_config=self.runtime_config())
            root = self.dag_task("root", "root", _outputs("root-driver", "execution-id"))
            root["depends"] = "root-driver.Succeeded"
            self.add(_template("entrypoint", dag={"tasks": [driver, root]}))

    def runtime_config(self) -> str:
        """The run's parameters: the root's defaults (Compile fills them in)."""
        values = {name: param.get("defaultValue")
                  for name, param in self.spec["root"].get("inputDefinitions", {}).get(
                      "parameters", {}).items()
                  if "defaultValue" in param or param.get("isOptional")}
        return stable_json({"parameterValues": values} if values else {})

    def embed(self, text: str) -> str:
        """A JSON text (go_json's) that the Workflow holds as a string: itself, or measuring,
        "" with the bytes it adds counted. Written as a string it gains only a backslash per
        quote and per backslash: go_json leaves no control character and none of Go's
        escaped characters unescaped."""
        if not self.measure:
            return text
        self.embedded_bytes += len(text.encode()) + text.count('"') + text.count("\\")
        return ""

    def argument(self, name: str, text: Callable[[], str]) -> None:
        """A workflow argument: the first one of a name is kept (the Go compiler's map)."""
        if name not in self.arguments:
            self.arguments[name] = self.embed(text())

    def placeholder(self, component: str, kind: str = "components") -> str:
        return f"{{{{workflow.parameters.{kind}-{self.key(component)}}}}}"

    def add(self, template: Spec) -> None:
        self.templates.setdefault(template["name"], template)

    def add_once(self, name: str, build: Callable[[], Spec]) -> None:
        if name not in self.templates:
            self.templates[name] = build()

    def add_executor(self, prefix: str) -> None:
        """The executor's templates (``prefix`` "retry-" for tasks with a retry policy)."""
        if f"{prefix}system-container-executor" not in self.templates:
            for template in shared.executor(prefix):
                self.add(template)

    def task(self, name: str, task: Spec, task_json: str, parent: str, iteration: str = "",
             exit_template: str = "", task_name: str = "") -> list[Spec]:
        """dag.go, task: the Argo tasks of one KFP task (``task_json``: stablyMarshalJSON)."""
        ref = task["componentRef"]["name"]
        component = self.components[ref]
        condition = bool(task.get("triggerPolicy", {}).get("condition"))
        depends = _depends(task.get("dependentTasks", []))
        ordered = not iteration and task.get("triggerPolicy", {}).get("strategy") != (
            EXIT_STRATEGY)
        if not iteration and "parameterIterator" in task:
            return self.iterator(name, task, task_json, parent)
        driver_name = f"{name}-driver"
        if "dag" in component:
            driver = self.dag_driver(driver_name, self.placeholder(ref), parent=parent,
                                     task=task_json, iteration=iteration,
                                     task_name=task_name or name)
            if ordered and depends:
                driver["depends"] = depends
            dag = self.dag_task(name, ref, _outputs(driver_name, "execution-id"),
                                _outputs(driver_name, "condition"))
            _hook(dag, exit_template, parent)
            dag["depends"] = f"{driver_name}.Succeeded"
            if condition:
                dag["when"] = _outputs(driver_name, "condition") + " != false"
            return [driver, dag]
        executor = self.executors[component["executorLabel"]]
        if "container" not in executor:  # an importer (importer.go); we write none
            self.add(shared.IMPORTER)
            return [{"name": name, "template": "system-importer", "arguments": {"parameters": [
                _param("task", self.embed(task_json)),
                _param("component", self.placeholder(ref)),
                _param("importer", self.placeholder(ref, "implementations")),
                _param("parent-dag-id", parent)]}}]
        self.add_once("system-container-driver", lambda: shared.container_driver(self.name))
        params = [_param("component", self.placeholder(ref)), _param("task", self.embed(task_json)),
                  _param("container", self.placeholder(ref, "implementations")),
                  _param("task-name", task_name or name), _param("parent-dag-id", parent)]
        if iteration:
            params.append(_param("iteration-index", iteration))
        if f"kubernetes-{ref}" in self.arguments:
            params.append(_param("kubernetes-config",
                                 f"{{{{workflow.parameters.kubernetes-{ref}}}}}"))
        driver = {"name": driver_name, "template": "system-container-driver",
                  "arguments": {"parameters": params}}
        if ordered and depends:
            driver["depends"] = depends
        if executor["container"].get("image") in DUMMY_IMAGES:
            driver["name"] = name
            return [driver]
        retry = task.get("retryPolicy")
        prefix = "retry-" if retry else ""
        self.add_executor(prefix)
        args = [_param("pod-spec-patch", _outputs(driver_name, "pod-spec-patch")),
                _param("cached-decision", _outputs(driver_name, "cached-decision"), "false")]
        if retry:  # container.go, getTaskRetryParametersWithValues
            args.append(_param("retry-max-count", str(retry.get("maxRetryCount", 0))))
            if "backoffDuration" in retry:
                args.append(_param("retry-backoff-duration", retry["backoffDuration"][:-1]))
            args.append(_param("retry-backoff-factor", _go_float(retry.get("backoffFactor", 0))))
            if "backoffMaxDuration" in retry:
                args.append(_param("retry-backoff-max-duration",
                                   retry["backoffMaxDuration"][:-1]))
        run = {"name": name, "template": f"{prefix}system-container-executor",
               "arguments": {"parameters": args}, "depends": f"{driver_name}.Succeeded"}
        if condition:
            run["when"] = _outputs(driver_name, "condition") + " != false"
        _hook(run, exit_template, parent)
        return [driver, run]

    def counted_task(self, name: str, task: Spec, task_json: str) -> int:
        """The bytes of a container task's driver and executor in the Workflow's JSON, as
        task() would write them in a DAG (no iteration, exit hook or retry), or 0 for any
        other task: what task() makes of it, with the task JSON counted by embed()."""
        ref = task["componentRef"]["name"]
        component = self.components[ref]
        label = component.get("executorLabel")
        if not label or "parameterIterator" in task or "retryPolicy" in task:
            return 0
        container = self.executors[label].get("container")
        if container is None or container.get("image") in DUMMY_IMAGES:
            return 0
        self.add_once("system-container-driver", lambda: shared.container_driver(self.name))
        self.add_executor("")
        self.embed(task_json)
        depends = _depends(task.get("dependentTasks", []))
        kubernetes = f"kubernetes-{ref}" in self.arguments
        sizes = _container_task_size(bool(depends), kubernetes,
                                     bool(task.get("triggerPolicy", {}).get("condition")))
        return (sizes.fixed + sizes.per_name * _escaped_size(name) + _escaped_size(depends)
                + (sizes.per_ref * _escaped_size(ref) if kubernetes else 0))

    def iterator(self, name: str, task: Spec, task_json: str, parent: str) -> list[Spec]:
        """dag.go, iteratorTask and iterationItemTask."""
        ref = task["componentRef"]["name"]
        driver = self.dag_driver("iteration-driver", self.placeholder(ref), parent=parent,
                                 task=task_json, task_name=name)
        items = self.task("iteration-item", task, task_json, PARENT,
                          iteration="{{inputs.parameters.iteration-index}}", task_name=name)
        self.add(_template(f"{ref}-iteration", inputs={"parameters": [
            _param("parent-dag-id"), _param("iteration-index")]}, dag={"tasks": items}))
        iterations: Spec = {
            "name": "iteration-iterations", "template": f"{ref}-iteration",
            "depends": "iteration-driver.Succeeded",
            "arguments": {"parameters": [
                _param("parent-dag-id", _outputs("iteration-driver", "execution-id")),
                _param("iteration-index", "{{item}}")]},
            "withSequence": {"count": _outputs("iteration-driver", "iteration-count")}}
        if task.get("triggerPolicy", {}).get("condition"):
            iterations["when"] = _outputs("iteration-driver", "condition") + " != false"
        loop = _template(f"{ref}-{name}-iterator", inputs={"parameters": [
            _param("parent-dag-id")]}, dag={"tasks": [driver, iterations]})
        limit = task.get("iteratorPolicy", {}).get("parallelismLimit", 0)
        if limit:
            loop["parallelism"] = limit
        self.add(loop)
        outer: Spec = {"name": name, "template": loop["name"], "arguments": {
            "parameters": [_param("parent-dag-id", parent)]}}
        depends = _depends(task.get("dependentTasks", []))
        if depends:
            outer["depends"] = depends
        return [outer]

    def dag_driver(self, name: str, component: str, parent: str = "", task: str = "",
                   iteration: str = "", task_name: str = "",
                   runtime_config: str | None = None) -> Spec:
        """dag.go, dagDriverTask."""
        self.add_once("system-dag-driver", lambda: shared.dag_driver(self.name))
        params = [_param("component", component)]
        if iteration:
            params.append(_param("iteration-index", iteration))
        if parent:
            params.append(_param("parent-dag-id", parent))
        if runtime_config is not None:
            params += [_param("runtime-config", runtime_config),
                       _param("driver-type", "ROOT_DAG")]
        if task:
            params.append(_param("task", self.embed(task)))
        if task_name:
            params.append(_param("task-name", task_name))
        return {"name": name, "template": "system-dag-driver", "arguments": {"parameters": params}}

    def dag_task(self, name: str, component: str, parent: str, condition: str = "") -> Spec:
        """dag.go, dagTask."""
        return {"name": name, "template": component, "arguments": {"parameters": [
            _param("parent-dag-id", parent), _param("condition", condition)]}}


def _escaped_size(text: str) -> int:
    """Bytes of ``text`` inside a JSON string, as go_json writes it."""
    if text.isascii() and text.isprintable():  # then only these five are escaped
        return (len(text) + text.count('"') + text.count("\\")
                + 5 * (text.count("<") + text.count(">") + text.count("&")))
    return len(go_json(text).encode()) - 2


class _TaskSize(NamedTuple):
    fixed: int
    per_name: int  # per byte of the task's name (each place it is written)
    per_ref: int  # per byte of its component's name (the kubernetes-config placeholder)


@functools.cache
def _container_task_size(depends: bool, kubernetes: bool, condition: bool) -> _TaskSize:
    """What a container task's driver and executor (RunWorkflow.task) add to the Workflow's
    JSON, found by building them: the task's name, its component's and its depends are the
    only texts that differ between such tasks, and each is written as it is (escaped in
    place), so the size grows by each one's written bytes times where it is written. The
    depends text is written once; its size is added as it is (_escaped_size)."""
    def size(name: str, ref: str) -> int:
        task: Spec = {"componentRef": {"name": ref}, "taskInfo": {"name": name}}
        if depends:
            task["dependentTasks"] = ["d"]
        if condition:
            task["triggerPolicy"] = {"condition": "c"}
        model = RunWorkflow({"pipelineInfo": {"name": "p"}, "root": {"dag": {"tasks": {}}},
                             "components": {ref: {"executorLabel": "e"}},
                             "deploymentSpec": {"executors": {"e": {"container": {
                                 "image": "i"}}}}}, measure=True)
        if kubernetes:
            model.arguments[f"kubernetes-{ref}"] = ""
        built = model.task(name, task, "", PARENT)
        return len(go_json(built).encode()) - 2 - 1  # less the list's brackets and comma
    fixed = size("a", "r")
    per_name, per_ref = size("aa", "r") - fixed, size("a", "rr") - fixed
    return _TaskSize(fixed - per_name - per_ref * kubernetes
                     - (len(_depends(["d"])) if depends else 0), per_name, per_ref)


def platform_executors(documents: list[Spec]) -> Spec:
    """The kfp-kubernetes executor configs of our KFP output, by executor label."""
    for document in documents[1:]:
        found = document.get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {})
        if found:
            return dict(found.get("executors", {}))
    return {}


def run_workflow(documents: list[Spec], api_server: bool = True) -> Spec:
    """The Workflow KFP's API server would create for a run of our KFP documents."""
    return RunWorkflow(documents[0], platform_executors(documents)).workflow(api_server)


def run_workflow_size(documents: list[Spec], api_server: bool = True) -> int:
    """Bytes of that Workflow as the API server sends it to etcd (Go's JSON): its JSON
    without the JSON texts it embeds and without plain container tasks, and what those add
    (RunWorkflow.embed, RunWorkflow.counted_task), as writing them all out again costs as
    much as building the Workflow."""
    model = RunWorkflow(documents[0], platform_executors(documents), measure=True)
    return len(go_json(model.workflow(api_server)).encode()) + model.embedded_bytes


def _shown(size: int) -> str:
    return f"{size / 2**20:.2f} MiB"  # next to the limit, in its unit


@functools.cache
def task_floor() -> int:
    """The fewest bytes a container task adds to a run's Workflow: a task of one letter, of a
    component with nothing but an executor, measured on the model itself."""
    def spec(names: str) -> Spec:
        tasks = {n: {"componentRef": {"name": "comp-a"}, "taskInfo": {"name": n}} for n in names}
        return {"pipelineInfo": {"name": "p"}, "root": {"dag": {"tasks": tasks}},
                "components": {"comp-a": {"executorLabel": "exec-a"}},
                "deploymentSpec": {"executors": {"exec-a": {"container": {"image": "i"}}}}}
    return run_workflow_size([spec("ab")]) - run_workflow_size([spec("a")])


def container_tasks(spec: Spec) -> int:
    """Tasks that run a container (a driver and an executor each), in every DAG."""
    components, executors = spec["components"], spec["deploymentSpec"]["executors"]
    count = 0
    for dag in [spec["root"], *components.values()]:
        for task in dag.get("dag", {}).get("tasks", {}).values():
            label = components[task["componentRef"]["name"]].get("executorLabel")
            image = executors[label].get("container", {}).get("image") if label else None
            count += image is not None and image not in DUMMY_IMAGES
    return count


def check_run_size(documents: list[Spec], graph: ir.Pipeline, ctx: CompileContext) -> None:
    """W0404 when a run's Workflow would pass Argo's limit, or come close to it. A warning:
    Kubeflow stores the pipeline itself in its database and accepts the upload; its runs
    are what Argo refuses. Past the limit by the floor alone, the floor is reported: the
    model costs about as much as the backend at that size, and says nothing more useful."""
    tasks = container_tasks(documents[0])
    floor = tasks * task_floor()
    size = floor if floor > LIMIT_BYTES else run_workflow_size(documents)
    if size <= WARN_BYTES:
        return
    help = ["steps of the same image and command share one component unless --no-optimize; "
            "a loop (`for x in list { ... }`) runs similar steps as one task",
            f"Kubeflow writes each task's JSON twice into the run's Workflow, with a driver "
            f"and an executor task: {tasks} tasks here, at least {task_floor()} bytes each; "
            "split the pipeline into pipelines of fewer steps"]
    about = "at least" if size == floor else "about"
    if size > LIMIT_BYTES:
        ctx.diagnostics.warn(
            "W0404", f"a run of this pipeline on Kubeflow makes an Argo Workflow of {about} "
            f"{_shown(size)}; Argo refuses Workflows over 1 MiB, so its runs would fail",
            graph.span, "run Workflow too large for Argo", help=help)
    else:
        ctx.diagnostics.warn(
            "W0404", f"a run of this pipeline on Kubeflow makes an Argo Workflow of about "
            f"{_shown(size)}, close to Argo's limit of 1 MiB; what a run adds to it may "
            "pass the limit", graph.span, "close to the size limit", help=help)
