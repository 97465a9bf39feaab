"""`cnai compile --target kfp` against kfp's own DSL + compiler, on the same N-step pipeline.

Usage: python bench/bench_kfp.py [--steps 2000] [--width 20] [--repeat 3] [--no-written]
                                [--no-compiled]

The pipeline is like bench/generate.py's: a layered DAG where each step reads two outputs of
the layer before it, asks for GPUs, CPU and memory and uses params; a last step reads the final
layer and is the one gated. (generate.py gates a step of the final layer that the last step
then reads; the KFP SDK refuses that: "A downstream task cannot depend on an upstream task
within a dsl.If context".) The same pipeline is then written as a kfp DSL program, read off
its IR, in two equivalent styles, both compiled with ``kfp.compiler.Compiler``:
- "loop": a table of the steps, and a loop that makes a container component and a task per
  row (``dsl.If`` for the gate): the shortest program, and the fastest for kfp;
- "written": the program spelled out, one component function and one task per step, as the
  .cnai file is. kfp's resource setters call inspect.stack(), which reads the source around
  every frame (kfp/dsl/pipeline_task.py, _ensure_container_spec_exists), so its time grows
  with N times the program's length. It runs once (about 4 minutes at 2,000 steps);
  --no-written skips it.
Each kfp program has one component per step, so its task names are ours and its output is
checked to hold the same tasks and dependencies as ours before times are printed. (A loop
program that makes one component per step shape, as cnai's output shares them, took as long:
kfp still writes a component per task, and its time is in the tasks.) Every run is a fresh
process, interpreter start and imports included. cnai's modules are byte-compiled first, as
pip byte-compiles kfp's at install (generate.cnai_under_test); the best of the runs is
compared, which leaves out cnai's one-time build of its parser tables after an install
(syntax/tables.py). Two cnai builds are timed: the one this Python imports (pure Python from
the checkout) and the compiled wheel (README, "A compiled build"), built from this checkout
first (about a minute and a half; --no-compiled skips it), and both must write the same
bytes. A measurement, not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import cnai_under_test, compiled_version

from cnai.context import CompileContext, Options
from cnai.driver import analyze
from cnai.semantics import ir
from cnai.source import SourceFile

PY_TYPES = {"string": "str", "int": "int", "float": "float", "bool": "bool"}

LOOP_PROGRAM = '''\
import inspect
import json
import operator
import sys

from kfp import compiler, dsl

ROWS = json.loads({rows!r})
TYPES = {{"str": str, "int": int, "float": float, "bool": bool}}
OPS = {{"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
       ">": operator.gt, ">=": operator.ge}}


def text(parts, values):
    pieces = [values[p[1]] if isinstance(p, list) else p for p in parts]
    return pieces[0] if len(pieces) == 1 else "".join(str(p) for p in pieces)


def component(row):
    names = list(row["types"]) + row["outputs"]

    def step(*values):
        by_name = dict(zip(names, values))
        return dsl.ContainerSpec(image=row["image"],
                                 command=[text(t, by_name) for t in row["command"]])

    step.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                           annotation=TYPES[t]) for n, t in row["types"].items()]
        + [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                             annotation=dsl.OutputPath(float)) for n in row["outputs"]])
    step.__name__ = row["name"]
    return dsl.container_component(step)


def value(ref, params, tasks):
    kind, *rest = ref
    if kind == "param":
        return params[rest[0]]
    if kind == "task":
        return tasks[rest[0]].outputs[rest[1]]
    return rest[0]


def add(row, params, tasks):
    args = {{n: value(r, params, tasks) for n, r in row["inputs"].items()}}
    task = component(row)(**args).set_caching_options(False)
    if row["gpu"]:
        task.set_accelerator_type("nvidia.com/gpu").set_accelerator_limit(row["gpu"])
    if row["cpu"]:
        task.set_cpu_limit(row["cpu"])
    if row["memory"]:
        task.set_memory_limit(row["memory"])
    tasks[row["name"]] = task


@dsl.pipeline(name={name!r})
def pipeline({signature}):
    params, tasks = {{{param_dict}}}, {{}}
    for row in ROWS:
        if row["gate"] is None:
            add(row, params, tasks)
            continue
        left, op, right = row["gate"]
        with dsl.If(OPS[op](value(left, params, tasks), value(right, params, tasks))):
            add(row, params, tasks)


compiler.Compiler().compile(pipeline, sys.argv[1])
'''


def generate(steps: int, width: int, shapes: int = 50) -> str:
    """An N-step .cnai pipeline: N - 1 layered steps of ``shapes`` images, a gated last step."""
    lines = ["pipeline bench {", "  param lr: float = 0.01", "  param epochs: int = 10",
             "  param threshold: float = 0.5"]
    for index in range(steps - 1):
        layer, position = divmod(index, width)
        shape = index % shapes
        refs = []
        if layer > 0:
            previous = (layer - 1) * width
            refs = [f"s{previous + position}.score", f"s{previous + (position + 1) % width}.score"]
        command = ", ".join(['"python"', f'"job{shape}.py"', '"--lr"', '"${lr}"', '"--epochs"',
                             "epochs", *refs, '"--out"', "outputs.score"])
        lines += [f"  step s{index} {{", f'    image = "registry.example.com/ml/job{shape}:1.0"',
                  f"    command = [{command}]",
                  f'    resources {{ gpu = {1 + shape % 4}  cpu = 4  memory = "16Gi" }}',
                  "    output score: float", "  }"]
    last = range((steps - 2) // width * width, steps - 1)
    reads = ", ".join(f"s{i}.score" for i in last)
    lines += ["  step report when s0.score > threshold {",
              '    image = "registry.example.com/ml/report:1.0"',
              f'    command = ["python", "report.py", {reads}]', "  }", "}"]
    return "\n".join(lines) + "\n"


# ---- the IR, as rows a kfp program can build from ------------------------------------------

def pipeline_ir(text: str) -> ir.Pipeline:
    """The pipeline as build_graph leaves it: one step per task, before templates are shared."""
    graph = analyze(SourceFile("bench.cnai", text), CompileContext(Options(optimize=False)))
    assert isinstance(graph, ir.Pipeline)
    return graph


def reference(source: ir.Expr | ir.Source) -> list[Any]:
    if isinstance(source, ir.ParamRef):
        return ["param", source.name]
    if isinstance(source, ir.OutputRef):
        return ["task", source.step, source.output]
    assert isinstance(source, ir.Literal_)
    return ["literal", source.value]


def row(step: ir.Step) -> dict[str, Any]:
    """What kfp needs of a generated step; generate.py makes no other kind."""
    assert not (step.mounts or step.env or step.retry or step.args or step.group)
    assert all(o.type.name == "float" for o in step.outputs)
    gate = None
    if step.when is not None:
        expr = step.when.expr
        assert isinstance(expr, ir.Compare)
        gate = [reference(expr.left), expr.op, reference(expr.right)]
    return {"name": step.name, "image": step.image,
            "command": [[p if isinstance(p, str) else [p.kind, p.name] for p in t.parts]
                        for t in step.command],
            "types": {i.name: PY_TYPES[i.type.name] for i in step.inputs},
            "inputs": {i.name: reference(i.source) for i in step.inputs},
            "outputs": [o.name for o in step.outputs], "gpu": step.resources.gpu,
            "cpu": step.resources.cpu, "memory": step.resources.memory, "gate": gate}


def signature(pipeline: ir.Pipeline) -> str:
    return ", ".join(f"{p.name}: {PY_TYPES[p.type.name]} = {p.default!r}"
                     for p in pipeline.params)


def loop_program(pipeline: ir.Pipeline) -> str:
    rows = json.dumps([row(s) for s in pipeline.steps], separators=(",", ":"))
    params = ", ".join(f"{p.name!r}: {p.name}" for p in pipeline.params)
    return LOOP_PROGRAM.format(rows=rows, name=pipeline.k8s_name,
                               signature=signature(pipeline), param_dict=params)


def written_program(pipeline: ir.Pipeline) -> str:
    """The same pipeline spelled out: one component function and one task per step."""
    lines = ["import sys", "", "from kfp import compiler, dsl", ""]
    body = []
    for step in pipeline.steps:
        spec = row(step)
        params = [f"{n}: {t}" for n, t in spec["types"].items()]
        params += [f"{n}: dsl.OutputPath(float)" for n in spec["outputs"]]
        command = ", ".join(written_text(t) for t in spec["command"])
        lines += ["@dsl.container_component", f"def {step.name}({', '.join(params)}):",
                  f"    return dsl.ContainerSpec(image={step.image!r}, command=[{command}])",
                  ""]
        indent = "    "
        if spec["gate"] is not None:
            left, op, right = spec["gate"]
            body.append(f"    with dsl.If({written_value(left)} {op} {written_value(right)}):")
            indent = "        "
        args = ", ".join(f"{n}={written_value(r)}" for n, r in spec["inputs"].items())
        body.append(f"{indent}t_{step.name} = {step.name}({args}).set_caching_options(False)")
        if spec["gpu"]:
            body.append(f"{indent}t_{step.name}.set_accelerator_type('nvidia.com/gpu')"
                        f".set_accelerator_limit({spec['gpu']})")
        if spec["cpu"]:
            body.append(f"{indent}t_{step.name}.set_cpu_limit({spec['cpu']!r})")
        if spec["memory"]:
            body.append(f"{indent}t_{step.name}.set_memory_limit({spec['memory']!r})")
    lines += [f"@dsl.pipeline(name={pipeline.k8s_name!r})",
              f"def pipeline({signature(pipeline)}):", *body, "", "",
              "compiler.Compiler().compile(pipeline, sys.argv[1])"]
    return "\n".join(lines) + "\n"


def written_text(parts: list[Any]) -> str:
    pieces = [repr(p) if isinstance(p, str) else f"f'{{{p[1]}}}'" for p in parts]
    return pieces[0] if len(pieces) == 1 else f"''.join([{', '.join(pieces)}])"


def written_value(ref: list[Any]) -> str:
    kind, *rest = ref
    if kind == "param":
        return str(rest[0])
    if kind == "task":
        return f"t_{rest[0]}.outputs[{rest[1]!r}]"
    return repr(rest[0])


# ---- running and comparing ------------------------------------------------------------------

def timed(command: list[str], repeat: int, env: dict[str, str] | None = None) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        if result.returncode != 0:  # warnings (unread outputs of the last layer) stay quiet
            sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
        times.append(time.perf_counter() - start)
    return times


def shape(path: Path) -> dict[str, tuple[str, ...]]:
    """Every task in every DAG, with its dependencies: what both compilers must agree on."""
    spec: dict[str, Any] = next(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader))
    dags = [spec["root"]["dag"]] + [c["dag"] for c in spec["components"].values() if "dag" in c]
    return {name: tuple(sorted(task.get("dependentTasks", ()))) for dag in dags
            for name, task in dag["tasks"].items()}


def report(label: str, times: list[float], baselines: dict[str, float]) -> None:
    """One line: best and median time, and the ratio to each cnai build's best."""
    ratios = ", ".join(f"{min(times) / best:.1f}x {build}" for build, best in baselines.items())
    print(f"  {label:<32} {min(times):8.3f} s  ({statistics.median(times):.3f} s, "
          f"{len(times)} run{'s' if len(times) > 1 else ''})" + (f"  {ratios}" if ratios else ""))


def build_name(version: str) -> str:
    """`cnai 0.1.0 (compiled)` -> `compiled`."""
    return version[version.index("(") + 1:-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--width", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-written", action="store_true",
                        help="skip the written-out kfp program (minutes at 2,000 steps)")
    parser.add_argument("--no-compiled", action="store_true",
                        help="time only the cnai this Python imports; do not build and time "
                        "the compiled wheel too")
    args = parser.parse_args()
    builds: dict[str, dict[str, str] | None] = {cnai_under_test(): None}
    text = generate(args.steps, args.width)
    pipeline = pipeline_ir(text)
    programs = {"loop": loop_program(pipeline)}
    if not args.no_written:
        programs["written"] = written_program(pipeline)
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        compiled = None if args.no_compiled else compiled_version(work, builds)
        if compiled is not None:
            builds = {compiled[0]: compiled[1], **builds}
        source = work / "bench.cnai"
        source.write_text(text)
        cnai_times, outputs = {}, []
        for version, env in builds.items():
            ours = work / f"cnai-{len(outputs)}.yaml"
            cnai_times[version] = timed([sys.executable, "-m", "cnai", "compile", str(source),
                                         "--target", "kfp", "-o", str(ours)], args.repeat, env)
            outputs.append(ours.read_bytes())
        if len(set(outputs)) > 1:
            sys.exit("the compiled and the pure-Python build wrote different pipelines")
        kfp_times = {}
        for style, program_text in programs.items():
            program, output = work / f"kfp_{style}.py", work / f"kfp_{style}.yaml"
            program.write_text(program_text)
            repeat = args.repeat if style == "loop" else 1
            kfp_times[style] = timed([sys.executable, str(program), str(output)], repeat)
            if shape(output) != shape(ours):
                sys.exit(f"kfp's {style} pipeline differs from ours in tasks or dependencies")
        print(f"{next(iter(builds)).split(' (')[0]}, {len(pipeline.steps)} steps (width "
              f"{args.width}): wall time of a fresh process, best (median),\n"
              "and kfp's as a multiple of each cnai build's:")
        for version, times in cnai_times.items():
            report(f"cnai compile, {build_name(version)}", times, {})
        baselines = {build_name(v): min(t) for v, t in cnai_times.items()}
        for style, times in kfp_times.items():
            report(f"kfp DSL + compiler ({style})", times, baselines)


if __name__ == "__main__":
    main()
