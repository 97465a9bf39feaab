"""Split DAGs over Argo's 200-task limit into nested DAGs ("parts") of at most 200 tasks.

Argo v4's full CRDs cap a DAG's tasks at 200 (maxItems in manifests/base/crds/full). Tasks are
listed in topological order, so cutting the list into consecutive parts leaves every
dependency pointing to the same or an earlier part. Inside a part, a task keeps its
dependencies on tasks of its own part; a dependency on a task of an earlier part becomes:
- a dependency of the part on that earlier part (``part-i.Succeeded``), and
- when the task may be skipped (it has a ``when``, or depends on one that may), a condition
  on its status: the earlier part exports ``{{tasks.T.status}}`` (DAG outputs see the
  statuses of their tasks: workflow/controller/operator.go, buildLocalScope), so a task that
  waited for a skipped one is skipped too, as ``T.Succeeded`` would have had it.
Values cross parts the same way: the producing part exports the output, the parent passes it
on, the consuming part takes it as an input. The DAG's own inputs are passed through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

LIMIT = 200
_TAG = re.compile(r"\{\{tasks\.([a-z0-9-]+)\.outputs\.(parameters|artifacts)\.([A-Za-z0-9_-]+)\}\}")
_EXPR = re.compile(r"tasks\['([a-z0-9-]+)'\]\.outputs\.(parameters|artifacts)\['([^']+)'\]")
_STATUS_OR_OUTPUT = re.compile(
    r"tasks\['([a-z0-9-]+)'\](?:\.status\b|\.outputs\.(parameters|artifacts)\['([^']+)'\])")
_INPUT_TAG = re.compile(r"\{\{inputs\.(parameters|artifacts)\.([A-Za-z0-9_-]+)\}\}")
_INPUT_EXPR = re.compile(r"inputs\.(parameters|artifacts)\['([^']+)'\]")


def split_large_dags(templates: list[dict[str, Any]]) -> bool:
    """Split every DAG over the limit, in place; False if one needs more than one level."""
    for template in list(templates):
        tasks = template.get("dag", {}).get("tasks", [])
        if len(tasks) <= LIMIT:
            continue
        if len(tasks) > LIMIT * LIMIT:
            return False
        templates.extend(_Splitter(template).split())
    return True


def _io_block(entries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """``{"parameters": [...], "artifacts": [...]}`` from entries tagged with their ``kind``,
    in order, leaving out an empty list (the shape of Argo inputs, outputs and arguments)."""
    block: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        kind = entry.pop("kind")
        block.setdefault(kind, []).append(entry)
    return {kind: block[kind] for kind in ("parameters", "artifacts") if kind in block}


def _depends(task: dict[str, Any]) -> list[str]:
    text = task.get("depends", "")
    return [term.removesuffix(".Succeeded") for term in text.split(" && ") if term]


class _Splitter:
    def __init__(self, template: dict[str, Any]) -> None:
        self.template = template
        self.name = template["name"]
        tasks = template["dag"]["tasks"]
        self.parts = [tasks[i:i + LIMIT] for i in range(0, len(tasks), LIMIT)]
        self.part_of = {t["name"]: j for j, part in enumerate(self.parts) for t in part}
        self.may_skip: dict[str, bool] = {}
        for task in tasks:  # topological order
            self.may_skip[task["name"]] = "when" in task or any(
                self.may_skip.get(d, False) for d in _depends(task))
        # per part: inputs (name -> value in the parent), exported outputs, parts it needs
        self.inputs: list[dict[str, tuple[str, str]]] = [{} for _ in self.parts]
        self.exports: list[dict[str, tuple[str, str, bool]]] = [{} for _ in self.parts]
        self.needs: list[set[int]] = [set() for _ in self.parts]

    def part_name(self, index: int) -> str:
        return f"part-{index + 1}"

    def split(self) -> list[dict[str, Any]]:
        bodies = [[self._task(task, j) for task in part] for j, part in enumerate(self.parts)]
        outputs = self.template.get("outputs")
        if outputs:
            self.template["outputs"] = self._rewrite_outputs(outputs)
        new_templates = []
        for j, tasks in enumerate(bodies):
            part: dict[str, Any] = {"name": f"{self.name}-{self.part_name(j)}",
                                    "dag": {"tasks": tasks}}
            inputs = _io_block(
                {"kind": kind, "name": name} for name, (kind, _) in sorted(self.inputs[j].items())
            )
            if inputs:
                part["inputs"] = inputs
            exports = []
            for name, (kind, source, optional) in sorted(self.exports[j].items()):
                if kind == "artifacts":
                    exports.append({"kind": kind, "name": name, "from": source,
                                    **({"optional": True} if optional else {})})
                else:
                    value_from: dict[str, Any] = {"parameter": source}
                    if optional:
                        value_from["default"] = ""
                    exports.append({"kind": kind, "name": name, "valueFrom": value_from})
            outputs_of_part = _io_block(exports)
            if outputs_of_part:
                part["outputs"] = outputs_of_part
            new_templates.append(part)
        self.template["dag"]["tasks"] = [self._part_task(j) for j in range(len(self.parts))]
        return new_templates

    def _part_task(self, index: int) -> dict[str, Any]:
        task: dict[str, Any] = {"name": self.part_name(index),
                                "template": f"{self.name}-{self.part_name(index)}"}
        if self.needs[index]:
            task["depends"] = " && ".join(f"{self.part_name(i)}.Succeeded"
                                          for i in sorted(self.needs[index]))
        arguments = _io_block(
            {"kind": kind, "name": name, ("from" if kind == "artifacts" else "value"): value}
            for name, (kind, value) in sorted(self.inputs[index].items())
        )
        if arguments:
            task["arguments"] = arguments
        return task

    # ---- one task ---------------------------------------------------------------------

    def _task(self, task: dict[str, Any], part: int) -> dict[str, Any]:
        task = dict(task)
        local, conditions = [], []
        for name in _depends(task):
            owner = self.part_of[name]
            if owner == part:
                local.append(name)
                continue
            self.needs[part].add(owner)
            if self.may_skip[name]:
                status = f"status--{name}"
                self._import(part, owner, status, "parameters", f"{{{{tasks.{name}.status}}}}",
                             optional=False)
                conditions.append(f"inputs.parameters['{status}'] == 'Succeeded'")
        if local:
            task["depends"] = " && ".join(f"{n}.Succeeded" for n in local)
        else:
            task.pop("depends", None)
        for key in ("arguments", "withParam", "when"):
            if key in task:
                task[key] = self._rewrite(task[key], part)
        if conditions:
            own = task.get("when")
            body = " && ".join(f"({c})" for c in conditions)
            if own:
                body = f"{body} && ({own[3:-2]})"  # own is "{{=...}}"
            task["when"] = "{{=" + body + "}}"
        return task

    def _rewrite(self, value: Any, part: int) -> Any:
        if isinstance(value, dict):
            return {k: self._rewrite(v, part) for k, v in value.items()}
        if isinstance(value, list):
            return [self._rewrite(v, part) for v in value]
        if not isinstance(value, str):
            return value

        def tag(match: re.Match[str]) -> str:
            name, kind, output = match.groups()
            imported = self._value(part, name, kind, output)
            return match.group(0) if imported is None else f"{{{{inputs.{kind}.{imported}}}}}"

        def expr(match: re.Match[str]) -> str:
            name, kind, output = match.groups()
            imported = self._value(part, name, kind, output)
            return match.group(0) if imported is None else f"inputs.{kind}['{imported}']"

        def own_input(match: re.Match[str]) -> str:
            kind, name = match.groups()
            self.inputs[part][name] = (kind, f"{{{{inputs.{kind}.{name}}}}}")
            return match.group(0)

        value = _INPUT_TAG.sub(own_input, value)
        value = _INPUT_EXPR.sub(own_input, value)
        value = _TAG.sub(tag, value)
        return _EXPR.sub(expr, value)

    def _value(self, part: int, task: str, kind: str, output: str) -> str | None:
        owner = self.part_of.get(task)
        if owner is None or owner == part:
            return None
        name = f"out--{task}--{output}"
        self._import(part, owner, name, kind, f"{{{{tasks.{task}.outputs.{kind}.{output}}}}}",
                     optional=self.may_skip[task])
        return name

    def _import(self, part: int, owner: int, name: str, kind: str, source: str,
                optional: bool) -> None:
        self.exports[owner][name] = (kind, source, optional)
        self.inputs[part][name] = (
            kind, f"{{{{tasks.{self.part_name(owner)}.outputs.{kind}.{name}}}}}")
        self.needs[part].add(owner)

    def _from_parts(self, expression: str) -> str:
        """An output expression of the DAG, its tasks' statuses and outputs read from the
        parts that export them."""

        def read(match: re.Match[str]) -> str:
            task, kind, output = match.groups()
            owner = self.part_of[task]
            if kind is None:  # the task's status
                name = f"status--{task}"
                self.exports[owner][name] = ("parameters", f"{{{{tasks.{task}.status}}}}",
                                             False)
                return f"tasks['{self.part_name(owner)}'].outputs.parameters['{name}']"
            name = f"out--{task}--{output}"
            self.exports[owner][name] = (
                kind, f"{{{{tasks.{task}.outputs.{kind}.{output}}}}}", self.may_skip[task])
            return f"tasks['{self.part_name(owner)}'].outputs.{kind}['{name}']"

        return _STATUS_OR_OUTPUT.sub(read, expression)

    def _rewrite_outputs(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """The DAG's own outputs now come from the parts that make them."""
        result = dict(outputs)
        for key in ("parameters", "artifacts"):
            rewritten = []
            for entry in outputs.get(key, []):
                entry = dict(entry)
                field = "from" if key == "artifacts" else None
                if not field and "expression" in entry["valueFrom"]:
                    entry["valueFrom"] = {**entry["valueFrom"], "expression": self._from_parts(
                        entry["valueFrom"]["expression"])}
                    rewritten.append(entry)
                    continue
                source = entry[field] if field else entry["valueFrom"]["parameter"]
                match = _TAG.fullmatch(source)
                if match is not None:
                    task, kind, output = match.groups()
                    owner = self.part_of[task]
                    name = f"out--{task}--{output}"
                    self.exports[owner][name] = (kind, source, self.may_skip[task])
                    new = f"{{{{tasks.{self.part_name(owner)}.outputs.{kind}.{name}}}}}"
                    if field:
                        entry[field] = new
                    else:
                        entry["valueFrom"] = {**entry["valueFrom"], "parameter": new}
                rewritten.append(entry)
            if rewritten:
                result[key] = rewritten
        return result
