"""Differential tests: the same pipeline built with the kfp DSL and compiled by kfp 2.17.3's
own compiler must come out as ours does: tasks, dependencies, components, executors (image,
command, args, env, resources), inputs and outputs with their types, retry and caching, the
kfp-kubernetes platform config, and conditions that mean the same.

Where we differ on purpose, the test says so and checks ours:
- The data set's PVC is deleted by the exit task of an exit handler, so it goes after a failure
  too. The SDK refuses an exit task that reads CreatePVC's output ("exit_task cannot depend on
  any other tasks"), so its pipeline here exits to a stand-in DeletePVC with a constant name.
- Conditions are compared by evaluating both, not by text: the SDK writes ``double(3)`` where
  we write ``3.0``, and a string literal with a quote, which the SDK does not escape, gives CEL
  that does not compile (the test checks ours evaluates right there).
- Task names: the SDK names every PVC task ``createpvc``/``deletepvc``; ours add the data set.

Built here: the seed example (by hand, as a KFP user would write it, and from its IR) and the
fixtures the SDK can express. gates.cnai and datasets.cnai use shapes the SDK refuses (compound
conditions, reading a gated step's output, nested exit handlers); test_kfp.py and
test_kfp_cel.py cover them.

No ``from __future__ import annotations``: kfp reads the component functions' annotations.
"""

import copy
import itertools
import re
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kfp import compiler, dsl, kubernetes

from cnai import compile_file
from cnai.context import CompileContext, Options
from cnai.driver import analyze
from cnai.semantics import ir
from cnai.source import SourceFile
from test_kfp_support import (
    EXAMPLES_DIR,
    FIXTURES,
    Doc,
    canonical,
    compiles,
    dags,
    platform_spec,
    without_prefixes,
    yaml_documents,
)
from test_kfp_support import evaluate as evaluate_condition

# The examples that compile today; later issues (loops, templates, services) extend this.
EXAMPLES = ["model_pipeline"]
SDK_FIXTURES = ["features"]
# Ours without the optimizer: the SDK has no counterpart for its passes (dropping implied
# edges, sharing one component among steps of one shape). test_kfp.py checks optimized output.
OPTIONS = Options(optimize=False)
STUB_PVC_NAME = "cnai-stub"


# ---- the seed pipeline, written by hand with the kfp DSL ------------------------------------

@dsl.container_component
def preload_imagenet(data_uri: str):  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image=OPTIONS.runtime_image("preload"), command=[
        "python", "-m", "cnai_preload", "--source", data_uri, "--dest", "/cache/imagenet"])


@dsl.container_component
def validate():  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image="great-expectations:latest",
                             command=["python", "validate.py", "--data", "/cache/imagenet"])


@dsl.container_component
def train(epochs: int, model: dsl.Output[dsl.Model]):  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image="pytorch:latest", command=[
        "python", "train.py", "--epochs", epochs, "--out", model.path])


@dsl.container_component
def evaluate(train_model: dsl.Input[dsl.Model],  # type: ignore[no-untyped-def]
             accuracy: dsl.OutputPath(float)):  # type: ignore[valid-type]
    return dsl.ContainerSpec(image="mlflow:latest", command=[
        "python", "evaluate.py", "--model", train_model.path, "--out", accuracy])


@dsl.container_component
def deploy(train_model: dsl.Input[dsl.Model]):  # type: ignore[no-untyped-def]
    return dsl.ContainerSpec(image="seldon-core:latest",
                             command=["python", "deploy.py", "--model", train_model.path])


@dsl.pipeline(name="model-pipeline", description="AI model full lifecycle")
def model_pipeline(data_uri: str = "s3://datasets/imagenet", min_accuracy: float = 0.9,
                   epochs: int = 90) -> None:
    pvc = kubernetes.CreatePVC(pvc_name_suffix="-imagenet", access_modes=["ReadWriteMany"],
                               size="500Gi").set_caching_options(False)
    cleanup = kubernetes.DeletePVC(pvc_name=STUB_PVC_NAME).set_caching_options(False)
    with dsl.ExitHandler(cleanup):
        preload = preload_imagenet(data_uri=data_uri).set_caching_options(False)
        kubernetes.mount_pvc(preload, pvc_name=pvc.outputs["name"], mount_path="/cache/imagenet")
        kubernetes.set_security_context(preload, run_as_user=0)
        checked = validate().after(preload).set_caching_options(False)
        kubernetes.mount_pvc(checked, pvc_name=pvc.outputs["name"], mount_path="/cache/imagenet")
        trained = (train(epochs=epochs).after(preload, checked).set_caching_options(False)
                   .set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(8)
                   .set_cpu_limit("32").set_memory_limit("128Gi")
                   .set_retry(num_retries=3, backoff_duration="60s", backoff_factor=1.0,
                              backoff_max_duration="2147483647s"))
        kubernetes.mount_pvc(trained, pvc_name=pvc.outputs["name"], mount_path="/cache/imagenet")
        scored = evaluate(train_model=trained.outputs["model"]).set_caching_options(False)
        with dsl.If(scored.outputs["accuracy"] > min_accuracy):
            deploy(train_model=trained.outputs["model"]).set_caching_options(False)


# ---- any SDK-expressible IR, written as a kfp DSL program -----------------------------------

PY_TYPES = {"string": "str", "int": "int", "float": "float", "bool": "bool", "list": "list"}
ARTIFACTS = {"artifact": "dsl.Artifact", "dataset": "dsl.Dataset", "model": "dsl.Model",
             "metrics": "dsl.Metrics"}


def dsl_program(pipeline: ir.Pipeline) -> str:
    """A kfp DSL program that builds ``pipeline`` (a function named ``pipeline``)."""
    lines = ["from kfp import dsl, kubernetes", ""]
    for step in pipeline.steps:
        lines += component_source(step)
    lines += pipeline_source(pipeline)
    return "\n".join(lines) + "\n"


def component_source(step: ir.Step) -> list[str]:
    params = [f"{i.name}: dsl.Input[{ARTIFACTS[i.type.name]}]" if i.type.is_artifact
              else f"{i.name}: {PY_TYPES[i.type.name]}" for i in step.inputs]
    params += [f"{o.name}: dsl.Output[{ARTIFACTS[o.type.name]}]" if o.type.is_artifact
               else f"{o.name}: dsl.OutputPath({PY_TYPES[o.type.name]})" for o in step.outputs]
    image = OPTIONS.runtime_image(step.runtime) if step.runtime else step.image
    command = ", ".join(text_source(step, t) for t in step.command)
    args = ", ".join(text_source(step, t) for t in step.args)
    return ["@dsl.container_component", f"def {step.name}({', '.join(params)}):",
            f"    return dsl.ContainerSpec(image={image!r}, command=[{command}], args=[{args}])",
            ""]


def text_source(step: ir.Step, text: ir.Text) -> str:
    pieces = []
    for part in text.parts:
        if isinstance(part, str):
            pieces.append(repr(part))
            continue
        is_artifact = (step.output(part.name) if isinstance(part, ir.OutputPath)
                       else step.input(part.name)).type.is_artifact
        pieces.append(f"f'{{{part.name}.path}}'" if is_artifact else f"f'{{{part.name}}}'")
    return pieces[0] if len(pieces) == 1 else f"''.join([{', '.join(pieces)}])"


def pipeline_source(pipeline: ir.Pipeline) -> list[str]:
    params = sorted(pipeline.params, key=lambda p: p.default is not None)  # required first
    signature = ", ".join(f"{p.name}: {PY_TYPES[p.type.name]}" + (
        "" if p.default is None else f" = {p.default!r}") for p in params)
    lines = [f"@dsl.pipeline(name={pipeline.k8s_name!r}, description={pipeline.description!r})",
             f"def pipeline({signature}):"]
    indent = "    "
    for dataset in pipeline.datasets:
        extra = "" if dataset.storage_class is None else (
            f", storage_class_name={dataset.storage_class!r}")
        lines += [f"{indent}pvc_{dataset.name} = kubernetes.CreatePVC(pvc_name_suffix="
                  f"'-{dataset.k8s_name}', access_modes=[{dataset.access_mode!r}], "
                  f"size={dataset.size!r}{extra}).set_caching_options(False)",
                  f"{indent}with dsl.ExitHandler(kubernetes.DeletePVC(pvc_name="
                  f"{STUB_PVC_NAME!r}).set_caching_options(False)):"]
        indent += "    "
    for step in pipeline.steps:
        lines += task_source(step, indent)
    return lines


def task_source(step: ir.Step, indent: str) -> list[str]:
    lines = []
    if step.when is not None:
        assert isinstance(step.when.expr, ir.Compare), "the SDK takes single comparisons"
        expr = step.when.expr
        lines.append(f"{indent}with dsl.If({value_source(expr.left)} {expr.op} "
                     f"{value_source(expr.right)}):")
        indent += "    "
    args = ", ".join(f"{i.name}={value_source(i.source)}" for i in step.inputs)
    after = ", ".join(f"t_{d.step}" for d in step.depends if d.kind in ("order", "dataset"))
    task = f"t_{step.name}"
    lines.append(f"{indent}{task} = {step.name}({args}){f'.after({after})' if after else ''}")
    calls = [f"{task}.set_caching_options({step.cache})"]
    calls += [f"{task}.set_env_variable({v.name!r}, {v.value.literal!r})"
              for v in step.env if v.value is not None]
    secrets: dict[str, dict[str, str]] = {}
    for var in step.env:
        if var.secret is not None:
            secrets.setdefault(var.secret.name, {})[var.secret.key] = var.name
    calls += [f"kubernetes.use_secret_as_env({task}, secret_name={name!r}, "
              f"secret_key_to_env={keys!r})" for name, keys in secrets.items()]
    calls += resource_calls(step, task)
    calls += [f"kubernetes.mount_pvc({task}, pvc_name=pvc_{m.dataset}.outputs['name'], "
              f"mount_path={m.path!r})" for m in step.mounts]
    if step.kind == "preload":
        calls.append(f"kubernetes.set_security_context({task}, run_as_user=0)")
    return lines + [indent + call for call in calls]


def resource_calls(step: ir.Step, task: str) -> list[str]:
    resources, calls = step.resources, []
    if resources.cpu is not None:
        calls.append(f"{task}.set_cpu_limit({resources.cpu!r})")
    if resources.memory is not None:
        calls.append(f"{task}.set_memory_limit({resources.memory!r})")
    if resources.gpu:
        calls.append(f"{task}.set_accelerator_type('nvidia.com/gpu')"
                     f".set_accelerator_limit({resources.gpu})")
    if resources.gpu_type:
        calls.append(f"kubernetes.add_node_selector({task}, label_key="
                     f"{OPTIONS.gpu_label_key!r}, label_value={resources.gpu_type!r})")
    if step.timeout_seconds is not None:
        calls.append(f"kubernetes.set_timeout({task}, {step.timeout_seconds})")
    if step.retry is not None:
        calls.append(f"{task}.set_retry(num_retries={step.retry.limit}, backoff_duration="
                     f"'{step.retry.backoff_seconds or 0}s', backoff_factor="
                     f"{float(step.retry.factor or 1)}, backoff_max_duration='2147483647s')")
    return calls


def value_source(value: ir.Source | ir.Expr) -> str:
    if isinstance(value, ir.ParamRef):
        return value.name
    if isinstance(value, ir.OutputRef):
        return f"t_{value.step}.outputs[{value.output!r}]"
    assert isinstance(value, ir.Literal_)
    return repr(value.value)


# ---- compiling both ---------------------------------------------------------------------------

def ir_of(path: Path) -> ir.Pipeline:
    """The optimised IR graph the backends receive."""
    graph = analyze(SourceFile(str(path), path.read_text()), CompileContext(options=OPTIONS))
    assert isinstance(graph, ir.Pipeline)
    return graph


def sdk_compile(pipeline_func: Any, out: Path) -> list[Doc]:
    compiler.Compiler().compile(pipeline_func, str(out))
    return yaml_documents(out.read_text())


def sdk_from_ir(pipeline: ir.Pipeline, out: Path) -> list[Doc]:
    program = dsl_program(pipeline)
    out.with_suffix(".py").write_text(program)  # kept with the YAML for anyone debugging
    namespace: dict[str, Any] = {}
    exec(compile(program, str(out.with_suffix(".py")), "exec"), namespace)
    return sdk_compile(namespace["pipeline"], out)


CASES: dict[str, tuple[Path, Callable[[Path], list[Doc]]]] = {
    "model_pipeline-by-hand": (EXAMPLES_DIR / "model_pipeline.cnai",
                               lambda out: sdk_compile(model_pipeline, out)),
    **{f"{name}-from-ir": (EXAMPLES_DIR / f"{name}.cnai",
                           lambda out, n=name: sdk_from_ir(ir_of(EXAMPLES_DIR / f"{n}.cnai"), out))
       for name in EXAMPLES},
    **{f"{name}-from-ir": (FIXTURES / f"{name}.cnai",
                           lambda out, n=name: sdk_from_ir(ir_of(FIXTURES / f"{n}.cnai"), out))
       for name in SDK_FIXTURES},
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> tuple[ir.Pipeline, list[Doc], list[Doc]]:
    source, build = CASES[request.param]
    ours = compile_file(source, "kfp", OPTIONS).documents
    theirs = build(tmp_path_factory.mktemp("sdk") / f"{request.param}.yaml")
    return ir_of(source), ours, theirs


# ---- normalising: what may differ, differs only there --------------------------------------

def sdk_renames(pipeline: ir.Pipeline, sdk: Doc) -> dict[str, str]:
    """SDK names -> ours, for the PVC tasks (createpvc, createpvc-2, ... in data set order)."""
    renames: dict[str, str] = {}
    for index, dataset in enumerate(pipeline.datasets):
        suffix = "" if index == 0 else f"-{index + 1}"
        for kind in ("createpvc", "deletepvc"):
            theirs, ours = f"{kind}{suffix}", f"{kind}-{dataset.k8s_name}"
            renames |= {theirs: ours, f"comp-{theirs}": f"comp-{ours}",
                        f"exec-{theirs}": f"exec-{ours}",
                        f"pipelinechannel--{theirs}-name": f"pipelinechannel--{ours}-name"}
    assert all(old in str(sdk) for old in renames if old.startswith("comp-"))
    return renames


def rename(value: Any, renames: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {renames.get(k, k): rename(v, renames) for k, v in value.items()}
    if isinstance(value, list):
        return [rename(v, renames) for v in value]
    return renames.get(value, value) if isinstance(value, str) else value


def without_descriptions(spec: Doc) -> Doc:
    """kfp copies component docstrings into inputDefinitions; ours carry none."""
    for component in spec["components"].values():
        for definition in component.get("inputDefinitions", {}).get("parameters", {}).values():
            definition.pop("description", None)
    return spec


def exit_tasks(spec: Doc) -> Iterator[Doc]:
    for _, dag in dags(spec):
        for task in dag["tasks"].values():
            if task.get("triggerPolicy", {}).get("strategy") == "ALL_UPSTREAM_TASKS_COMPLETED":
                yield task


def pop_conditions(spec: Doc) -> dict[str, tuple[str, Doc]]:
    """{group: (condition, the group's input types)}, taken out of ``spec``."""
    found = {}
    for _, dag in dags(spec):
        for name, task in dag["tasks"].items():
            condition = task.get("triggerPolicy", {}).pop("condition", None)
            if condition is not None:
                if not task["triggerPolicy"]:
                    del task["triggerPolicy"]
                inputs = spec["components"][f"comp-{name}"]["inputDefinitions"]["parameters"]
                found[name] = (condition, inputs)
    return found


SAMPLES = {"NUMBER_DOUBLE": [-1.0, 0.0, 0.5, 0.9, 1.0, 2.5, 3.0],
           "NUMBER_INTEGER": [-1, 0, 2, 3, 4],
           "STRING": ["", "it's", "its", 'it\'s "quoted" \\ here'], "BOOLEAN": [True, False]}


def samples(condition: str, inputs: Doc) -> Iterator[dict[str, object]]:
    names = sorted(set(re.findall(r"pipelinechannel--[\w-]+", condition)))
    for values in itertools.product(*(SAMPLES[inputs[n]["parameterType"]] for n in names)):
        yield dict(zip(names, values, strict=True))


def python_meaning(gate: ir.Gate, values: dict[str, object], steps: dict[str, str]) -> bool:
    """A single-comparison gate evaluated in Python (the SDK can express no other)."""
    expr = gate.expr
    assert isinstance(expr, ir.Compare)

    def value(side: ir.Expr) -> Any:
        if isinstance(side, ir.Literal_):
            return side.value
        if isinstance(side, ir.ParamRef):
            return values[f"pipelinechannel--{side.name}"]
        assert isinstance(side, ir.OutputRef)
        return values[f"pipelinechannel--{steps[side.step]}-{side.output}"]

    left, right = value(expr.left), value(expr.right)
    return bool({"==": left == right, "!=": left != right, "<": left < right,
                 "<=": left <= right, ">": left > right, ">=": left >= right}[expr.op])


# ---- the comparison -----------------------------------------------------------------------

def test_pipeline_spec_matches_the_sdk(case: tuple[ir.Pipeline, list[Doc], list[Doc]]) -> None:
    pipeline, ours_docs, sdk_docs = case
    renames = sdk_renames(pipeline, sdk_docs[0])
    ours = canonical(without_prefixes(ours_docs[0]))
    theirs = rename(without_descriptions(canonical(sdk_docs[0])), renames)
    for doc in (ours, theirs):
        doc.pop("sdkVersion")
    # Deliberate difference: our exit task deletes the PVC CreatePVC made; the SDK's cannot.
    ours_exits, sdk_exits = list(exit_tasks(ours)), list(exit_tasks(theirs))
    assert len(ours_exits) == len(sdk_exits) == len(pipeline.datasets)
    for exit_task, dataset in zip(ours_exits, pipeline.datasets, strict=True):
        assert exit_task["inputs"]["parameters"]["pvc_name"] == {"taskOutputParameter": {
            "producerTask": f"createpvc-{dataset.k8s_name}", "outputParameterKey": "name"}}
    for exit_task in sdk_exits:
        assert exit_task["inputs"]["parameters"]["pvc_name"] == {
            "runtimeValue": {"constant": STUB_PVC_NAME}}
    for exit_task in ours_exits + sdk_exits:
        exit_task["inputs"]["parameters"]["pvc_name"] = "the PVC"
    ours_conditions, sdk_conditions = pop_conditions(ours), pop_conditions(theirs)
    assert ours == theirs
    assert ours_conditions.keys() == sdk_conditions.keys()


def test_conditions_mean_the_same_as_the_sdk(
        case: tuple[ir.Pipeline, list[Doc], list[Doc]]) -> None:
    pipeline, ours_docs, sdk_docs = case
    ours = pop_conditions(copy.deepcopy(ours_docs[0]))
    theirs = pop_conditions(rename(sdk_docs[0], sdk_renames(pipeline, sdk_docs[0])))
    gates = {f"condition-{n}": s.when for n, s in enumerate(
        (s for s in pipeline.steps if s.when is not None), start=len(pipeline.datasets) + 1)}
    steps = {s.name: s.k8s_name for s in pipeline.steps}
    for group, (condition, inputs) in ours.items():
        sdk_condition = theirs[group][0]
        gate = gates[group]
        assert gate is not None
        checked = 0
        for values in samples(condition, inputs):
            expected = python_meaning(gate, values, steps)
            assert evaluate_condition(condition, values) is expected, (condition, values)
            if compiles(sdk_condition):
                assert evaluate_condition(sdk_condition, values) is expected, (
                    sdk_condition, values)
            checked += 1
        assert checked >= 2
        # Deliberate difference: the SDK leaves ' in a string literal unescaped.
        quoted = any(isinstance(side, ir.Literal_) and "'" in str(side.value)
                     for side in (gate.expr.left, gate.expr.right))  # type: ignore[union-attr]
        assert compiles(sdk_condition) is not quoted, sdk_condition


def test_platform_config_matches_the_sdk(case: tuple[ir.Pipeline, list[Doc], list[Doc]]) -> None:
    pipeline, ours_docs, sdk_docs = case
    if len(sdk_docs) == 1:
        assert len(ours_docs) == 1
        return
    ours = {k: v for k, v in platform_spec(ours_docs[1]).items()}
    theirs = platform_spec(rename(sdk_docs[1], sdk_renames(pipeline, sdk_docs[0])))
    assert ours == theirs


def test_generated_program_is_readable() -> None:
    """The DSL the fixtures are checked against, for the seed (a reviewer can read it)."""
    program = dsl_program(ir_of(EXAMPLES_DIR / "model_pipeline.cnai"))
    assert textwrap.dedent("""\
        @dsl.container_component
        def train(epochs: int, model: dsl.Output[dsl.Model]):
            return dsl.ContainerSpec(image='pytorch:latest', command=['python', 'train.py', \
'--epochs', f'{epochs}', '--out', f'{model.path}'], args=[])
        """) in program
    assert "    with dsl.ExitHandler(kubernetes.DeletePVC(pvc_name='cnai-stub')" in program
