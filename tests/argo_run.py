"""Run an emitted Workflow's DAGs as Argo's controller decides them, for tests that compare
two Workflows (one DAG, or the same DAG partitioned into parts) by what they run.

Rules (argoproj/argo-workflows v4.1.2, workflow/controller/dag.go and operator.go):
- a task runs once its ``depends`` is decided: ``X.Succeeded`` false for any X means Omitted;
  tasks whose dependencies are decided start together (one round); once a task of a DAG has
  failed, no new task of it starts (DAGTemplate.failFast, true by default);
- then its ``when`` (one ``{{= }}`` tag here) is evaluated with expr-lang; false means Skipped;
- a DAG fails if one of its tasks failed, else it Succeeded (Skipped and Omitted tasks do not
  fail it); a DAG's outputs are resolved from its tasks' outputs and statuses, a missing
  output taking its ``default`` (or ``optional`` for artifacts);
- ``withItems``/``withParam`` run the template once per item (none: Skipped); the loop
  task's output parameters aggregate the iterations' values, parsed when every one is a JSON
  list (aggregatedJSONValueList).
A container template's outcome comes from the test: ``leaf(name, arguments)`` returns its
outputs, or None for a failure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import exprlang

Leaf = Callable[[str, dict[str, str]], dict[str, str] | None]
PART = re.compile(r"part\d*-\d+")  # a part's task: not part of a leaf's identity


class Missing(Exception):
    """A tag whose value does not exist (an output of a task that did not run)."""


class Run:
    def __init__(self, workflow: dict[str, Any], leaf: Leaf) -> None:
        spec = workflow["spec"]
        self.templates = {t["name"]: t for t in spec["templates"]}
        self.workflow = {p["name"]: p.get("value", "")
                         for p in spec.get("arguments", {}).get("parameters", [])}
        self.leaf = leaf
        self.leaves: dict[str, tuple[str, dict[str, str]]] = {}
        self.status, _ = self.dag(self.templates[spec["entrypoint"]], {}, "")

    def outcome(self) -> dict[str, tuple[str, dict[str, str]]]:
        """Each leaf that ran (Succeeded or Failed): its status and arguments."""
        return {k: v for k, v in self.leaves.items() if v[0] in ("Succeeded", "Failed")}

    # ---- templating --------------------------------------------------------------------

    def env(self, inputs: dict[str, str], statuses: dict[str, str],
            outputs: dict[str, dict[str, str]]) -> dict[str, Any]:
        tasks = {name: {"status": status, "outputs": {"parameters": outputs.get(name, {})}}
                 for name, status in statuses.items()}
        return {"tasks": tasks, "inputs": {"parameters": inputs},
                "workflow": {"parameters": self.workflow}}

    def fill(self, text: str, env: dict[str, Any]) -> str:
        def tag(match: re.Match[str]) -> str:
            body = match.group(1)
            if body.startswith("="):
                value = exprlang.evaluate(body[1:], env)
                return value if isinstance(value, str) else json.dumps(value)
            node: Any = env
            path = body.split(".")
            if path[0] == "tasks" and path[2] == "outputs":
                path = [*path[:3], "parameters", *path[4:]]  # artifacts kept as parameters
            if path[0] == "inputs":
                path = ["inputs", "parameters", *path[2:]]
            for key in path:
                if not isinstance(node, dict) or key not in node:
                    raise Missing(body)
                node = node[key]
            return str(node)

        return re.sub(r"\{\{(.*?)\}\}", tag, text)

    # ---- DAGs --------------------------------------------------------------------------

    def dag(self, template: dict[str, Any], inputs: dict[str, str],
            path: str) -> tuple[str, dict[str, str]]:
        statuses: dict[str, str] = {}
        outputs: dict[str, dict[str, str]] = {}
        pending = list(template["dag"]["tasks"])
        while pending:
            ready = [t for t in pending if all(d in statuses for d in _depends(t))]
            assert ready, f"a cycle or unknown task in {template['name']}"
            for task in ready:
                pending.remove(task)
                name = task["name"]
                statuses[name], outputs[name] = self.task(
                    task, inputs, statuses, outputs,
                    path if PART.fullmatch(name) else f"{path}/{name}")
            if "Failed" in statuses.values():
                break  # failFast (the default): no new task starts once one has failed
        if "Failed" in statuses.values():
            return "Failed", {}  # a failed DAG's outputs are not read: what reads them fails
        status = "Succeeded"
        env = self.env(inputs, statuses, outputs)
        result: dict[str, str] = {}
        declared = template.get("outputs", {})
        for entry in declared.get("parameters", []):
            source = entry["valueFrom"]
            try:
                if "expression" in source:
                    value = exprlang.evaluate(source["expression"], env)
                    result[entry["name"]] = value if isinstance(value, str) else json.dumps(
                        value)
                else:
                    result[entry["name"]] = self.fill(source["parameter"], env)
            except Missing:
                if "default" not in source:
                    return "Failed", {}
                result[entry["name"]] = source["default"]
        for entry in declared.get("artifacts", []):
            try:
                result[entry["name"]] = self.fill(entry["from"], env)
            except Missing:
                if not entry.get("optional"):
                    return "Failed", {}
        return status, result

    def task(self, task: dict[str, Any], inputs: dict[str, str], statuses: dict[str, str],
             outputs: dict[str, dict[str, str]], path: str) -> tuple[str, dict[str, str]]:
        if any(statuses[d] != "Succeeded" for d in _depends(task)):
            return "Omitted", {}
        env = self.env(inputs, statuses, outputs)
        if "when" in task and self.fill(task["when"], env) != "true":
            self.leaves.setdefault(path, ("Skipped", {}))
            return "Skipped", {}
        items: list[Any] | None = None
        if "withItems" in task:
            items = task["withItems"]
        elif "withParam" in task:
            items = json.loads(self.fill(task["withParam"], env))
        if items is None:
            return self.call(task, env, path)
        if not items:
            return "Skipped", {}
        gathered: dict[str, list[str]] = {}
        status = "Succeeded"
        for index, item in enumerate(items):
            text = item if isinstance(item, str) else json.dumps(item)
            one, values = self.call(task, {**env, "item": text}, f"{path}({index})")
            status = "Failed" if one == "Failed" else status
            for key, value in values.items():
                gathered.setdefault(key, []).append(value)
        return status, {key: _aggregate(values) for key, values in gathered.items()}

    def call(self, task: dict[str, Any], env: dict[str, Any],
             path: str) -> tuple[str, dict[str, str]]:
        arguments: dict[str, str] = {}
        try:
            for entry in task.get("arguments", {}).get("parameters", []):
                arguments[entry["name"]] = self.fill(entry["value"].replace(
                    "{{item}}", str(env.get("item", ""))), env)
            for entry in task.get("arguments", {}).get("artifacts", []):
                arguments[entry["name"]] = self.fill(entry["from"], env)
        except Missing:
            return "Failed", {}  # Argo fails a task whose arguments do not resolve
        template = self.templates[task["template"]]
        if "dag" in template:
            return self.dag(template, arguments, path)
        made = self.leaf(path, arguments)
        status = "Failed" if made is None else "Succeeded"
        self.leaves[path] = (status, arguments)
        return status, made or {}


def _depends(task: dict[str, Any]) -> list[str]:
    text = task.get("depends", "")
    return [term.removesuffix(".Succeeded") for term in text.split(" && ") if term]


def _aggregate(values: list[str]) -> str:
    try:
        parsed = [json.loads(v) for v in values]
    except ValueError:
        parsed = []
    if parsed and all(isinstance(v, list) for v in parsed):
        return json.dumps(parsed)
    return json.dumps(values)


def longest_chain(workflow: dict[str, Any]) -> int:
    """The longest chain of waits, in container tasks: a task that depends on another waits
    for everything inside it (a DAG task takes as long as its own longest chain)."""
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    memo: dict[str, int] = {}

    def length(name: str) -> int:
        if name in memo:
            return memo[name]
        template = templates[name]
        if "dag" not in template:
            return 1
        tasks = template["dag"]["tasks"]
        waits = {t["name"]: _depends(t) for t in tasks}
        dependants: dict[str, list[str]] = {}
        for task, upstream in waits.items():
            for name in upstream:
                dependants.setdefault(name, []).append(task)
        left = {task: len(upstream) for task, upstream in waits.items()}
        own = {t["name"]: length(t["template"]) for t in tasks}
        finish: dict[str, int] = {}
        ready = [task for task, count in left.items() if count == 0]
        while ready:  # Kahn's order: each task after everything it depends on
            task = ready.pop()
            finish[task] = own[task] + max((finish[d] for d in waits[task]), default=0)
            for later in dependants.get(task, []):
                left[later] -= 1
                if left[later] == 0:
                    ready.append(later)
        assert len(finish) == len(tasks), f"a cycle or unknown task in {name}"
        memo[name] = max(finish.values())
        return memo[name]

    return length(workflow["spec"]["entrypoint"])


def dag_sizes(workflow: dict[str, Any]) -> list[int]:
    return [len(t["dag"]["tasks"]) for t in workflow["spec"]["templates"] if "dag" in t]
