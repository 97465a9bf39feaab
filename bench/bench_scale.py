"""cnai against hera and kfp at 100 to 10,000 steps: one side-by-side table per size.

Usage: python bench/bench_scale.py [--steps 100 1000 3000 10000] [--repeat 3] [--no-compiled]
                                  [--no-kfp] [--kfp-limit 120]

For each size, bench/generate.py's pipeline is compiled by cnai to Argo and to Kubeflow, and
the same workflow is built and serialised by:
- hera (the Argo Python SDK), as a hera user writes it: a Workflow with one ``Container``
  template per template of cnai's Argo output (the 50 step shapes shared, as cnai shares
  them), a ``DAG`` of one ``Task`` per task with its arguments, ``depends`` and ``when``,
  then ``to_yaml()``. The program reads its table of templates and tasks (cnai's output
  read back) from a JSON file, as bench_kfp.py's loop program does; its YAML is checked to
  hold the same templates, tasks, dependencies, gates and arguments as cnai's before any
  time is printed.
- kfp's DSL + compiler: bench_kfp.py's "loop" program (its own pipeline, gated on the last
  step, which kfp requires), checked against cnai's KFP output by task and dependency. It is
  not timed at sizes past the first one where it took more than --kfp-limit seconds.

Every time is the wall time of a fresh process (interpreter start and imports included), the
best of --repeat runs; peak memory is the process's own ``ru_maxrss`` as /usr/bin/time
reports it. cnai's modules are
byte-compiled first, as pip byte-compiles hera's and kfp's (generate.cnai_under_test). The
compiled build (README, "A compiled build") is built from this checkout first (about a minute
and a half; --no-compiled skips it), and must write the same bytes as the pure-Python one.
Argo at sizes past one Workflow's limits: ``cnai compile --target argo`` writes the Workflow
plus WorkflowTemplates (docs/argo.md, "Large pipelines"); hera builds the one Workflow they
make together (cnai's objects read back with every ``templateRef`` inlined), which is the
workflow its users would write. A measurement, not a test: CI does not run it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_kfp import generate as kfp_generate
from bench_kfp import loop_program, pipeline_ir
from bench_kfp import shape as kfp_shape
from generate import cnai_under_test, compiled_version, generate

HERA_PROGRAM = '''\
import json
import sys

from hera.workflows import DAG, Container, Parameter, Task, Workflow
from hera.workflows import models as m

with open(sys.argv[1]) as table:
    SPEC = json.load(table)


def container(row):
    return Container(
        name=row["name"], image=row["image"], command=row["command"],
        env=[m.EnvVar(name=n, value=v) for n, v in row["env"]],
        resources=m.ResourceRequirements(limits=row["limits"]) if row["limits"] else None,
        volume_mounts=[m.VolumeMount(name=n, mount_path=p) for n, p in row["mounts"]] or None,
        inputs=[Parameter(name=n) for n in row["inputs"]],
        outputs=[Parameter(name=n, value_from=m.ValueFrom(path=p, default=d))
                 for n, p, d in row["outputs"]],
        volumes=[m.Volume(name=n, empty_dir=m.EmptyDirVolumeSource()) for n in row["volumes"]])


def parameter(row):
    name, value_from = row
    return Parameter(name=name, value_from=m.ValueFrom(**value_from) if value_from else None)


with Workflow(generate_name=SPEC["generate_name"], entrypoint=SPEC["entrypoint"],
              labels=SPEC["labels"],
              arguments=[Parameter(name=n, value=v) for n, v in SPEC["params"]]) as workflow:
    templates = {row["name"]: container(row) for row in SPEC["templates"]}
    for dag in SPEC["dags"]:  # the entry point, and any part it calls, by name
        with DAG(name=dag["name"], inputs=[parameter(p) for p in dag["inputs"]] or None,
                 outputs=[parameter(p) for p in dag["outputs"]] or None):
            for row in dag["tasks"]:
                Task(name=row["name"], template=templates.get(row["template"], row["template"]),
                     arguments=[Parameter(name=n, value=v) for n, v in row["arguments"]],
                     depends=row["depends"], when=row["when"])

with open(sys.argv[2], "w") as out:
    out.write(workflow.to_yaml())
'''


# ---- hera's table, read off cnai's Argo output ----------------------------------------------

def hera_table(workflow: dict[str, Any]) -> dict[str, Any]:
    """What a hera user would write down for this workflow: params, templates, tasks."""
    spec = workflow["spec"]
    templates, dags = [], []
    for template in spec["templates"]:
        if "dag" in template:
            tasks = []
            for task in template["dag"]["tasks"]:
                parameters = task.get("arguments", {}).get("parameters", [])
                tasks.append({"name": task["name"], "template": task["template"],
                              "arguments": [[p["name"], p["value"]] for p in parameters],
                              "depends": task.get("depends"), "when": task.get("when")})
            dags.append({"name": template["name"], "tasks": tasks,
                         "inputs": _parameters(template.get("inputs")),
                         "outputs": _parameters(template.get("outputs"))})
            continue
        box = template["container"]
        templates.append({
            "name": template["name"], "image": box["image"], "command": box["command"],
            "env": [[e["name"], e["value"]] for e in box.get("env", [])],
            "limits": box.get("resources", {}).get("limits"),
            "mounts": [[v["name"], v["mountPath"]] for v in box.get("volumeMounts", [])],
            "inputs": [p["name"] for p in template.get("inputs", {}).get("parameters", [])],
            "outputs": [[p["name"], p["valueFrom"]["path"], p["valueFrom"].get("default")]
                        for p in template.get("outputs", {}).get("parameters", [])],
            "volumes": [v["name"] for v in template.get("volumes", [])]})
    return {"generate_name": workflow["metadata"]["generateName"],
            "labels": workflow["metadata"].get("labels"), "entrypoint": spec["entrypoint"],
            "params": [[p["name"], p["value"]] for p in spec["arguments"]["parameters"]],
            "templates": templates, "dags": dags}


def _parameters(block: dict[str, Any] | None) -> list[list[Any]]:
    return [[p["name"], p.get("valueFrom")] for p in (block or {}).get("parameters", [])]


def argo_shape(text: str) -> Any:
    """The workflow as data, keys and list orders that carry no meaning normalised away."""
    documents = [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if d]
    workflow = documents[-1]
    assert workflow["kind"] == "Workflow", "the Workflow last, after its WorkflowTemplates"
    # A packed Workflow as one: every WorkflowTemplate's templates in it, each templateRef
    # made the template name it refers to (cnai's template names are unique across objects).
    for document in documents[:-1]:
        assert document["kind"] == "WorkflowTemplate"
        workflow["spec"]["templates"] += document["spec"]["templates"]
    for template in workflow["spec"]["templates"]:
        for task in template.get("dag", {}).get("tasks", []):
            if "templateRef" in task:
                task["template"] = task.pop("templateRef")["template"]
    # hera adds the DAG to the templates when its `with` block closes, after the containers.
    workflow["spec"]["templates"].sort(key=lambda template: template["name"])
    return workflow


# ---- timing ---------------------------------------------------------------------------------

def run_once(command: list[str], env: dict[str, str] | None, report: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process.

    The peak is read by /usr/bin/time, which forks the command and reports its ru_maxrss:
    asked of a child of this process, the kernel would count this process's own memory too
    (the child starts as a copy of it, and its peak keeps that copy's)."""
    start = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(report), *command],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return seconds, int(report.read_text().split()[-1]) / 1024  # kilobytes


# ---- one size -------------------------------------------------------------------------------

def cnai_command(source: Path, target: str, output: Path) -> list[str]:
    return [sys.executable, "-m", "cnai", "compile", str(source), "--target", target,
            "-o", str(output)]


def measure(steps: int, builds: dict[str, dict[str, str] | None], work: Path, repeat: int,
            kfp: bool) -> tuple[list[tuple[str, float, float]], bool]:
    """Rows (label, best seconds, peak MB) for one size; and whether kfp took too long.

    The commands run in turn, round after round (cnai, hera, kfp, cnai, hera, ...), so that
    a change in the machine's load during the size's runs falls on all of them alike."""
    source = work / f"bench{steps}.cnai"
    source.write_text(generate(steps))
    probe = work / "probe.yaml"
    subprocess.run(cnai_command(source, "argo", probe), check=True, capture_output=True)
    ours = argo_shape(probe.read_text())
    table, program, theirs = work / "hera.json", work / "hera_program.py", work / "hera.yaml"
    table.write_text(json.dumps(hera_table(ours)))
    program.write_text(HERA_PROGRAM)
    # (label, command, environment, output, runs once)
    commands: list[tuple[str, list[str], dict[str, str] | None, Path, bool]] = []
    for version, env in builds.items():
        build = version[version.index("(") + 1:-1]
        for target in ("argo", "kfp"):
            output = work / f"cnai-{build.replace(' ', '-')}-{target}.yaml"
            commands.append((f"cnai {build}, {target}", cnai_command(source, target, output),
                             env, output, False))
    commands.append(("hera (Workflow.to_yaml)", [sys.executable, str(program), str(table),
                                                 str(theirs)], None, theirs, False))
    ours_kfp = work / "cnai-kfp-own.yaml"
    if kfp:
        kfp_source = kfp_generate(steps, 20)
        kfp_program, kfp_output = work / "kfp_loop.py", work / "kfp_loop.yaml"
        kfp_program.write_text(loop_program(pipeline_ir(kfp_source)))
        (work / "kfp.cnai").write_text(kfp_source)
        subprocess.run([sys.executable, "-m", "cnai", "compile", str(work / "kfp.cnai"),
                        "--target", "kfp", "-o", str(ours_kfp)], check=True,
                       capture_output=True)
        commands.append(("kfp DSL + compiler (loop)", [sys.executable, str(kfp_program),
                                                       str(kfp_output)], None, kfp_output,
                         steps > 1000))
    best = {label: float("inf") for label, *_ in commands}
    peaks = {label: 0.0 for label, *_ in commands}
    report = work / "time.txt"
    for round_ in range(repeat):
        for label, command, env, _, once in commands:
            if once and round_:
                continue
            seconds, peak = run_once(command, env, report)
            best[label] = min(best[label], seconds)
            peaks[label] = max(peaks[label], peak)
    for target in ("argo", "kfp"):
        texts = {output.read_bytes() for label, _, _, output, _ in commands
                 if label.startswith("cnai") and f", {target}" in label}
        if len(texts) > 1:
            sys.exit("the compiled and the pure-Python build wrote different output")
    if argo_shape(theirs.read_text()) != ours:
        sys.exit(f"hera's workflow differs from ours at {steps} steps")
    if kfp and kfp_shape(work / "kfp_loop.yaml") != kfp_shape(ours_kfp):
        sys.exit(f"kfp's pipeline differs from ours at {steps} steps")
    rows = [(label, best[label], peaks[label]) for label, *_ in commands]
    slow = kfp and best["kfp DSL + compiler (loop)"] > KFP_LIMIT[0]
    return rows, slow


KFP_LIMIT = [120.0]


def print_table(steps: int, rows: list[tuple[str, float, float]]) -> None:
    hera = next(seconds for label, seconds, _ in rows if label.startswith("hera"))
    print(f"\n{steps} steps")
    print(f"  {'':<30} {'best s':>8} {'peak MB':>8} {'/ hera':>7}")
    for label, seconds, peak in rows:
        print(f"  {label:<30} {seconds:>8.2f} {peak:>8.0f} {seconds / hera:>6.2f}x")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 1000, 3000, 10000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-compiled", action="store_true")
    parser.add_argument("--no-kfp", action="store_true", help="do not time kfp's compiler")
    parser.add_argument("--kfp-limit", type=float, default=120.0,
                        help="stop timing kfp after the first size it takes longer than this")
    args = parser.parse_args()
    KFP_LIMIT[0] = args.kfp_limit
    builds: dict[str, dict[str, str] | None] = {cnai_under_test(): None}
    with tempfile.TemporaryDirectory() as workdir:
        work = Path(workdir)
        compiled = None if args.no_compiled else compiled_version(work, builds)
        if compiled is not None:
            builds = {**builds, compiled[0]: compiled[1]}
        import hera  # the versions compared, for the record
        import kfp
        print(f"{next(iter(builds)).split(' (')[0]}, hera {hera.__version__}, kfp "
              f"{kfp.__version__}, Python {sys.version.split()[0]}: wall time of a fresh "
              f"process, best of {args.repeat}, and its peak RSS")
        kfp_on = not args.no_kfp
        for steps in args.steps:
            rows, slow = measure(steps, builds, work, args.repeat, kfp_on)
            print_table(steps, rows)
            if slow:
                kfp_on = False
                print(f"  (kfp took over {args.kfp_limit:.0f} s: not timed at larger sizes)")


if __name__ == "__main__":
    main()
