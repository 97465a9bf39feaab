"""`cnai run --local` end to end: the pipelines of tests/fixtures/local/ run as processes.

Each test runs one fixture through ``cnai.cli.main`` in-process and checks what a user sees:
the exit status, run.json, the run folder and the logs.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cnai.cli import main
from cnai.local import datasets
from testpaths import PRELOAD_PATHS

LOCAL = Path(__file__).resolve().parent / "fixtures" / "local"


@dataclass
class Run:
    code: int
    folder: Path
    data: dict[str, Any]
    out: str
    err: str

    def node(self, node_id: str) -> dict[str, Any]:
        return next(n for n in self.data["nodes"] if n["id"] == node_id)

    def status(self, node_id: str) -> str:
        return str(self.node(node_id)["status"])

    def output(self, node_id: str, name: str) -> Any:
        return self.node(node_id)["outputs"][name]["value"]

    def log(self, node_id: str) -> str:
        return (self.folder / str(self.node(node_id)["log"])).read_text(encoding="utf-8")


RunLocal = Callable[..., Run]


@pytest.fixture
def run_local(tmp_path: Path, capsys: pytest.CaptureFixture[str],
              monkeypatch: pytest.MonkeyPatch) -> RunLocal:
    monkeypatch.setenv("CNAI_LOCAL_BACKOFF_SCALE", "0.01")
    workdir = tmp_path / "runs"

    def go(fixture: str, *extra: str) -> Run:
        before = set(workdir.iterdir()) if workdir.exists() else set()
        code = main(["run", str(LOCAL / fixture), "--local", "--workdir", str(workdir),
                     "--parallel", "4", *extra])
        captured = capsys.readouterr()
        made = sorted(set(workdir.iterdir()) - before) if workdir.exists() else []
        if not made:
            return Run(code, Path(), {}, captured.out, captured.err)
        folder = made[0]
        data = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        return Run(code, folder, data, captured.out, captured.err)

    return go


def test_gates_follow_the_outputs(run_local: RunLocal) -> None:
    run = run_local("gates.cnai")
    assert run.code == 0
    assert run.data["status"] == "Succeeded"
    assert run.output("good", "acc") == 0.95 and run.output("bad", "acc") == 0.5
    assert run.status("deploy_good") == "Succeeded"
    assert "deploying model with accuracy 0.95" in run.log("deploy_good")
    assert run.status("deploy_bad") == "Skipped"
    assert run.node("deploy_bad")["message"] == "skipped: `bad.acc > threshold` is false"
    assert run.status("announce") == "Omitted"
    assert "deploy_bad" in run.node("announce")["message"]
    assert "log" not in run.node("deploy_bad")  # it never ran


def test_a_lower_threshold_runs_both(run_local: RunLocal) -> None:
    run = run_local("gates.cnai", "-p", "threshold=0.4")
    assert [run.status(s) for s in ("deploy_good", "deploy_bad", "announce")] == [
        "Succeeded"] * 3


def _windows(run: Run) -> list[tuple[float, float]]:
    found = []
    for index in range(3):
        start, end = run.output(f"train[{index}]", "window").split()
        found.append((float(start), float(end)))
    return found


def test_loop_fan_in_and_parallel_bound(run_local: RunLocal) -> None:
    run = run_local("sweep.cnai")
    assert run.code == 0
    assert run.output("pick", "received") == "[0.1, 0.01, 0.001]"
    assert run.output("pick", "best") == 0.001
    assert [run.node(f"train[{i}]")["loop_vars"] for i in range(3)] == [
        {"lr": 0.1}, {"lr": 0.01}, {"lr": 0.001}]
    assert run.node("for-lr")["items"] == [0.1, 0.01, 0.001]
    windows = _windows(run)
    most = max(sum(1 for s, e in windows if s <= moment < e) for moment, _ in windows)
    assert most == 2, windows  # `parallel 2` with 4 workers: two at once, never three


def test_a_list_param_override_changes_the_items(run_local: RunLocal) -> None:
    run = run_local("sweep.cnai", "-p", "lrs=[0.3, 0.2]")
    assert run.output("pick", "received") == "[0.3, 0.2]"


def test_fan_in_holds_the_iterations_that_ran(run_local: RunLocal) -> None:
    run = run_local("partial.cnai")
    assert run.code == 0
    assert [run.status(f"big[{i}]") for i in range(3)] == ["Succeeded", "Skipped", "Succeeded"]
    assert run.node("big[1]")["message"] == "skipped: `lr > 0.05` is false"
    assert run.status("for-lr") == "Succeeded"
    assert run.output("total", "seen") == "[0.1, 0.5]"


def test_an_empty_loop_is_skipped(run_local: RunLocal) -> None:
    run = run_local("sweep.cnai", "-p", "lrs=[]")
    assert run.code == 0
    assert run.status("for-lr") == "Skipped"
    assert run.status("pick") == "Omitted"


def test_nested_loops_gather_inside_then_outside(run_local: RunLocal) -> None:
    run = run_local("nested.cnai")
    assert run.code == 0, run.out
    assert run.output("report", "all") == '["a:0.75", "b:2.75", "c:4.75"]'
    assert run.output("fit[1,0]", "loss") == 1.5
    assert run.node("fit[2,1]")["loop_vars"] == {"shard": "c", "lr": 0.25}
    assert (run.folder / "steps" / "fit" / "2" / "1" / "outputs" / "loss").is_file()
    assert (run.folder / "logs" / "fit" / "2" / "1.log").is_file()


def test_a_loop_over_a_loop_variable(run_local: RunLocal) -> None:
    run = run_local("groups.cnai")
    assert run.code == 0, run.out
    assert [run.output(f"square[{i},{j}]", "y") for i, j in ((0, 0), (0, 1), (1, 0))] == [
        1, 4, 9]
    assert run.node("for-x[1]")["items"] == [3]
    assert run.output("all", "sums") == "[5, 9]"


def test_finally_runs_after_a_failure(run_local: RunLocal) -> None:
    run = run_local("cleanup.cnai")
    assert run.code == 1
    assert run.data["status"] == "Failed"
    assert run.status("boom") == "Failed"
    assert run.node("boom")["exit_code"] == 3
    assert run.node("boom")["message"] == "exited with status 3"
    assert "broken" in run.log("boom")  # stderr goes to the log too
    assert run.status("publish") == "Omitted"
    assert run.status("independent") == "Succeeded"  # a failure does not stop other branches
    assert run.status("notify") == "Succeeded"
    assert run.output("notify", "status") == "Failed"
    assert "boom failed: exited with status 3" in run.out
    assert "  | broken" in run.out
    ends = {n["id"]: n["finished"] for n in run.data["nodes"]}
    assert run.node("notify")["started"] >= max(ends["boom"], ends["independent"])


def test_finally_sees_success(run_local: RunLocal) -> None:
    run = run_local("cleanup.cnai", "-p", "fail=false")
    assert run.code == 0
    assert run.output("notify", "status") == "Succeeded"
    assert run.status("publish") == "Succeeded"


def test_retry_until_it_succeeds(run_local: RunLocal, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    run = run_local("retry.cnai", "-p", f"counter={counter}")
    assert run.code == 0
    assert run.node("flaky")["attempts"] == 3
    assert counter.read_text().strip() == "3"
    log = run.log("flaky")
    assert [line.split(",")[0] for line in log.splitlines() if line.startswith("===")] == [
        "=== flaky: attempt 1 of 4", "=== flaky: attempt 2 of 4", "=== flaky: attempt 3 of 4"]
    assert "Retrying - exited with status 1; retry in 0.01s" in run.out  # 1s, scaled
    assert "Retrying - exited with status 1; retry in 0.02s" in run.out  # factor 2
    assert run.status("after_flaky") == "Succeeded"


def test_retries_run_out(run_local: RunLocal, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("-10\n")
    run = run_local("retry.cnai", "-p", f"counter={counter}")
    assert run.code == 1
    assert run.status("flaky") == "Failed"
    assert run.node("flaky")["attempts"] == 4  # the first and 3 retries
    assert run.status("after_flaky") == "Omitted"


def test_timeout_kills_the_step(run_local: RunLocal) -> None:
    run = run_local("timeout.cnai")
    assert run.code == 1
    node = run.node("sleepy")
    assert node["status"] == "Failed"
    assert node["message"] == "timed out after 1s; the process group was killed"
    assert run.log("sleepy").splitlines()[2:] == [
        "started", "", "cnai: timed out after 1s; the process group was killed"]
    assert node["exit_code"] == 143  # SIGTERM
    assert run.status("next") == "Omitted"
    assert run.data["status"] == "Failed"


@pytest.mark.parametrize(("args", "taken"), [
    (["-p", "score=0.95"], "high"),
    (["-p", "score=0.7"], "middle"),
    (["-p", "score=0.1"], "low"),
    (["-p", "score=0.7", "-p", "mode=quick"], "low"),
])
def test_exactly_one_branch_runs(run_local: RunLocal, args: list[str], taken: str) -> None:
    run = run_local("branches.cnai", *args)
    assert run.code == 0
    statuses = {name: run.status(name) for name in ("high", "middle", "low")}
    assert statuses == {name: "Succeeded" if name == taken else "Skipped" for name in statuses}
    assert taken in run.log(taken)


def test_skipped_branch_says_why(run_local: RunLocal) -> None:
    run = run_local("branches.cnai", "-p", "score=0.95")
    assert run.node("low")["message"] == (
        "skipped: an earlier branch ran (`measure.value > 0.9` is true)")


def test_dataset_from_a_local_directory(run_local: RunLocal, tmp_path: Path) -> None:
    source = tmp_path / "corpus"
    source.mkdir()
    (source / "words.txt").write_text("one two three four\n")
    run = run_local("dataset.cnai", "-p", f"source={source}")
    assert run.code == 0, run.out
    assert run.status("preload_corpus") == "Succeeded"
    assert run.output("count", "words") == 4
    copy = run.folder / "datasets" / "corpus" / "words.txt"
    assert copy.read_text() == "one two three four\n"
    assert f"{copy} " in run.log("count")  # /cache/corpus/words.txt, rewritten


def test_dataset_from_a_file_and_from_a_claim(run_local: RunLocal, tmp_path: Path) -> None:
    (tmp_path / "claims" / "data" / "sub").mkdir(parents=True)
    words = tmp_path / "claims" / "data" / "sub" / "words.txt"
    words.write_text("a b\n")
    run = run_local("dataset.cnai", "-p", f"source=file://{words}")
    assert run.output("count", "words") == 2
    run = run_local("dataset.cnai", "-p", "source=pvc://data/sub", "--pvc-root",
                    str(tmp_path / "claims"))
    assert run.output("count", "words") == 2


def test_fluid_dataset_loads_like_a_copy(run_local: RunLocal, tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("x y z\n")
    run = run_local("fluid.cnai", "-p", f"source={words}")
    assert run.node("preload_corpus")["step_kind"] == "dataload"
    assert run.output("count", "words") == 3


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_dataset_over_http_through_cnai_preload(run_local: RunLocal, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # The checkout's cnai_preload, whether cnai runs from this checkout or from a wheel.
    monkeypatch.setattr(datasets, "preload_paths", lambda: PRELOAD_PATHS)
    served = tmp_path / "served"
    served.mkdir()
    (served / "words.txt").write_text("five words are served here\n")
    handler = functools.partial(_Quiet, directory=str(served))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{server.server_address[1]}/words.txt"
            run = run_local("dataset.cnai", "-p", f"source={url}")
        finally:
            server.shutdown()
            thread.join()
    assert run.code == 0, run.log("preload_corpus")
    assert "-m cnai_preload --source http://127.0.0.1:" in run.log("preload_corpus")
    assert run.output("count", "words") == 5


def test_dataset_problems_fail_the_preload(run_local: RunLocal, tmp_path: Path) -> None:
    run = run_local("dataset.cnai", "-p", f"source={tmp_path / 'missing'}")
    assert run.code == 1
    assert run.node("preload_corpus")["message"] == (
        f"data set `corpus`: the source {tmp_path / 'missing'} does not exist")
    assert run.status("count") == "Omitted"
    run = run_local("dataset.cnai", "-p", "source=pvc://data/sub")
    assert "give --pvc-root DIR" in run.node("preload_corpus")["message"]


def test_values_env_and_run_folder(run_local: RunLocal) -> None:
    run = run_local("artifacts.cnai", "-p", "epochs=5")
    assert run.code == 0, run.out
    folder = run.folder
    assert folder.name.startswith("handoff-")
    assert sorted(p.name for p in folder.iterdir()) == ["datasets", "logs", "run.json",
                                                        "steps"]
    model = folder / "steps" / "train" / "outputs" / "model"
    assert (model / "w.bin").read_text() == "weights\n"
    assert run.node("train")["outputs"] == {
        "model": {"path": "steps/train/outputs/model"},
        "count": {"path": "steps/train/outputs/count", "value": 7}}
    assert "epochs=5" in run.log("train")  # CNAI_INPUT_EPOCHS
    link = folder / "steps" / "evaluate" / "inputs" / "train_model"
    assert link.is_symlink() and link.resolve() == model
    assert run.output("evaluate", "report") == (
        'weights\ntrain_model\nsteps=7 tags=["a", "b"] epochs=5')  # one newline trimmed
    assert str(model) in run.log("evaluate")  # an artifact is passed as its path
    data = run.data
    assert data["format"] == 1 and data["pipeline"] == "handoff"
    assert data["run"] == folder.name and data["status"] == "Succeeded"
    assert data["params"] == {"epochs": 5, "tags": ["a", "b"]}
    assert data["started"] <= data["finished"]
    node = run.node("evaluate")
    assert set(node) == {"id", "kind", "step", "step_kind", "status", "started", "finished",
                         "message", "attempts", "exit_code", "log", "outputs"}
    assert node["log"] == "logs/evaluate.log"


def test_distributed_runs_once_and_services_are_skipped(run_local: RunLocal) -> None:
    run = run_local("cloud.cnai")
    assert run.code == 0
    assert "world=1 rank=0 master=127.0.0.1" in run.log("train")
    assert "one local process stands for its 4 replicas" in run.log("train")
    assert run.status("api") == "Skipped"
    assert run.node("api")["message"] == (
        "skipped: services are not deployed by cnai run --local")
    assert run.status("smoke_test") == "Omitted"


def test_param_usage_errors(run_local: RunLocal) -> None:
    run = run_local("gates.cnai", "-p", "treshold=1")
    assert run.code == 2 and run.data == {}
    assert run.err == ("cnai run: error: unknown param `treshold`; the pipeline's params are "
                       "threshold: float (did you mean `threshold`?)\n")
    run = run_local("gates.cnai", "-p", "threshold=high")
    assert run.err == ("cnai run: error: -p threshold: 'high' is not a float, expected a "
                       "float\n")
    run = run_local("retry.cnai")
    assert run.err == "cnai run: error: no value for `counter`; pass -p counter=VALUE\n"
    run = run_local("sweep.cnai", "-p", "lrs=0.1")
    assert "-p lrs: '0.1' is not a JSON list" in run.err
    run = run_local("gates.cnai", "-p", "threshold")
    assert run.err == "cnai run: error: -p expects NAME=VALUE, got 'threshold'\n"


def test_compile_errors_are_rendered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.cnai"
    bad.write_text('pipeline bad {\n  step b after trian { image = "x" }\n'
                   '  step train { image = "x" }\n}\n')
    code = main(["run", str(bad), "--local", "--workdir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 1
    assert "error[E0102]: unknown step `trian`" in err
    assert f"--> {bad}:2:16" in err
    assert not (tmp_path / "runs").exists()


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixture = str(LOCAL / "gates.cnai")
    assert main(["run", fixture]) == 2
    assert "`cnai run` needs --local" in capsys.readouterr().err
    assert main(["run", fixture, "--local", "--parallel", "0"]) == 2
    assert "--parallel must be at least 1" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "nope.cnai"), "--local"]) == 2
    assert "cannot read" in capsys.readouterr().err
