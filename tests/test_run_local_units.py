"""`cnai run --local`: the parts on their own (values, paths, Docker, the live view) and the
command as a real process (interrupts, the `cnai` entry point)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import cnai
from cnai.cli import main
from cnai.context import CompileContext, Options
from cnai.driver import analyze
from cnai.local import datasets, process
from cnai.local.attempt import Attempts, Settings
from cnai.local.command import LOCAL_PASSES
from cnai.local.datasets import PathMap, PreloadError
from cnai.local.engine import backoff_seconds
from cnai.local.layout import Layout
from cnai.local.progress import LiveView
from cnai.local.state import Context, Status, StepRun
from cnai.params import parse_value
from cnai.semantics import ir
from cnai.source import SourceFile
from testpaths import PRELOAD_PATHS, ROOT

LOCAL = Path(__file__).resolve().parent / "fixtures" / "local"


def _type(text: str) -> ir.Type:
    if text.startswith("list["):
        return ir.Type(name="list", item=_type(text[5:-1]))
    return ir.Type.model_validate({"name": text})


@pytest.mark.parametrize(("text", "type_", "value"), [
    ("90", "int", 90), (" 90\n", "int", 90), ("90.0", "int", 90),
    ("0.93", "float", 0.93), ("1e-05", "float", 1e-05), ("0.00001", "float", 1e-05),
    ("true", "bool", True), ("False", "bool", False), ("1", "bool", True),
    ("  a b ", "string", "  a b "),
    ("[0.1, 0.01]", "list[float]", [0.1, 0.01]), ('["0.1","2"]', "list[float]", [0.1, 2.0]),
    ("[1, 2]", "list[float]", [1.0, 2.0]), ('["a"]', "list[string]", ["a"]),
    ("[[1], []]", "list[list[int]]", [[1], []]),
])
def test_values_read_as_the_contract_says(text: str, type_: str, value: object) -> None:
    assert parse_value(text, _type(type_)) == value


@pytest.mark.parametrize(("text", "type_", "message"), [
    ("abc", "float", "'abc' is not a float"), ("nan", "float", "'nan' is not a float"),
    ("1.5", "int", "'1.5' is not an int"), ("yes", "bool", "'yes' is not a bool"),
    ("0.1", "list[float]", "'0.1' is not a JSON list"),
    ('{"a": 1}', "list[int]", "is not a JSON list"), ("[true]", "list[int]", "true is not an int"),
])
def test_bad_values(text: str, type_: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        parse_value(text, _type(type_))


def test_path_map_rewrites_whole_paths_only(tmp_path: Path) -> None:
    paths = PathMap({"/cache/x": tmp_path / "x", "/cache/x/deep": tmp_path / "deep",
                     "/data/": tmp_path / "d"})
    assert paths.rewrite("/cache/x") == f"{tmp_path}/x"
    assert paths.rewrite("--data=/cache/x/train") == f"--data={tmp_path}/x/train"
    assert paths.rewrite("/cache/x/deep/a") == f"{tmp_path}/deep/a"
    assert paths.rewrite("/cache/x2 /cache/x.bak /other/cache/x") == (
        "/cache/x2 /cache/x.bak /other/cache/x")
    assert paths.rewrite("ls /data; ls /data/") == f"ls {tmp_path}/d; ls {tmp_path}/d/"
    assert PathMap({}).rewrite("/cache/x") == "/cache/x"


def test_backoff_follows_argo() -> None:
    retry = ir.Retry(limit=3, backoff_seconds=10, factor=2)
    assert [backoff_seconds(retry, n) for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff_seconds(ir.Retry(limit=3, backoff_seconds=5), 3) == 5
    assert backoff_seconds(ir.Retry(limit=3), 1) == 0


# ---- Docker ------------------------------------------------------------------------------

def _fake_docker(directory: Path, script: str) -> str:
    directory.mkdir(exist_ok=True)
    docker = directory / "docker"
    docker.write_text(f"#!/bin/sh\n{script}\n")
    docker.chmod(0o755)
    return str(directory)


def test_docker_detection(tmp_path: Path) -> None:
    assert process.check_docker({"PATH": str(tmp_path)}) == (
        "--docker needs the `docker` command, and it is not on PATH")
    down = _fake_docker(tmp_path / "down", "echo 'Cannot connect to the Docker daemon at "
                        "unix:///var/run/docker.sock. Is the docker daemon running?' >&2; "
                        "exit 1")
    assert process.check_docker({"PATH": down}) == (
        "--docker: no Docker engine is reachable (`docker info`: Cannot connect to the Docker "
        "daemon at unix:///var/run/docker.sock. Is the docker daemon running?)")
    assert process.check_docker({"PATH": _fake_docker(tmp_path / "up", "echo 27.0")}) is None


def test_docker_without_an_engine_is_a_usage_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _fake_docker(tmp_path / "bin", "echo 'no daemon' >&2; exit 1"))
    code = main(["run", str(LOCAL / "gates.cnai"), "--local", "--docker", "--workdir",
                 str(tmp_path / "runs")])
    assert code == 2
    assert capsys.readouterr().err == (
        "cnai run: error: --docker: no Docker engine is reachable (`docker info`: no daemon)\n")
    assert not (tmp_path / "runs").exists()


def test_docker_argv_is_data(tmp_path: Path) -> None:
    argv = process.docker_argv(
        "python:3.12", ["python", "train.py"], ["--lr", "0.1"], ["CNAI_OUTPUTS_DIR", "A"],
        [process.Mount(tmp_path, str(tmp_path)), process.Mount(tmp_path / "d", "/data", True)],
        "cnai-run-train-0", gpus=2, user="1000:1000")
    assert argv == [
        "docker", "run", "--rm", "--name", "cnai-run-train-0", "--init", "--user", "1000:1000",
        "--volume", f"{tmp_path}:{tmp_path}", "--volume", f"{tmp_path / 'd'}:/data:ro",
        "--env", "CNAI_OUTPUTS_DIR", "--env", "A", "--gpus", "2",
        "--entrypoint", "python", "python:3.12", "train.py", "--lr", "0.1"]
    assert process.docker_argv("img", [], ["serve"], [], [], "n") == [
        "docker", "run", "--rm", "--name", "n", "--init", "img", "serve"]


def _pipeline(path: Path) -> ir.Pipeline:
    ctx = CompileContext(options=Options(passes=LOCAL_PASSES))
    graph = analyze(SourceFile(str(path), path.read_text()), ctx)
    assert isinstance(graph, ir.Pipeline)
    return graph


def test_a_step_in_docker(tmp_path: Path) -> None:
    pipeline = _pipeline(LOCAL / "dataset.cnai")
    layout = Layout.create(tmp_path / "runs", pipeline.name)
    settings = Settings(layout=layout, cwd=tmp_path, docker=True,
                        datasets={f"preload_{d.name}": d for d in pipeline.datasets})
    step = pipeline.step("count")
    run = StepRun("count", Context(), step=step)
    run.log = layout.log_path("count", ())
    invocation = Attempts(settings, process.Processes()).invocation(run)
    assert isinstance(invocation, process.Invocation)
    outputs = layout.outputs_dir("count", ())
    corpus = layout.dataset_dir("corpus")
    name = f"cnai-{layout.root.name}-count"
    assert invocation.argv == [
        "docker", "run", "--rm", "--name", name, "--init", "--user",
        f"{os.getuid()}:{os.getgid()}", "--volume", f"{layout.root}:{layout.root}",
        "--volume", f"{corpus}:/cache/corpus:ro", "--env", "CNAI_OUTPUTS_DIR",
        "--entrypoint", "sh", "busybox:1.36", "-c", 'wc -w < "$1" > "$2"', "sh",
        f"{corpus}/words.txt", f"{outputs}/words"]
    assert invocation.env["CNAI_OUTPUTS_DIR"] == str(outputs)
    assert invocation.container == name


# ---- steps that cannot finish as written --------------------------------------------------

def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.cnai"
    path.write_text(text)
    return path


def _run(path: Path, tmp_path: Path,
         capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    code = main(["run", str(path), "--local", "--workdir", str(tmp_path / "runs")])
    capsys.readouterr()
    (folder,) = (tmp_path / "runs").iterdir()
    data = json.loads((folder / "run.json").read_text())
    assert code == (0 if data["status"] == "Succeeded" else 1)
    return {n["id"]: n for n in data["nodes"]}


def test_outputs_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = _run(_write(tmp_path, '''pipeline outs {
  step wrong { image = "x"  command = ["sh", "-c", "echo abc > $0", outputs.acc]
               output acc: float }
  step none { image = "x"  command = ["true"]  output model: model }
  step entry { image = "x"  args = ["serve"] }
  step missing { image = "x"  command = ["no-such-program-cnai"] }
}
'''), tmp_path, capsys)
    assert nodes["wrong"]["message"] == "output `acc` (float): 'abc' is not a float"
    assert nodes["none"]["message"].startswith("output `model` (model): nothing was written at ")
    assert nodes["entry"]["message"] == (
        "`entry` has no command, so its image's entrypoint would run: that needs --docker")
    assert nodes["missing"]["message"] == "cannot run `no-such-program-cnai`: command not found"
    assert nodes["missing"]["exit_code"] == 127


def test_fixed_output_paths_are_mapped(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    nodes = _run(_write(tmp_path, '''pipeline fixed {
  step stats {
    image   = "x"
    command = ["sh", "-c", "printf 12 > /tmp/cnai-never/stats.txt"]
    output n: int at "/tmp/cnai-never/stats.txt"
  }
  step hard {
    image   = "x"
    command = ["true"]
    output m: int at "/tmp/cnai-never/other.txt"
  }
  step show { image = "x"  command = ["echo", stats.n, hard.m] }
}
'''), tmp_path, capsys)
    assert nodes["stats"]["outputs"]["n"] == {"path": "steps/stats/outputs/n", "value": 12}
    assert not Path("/tmp/cnai-never").exists()
    assert "the fixed path /tmp/cnai-never/other.txt is mapped into the run folder" in (
        nodes["hard"]["message"])
    assert nodes["show"]["status"] == "Omitted"


def test_secrets_come_from_this_environment(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN", "abc")
    monkeypatch.delenv("MISSING", raising=False)
    monkeypatch.setenv("CNAI_OUTPUTS", '{"x": "/elsewhere"}')  # not passed on
    nodes = _run(_write(tmp_path, '''pipeline secrets {
  step s {
    image   = "x"
    command = ["sh", "-c", "echo token=$TOKEN missing=[$MISSING] outputs=[$CNAI_OUTPUTS]"]
    env { TOKEN = secret("wandb", "api-key")  MISSING = secret("a", "b") }
  }
}
'''), tmp_path, capsys)
    folder = next((tmp_path / "runs").iterdir())
    log = (folder / nodes["s"]["log"]).read_text()
    assert "cnai: MISSING (secret a/b) is not set in this environment; left unset\n" in log
    assert "token=abc missing=[] outputs=[]\n" in log


def test_the_checkout_preload_is_found_only_from_a_checkout() -> None:
    # From this checkout (the editable install) its copies; from an installed wheel (the
    # compiled build's test run) none: that install has no runtime_images/ beside it.
    from_checkout = Path(cnai.__file__).resolve().is_relative_to(ROOT / "compiler")
    assert datasets.preload_paths() == (PRELOAD_PATHS if from_checkout else [])


def test_remote_sources_go_through_cnai_preload(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datasets, "preload_paths", lambda: PRELOAD_PATHS)
    argv, env = datasets.remote_command("s3://bucket/prefix", tmp_path)
    assert argv == [sys.executable, "-m", "cnai_preload", "--source", "s3://bucket/prefix",
                    "--dest", str(tmp_path)]
    assert env["PYTHONPATH"].split(os.pathsep)[:2] == list(map(str, PRELOAD_PATHS))
    monkeypatch.setattr(datasets, "preload_paths", list)
    monkeypatch.setattr(datasets, "preload_importable", lambda: False)
    with pytest.raises(PreloadError, match="needs cnai_preload"):
        datasets.remote_command("gs://bucket/x", tmp_path)


def test_live_view_draws_a_table() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    view = LiveView("demo: demo-1", console)
    step = ir.Step(name="train", k8s_name="train", image="x",
                   span=SourceFile("x", "x").span(0, 1))
    done = StepRun("train", Context(), step=step, position=(0, 0), attempts=2)
    done.started = time.time() - 3
    done.finish(Status.SUCCEEDED)
    waiting = StepRun("eval", Context(), step=step, position=(0, 1))
    view.added(waiting)
    view.added(done)
    view.tick()
    view.close()
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "demo: demo-1" in text
    last = text[text.rindex("demo: demo-1"):]
    assert last.index("train") < last.index("eval")  # in pipeline order
    assert "Succeeded" in last and "3.0s" in last and "Pending" in last


# ---- as a process ------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_stops_the_steps(tmp_path: Path, sig: signal.Signals) -> None:
    pidfile = tmp_path / "pid"
    command = [sys.executable, "-m", "cnai", "run", str(LOCAL / "interrupt.cnai"),
               "--local", "--workdir", str(tmp_path / "runs"), "-p", f"pidfile={pidfile}"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as cnai:
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline, "the step never started"
            time.sleep(0.05)
        step_pid = int(pidfile.read_text())
        cnai.send_signal(sig)
        out, err = cnai.communicate(timeout=10)
    assert cnai.returncode == 130, err
    with pytest.raises(ProcessLookupError):
        os.kill(step_pid, 0)
    (folder,) = (tmp_path / "runs").iterdir()
    data = json.loads((folder / "run.json").read_text())
    assert data["status"] == "Failed"
    assert data["nodes"][0]["status"] == "Failed"
    assert data["nodes"][0]["message"] == "interrupted"
    assert "Failed in" in out


def _cli_has_run() -> bool:
    import argparse

    from cnai import cli

    return any(isinstance(action, argparse._SubParsersAction) and "run" in action.choices
               for action in cli._parser()._actions)


@pytest.mark.skipif(not _cli_has_run(), reason="cnai.cli does not wire `cnai run` yet")
def test_the_cnai_command(tmp_path: Path) -> None:
    cnai = Path(sys.executable).with_name("cnai")
    result = subprocess.run(
        [str(cnai), "run", str(LOCAL / "gates.cnai"), "--local", "--workdir",
         str(tmp_path / "runs"), "-p", "threshold=0.99"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    data = json.loads((folder / "run.json").read_text())
    assert {n["id"]: n["status"] for n in data["nodes"]}["deploy_good"] == "Skipped"
