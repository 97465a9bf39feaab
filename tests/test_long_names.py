"""Names of any length give valid output (#15 item 3): Kubernetes and Argo names within their
limits (cut with a stable hash suffix, still unique), and a file that parses, even where a
name becomes a YAML key longer than an implicit key may be (1024 characters)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from kfp import components

import schemacheck
from cnai import compile_source
from test_kfp_support import pipeline_spec

# Argo (workflow/validate/validate.go): Workflow 63 and CronWorkflow 52 characters
# (maxCharsInObjectName, maxCharsInCronWorkflowName); templates and tasks 128 characters of
# [a-zA-Z0-9][-a-zA-Z0-9]* (isValidWorkflowFieldName); Kubernetes label values 63.
FIELD = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]{0,127}")


def pipeline(length: int, schedule: bool = False) -> str:
    def name(letter: str) -> str:
        return letter * length

    p, s, o, x = name("p"), name("s"), name("o"), name("x")
    cron = '  schedule = "0 * * * *"\n' if schedule else ""
    return f"""pipeline {name("w")} {{
{cron}  param {p}: int = 1
  dataset {name("d")} {{ source = "s3://b/k"  path = "/data"  size = "1Gi" }}
  step {s} {{ image = "a"  command = ["echo", "${{{p}}}", outputs.{o}]  mount {name("d")}
           output {o}: int }}
  step {name("t")} when {s}.{o} > 1 {{ image = "a"  command = ["echo", "${{{s}.{o}}}"] }}
  for {x} in [1, 2] {{
    step {name("u")} {{ image = "a"  command = ["echo", "${{{x}}}"] }}
  }}
}}
"""


def names_of(obj: Any, key: str = "name") -> list[str]:
    found = []
    if isinstance(obj, dict):
        for k, value in obj.items():
            if k == key and isinstance(value, str):
                found.append(value)
            found += names_of(value, key)
    elif isinstance(obj, list):
        for item in obj:
            found += names_of(item, key)
    return found


@pytest.mark.parametrize("length", [1, 62, 63, 64, 130, 1100])
def test_argo_names_fit_argo_and_kubernetes(length: int) -> None:
    for schedule in (False, True):
        result = compile_source(pipeline(length, schedule), "long.cnai", "argo")
        (document, *_) = yaml.safe_load_all(result.text)
        schemacheck.assert_valid(document)
        metadata = document["metadata"]
        if schedule:
            assert len(metadata["name"]) <= 52
            spec = document["spec"]["workflowSpec"]
        else:
            assert len(metadata["generateName"]) <= 63 - 5  # Kubernetes adds 5 characters
            spec = document["spec"]
        assert all(len(v) <= 63 for v in metadata["labels"].values())
        templates = [t["name"] for t in spec["templates"]]
        assert len(set(templates)) == len(templates)
        for template in spec["templates"]:
            assert FIELD.fullmatch(template["name"]), template["name"]
            tasks = [t["name"] for t in template.get("dag", {}).get("tasks", [])]
            assert len(set(tasks)) == len(tasks)
            assert all(FIELD.fullmatch(task) for task in tasks), tasks
        claims = [c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])]
        assert all(len(c) <= 63 for c in claims)


@pytest.mark.parametrize("length", [1, 64, 1100])
def test_kubeflow_output_parses_and_loads(length: int) -> None:
    result = compile_source(pipeline(length), "long.cnai", "kfp")
    documents = list(yaml.safe_load_all(result.text))  # keys past 1024 characters: `? key`
    pipeline_spec(documents[0])
    components.load_component_from_text(result.text)
    assert len(documents[0]["pipelineInfo"]["name"]) <= 128


def test_long_names_are_cut_stably_and_stay_distinct() -> None:
    # Two steps equal for their first 200 characters.
    text = f"""pipeline p {{
  step {"a" * 200}one {{ image = "x" }}
  step {"a" * 200}two {{ image = "x" }}
}}
"""
    first = compile_source(text, "p.cnai", "argo").text
    assert first == compile_source(text, "p.cnai", "argo").text
    tasks = yaml.safe_load(first)["spec"]["templates"][0]["dag"]["tasks"]
    names = [t["name"] for t in tasks]
    assert len(set(names)) == 2 and all(FIELD.fullmatch(n) for n in names), names
