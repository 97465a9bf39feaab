"""Text reaches the container as written (cnai issue 14, items 1, 6, 15, 16), read the way the
engines read it: Argo's substitution of ``{{inputs.parameters.X}}`` or KFP's of
``{{$.inputs.parameters['X']}}``, then Kubernetes' ``$(VAR)`` / ``$$`` expansion
(k8s_expansion.py), on both targets, with and without the optimizer."""

from __future__ import annotations

import re
from typing import Any

import pytest

from cnai import compile_source
from cnai.context import Options
from cnai.driver import CompileFailed
from k8s_expansion import expand, run_container
from test_kfp_support import step_command

OPTIMIZED = [Options(), Options(optimize=False)]
DOLLARS = """
pipeline dollars {
  step s {
    image   = "busybox:1.36"
    command = ["sh", "-c", "echo $$ pid", "price: \\$\\$5", "$(MODE)", "end$"]
    env { MODE = "fast"  RAW = "x$$y"  REF = "$(MODE)" }
  }
}
"""
AS_WRITTEN = ["sh", "-c", "echo $$ pid", "price: $$5", "$(MODE)", "end$"]
AS_WRITTEN_ENV = {"MODE": "fast", "RAW": "x$$y", "REF": "$(MODE)"}
# Two steps on an image without a shell that differ in one word: they share a template.
SHARED = """
pipeline shared {
  param lr: float = 0.1
  step one { image = "gcr.io/distroless/static"  command = ["/app", "--mode", "one"] }
  step two { image = "gcr.io/distroless/static"  command = ["/app", "--mode", "$(two)"] }
  step three { image = "gcr.io/distroless/static"  command = ["/app", "--lr", lr, "\\$5"] }
  step four { image = "gcr.io/distroless/static"  command = ["/app", "--lr", lr, "$$"] }
}
"""
SHARED_ARGV = {"one": ["/app", "--mode", "one"], "two": ["/app", "--mode", "$(two)"],
               "three": ["/app", "--lr", "0.1", "$5"], "four": ["/app", "--lr", "0.1", "$$"]}
ARGO_PARAMETER = re.compile(r"\{\{inputs\.parameters\.([A-Za-z0-9_-]+)\}\}")
KFP_PARAMETER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")


# ---- Argo: the controller substitutes the task's arguments, then the kubelet expands --------

def argo_pods(text: str, options: Options) -> dict[str, dict[str, Any]]:
    """Each task's container with its parameters substituted as Argo does (defaults of
    workflow parameters for ``{{workflow.parameters.X}}`` arguments)."""
    workflow = compile_source(text, "t.cnai", "argo", options).documents[0]
    spec = workflow["spec"]
    defaults = {p["name"]: p.get("value", "") for p in spec.get("arguments", {}).get(
        "parameters", [])}
    templates = {t["name"]: t for t in spec["templates"]}
    pods = {}
    for task in templates["main"]["dag"]["tasks"]:
        values = {}
        for argument in task.get("arguments", {}).get("parameters", []):
            values[argument["name"]] = re.sub(
                r"\{\{workflow\.parameters\.([A-Za-z0-9_-]+)\}\}",
                lambda m: defaults[m.group(1)], argument["value"])
        container = templates[task["template"]]["container"]
        pods[task["name"]] = _substitute(container, ARGO_PARAMETER, values)
    return pods


def _substitute(obj: Any, pattern: re.Pattern[str], values: dict[str, str]) -> Any:
    if isinstance(obj, str):
        return pattern.sub(lambda m: values[m.group(1)], obj)
    if isinstance(obj, list):
        return [_substitute(item, pattern, values) for item in obj]
    if isinstance(obj, dict):
        return {key: _substitute(value, pattern, values) for key, value in obj.items()}
    return obj


# ---- KFP: the driver substitutes input parameters, then the kubelet expands ---------------

def kfp_pods(text: str, options: Options) -> dict[str, dict[str, Any]]:
    """Each task's container as the driver makes it: the executor's command and args with
    ``{{$.inputs.parameters['X']}}`` replaced by the task's constant or the pipeline
    parameter's default (driver.go, initPodSpecPatch: command and args become the pod's
    ``args`` behind the launcher, the env its ``env``)."""
    spec = compile_source(text, "t.cnai", "kfp", options).documents[0]
    defaults = {name: str(p.get("defaultValue", "")) for name, p in spec["root"].get(
        "inputDefinitions", {}).get("parameters", {}).items()}
    pods = {}
    for name, task in spec["root"]["dag"]["tasks"].items():
        values = {}
        for key, value in task.get("inputs", {}).get("parameters", {}).items():
            if "runtimeValue" in value:
                values[key] = value["runtimeValue"]["constant"]
            else:
                values[key] = defaults[value["componentInputParameter"]]
        executor = spec["components"][task["componentRef"]["name"]]["executorLabel"]
        container = spec["deploymentSpec"]["executors"][executor]["container"]
        pods[name] = _substitute(container, KFP_PARAMETER, values)
    return pods


def kfp_argv(container: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The step's own argv (the contract's prefix passes its values as arguments, so they are
    expanded too, and are not the step's command) and env."""
    argv, env = run_container(container)
    return step_command(argv), env


# ---- item 1: literal `$` ---------------------------------------------------------------

@pytest.mark.parametrize("options", OPTIMIZED)
def test_literal_dollars_reach_the_argo_container_as_written(options: Options) -> None:
    argv, env = run_container(argo_pods(DOLLARS, options)["s"])
    assert argv == AS_WRITTEN
    assert env == AS_WRITTEN_ENV


@pytest.mark.parametrize("options", OPTIMIZED)
def test_literal_dollars_reach_the_kfp_container_as_written(options: Options) -> None:
    argv, env = kfp_argv(kfp_pods(DOLLARS, options)["s"])
    assert argv == AS_WRITTEN
    assert env == AS_WRITTEN_ENV


def test_kfp_prefix_passes_dollars_in_env_references_and_fixed_paths_exactly() -> None:
    text = """
pipeline p {
  param who: string = "me"
  step s {
    image   = "python:3.12"
    command = ["sh", "-c", "echo \\$1", outputs.x]
    env { GREETING = "$$ ${who} $(HOME)" }
    output x: string at "/tmp/$$x"
  }
}
"""
    container = kfp_pods(text, Options())["s"]
    argv, _ = run_container(container)
    assert step_command(argv) == ["sh", "-c", "echo $1", "/tmp/$$x"]
    # The prefix's own values: outputs' JSON, artifacts, the env reference, the fixed path.
    values = argv[4:len(argv) - 4]
    assert values[0] == '{"x":"/tmp/$$x"}'
    assert "$$ me $(HOME)" in values
    assert values[-2] == "/tmp/$$x"


def test_the_contract_prefix_is_unchanged_by_the_kubelet() -> None:
    text = """
pipeline p {
  param who: string = "me"
  step s { image = "python:3.12"  command = ["run", who]  output x: string at "/p" }
  finally {
    step f { image = "python:3.12"  command = ["note", pipeline.status] }
  }
}
"""
    spec = compile_source(text, "t.cnai", "kfp").documents[0]
    scripts = [e["container"]["command"][2] for e in spec["deploymentSpec"]["executors"].values()]
    assert len(scripts) == 2 and all(s.startswith("_cnai") or "export" in s for s in scripts)
    for script in scripts:
        assert expand(script, {"HOME": "/root", "CNAI_OUTPUTS": "x"}) == script


def test_kfp_training_job_manifest_keeps_dollars_for_its_own_pods() -> None:
    text = """
pipeline p {
  step train {
    image = "trainer:1"
    command = ["python", "t.py", "\\$\\$5", "$(X)"]
    env { X = "x" }
    distributed pytorch { masters = 1  workers = 1 }
  }
}
"""
    import json

    container = compile_source(text, "t.cnai", "kfp").documents[0]["deploymentSpec"][
        "executors"]["exec-train"]["container"]
    argv, _ = run_container(container)
    manifest = json.loads(argv[argv.index("--manifest-text") + 1])
    pod = manifest["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    inner, _ = run_container(pod["containers"][0])
    assert inner == ["python", "t.py", "$$5", "$(X)"]


# ---- item 6: sharing a template keeps the command as written -------------------------

@pytest.mark.parametrize("options", OPTIMIZED)
def test_shared_templates_run_each_command_as_written_on_kfp(options: Options) -> None:
    pods = kfp_pods(SHARED, options)
    for name, argv in SHARED_ARGV.items():
        got, env = run_container(pods[name])
        if name in ("one", "two"):  # nothing passed: no prefix, no shell, no contract
            assert got == argv
            assert env == {}
        else:
            assert got[:2] == ["sh", "-c"]
            assert step_command(got) == argv
            assert "CNAI_INPUT_ARG" not in got[2]


@pytest.mark.parametrize("options", OPTIMIZED)
def test_shared_templates_run_each_command_as_written_on_argo(options: Options) -> None:
    pods = argo_pods(SHARED, options)
    for name, argv in SHARED_ARGV.items():
        got, env = run_container(pods[name])
        assert got == argv
        assert env == ({} if name in ("one", "two") else {"CNAI_INPUT_LR": "0.1"})


def test_the_optimizer_does_share_those_templates() -> None:
    kfp = compile_source(SHARED, "t.cnai", "kfp").documents[0]["deploymentSpec"]["executors"]
    assert len(kfp) == 2
    argo = compile_source(SHARED, "t.cnai", "argo").documents[0]["spec"]["templates"]
    assert len(argo) == 3  # main and two shared templates


def test_lifted_words_and_renamed_inputs_never_take_a_param_s_name() -> None:
    text = """
pipeline p {
  param ARG3: string = "x"
  param input1: string = "y"
  step a { image = "t"  command = ["run", ARG3, "one", input1] }
  step b { image = "t"  command = ["run", ARG3, "two", input1] }
}
"""
    for options in OPTIMIZED:
        pods = argo_pods(text, options)
        assert run_container(pods["a"])[0] == ["run", "x", "one", "y"]
        assert run_container(pods["b"])[0] == ["run", "x", "two", "y"]
        assert run_container(pods["a"])[1] == {"CNAI_INPUT_ARG3": "x", "CNAI_INPUT_INPUT1": "y"}


# ---- item 16: names that collide in the runtime contract ---------------------------------

def test_params_differing_in_case_read_by_one_step_are_refused() -> None:
    text = """
pipeline p {
  param lr: float = 0.1
  param LR: float = 0.2
  step a { image = "busybox:1.36"  command = ["echo", lr, "${LR}"] }
}
"""
    for target in ("argo", "kfp"):
        with pytest.raises(CompileFailed) as failed:
            compile_source(text, "t.cnai", target)
        (error,) = failed.value.diagnostics
        assert error.code == "E0114"
        assert error.message == ("step `a` reads `lr` and `LR`, which are both "
                                 "`CNAI_INPUT_LR` to the step's code")


def test_params_differing_in_case_in_different_steps_are_fine() -> None:
    text = """
pipeline p {
  param lr: float = 0.1
  param LR: float = 0.2
  step a { image = "busybox:1.36"  command = ["echo", lr] }
  step b { image = "busybox:1.36"  command = ["echo", LR] }
}
"""
    pods = argo_pods(text, Options(optimize=False))
    assert run_container(pods["a"])[1] == {"CNAI_INPUT_LR": "0.1"}
    assert run_container(pods["b"])[1] == {"CNAI_INPUT_LR": "0.2"}


def test_names_the_compiler_makes_are_distinct_ignoring_case() -> None:
    text = """
pipeline p {
  step a {
    image = "t"  command = ["run", outputs.x, outputs.X]  output x: string  output X: string
  }
  step b { image = "t"  command = ["use", a.x, a.X] }
}
"""
    for options in OPTIMIZED:
        env = run_container(argo_pods(text, options)["b"])[1]
        names = [name for name in env if name.startswith("CNAI_INPUT_")]
        assert len(names) == 2 == len({n.upper() for n in names})
        spec = compile_source(text, "t.cnai", "kfp", options).documents[0]
        (container,) = [e["container"] for k, e in spec["deploymentSpec"]["executors"].items()
                        if "use" in e["container"]["command"]]
        exports = re.findall(r"(CNAI_INPUT_\w+)=", container["command"][2])
        assert len(exports) == 2 == len(set(exports))


# ---- the helper itself --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expanded"), [
    ("$$", "$"), ("$$$", "$$"), ("$$(A)", "$(A)"), ("$(A)", "a"), ("$(B)", "$(B)"),
    ("$(A", "$(A"), ("a$", "a$"), ("$x", "$x"), ("${A}", "${A}"), ("$$$(A)", "$a")])
def test_expansion_follows_kubernetes(text: str, expanded: str) -> None:
    assert expand(text, {"A": "a"}) == expanded


def test_params_keep_their_names_whatever_the_step_reads_first() -> None:
    text = """
pipeline p {
  param A_B: string = "param"
  step a { image = "t"  command = ["run", outputs.b]  output b: string }
  step c { image = "t"  command = ["use", a.b, A_B] }
}
"""
    for options in OPTIMIZED:
        env = run_container(argo_pods(text, options)["c"])[1]
        assert env["CNAI_INPUT_A_B"] == "param"
        assert len([n for n in env if n.startswith("CNAI_INPUT_")]) == 2


def test_a_loop_variable_and_a_param_differing_in_case_are_refused() -> None:
    text = """
pipeline p {
  param lr: float = 0.1
  for LR in [0.1, 0.2] {
    step a { image = "busybox:1.36"  command = ["echo", lr, LR] }
  }
}
"""
    with pytest.raises(CompileFailed) as failed:
        compile_source(text, "t.cnai", "argo")
    assert [d.code for d in failed.value.diagnostics] == ["E0114"]


RUNTIME = """
pipeline p {
  param raw: string = "x$$y $(MODE) $5"
  step s { image = "busybox:1.36"  command = ["echo", raw]  env { MODE = "fast" } }
}
"""


def test_runtime_values_are_expanded_by_kubernetes_alike_on_both_targets() -> None:
    """The documented choice (docs/argo.md, "Text that Kubernetes or Argo would read"):
    values pasted in at run time are not escaped, on Argo as on Kubeflow, where no escape
    exists; the kubelet expands them, and both targets give the same text."""
    expanded = "x$y fast $5"
    argo_argv, argo_env = run_container(argo_pods(RUNTIME, Options())["s"])
    kfp_container = kfp_pods(RUNTIME, Options())["s"]
    kfp_all, _ = run_container(kfp_container)
    assert argo_argv == ["echo", expanded] == step_command(kfp_all)
    # An env value sees only the variables before it: MODE comes after the contract's.
    assert argo_env["CNAI_INPUT_RAW"] == "x$y $(MODE) $5"
    assert expanded in kfp_all[4:]  # the prefix exports CNAI_INPUT_RAW from this argument
