"""One attempt of one step instance: its command line, environment and files, then what it
wrote.

- ``outputs.NAME`` and ``CNAI_OUTPUTS_DIR`` point into the instance's ``outputs/`` folder,
  emptied before each attempt (a retry on the cluster is a new pod with a new volume);
- a parameter input is its text, an artifact input the producer's output path, linked from
  ``inputs/NAME`` for ``CNAI_INPUTS_DIR``; ``CNAI_INPUT_<NAME>`` as ``contract.runtime_env``
  says;
- ``output X: T at "/fixed/path"`` is written in the run folder like any output; the fixed
  path in the step's own text is rewritten to it;
- a step runs in the directory of the .cnai file, with this process's environment plus the
  step's ``env``; ``secret(...)``, ``config_map(...)`` and ``field(...)`` values come from
  this environment, by variable name; volumes as local/volumes.py says.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from cnai import contract
from cnai.local import datasets, functions
from cnai.local.datasets import PathMap, PreloadError
from cnai.local.layout import Layout
from cnai.local.process import Invocation, Mount, Processes, docker_argv, host_user
from cnai.local.state import StepRun, Value
from cnai.local.values import MAX_PARAMETER_BYTES, output_value
from cnai.local.volumes import local_dirs
from cnai.semantics import ir
from cnai.semantics.units import quantity_value

CONTRACT_PREFIXES = ("CNAI_OUTPUTS", "CNAI_INPUTS", "CNAI_INPUT_")
TORCH_ENV = {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
             "MASTER_PORT": "29500"}


@dataclass(frozen=True)
class Settings:
    layout: Layout
    cwd: Path
    docker: bool = False
    pvc_root: Path | None = None
    datasets: dict[str, ir.Dataset] = field(default_factory=dict)  # by preload step name
    step_timeout: float | None = None  # for a step without `timeout` (--step-timeout)


@dataclass(frozen=True)
class Result:
    ok: bool
    message: str = ""
    exit_code: int | None = None
    outputs: dict[str, Value] = field(default_factory=dict)


class Attempts:
    def __init__(self, settings: Settings, processes: Processes) -> None:
        self.settings = settings
        self.processes = processes
        layout = settings.layout
        self.paths = PathMap({d.path: layout.dataset_dir(d.name)
                              for d in settings.datasets.values()})

    def execute(self, run: StepRun, attempt: int) -> Result:
        step = run.step
        layout = self.settings.layout
        run.log = layout.log_path(run.name, run.index)
        limit = 1 + (step.retry.limit if step.retry else 0)
        header = (f"=== {run.id}: attempt {attempt} of {limit}, "
                  f"{time.strftime('%Y-%m-%d %H:%M:%S')} ===")
        if step.kind in ("preload", "dataload"):
            return self._preload(run, header)
        invocation = self.invocation(run)
        if isinstance(invocation, str):
            _append(run.log, f"{header}\ncnai: {invocation}\n")
            return Result(False, invocation)
        outcome = self.processes.run(invocation, header)
        if not outcome.ok:
            return Result(False, outcome.message, outcome.exit_code)
        outputs, problem = self.collect(run)
        if problem:
            _append(run.log, f"cnai: {problem}\n")
            return Result(False, problem, outcome.exit_code)
        return Result(True, "", outcome.exit_code, outputs)

    # ---- the command ------------------------------------------------------------------

    def invocation(self, run: StepRun) -> Invocation | str:
        """What to run, or why it cannot run here."""
        step = run.step
        layout = self.settings.layout
        assert run.log is not None
        outputs_dir = layout.outputs_dir(run.name, run.index)
        if outputs_dir.exists():
            shutil.rmtree(outputs_dir)
        if step.outputs:
            outputs_dir.mkdir(parents=True)
        inputs_dir = self._link_inputs(run)
        fixed = {o.path: outputs_dir / o.name for o in step.outputs if o.path}
        volumes = local_dirs(step, layout.step_dir(run.name, run.index), self.settings.pvc_root)
        if isinstance(volumes, str):
            return volumes
        fixed.update({path: local for path, (local, _) in volumes.items()})
        paths = self.paths.with_paths(fixed) if fixed else self.paths
        render = _Renderer(run, outputs_dir, paths)
        command = [render(t) for t in step.command]
        args = [render(t) for t in step.args]
        notes: list[str] = []
        env = self._env(run, render, outputs_dir, inputs_dir, notes)
        if step.function is not None:
            command = functions.prepare(step, command, layout.step_dir(run.name, run.index),
                                        self.settings.docker, env, notes)
        timeout, timeout_note = self._timeout(step)
        if self.settings.docker:
            name = _container_name(layout.root.name, step.k8s_name, run.index)
            mounts = [Mount(layout.root, str(layout.root))]
            mounts += [Mount(layout.dataset_dir(m.dataset), m.path, True) for m in step.mounts]
            image = step.image if isinstance(step.image, str) else render(step.image)
            mounts += [Mount(local, path, read_only)
                       for path, (local, read_only) in volumes.items()]
            argv = docker_argv(image, command, args, sorted(env), mounts, name,
                               step.resources.gpu, host_user(), shm_bytes(step.shm))
            return Invocation(argv, {**_inherited(), **env}, self.settings.cwd, run.log,
                              timeout, name, tuple(notes), timeout_note,
                              _stdout_file(step, outputs_dir))
        if not command:
            return (f"`{step.name}` has no command, so its image's entrypoint would run: "
                    "that needs --docker")
        if step.distributed is not None:
            notes.append(f"distributed {step.distributed.framework} step: one local process "
                         f"stands for its {step.distributed.replicas} replicas")
        return Invocation([*command, *args], {**_inherited(), **env}, self.settings.cwd,
                          run.log, timeout, notes=tuple(notes), timeout_note=timeout_note,
                          stdout=_stdout_file(step, outputs_dir))

    def _timeout(self, step: ir.Step) -> tuple[float | None, str]:
        """The step's ``timeout``, else the run's default, with a note saying it was that."""
        if step.timeout_seconds:
            return float(step.timeout_seconds), ""
        if self.settings.step_timeout is None:
            return None, ""
        return self.settings.step_timeout, " (--step-timeout: the step sets no `timeout`)"

    def _link_inputs(self, run: StepRun) -> Path:
        inputs_dir = self.settings.layout.inputs_dir(run.name, run.index)
        artifacts = [i for i in run.step.inputs if i.type.is_artifact]
        if artifacts:
            if inputs_dir.exists():
                shutil.rmtree(inputs_dir)
            inputs_dir.mkdir(parents=True)
            for item in artifacts:
                value = run.inputs[item.name]
                if value.path is not None:
                    (inputs_dir / item.name).symlink_to(value.path)
        return inputs_dir

    def _env(self, run: StepRun, render: _Renderer, outputs_dir: Path, inputs_dir: Path,
             notes: list[str]) -> dict[str, str]:
        step = run.step
        places = {contract.OUTPUTS_DIR: str(outputs_dir),
                  contract.INPUTS_DIR: str(inputs_dir)}
        env = {}
        for entry in contract.runtime_env(step, lambda name: run.inputs[name].text):
            value = str(entry["value"])
            env[str(entry["name"])] = places.get(value, value)
        for var in step.env:
            if var.value is not None:
                env[var.name] = render(var.value)
            elif var.name in os.environ:  # a secret, a ConfigMap's key, a pod field: from here
                env[var.name] = os.environ[var.name]
            else:
                notes.append(f"{var.name} ({_cluster_value(var)}) is not set in this "
                             "environment; left unset")
        for source in step.env_from:
            notes.append(f"env_from {source.kind.replace('_', ' ')} `{source.name}`: its keys "
                         "exist only in a cluster; set them in this environment if needed")
        if step.distributed is not None and step.distributed.framework == "pytorch":
            env.update({k: v for k, v in TORCH_ENV.items() if k not in env})
        return env

    # ---- what it wrote ------------------------------------------------------------------

    def collect(self, run: StepRun) -> tuple[dict[str, Value], str]:
        outputs_dir = self.settings.layout.outputs_dir(run.name, run.index)
        found: dict[str, Value] = {}
        for output in run.step.outputs:
            try:
                if output.stdout:
                    keep_result(outputs_dir / output.name)
                found[output.name] = output_value(outputs_dir / output.name, output.type)
            except ValueError as error:
                hint = ""
                if output.path:
                    hint = (f" (the fixed path {output.path} is mapped into the run folder; a "
                            "program that writes there without reading it from its command "
                            "or env cannot be run locally)")
                return {}, f"output `{output.name}` ({output.type}): {error}{hint}"
        return found, ""

    # ---- data sets ----------------------------------------------------------------------

    def _preload(self, run: StepRun, header: str) -> Result:
        assert run.log is not None
        dataset = self.settings.datasets[run.name]
        source = dataset.source or ""
        if dataset.source_ref is not None:
            item = next(i for i in run.step.inputs if i.source == dataset.source_ref)
            source = run.inputs[item.name].text
        dest = self.settings.layout.dataset_dir(dataset.name)
        try:
            if datasets.is_remote(source):
                argv, env = datasets.remote_command(source, dest)
                timeout, timeout_note = self._timeout(run.step)
                invocation = Invocation(argv, env, self.settings.cwd, run.log, timeout,
                                        timeout_note=timeout_note)
                outcome = self.processes.run(invocation, header)
                return Result(outcome.ok, outcome.message, outcome.exit_code)
            local = datasets.local_source(source, self.settings.pvc_root)
            note = datasets.copy_source(local, dest)
        except (PreloadError, OSError) as error:
            message = f"data set `{dataset.name}`: {error}"
            _append(run.log, f"{header}\ncnai: {message}\n")
            return Result(False, message, 1)
        _append(run.log, f"{header}\n{note}\n")
        return Result(True, "", 0)


class _Renderer:
    """The text of a command, args or env value, with placeholders replaced."""

    def __init__(self, run: StepRun, outputs_dir: Path, paths: PathMap) -> None:
        self.run = run
        self.outputs_dir = outputs_dir
        self.paths = paths

    def __call__(self, text: ir.Text) -> str:
        pieces = []
        for part in text.parts:
            if isinstance(part, str):
                pieces.append(self.paths.rewrite(part))
            elif isinstance(part, ir.OutputPath):
                pieces.append(str(self.outputs_dir / part.name))
            else:
                pieces.append(self.run.inputs[part.name].text)
        return "".join(pieces)


def _stdout_file(step: ir.Step, outputs_dir: Path) -> Path | None:
    """Where the step's stdout goes: its output `at stdout`'s file, if it has one."""
    return next((outputs_dir / o.name for o in step.outputs if o.stdout), None)


def keep_result(path: Path) -> None:
    """Keep of a stdout what Argo's executor keeps as ``outputs.result``: one trailing newline
    trimmed, then the last 256 kB (workflow/executor/executor.go, CaptureScriptResult)."""
    text = path.read_bytes()
    if text.endswith(b"\n"):
        text = text[:-1]
    path.write_bytes(text[-MAX_PARAMETER_BYTES:])


def _inherited() -> dict[str, str]:
    """This process's environment, less the contract's variables a step must not inherit
    (``CNAI_OUTPUTS`` would win over the step's own ``CNAI_OUTPUTS_DIR``)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(CONTRACT_PREFIXES)}


def _cluster_value(var: ir.EnvVar) -> str:
    """What a variable that only a cluster can fill reads."""
    if var.secret is not None:
        return f"secret {var.secret.name}/{var.secret.key}"
    if var.config_map is not None:
        return f"config map {var.config_map.name}/{var.config_map.key}"
    return f"pod field {var.field}"


def shm_bytes(shm: str | None) -> str | None:
    """`shm` as bytes for docker's --shm-size (which reads its own units, not Kubernetes')."""
    return None if shm is None else str(int(quantity_value(shm)))


def _append(path: Path | None, text: str) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def _container_name(run: str, step: str, index: tuple[int, ...]) -> str:
    raw = "-".join(["cnai", run, step, *map(str, index)])
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", raw)[:200]
