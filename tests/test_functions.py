"""Function steps (issue #18, docs/language.md "Function steps"): a Python function of an
imported .py file as a step, checked against its signature, run as Argo runs a script template,
as Kubeflow runs a lightweight component, and by `cnai run --local`."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kfp import components

from cnai import compile_file
from cnai.diagnostics import render
from cnai.driver import CompileFailed
from k8s_expansion import run_container
from schemacheck import assert_all_valid
from test_kfp_support import pipeline_spec, step_command
from testpaths import EXAMPLES, ROOT

EXAMPLE = EXAMPLES / "functions.cnai"
SOURCE = EXAMPLES / "functions.py"
SDK = ROOT / "runtime_images" / "sdk"
KFP_PLACEHOLDER = re.compile(r"\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\]"
                             r"(?:\.(path|output_file))?\}\}")


def write(tmp_path: Path, python: str, cnai: str) -> Path:
    (tmp_path / "steps.py").write_text(python, encoding="utf-8")
    path = tmp_path / "p.cnai"
    path.write_text('import "steps.py"\n' + cnai, encoding="utf-8")
    return path


def run_locally(path: Path, tmp_path: Path) -> Path:
    """``cnai run --local`` of ``path`` in a process of its own; the run's directory."""
    done = subprocess.run([sys.executable, "-m", "cnai", "run", str(path), "--local",
                           "--workdir", str(tmp_path / "runs")],
                          env={**os.environ, "PYTHONPATH": str(ROOT / "compiler")},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    (run,) = (tmp_path / "runs").iterdir()
    return run


def failure(path: Path) -> CompileFailed:
    with pytest.raises(CompileFailed) as caught:
        compile_file(path, "argo")
    return caught.value


def rendered(error: CompileFailed) -> str:
    return render.render_text(error.diagnostics, error.sources)


# ---- the example on both targets --------------------------------------------------------

def test_the_example_is_strictly_valid_argo_with_script_templates() -> None:
    documents = compile_file(EXAMPLE, "argo").documents
    assert_all_valid(documents)
    scripts = {t["name"]: t["script"] for t in documents[0]["spec"]["templates"]
               if "script" in t}
    assert set(scripts) == {"prepare", "train", "evaluate", "pick", "publish"}
    # The example's source has no `{{` nor `$`: embedded as written.
    assert {s["source"] for s in scripts.values()} == {SOURCE.read_text(encoding="utf-8")}
    train = scripts["train"]["command"]
    assert train[:2] == ["sh", "-ec"] and "'numpy==2.1.3'" not in train[2]
    assert "python3 -m pip install --quiet --no-warn-script-location numpy==2.1.3" in train[2]
    # The gate reads the scalar metric's output parameter.
    publish = next(t for t in documents[0]["spec"]["templates"]
                   if t["name"] == "for-config-body")
    gate = next(t for t in publish["dag"]["tasks"] if t["name"] == "publish")["when"]
    assert "scores-accuracy" in gate
    assert train[2].endswith('exec "$@"')


def kfp_function_commands(documents: list[dict[str, Any]]) -> dict[str, list[str]]:
    executors = documents[0]["deploymentSpec"]["executors"]
    return {name.removeprefix("exec-"): step_command(e["container"]["command"])
            for name, e in executors.items()}


def test_the_example_loads_with_kfp_and_embeds_the_source_byte_for_byte() -> None:
    result = compile_file(EXAMPLE, "kfp")
    components.load_component_from_text(result.text)
    pipeline_spec(result.documents[0])
    text = SOURCE.read_text(encoding="utf-8")
    functions = {node.name: ast.get_source_segment(text, node)
                 for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}
    commands = kfp_function_commands(result.documents)
    assert set(commands) == {"prepare", "train", "evaluate", "pick", "publish"}
    for name, command in commands.items():
        # sh -ec SCRIPT SOURCE python3 -m cnai_runtime.function NAME ...: as kfp's
        # lightweight components, the program is $0 of `sh -ec`.
        assert command[:2] == ["sh", "-ec"]
        assert 'printf "%s" "$0" > "$program_path/functions.py"' in command[2]
        assert command[3] == text  # the file, byte for byte
        segment = functions[name]
        assert segment is not None and segment in command[3]
        assert command[4:8] == ["python3", "-m", "cnai_runtime.function", name]


def fill_kfp(command: list[str], values: dict[str, str]) -> list[str]:
    """KFP's placeholders replaced as the driver and launcher replace them."""
    return [KFP_PLACEHOLDER.sub(lambda m: values[m.group(3)], word) for word in command]


def test_a_function_step_runs_as_kubeflows_launcher_runs_it(tmp_path: Path) -> None:
    documents = compile_file(EXAMPLE, "kfp").documents
    container = documents[0]["deploymentSpec"]["executors"]["exec-prepare"]["container"]
    data, rows = tmp_path / "outputs" / "data", tmp_path / "outputs" / "Output"
    data.parent.mkdir()
    filled = fill_kfp(container["command"], {"data": str(data), "Output": str(rows),
                                             "rows": "25"})
    argv, _ = run_container({"command": filled})
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(SDK), "TMPDIR": str(tmp_path)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert rows.read_text() == "25"
    assert len(data.read_text().splitlines()) == 25


def test_a_function_steps_metrics_reach_kubeflows_launcher(tmp_path: Path) -> None:
    documents = compile_file(EXAMPLE, "kfp").documents
    container = documents[0]["deploymentSpec"]["executors"]["exec-evaluate"]["container"]
    data, model, outputs = tmp_path / "data", tmp_path / "model", tmp_path / "outputs"
    data.write_text("0.2,0\n0.7,1\n0.9,1\n0.5,1\n")
    model.write_text("0.6\n")
    outputs.mkdir()
    values = {"prepare_data": str(data), "train_model": str(model),
              **{name: str(outputs / name) for name in (
                  "scores", "scores-accuracy", "scores-threshold", "accuracy", "threshold")}}
    argv, env = run_container({"command": fill_kfp(container["command"], values),
                               "env": container["env"]})
    metadata = tmp_path / "output_metadata.json"  # where the launcher reads it
    assert env == {"CNAI_OUTPUT_METADATA": "/tmp/kfp_outputs/output_metadata.json"}
    done = subprocess.run(argv, env={"PATH": os.environ["PATH"], "PYTHONPATH": str(SDK),
                                     "TMPDIR": str(tmp_path),
                                     "CNAI_OUTPUT_METADATA": str(metadata)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (outputs / "scores-accuracy").read_text() == "0.75"
    assert json.loads(metadata.read_text())["artifacts"]["scores"]["artifacts"][0][
        "metadata"] == {"accuracy": 0.75, "threshold": 0.6}


def test_a_function_step_runs_as_argos_executor_runs_it(tmp_path: Path) -> None:
    documents = compile_file(EXAMPLE, "argo").documents
    template = next(t for t in documents[0]["spec"]["templates"] if t["name"] == "pick")
    staged = tmp_path / "script"  # where Argo's executor writes script.source
    staged.write_text(template["script"]["source"], encoding="utf-8")
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    container = json.loads(json.dumps(template["script"])
                           .replace("{{inputs.parameters.evaluate_accuracy}}",
                                    '[\\"0.5\\", \\"0.75\\"]')
                           .replace("/cnai/outputs", str(outputs)))
    container["args"] = [str(staged)]  # the controller appends the staged path
    argv, env = run_container(container)
    done = subprocess.run(argv, env={**env, "PATH": os.environ["PATH"],
                                     "PYTHONPATH": str(SDK)},
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert (outputs / "Output").read_text() == "0.75"


AWKWARD = '''
def shout(word: str) -> str:
    template = {{"a": 1}} if False else "{{inputs.parameters.x}}"
    return f"$(HOME) $$ {word} {template}"
'''


@pytest.mark.parametrize("target", ["argo", "kfp"])
def test_source_with_braces_and_dollars_reaches_the_runner_unchanged(
        tmp_path: Path, target: str) -> None:
    path = write(tmp_path, AWKWARD, 'pipeline p {\n  step s { use shout(word = "hi") }\n}\n')
    documents = compile_file(path, target).documents
    if target == "argo":
        assert_all_valid(documents)
        template = next(t for t in documents[0]["spec"]["templates"] if "script" in t)
        source = template["script"]["source"]
        assert "{{" not in json.dumps(template).replace("{{inputs.parameters", "")
    else:
        source = kfp_function_commands(documents)["s"][3]
    assert source.startswith("# cnai: base64\n") and "$" not in source
    staged = tmp_path / "staged.py"
    # Through Kubernetes' expansion (the source reaches Argo's executor in an env variable).
    staged.write_text(run_container({"command": [source]})[0][0], encoding="utf-8")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "cnai_runtime.function", "shout", "in:string", "word", "hi",
         "ret:string", "Output", str(out), str(staged)],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(SDK)}, capture_output=True,
        text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert out.read_text() == "$(HOME) $$ hi {{inputs.parameters.x}}"


# ---- cnai run --local ---------------------------------------------------------------------

def test_the_example_runs_locally_and_its_metrics_read_back(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cnai", "run", str(EXAMPLE), "--local", "--workdir",
         str(tmp_path), "--color", "never"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "compiler")}, capture_output=True,
        text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "numpy==2.1.3 must be importable" in done.stdout + done.stderr + "".join(
        p.read_text() for p in tmp_path.rglob("*.log"))
    run = next(tmp_path.iterdir())
    steps = run / "steps"
    accuracies = []
    for index in ("0", "1"):
        outputs = steps / "evaluate" / index / "outputs"
        metrics = json.loads((outputs / "scores").read_text())  # the metrics artifact
        assert set(metrics) == {"accuracy", "threshold"}
        # The scalar metric the gate reads, and the function's return value, agree.
        assert float((outputs / "scores-accuracy").read_text()) == metrics["accuracy"]
        assert float((outputs / "accuracy").read_text()) == metrics["accuracy"]
        accuracies.append(metrics["accuracy"])
    good, poor = accuracies
    assert good >= 0.95 > poor  # the second config trains too little
    assert (steps / "publish" / "0" / "outputs" / "Output").read_text() == (
        f"published lr=0.5 to s3://models/threshold with accuracy {good}")
    assert not (steps / "publish" / "1" / "outputs").exists()  # its gate was false
    assert float((steps / "pick" / "outputs" / "Output").read_text()) == good


# ---- diagnostics ------------------------------------------------------------------------

TRAIN = "def train(lr: float, epochs: int = 3) -> float:\n    return lr * epochs\n"


def test_a_type_mismatch_points_at_the_use_and_the_signature(tmp_path: Path) -> None:
    path = write(tmp_path, TRAIN, 'pipeline p {\n  step t { use train(lr = "fast") }\n}\n')
    error = failure(path)
    assert [d.code for d in error.diagnostics] == ["E0201"]
    diagnostic = error.diagnostics[0]
    assert diagnostic.message == "function parameter `lr` is float, found string"
    assert diagnostic.primary.span.source.path == str(path)
    (declared,) = diagnostic.secondary
    assert declared.span.source.path.endswith("steps.py")
    assert (declared.span.line, declared.text) == (1, "declared float")
    text = rendered(error)
    assert "p.cnai:3:27" in text and "steps.py:1:15" in text
    assert "def train(lr: float, epochs: int = 3) -> float:" in text


def test_an_unknown_function_is_named_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, TRAIN, "pipeline p {\n  step t { use trian(lr = 0.1) }\n}\n")
    (diagnostic,) = failure(path).diagnostics
    assert (diagnostic.code, diagnostic.help) == ("E0112", ("did you mean `train`?",))


def test_reading_the_output_of_a_function_that_returns_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "def log(msg: str):\n    print(msg)\n",
                 'pipeline p {\n  step a { use log(msg = "hi") }\n'
                 '  step b { image = "busybox"  command = ["echo", a.Output] }\n}\n')
    (diagnostic,) = failure(path).diagnostics
    assert diagnostic.code == "E0104"
    assert diagnostic.message == ("step `a` has no output `Output`: function `log` returns "
                                  "nothing")
    assert diagnostic.secondary[0].span.source.path.endswith("steps.py")


def test_a_function_cnai_cannot_type_is_reported_where_it_is_used(tmp_path: Path) -> None:
    python = TRAIN + "def helper(x, *rest):\n    return x\n"
    assert compile_file(write(tmp_path, python, "pipeline p {\n  step t { use train(lr = 1) "
                                                "}\n}\n"), "argo")
    path = write(tmp_path, python, "pipeline p {\n  step t { use helper(x = 1) }\n}\n")
    (diagnostic,) = failure(path).diagnostics
    assert diagnostic.code == "E0116"
    assert diagnostic.message == ("function `helper` cannot be a step: a step's function takes "
                                  "named parameters only")
    assert diagnostic.secondary[0].text == "used here"


@pytest.mark.parametrize(("parameter", "message"), [
    ("x: dict[str, float]", "cnai has no type for `dict[str, float]`"),
    ("x: Input[Tensor]", "`Input[...]` takes an artifact type"),
    ("x: int, dataset: Input[Dataset]", "parameter `dataset` is a .cnai keyword"),
])
def test_unsupported_signatures(tmp_path: Path, parameter: str, message: str) -> None:
    path = write(tmp_path, f"def f({parameter}) -> None:\n    pass\n",
                 "pipeline p {\n  step t { use f(x = 1) }\n}\n")
    (diagnostic,) = failure(path).diagnostics
    assert diagnostic.code == "E0116" and diagnostic.message.endswith(message)


def test_spans_in_the_python_file_count_characters_not_bytes(tmp_path: Path) -> None:
    # Python's ast gives columns in UTF-8 bytes; a span counts characters (source.py).
    python = 'def f(été: int, x: dict[str, float]) -> None:\n    pass\n'
    path = write(tmp_path, python, "pipeline p {\n  step t { use f(x = 1) }\n}\n")
    (diagnostic,) = failure(path).diagnostics
    start = python.index("dict[str, float]")
    assert diagnostic.code == "E0116"
    assert (diagnostic.primary.span.start, diagnostic.primary.span.end) == (
        start, start + len("dict[str, float]"))


def test_invalid_python_is_reported_in_its_file(tmp_path: Path) -> None:
    path = write(tmp_path, "def broken(:\n    pass\n", "pipeline p {\n  step t { "
                 'image = "busybox" }\n}\n')
    (diagnostic,) = failure(path).diagnostics
    assert diagnostic.code == "E0115"
    assert diagnostic.primary.span.source.path.endswith("steps.py")


def test_packages_belong_to_function_steps(tmp_path: Path) -> None:
    path = write(tmp_path, TRAIN, 'pipeline p {\n  step t { image = "busybox"  command = '
                 '["true"]  packages = ["numpy"] }\n}\n')
    assert [d.code for d in failure(path).diagnostics] == ["E0210"]
    path = write(tmp_path, TRAIN, 'pipeline p {\n  step t { use train(lr = 1)  packages = '
                 '["--index-url=http://x"] }\n}\n')
    assert [d.code for d in failure(path).diagnostics] == ["E0208"]


RECORDS = '''
from typing import TypedDict

class Config(TypedDict):
    lr: float
    batch: int

def best(configs: list[Config], base: Config) -> Config:
    return max([base, *configs], key=lambda c: c["lr"])
'''


def test_typed_dicts_are_records_checked_and_passed_as_json(tmp_path: Path) -> None:
    cnai = ("pipeline p {\n  param cs: list[{lr: float, batch: int}] = [{lr: 0.1, batch: 8}]\n"
            "  param b: {lr: float, batch: int} = {lr: 0.5, batch: 4}\n"
            "  step s { use best(configs = cs, base = b) }\n"
            "  step t { image = \"busybox\"  command = [\"echo\", s.Output.lr] }\n}\n")
    path = write(tmp_path, RECORDS, cnai)
    for target in ("argo", "kfp"):
        compile_file(path, target)
    run = run_locally(path, tmp_path)
    assert json.loads((run / "steps" / "s" / "outputs" / "Output").read_text()) == {
        "lr": 0.5, "batch": 4}
    wrong = write(tmp_path, RECORDS, cnai.replace("base = b", "base = cs"))
    (diagnostic,) = failure(wrong).diagnostics
    assert diagnostic.code == "E0201"
    assert diagnostic.secondary[0].span.source.path.endswith("steps.py")


def test_a_function_step_keeps_its_runner(tmp_path: Path) -> None:
    path = write(tmp_path, TRAIN, 'pipeline p {\n  step t { use train(lr = 1)  command = '
                 '["python3", "train.py"] }\n}\n')
    (diagnostic,) = failure(path).diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "E0105", "a function step takes no `command`: it runs `train`")


def test_two_functions_of_one_shape_do_not_share_a_template(tmp_path: Path) -> None:
    python = TRAIN + "def other(lr: float, epochs: int = 3) -> float:\n    return lr\n"
    path = write(tmp_path, python, "pipeline p {\n  step a { use train(lr = 1) }\n"
                 "  step b { use other(lr = 1) }\n  step c { use train(lr = 2) }\n}\n")
    templates = [t["name"] for t in compile_file(path, "argo").documents[0]["spec"]["templates"]
                 if "script" in t]
    assert templates == ["a", "b"]  # c shares a's


def test_docker_runs_run_the_install_lines_in_the_image(tmp_path: Path) -> None:
    from cnai.local import functions

    step = compile_file(EXAMPLE, "ir").graph.step("train")  # type: ignore[union-attr]
    notes: list[str] = []
    env: dict[str, str] = {}
    command = functions.prepare(step, ["python3", "-m", "cnai_runtime.function", "train"],
                                tmp_path, True, env, notes)
    assert command[:2] == ["sh", "-ec"] and "numpy==2.1.3" in command[2]
    assert command[-2:] == ["train", str(tmp_path / "functions.py")]
    assert (tmp_path / "functions.py").read_text() == SOURCE.read_text()
    assert env == {} and notes == []


def test_a_pipeline_used_as_a_step_runs_its_own_function_steps(tmp_path: Path) -> None:
    (tmp_path / "inner.cnai").write_text(
        'import "steps.py"\n\npipeline inner {\n  param x: int = 1\n'
        "  step calc { use double(x = x) }\n  output doubled: int = calc.Output\n}\n")
    path = write(tmp_path, "def double(x: int) -> int:\n    return 2 * x\n\n\n"
                 "def triple(x: int) -> int:\n    return 3 * x\n",
                 'import "inner.cnai"\n\npipeline outer {\n  step calc { use triple(x = 5) }\n'
                 "  step sub { use inner(x = 2) }\n"
                 '  step show { image = "busybox"  command = ["echo", calc.Output, sub.doubled] }'
                 "\n}\n")
    steps = compile_file(path, "ir").graph.steps  # type: ignore[union-attr]
    assert sorted(s.function.name for s in steps if s.function) == ["double", "triple"]
    run = run_locally(path, tmp_path)
    assert any("\n15 4\n" in log.read_text() for log in (run / "logs").iterdir())


def test_the_compiler_and_the_runner_agree_on_their_contract() -> None:
    # The runner (cnai_runtime.function, in the step's image) and the compiler cannot import
    # each other on a cluster: the words they share are held equal here.
    from cnai_runtime import artifacts, function

    from cnai import function_contract
    from cnai.semantics import pyfunctions

    assert function.STAGED_BASE64 == function_contract.STAGED_BASE64
    assert function.SINGLE_OUTPUT == pyfunctions.SINGLE_OUTPUT
    assert set(function.SCALARS) == set(pyfunctions.SCALARS.values())
    assert set(artifacts.ARTIFACT_TYPES) == set(pyfunctions.ARTIFACTS.values())
    assert {cls.__name__ for cls in artifacts.ARTIFACT_TYPES.values()} == set(
        pyfunctions.ARTIFACTS)
