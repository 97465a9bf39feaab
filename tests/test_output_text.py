"""Values crossing loops and gates decide the same on Argo, Kubeflow and `cnai run --local`
(issue 14, items 3, 8 and 9), each engine emulated from the emitted objects by its own rules:

- Argo: the executor trims one trailing newline from an output (workflow/executor/
  executor.go); ``when`` and ``valueFrom.expression`` are expr-lang (tests/exprlang.py); a
  loop's outputs are aggregated over the iterations that succeeded (workflow/controller/
  operator.go, processAggregateNodeOutputs and aggregatedJSONValueList); a body output whose
  reference is absent and has no default fails the loop (getTemplateOutputsFromScope).
- Kubeflow: the launcher parses an output file by its parameterType (backend/src/v2/metadata/
  converter.go, TextToPbValue) and fails the step when it cannot; a condition is CEL over the
  group's inputs (test_kfp_support.evaluate); a fan-in is the list of the iterations' values
  (backend/src/v2/driver/resolve.go, CollectInputs).
- Local: the pipeline is run.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from cnai import compile_source
from cnai.cli import main
from cnai.context import CompileContext, Options
from cnai.driver import CompileFailed, analyze
from cnai.lowering import skippable_in_loop
from cnai.output_text import FALSE_TEXTS, GO_SPACE, TRUE_TEXTS
from cnai.source import SourceFile
from exprlang import ExprError, evaluate
from test_kfp_support import evaluate as evaluate_cel
from test_kfp_support import group_of

Doc = dict[str, Any]
PYTHON = json.dumps(sys.executable)
WRITE = json.dumps("import sys; open(sys.argv[2], 'w').write(sys.argv[1])")


# ---- the engines ---------------------------------------------------------------------------

class ProducerFails(Exception):
    """Kubeflow's launcher refuses the output file: the producing step fails."""


def kfp_value(text: str, parameter_type: str) -> object:
    """TextToPbValue: strings as written; numbers and bools after strings.TrimSpace, with
    strconv.ParseInt / ParseFloat / ParseBool (an int is stored as a double)."""
    trimmed = text.strip(GO_SPACE)
    if parameter_type == "STRING":
        return text
    if parameter_type == "NUMBER_INTEGER":
        if not re.fullmatch(r"[+-]?\d+", trimmed):
            raise ProducerFails(text)
        return float(int(trimmed))
    if parameter_type == "NUMBER_DOUBLE":
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", trimmed):
            raise ProducerFails(text)
        return float(trimmed)
    if parameter_type == "BOOLEAN":  # strconv/atob.go
        if trimmed not in TRUE_TEXTS + FALSE_TEXTS:
            raise ProducerFails(text)
        return trimmed in TRUE_TEXTS
    raise AssertionError(parameter_type)


def argo_text(raw: str) -> str:
    return raw.removesuffix("\n")  # executor.go: strings.TrimSuffix(output, "\n")


def argo_when(when: str, env: Mapping[str, Any]) -> bool:
    """A task's ``when``: the expression tag's value, which govaluate then reads."""
    assert when.startswith("{{=") and when.endswith("}}"), when
    result = evaluate(when[3:-2], env)
    assert isinstance(result, bool), result
    return result


def argo_arguments(value: str, env: Mapping[str, Any]) -> str:
    """A task argument: an expression tag is evaluated, a simple tag substituted."""
    if value.startswith("{{="):
        result = evaluate(value[3:-2], env)
        assert isinstance(result, str)
        return result
    match = re.fullmatch(r"\{\{tasks\.([a-z0-9-]+)\.outputs\.parameters\.(\w+)\}\}", value)
    assert match, value
    return str(env["tasks"][match.group(1)]["outputs"]["parameters"][match.group(2)])


def argo_aggregate(values: list[str]) -> str:
    """aggregatedJSONValueList: the values parsed when every one is a JSON list or object,
    else the list of their texts."""
    parsed = []
    for value in values:
        try:
            item = json.loads(value)
        except ValueError:
            return json.dumps(values, separators=(",", ":"))
        if not isinstance(item, (list, dict)):
            return json.dumps(values, separators=(",", ":"))
        parsed.append(item)
    return json.dumps(parsed, separators=(",", ":"))


def run_local(tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str,
              *params: str) -> dict[str, Any]:
    path = tmp_path / "p.cnai"
    path.write_text(source, encoding="utf-8")
    workdir = tmp_path / "runs"
    before = set(workdir.iterdir()) if workdir.exists() else set()
    extra = [arg for param in params for arg in ("-p", param)]
    main(["run", str(path), "--local", "--workdir", str(workdir), *extra])
    capsys.readouterr()
    (folder,) = set(workdir.iterdir()) - before
    nodes = json.loads((folder / "run.json").read_text(encoding="utf-8"))["nodes"]
    return {node["id"]: node for node in nodes}


def documents(source: str, target: str) -> list[Doc]:
    return list(yaml.safe_load_all(compile_source(source, "p.cnai", target).text))


# ---- item 9: one reading of output text, the gate matrix -----------------------------------

GATES = """pipeline m {
  param text: string = ""
  step word { image = "python:3.12"  command = [PY, "-c", WRITE, text, outputs.v]
              output v: string }
  step flag { image = "python:3.12"  command = [PY, "-c", WRITE, text, outputs.v]
              output v: bool }
  step count { image = "python:3.12"  command = [PY, "-c", WRITE, text, outputs.v]
               output v: int }
  step is_done when word.v == "done" { image = "busybox:1.36"  command = ["true"] }
  step not_param when word.v != text { image = "busybox:1.36"  command = ["true"] }
  step is_on when flag.v { image = "busybox:1.36"  command = ["true"] }
  step is_off when not flag.v { image = "busybox:1.36"  command = ["true"] }
  step many when count.v > 2 { image = "busybox:1.36"  command = ["true"] }
}
""".replace("PY", PYTHON).replace("WRITE", WRITE)
GATED = {"is_done": "word", "not_param": "word", "is_on": "flag", "is_off": "flag",
         "many": "count"}
TEXTS = ["done", "done\n", "done\n\n", " done", "Done", "", "\n",
         "true", "true\n", "True", "True\n", "TRUE", "t", "T", "1", " 1 \n", "yes",
         "false", "False\n", "FALSE", "f", "0", "0\n",
         "3", "3\n", " 3 ", "2", "-7", "3.0"]


def argo_decisions(doc: Doc, raw: str) -> dict[str, bool | str]:
    tasks = {t["name"]: t for t in doc["spec"]["templates"][0]["dag"]["tasks"]}
    env = {"tasks": {p: {"outputs": {"parameters": {"v": argo_text(raw)}}}
                     for p in ("word", "flag", "count")},
           "workflow": {"parameters": {"text": raw}}}
    found: dict[str, bool | str] = {}
    for gated in GATED:
        try:
            found[gated] = argo_when(tasks[gated.replace("_", "-")]["when"], env)
        except ExprError:
            found[gated] = "error"
    return found


def kfp_decisions(spec: Doc, raw: str) -> dict[str, bool | str]:
    found: dict[str, bool | str] = {}
    for gated, producer in GATED.items():
        kind = spec["components"][f"comp-{producer}"]["outputDefinitions"]["parameters"]["v"][
            "parameterType"]
        try:
            value = kfp_value(raw, kind)
        except ProducerFails:
            found[gated] = "producer fails"
            continue
        _, group = group_of(spec, gated.replace("_", "-"))
        values: dict[str, object] = {}
        for name, source in group["inputs"]["parameters"].items():
            values[name] = value if "taskOutputParameter" in source else raw
        found[gated] = evaluate_cel(group["triggerPolicy"]["condition"], values)
    return found


def local_decisions(nodes: Mapping[str, Any]) -> dict[str, bool | str]:
    found: dict[str, bool | str] = {}
    for gated, producer in GATED.items():
        if nodes[producer]["status"] != "Succeeded":
            found[gated] = "producer fails"
        else:
            found[gated] = {"Succeeded": True, "Skipped": False}[nodes[gated]["status"]]
    return found


@pytest.fixture(scope="module")
def gate_targets() -> tuple[Doc, Doc]:
    (argo,) = documents(GATES, "argo")
    (kfp,) = documents(GATES, "kfp")
    return argo, kfp


@pytest.mark.parametrize("raw", TEXTS, ids=[repr(t) for t in TEXTS])
def test_every_gate_decides_the_same_on_argo_kubeflow_and_locally(
        gate_targets: tuple[Doc, Doc], raw: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    argo, kfp = argo_decisions(gate_targets[0], raw), kfp_decisions(gate_targets[1], raw)
    local = local_decisions(run_local(tmp_path, capsys, GATES, f"text={raw}"))
    for gated in GATED:
        if kfp[gated] == "producer fails":
            # The launcher refuses the text (`yes` for a bool, `3.0` for an int); the local
            # runner fails the step the same way. Argo cannot: it reads any text.
            assert local[gated] == "producer fails", gated
        else:
            assert argo[gated] == kfp[gated] == local[gated], (gated, argo, kfp, local)


def test_the_issues_two_cases(gate_targets: tuple[Doc, Doc]) -> None:
    argo, kfp = gate_targets
    # `echo done > out` then `when s.status == "done"`: runs on both.
    assert argo_decisions(argo, "done\n")["is_done"] is True
    assert kfp_decisions(kfp, "done\n")["is_done"] is True
    # `print(True)` then `when s.ok`: runs on both.
    assert argo_decisions(argo, "True\n")["is_on"] is True
    assert kfp_decisions(kfp, "True\n")["is_on"] is True


# ---- items 3 and 8: typed fan-in, skipped iterations -----------------------------------------

FAN_IN = """pipeline g {
  param xs: list[int] = [1, 2, 3]
  for x in xs PARALLEL {
    step sq { image = "python:3.12"  command = [PY, "-c", WRITE, "${x}", outputs.v]
              output v: int }
    step half { image = "python:3.12"  command = [PY, "-c", WRITE, "${x}.5\\n", outputs.f]
                output f: float }
    step odd { image = "python:3.12"  command = [PY, "-c", WRITE, "True", outputs.b]
               output b: bool }
    step name { image = "python:3.12"  command = [PY, "-c", WRITE, "n${x}", outputs.s]
                output s: string }
    GATED
  }
  step gather {
    image = "python:3.12"
    command = [PY, "-c", "import sys, json; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))",
               outputs.got, "${sq.v}", "${half.f}", "${odd.b}", "${name.s}" READS]
    output got: string
  }
}
""".replace("PY", PYTHON).replace("WRITE", WRITE)
SKIPPING = """step maybe when x > 1 { image = "python:3.12"
      command = [PY, "-c", WRITE, "${x}\\n", outputs.v]  output v: int }
    if x > 2 { step branchy { image = "python:3.12"
      command = [PY, "-c", WRITE, "b${x}", outputs.w]  output w: string } }
""".replace("PY", PYTHON).replace("WRITE", WRITE)
TYPED = [[1, 2, 3], [1.5, 2.5, 3.5], [True, True, True], ["n1", "n2", "n3"]]


def fan_in(parallel: str, skipping: bool) -> str:
    reads = ', "${maybe.v}", "${branchy.w}"' if skipping else ""
    return (FAN_IN.replace("PARALLEL", parallel).replace("GATED", SKIPPING if skipping else "")
            .replace("READS", reads))


def argo_fan_in(doc: Doc) -> list[object]:
    """What `gather` receives on Argo, each argument parsed as JSON, for xs = [1, 2, 3]."""
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    main_tasks = {t["name"]: t for t in templates["main"]["dag"]["tasks"]}
    body = templates["for-x-body"]
    body_tasks = {t["name"]: t for t in body["dag"]["tasks"]}
    exported: dict[str, list[str]] = {}
    for x in (1, 2, 3):
        env: dict[str, Any] = {"inputs": {"parameters": {"x": str(x)}}, "tasks": {}}
        for name, task in body_tasks.items():
            if "when" in task and not argo_when(task["when"], env):
                env["tasks"][name] = {"status": "Skipped"}
                continue
            command = " ".join(templates[task["template"]]["container"]["command"])
            written = {"sq": f"{x}", "half": f"{x}.5\n", "odd": "True", "name": f"n{x}",
                       "maybe": f"{x}\n", "branchy": f"b{x}"}[name]
            assert "{{inputs.parameters.x}}" in command or name == "odd"
            (output,) = templates[task["template"]]["outputs"]["parameters"]
            env["tasks"][name] = {"status": "Succeeded", "outputs": {"parameters": {
                output["name"]: argo_text(written)}}}
        for output in body["outputs"]["parameters"]:
            value_from = output["valueFrom"]
            if "expression" in value_from:
                value = evaluate(value_from["expression"], env)
            else:  # a plain reference: absent when its task was skipped
                task, key = re.findall(r"tasks\.([a-z0-9-]+)\.outputs\.parameters\.(\w+)",
                                       value_from["parameter"])[0]
                found = env["tasks"][task].get("outputs", {}).get("parameters", {}).get(key)
                if found is None and "default" not in value_from:
                    raise ExprError(f"{output['name']} is absent: the loop fails")
                value = found if found is not None else value_from["default"]
            exported.setdefault(output["name"], []).append(value)
    aggregated = {name: argo_aggregate(values) for name, values in exported.items()}
    loop = "for-x"
    env = {"tasks": {loop: {"outputs": {"parameters": aggregated}}}}
    gather = main_tasks["gather"]["arguments"]["parameters"]
    return [json.loads(argo_arguments(p["value"], env)) for p in gather]


def kfp_fan_in(spec: Doc) -> list[object]:
    """What `gather` receives on Kubeflow: per input, the list of the producer's values as the
    launcher stored them, serialised as JSON."""
    gather = spec["root"]["dag"]["tasks"]["gather"]["inputs"]["parameters"]
    written = {"sq": "{x}", "half": "{x}.5\n", "odd": "True", "name": "n{x}"}
    received = []
    for name in sorted(gather):
        producer = name.split("_")[0]
        kind = spec["components"][f"comp-{producer}"]["outputDefinitions"]["parameters"]
        (parameter_type,) = [d["parameterType"] for d in kind.values()]
        values = [kfp_value(written[producer].format(x=x), parameter_type) for x in (1, 2, 3)]
        received.append(json.loads(json.dumps(values)))
    order = {"sq_v": 0, "half_f": 1, "odd_b": 2, "name_s": 3}
    return [v for _, v in sorted(zip([order[n] for n in sorted(gather)], received,
                                     strict=True))]


@pytest.mark.parametrize("parallel", ["", "parallel 2"])
def test_a_fan_in_is_typed_as_declared_on_both_targets(parallel: str) -> None:
    source = fan_in(parallel, skipping=False)
    (argo,) = documents(source, "argo")
    (kfp,) = documents(source, "kfp")
    assert argo_fan_in(argo) == TYPED
    assert kfp_fan_in(kfp) == TYPED
    # `sum(json.loads(...))` works on both: the numbers are numbers.
    assert sum(argo_fan_in(argo)[0]) == sum(kfp_fan_in(kfp)[0]) == 6  # type: ignore[arg-type]


def test_the_local_fan_in_is_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = run_local(tmp_path, capsys, fan_in("", skipping=True))
    got = [json.loads(text) for text in json.loads(nodes["gather"]["outputs"]["got"]["value"])]
    assert got == [*TYPED, [2, 3], ["b3"]]


@pytest.mark.parametrize("parallel", ["", "parallel 2"])
def test_skipped_iterations_add_nothing_on_argo(parallel: str) -> None:
    (argo,) = documents(fan_in(parallel, skipping=True), "argo")
    assert argo_fan_in(argo) == [*TYPED, [2, 3], ["b3"]]


def test_kubeflow_refuses_a_fan_in_of_a_step_it_may_skip() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source(fan_in("", skipping=True), "p.cnai", "kfp")
    found = [d for d in failure.value.diagnostics if d.code.startswith("E")]
    assert [d.code for d in found] == ["E0401", "E0401"]
    assert "`maybe.v` is gathered over loop `x`" in found[0].message
    assert "`branchy.w` is gathered over loop `x`" in found[1].message



def test_the_expr_emulation_reads_as_expr_lang_does() -> None:
    assert evaluate("asInt('3') + 1", {}) == 4
    for text in ("'3.0'", "' 3'", "'3\\n'"):  # strconv.Atoi: digits only
        with pytest.raises(ExprError):
            evaluate(f"asInt({text})", {})
    assert evaluate("asFloat('1e-3') > 0.0005", {})
    assert evaluate("trim('\\u00a0 x \\n')", {}) == "x"
    assert evaluate("toJson([1.0, 0.5, true, \"a\"])", {}) == '[1,0.5,true,"a"]'
    assert evaluate("1 == 1.0 && !(true == 1)", {})
    with pytest.raises(ExprError):  # a member of nil is an error, not nil
        evaluate("tasks['x'].status", {"tasks": {}})


def test_which_steps_a_loop_may_skip() -> None:
    source = """pipeline p {
      param go: bool = true
      step before when go { image = "x"  output v: int }
      for x in [1, 2] {
        step always { image = "x"  command = ["${before.v}"]  output v: int }
        step gated when x > 1 { image = "x"  output v: int }
        step after_gated { image = "x"  command = ["${gated.v}"]  output v: int }
        if x > 1 { step branched { image = "x"  output v: int } }
      }
    }"""
    pipeline = analyze(SourceFile("p.cnai", source), CompileContext(options=Options()))
    # `always` waits for a step gated outside the loop: if that one is skipped, the whole
    # loop is, and so is whatever reads the fan-in; no iteration differs.
    assert skippable_in_loop(pipeline) == {"gated", "after_gated", "branched"}
