"""The run folder: where steps write, where their logs go, and the run.json summary.

    <workdir>/<pipeline>-<YYYYmmdd-HHMMSS>[-N]/
      run.json                              status of the run and of every node
      steps/<step>[/<i>...]/outputs/<name>  what the step wrote (outputs.NAME, CNAI_OUTPUTS_DIR)
      steps/<step>[/<i>...]/inputs/<name>   links to the artifacts it reads (CNAI_INPUTS_DIR)
      logs/<step>[/<i>...].log              stdout and stderr of every attempt
      datasets/<name>/                      a data set, loaded by its preload step
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cnai.local.state import Index, LoopRun, Registry, StepRun
from cnai.outfiles import write_atomically

RUN_FILE = "run.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Layout:
    root: Path

    @classmethod
    def create(cls, workdir: Path, pipeline: str, now: float | None = None) -> Layout:
        """A new, empty run folder; ``-2``, ``-3``, ... when the second has one already."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
        workdir.mkdir(parents=True, exist_ok=True)
        base = workdir / f"{pipeline}-{stamp}"
        candidate, counter = base, 2
        while True:
            try:
                candidate.mkdir()
            except FileExistsError:
                candidate, counter = Path(f"{base}-{counter}"), counter + 1
                continue
            break
        root = candidate.resolve()
        for sub in ("steps", "logs", "datasets"):
            (root / sub).mkdir()
        return cls(root)

    def step_dir(self, step: str, index: Index) -> Path:
        return self.root.joinpath("steps", step, *map(str, index))

    def outputs_dir(self, step: str, index: Index) -> Path:
        return self.step_dir(step, index) / "outputs"

    def inputs_dir(self, step: str, index: Index) -> Path:
        return self.step_dir(step, index) / "inputs"

    def log_path(self, step: str, index: Index) -> Path:
        if not index:
            return self.root / "logs" / f"{step}.log"
        *outer, last = map(str, index)
        return self.root.joinpath("logs", step, *outer, f"{last}.log")

    def dataset_dir(self, name: str) -> Path:
        return self.root / "datasets" / name

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def iso(moment: float | None) -> str | None:
    """ISO 8601 local time with its offset: ``2025-01-31T12:39:01.120+01:00``."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment).astimezone().isoformat(timespec="milliseconds")


def summary(layout: Layout, pipeline: str, status: str, params: dict[str, Any],
            registry: Registry, started: float, finished: float | None,
            runner: dict[str, Any] | None = None) -> dict[str, Any]:
    """run.json: the run, then every node in the order it was created. ``runner`` (the
    process running it, cnai.local.runner) is there while the status is Running."""
    data: dict[str, Any] = {
        "format": FORMAT_VERSION, "pipeline": pipeline, "run": layout.root.name,
        "status": status, "started": iso(started), "finished": iso(finished)}
    if runner is not None:
        data["runner"] = runner
    data.update(params=params, nodes=[_node(layout, n) for n in registry.sorted()])
    return data


def _node(layout: Layout, node: StepRun | LoopRun) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": node.id}
    if isinstance(node, LoopRun):
        entry.update(kind="loop", loop=node.loop.id, var=node.loop.var)
    else:
        entry.update(kind="step", step=node.name, step_kind=node.step.kind)
    if node.index:
        entry["iteration"] = list(node.index)
        entry["loop_vars"] = {b.var: b.item for b in node.context.bindings}
    entry.update(status=str(node.status), started=iso(node.started),
                 finished=iso(node.finished), message=node.message)
    if isinstance(node, LoopRun):
        entry["items"] = node.items
        return entry
    entry.update(attempts=node.attempts, exit_code=node.exit_code)
    if node.log is not None and node.log.exists():
        entry["log"] = layout.relative(node.log)
    outputs: dict[str, Any] = {}
    for name, value in node.outputs.items():
        item: dict[str, Any] = {"path": layout.relative(value.path) if value.path else None}
        if not node.step.output(name).type.is_artifact:
            item["value"] = value.typed
        outputs[name] = item
    entry["outputs"] = outputs
    return entry


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` only once the whole document is written."""
    write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
