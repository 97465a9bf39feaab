"""Package a Workflow too large for one object into the Workflow plus WorkflowTemplates.

Argo stores each object in etcd (about 1 MiB), and its full CRDs cap ``spec.templates`` at 200
items (maxItems in manifests/base/crds/full/argoproj.io_workflows.yaml and
argoproj.io_workflowtemplates.yaml; the other caps that apply to what cnai emits, 200 tasks
per DAG, 500 input parameters and 128-character template names, do not change here: a
template moves whole). A Workflow within both limits is returned untouched. Otherwise:

- The Workflow keeps ``spec.entrypoint`` and ``spec.onExit`` (Argo resolves both by name in
  the Workflow) and as many more templates as fit; the rest go into WorkflowTemplates, each at
  most 200 templates and under ``PACK_BYTES``, filled in the order of a walk from the
  entrypoint that puts every template after the ones it calls, so a DAG and the templates it
  runs tend to share an object, and a WorkflowTemplate refers only to itself and to earlier
  ones. The Argo Server validates a WorkflowTemplate when it is created, resolving each
  ``templateRef`` (workflow/validate/validate.go: every template is checked, a DAG's tasks
  through validateTemplateHolder), so they are created in the order returned, the Workflow
  last.
- Which object a template may live in follows from how Argo resolves a reference
  (workflow/templateresolution/context.go): a task's ``template: NAME`` is looked up in the
  object that holds the calling template (``tmplBase``), and after a ``templateRef`` the base
  becomes that WorkflowTemplate (WithTemplateHolder). A WorkflowTemplate cannot name a
  Workflow's template, so every template a packed template calls is packed too; a call into
  another object becomes ``templateRef: {name, template}``.
- What a referenced template sees is the running Workflow's: ``{{workflow.parameters.*}}``
  are global parameters (validate.go lets a WorkflowTemplate use them undeclared, for the
  Workflow that runs it supplies them), pods mount volumes by name from the Workflow's
  ``spec.volumes`` and the claims of its ``volumeClaimTemplates`` (woc.volumes in
  workflow/controller/operator.go and workflowpod.go), ``memoize`` names a ConfigMap of the
  namespace, and ``{{inputs.*}}`` are the template's own, bound from the task's arguments.
  Nothing cnai emits needs to stay in the Workflow beyond the entrypoint and the exit handler.
- Names: ``<pipeline>-<10 hex of a sha256 over the packed templates>-<n>``, at most 63
  characters (validate.go, maxCharsInObjectName), labelled ``cnai.dev/pipeline``. The same
  file compiles to the same names; a changed template changes every name, so two versions of
  a pipeline never share or overwrite each other's WorkflowTemplates.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from typing import Any

from cnai.limits import ARGO_OBJECT_BYTES, ARGO_WARN_BYTES, object_size
from cnai.semantics.units import k8s_name

API_VERSION = "argoproj.io/v1alpha1"
MAX_TEMPLATES = 200  # spec.templates maxItems (Argo v4's full CRDs)
PACK_BYTES = ARGO_WARN_BYTES  # each object stays below check_size's warning
NAME_MAX = 63  # validate.go: maxCharsInObjectName, for Workflows and WorkflowTemplates
DIGEST_CHARS = 10
PIPELINE_LABEL = "cnai.dev/pipeline"
# What a task's JSON gains when ``template`` becomes ``templateRef`` to an object named
# "" (_REF_BASE: add the name's JSON), and to the longest allowed name (_REF_GROWTH).
_REF_BASE = (len(json.dumps({"templateRef": {"name": "", "template": ""}}, separators=(",", ":")))
             - len(json.dumps({"template": ""}, separators=(",", ":"))) - len('""'))
_REF_GROWTH = _REF_BASE + len(json.dumps("x" * NAME_MAX))


def templates_of(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The templates of a Workflow, CronWorkflow or WorkflowTemplate."""
    spec = document.get("spec", {})
    templates: list[dict[str, Any]] = spec.get("workflowSpec", spec).get("templates", [])
    return templates


def tasks_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every task or step of a DAG or steps template (the places that call a template)."""
    tasks: list[dict[str, Any]] = template.get("dag", {}).get("tasks", [])
    steps: list[list[dict[str, Any]]] = template.get("steps", [])
    # Made in C, not by a generator resumed per task: package walks every task it packs.
    return [*tasks, *[step for parallel in steps for step in parallel]] if steps else [*tasks]


def package(workflow: dict[str, Any], pipeline: str) -> list[dict[str, Any]]:
    """``[workflow]`` when it fits, else ``[*workflow_templates, workflow]`` in apply order.

    ``pipeline`` is the pipeline's Kubernetes name. Rewrites ``workflow`` in place.
    """
    return [document for document, _ in package_sized(workflow, pipeline)]


def package_sized(workflow: dict[str, Any],
                  pipeline: str) -> list[tuple[dict[str, Any], int]]:
    """package(), each object with its size as object_size counts it: the templates' JSON
    is written here anyway, and writing the objects again to measure them costs as much."""
    spec = workflow["spec"].get("workflowSpec", workflow["spec"])
    templates: list[dict[str, Any]] = spec["templates"]
    # Each template's JSON, made once: its length is its share of the object's size, and the
    # packed ones' texts make the names' digest.
    texts = {t["name"]: _json(t) for t in templates}
    envelope = _size_without_templates(workflow)  # the rest of the Workflow, which stays
    size = _sized(envelope, [len(text) for text in texts.values()])
    if len(templates) <= MAX_TEMPLATES and size <= ARGO_OBJECT_BYTES:
        return [(workflow, size)]
    by_name = {t["name"]: t for t in templates}
    tasks = {t["name"]: tasks_of(t) for t in templates}  # walked once, read thrice
    calls = {name: list(dict.fromkeys([task["template"] for task in found
                                       if "template" in task]))
             for name, found in tasks.items()}
    callers: dict[str, set[str]] = {name: set() for name in by_name}
    for caller, callees in calls.items():
        for callee in callees:
            callers[callee].add(caller)
    # A template's size once its calls may have become templateRefs, and its list comma.
    cost = {name: len(texts[name]) + 1 + _REF_GROWTH * len(found)
            for name, found in tasks.items()}
    roots = [spec["entrypoint"], *([spec["onExit"]] if spec.get("onExit") else [])]
    kept = _kept(envelope, roots, calls, callers, cost)
    rest = [name for name in _walk(roots, calls, [t["name"] for t in templates])
            if name not in kept]
    bins = _pack(rest, cost)
    # The JSON of [pipeline, [the packed templates]], as json.dumps writes it.
    packed_text = f"[{json.dumps(pipeline)},[{','.join(texts[name] for name in rest)}]]"
    digest = hashlib.sha256(packed_text.encode()).hexdigest()
    suffix_max = len(f"-{digest[:DIGEST_CHARS]}-{len(bins)}")
    prefix = k8s_name(pipeline, NAME_MAX - suffix_max)
    names = [f"{prefix}-{digest[:DIGEST_CHARS]}-{n}" for n in range(1, len(bins) + 1)]
    home = {name: names[index] for index, members in enumerate(bins) for name in members}
    # Each template's size once its calls point where their templates live.
    final = {name: len(texts[name]) + _refer(found, home.get(name), home)
             for name, found in tasks.items()}
    spec["templates"] = [t for t in templates if t["name"] in kept]
    run = (workflow, _sized(envelope, [final[t["name"]] for t in spec["templates"]]))
    packed: list[tuple[dict[str, Any], int]] = []
    for name, members in zip(names, bins, strict=True):
        holder: list[dict[str, Any]] = []
        document = {"apiVersion": API_VERSION, "kind": "WorkflowTemplate",
                    "metadata": {"name": name, "labels": {PIPELINE_LABEL: pipeline}},
                    "spec": {"templates": holder}}
        packed.append((document, _sized(object_size(document), [final[n] for n in members])))
        holder += [by_name[n] for n in members]
    return [*packed, run]


def _sized(envelope: int, templates: list[int]) -> int:
    """The size of an object whose template list, empty, makes it ``envelope`` bytes, once
    it holds templates of these sizes: theirs and a comma between each two."""
    return envelope + sum(templates) + max(len(templates) - 1, 0)


def _json(document: dict[str, Any]) -> str:
    """Compact JSON with sorted keys: ASCII (json.dumps escapes the rest), so its length is
    the object's size in bytes as object_size counts it, and its text is the same for the
    same template whatever the order its keys were set in. No check for reference cycles: a
    document is a tree."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), check_circular=False)


def _size_without_templates(workflow: dict[str, Any]) -> int:
    """object_size of the Workflow with an empty template list."""
    spec = workflow["spec"].get("workflowSpec", workflow["spec"])
    templates = spec["templates"]
    spec["templates"] = []
    size = object_size(workflow)
    spec["templates"] = templates
    return size


def _kept(size: int, roots: list[str], calls: dict[str, list[str]],
          callers: dict[str, set[str]], cost: dict[str, int]) -> set[str]:
    """The templates the Workflow keeps: the roots, then, walking breadth first, every
    template all of whose callers it keeps, while the Workflow (``size`` bytes without
    templates) stays within both limits."""
    kept: set[str] = set()
    queue = deque(roots)
    while queue:
        name = queue.popleft()
        if name in kept:
            continue
        if name not in roots and (not callers[name] <= kept or len(kept) >= MAX_TEMPLATES
                                  or size + cost[name] > PACK_BYTES):
            continue
        kept.add(name)
        size += cost[name]
        queue.extend(calls[name])
    return kept


def _walk(roots: list[str], calls: dict[str, list[str]], everything: list[str]) -> list[str]:
    """Every template once, each after every template it calls (depth first from the roots,
    then any template nothing calls, in their order): packed in this order, a
    WorkflowTemplate refers only to itself and to those before it."""
    order: list[str] = []
    seen: set[str] = set()
    for root in [*roots, *everything]:
        stack = [(root, False)]
        while stack:
            name, done = stack.pop()
            if done:
                order.append(name)
                continue
            if name in seen:
                continue
            seen.add(name)
            stack.append((name, True))
            stack.extend((callee, False) for callee in reversed(calls[name]))
    return order


def _pack(names: list[str], cost: dict[str, int]) -> list[list[str]]:
    """Consecutive runs of ``names``, each within MAX_TEMPLATES and PACK_BYTES (a template
    larger than PACK_BYTES alone gets its own object; check_size reports it)."""
    budget = PACK_BYTES - object_size(
        {"apiVersion": API_VERSION, "kind": "WorkflowTemplate",
         "metadata": {"name": "x" * NAME_MAX, "labels": {PIPELINE_LABEL: "x" * NAME_MAX}},
         "spec": {"templates": []}})
    bins: list[list[str]] = []
    size = 0
    for name in names:
        if not bins or len(bins[-1]) >= MAX_TEMPLATES or size + cost[name] > budget:
            bins.append([])
            size = 0
        bins[-1].append(name)
        size += cost[name]
    return bins


def _refer(tasks: list[dict[str, Any]], where: str | None, home: dict[str, str]) -> int:
    """Point each call of a template's ``tasks`` (the template lives in ``where``, None for
    the Workflow) at the object holding the callee: a name in the same object, a
    templateRef otherwise. Returns the bytes the template's JSON grows by."""
    grown = 0
    for task in tasks:
        callee = task.get("template")
        if callee is None or home.get(callee) == where:
            continue
        assert callee in home, f"{callee} is called from a WorkflowTemplate but kept"
        del task["template"]
        task["templateRef"] = {"name": home[callee], "template": callee}
        # `"template":X` became `"templateRef":{"name":N,"template":X}`: the same keys
        # besides, so the same commas.
        grown += _REF_BASE + len(json.dumps(home[callee]))
    return grown
