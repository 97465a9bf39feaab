"""`cnai graph`: the DAG as DOT, Mermaid, SVG and PNG, as a user sees it.

The SVG tests read what Graphviz drew: each node is a ``<g class="node">`` whose ``<title>`` is
its DOT id (a step's name), each edge a ``<g class="edge">`` titled ``A->B`` with its label as
``<text>``. They need Graphviz's ``dot``; CI installs it (.ci/run), so there they never skip.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cnai.cli import main
from cnai.driver import compile_file
from testpaths import EXAMPLES, ROOT

SEED = EXAMPLES / "model_pipeline.cnai"
PICTURE = ROOT / "docs" / "images" / "model_pipeline.svg"
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None and not os.environ.get("CI"),
                               reason="Graphviz's dot is not installed (CI installs it)")


def graph(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["graph", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def svg_parts(svg: str) -> tuple[set[str], dict[str, list[str]], dict[str, list[str]]]:
    """(node titles, {edge title: its texts}, {cluster title: its label texts})."""
    root = ET.fromstring(svg)
    nodes: set[str] = set()
    edges: dict[str, list[str]] = {}
    clusters: dict[str, list[str]] = {}
    for group in root.iter(f"{SVG}g"):
        title = group.findtext(f"{SVG}title") or ""
        texts = [t.text or "" for t in group.iter(f"{SVG}text")]
        kind = group.get("class")
        if kind == "node":
            nodes.add(title)
        elif kind == "edge":
            edges[title] = texts
        elif kind == "cluster":
            clusters[title] = texts
    return nodes, edges, clusters


@needs_dot
def test_svg_of_the_seed_has_the_steps_the_preload_and_the_gate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dag.svg"
    status, stdout, stderr = graph(capsys, str(SEED), "-o", str(out))
    assert (status, stdout, stderr) == (0, "", "")
    nodes, edges, _ = svg_parts(out.read_text(encoding="utf-8"))
    assert nodes == {"preload_imagenet", "validate", "train", "evaluate", "deploy",
                     "dataset.imagenet"}
    assert edges["evaluate->deploy"] == ["when evaluate.accuracy > min_accuracy"]
    assert edges["train->evaluate"] == ["model"]
    assert edges["validate->train"] == []
    assert edges["preload_imagenet->dataset.imagenet"] == ["fills"]
    assert edges["dataset.imagenet->train"] == ["mount"]
    assert len(edges) == 7


@needs_dot
def test_sweep_draws_the_loop_the_branches_and_finally(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sweep.svg"
    assert graph(capsys, str(EXAMPLES / "sweep.cnai"), "-o", str(out))[0] == 0
    nodes, edges, clusters = svg_parts(out.read_text(encoding="utf-8"))
    assert clusters == {"cluster_for-lr": ["for lr in lrs parallel 2"],
                        "cluster_condition-1": ["if pick.best < 0.05"],
                        "cluster_condition-2": ["else"],
                        "cluster_finally": ["finally"]}
    assert edges["pick->publish"] == ["if pick.best < 0.05"]
    assert edges["pick->alert"] == ["else"]
    assert "notify" in nodes and "alert->notify" not in edges  # invisible: it only places
    dot = graph(capsys, str(EXAMPLES / "sweep.cnai"))[1]
    assert dot.endswith('  "publish" -> "notify" [style=invis];\n'
                        '  "alert" -> "notify" [style=invis];\n}\n')


def test_dot_marks_services_distributed_and_gpu_steps(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, dot, _ = graph(capsys, str(EXAMPLES / "cloud_native.cnai"))
    assert status == 0
    assert re.search(r'^  "resnet_api" \[label="resnet_api\\nservice, port 8080", '
                     r"shape=component\];$", dot, re.M), dot
    train = next(line for line in dot.splitlines() if line.startswith('  "train"'))
    assert "shape=box3d" in train and "tensorflow: 1 master + 7 workers" in train
    assert "GPU x 8" in train and 'fillcolor="#fde2b3"' in train


def test_a_gate_on_params_only_is_shown_on_its_step(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "p.cnai"
    source.write_text('pipeline p {\n  param go: bool = true\n'
                      '  step a when go { image = "busybox:1.36" }\n}\n', encoding="utf-8")
    status, dot, _ = graph(capsys, str(source))
    assert status == 0
    assert '"a" [label="a\\nbusybox:1.36\\nwhen go"' in dot


def test_text_formats_are_deterministic_and_follow_the_suffix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("sweep", "model_pipeline", "production", "cloud_native"):
        first = graph(capsys, str(EXAMPLES / f"{name}.cnai"))[1]
        assert first.startswith('digraph "') and graph(
            capsys, str(EXAMPLES / f"{name}.cnai"))[1] == first
    runs = {subprocess.run([sys.executable, "-m", "cnai", "graph", str(EXAMPLES / "sweep.cnai"),
                            "--format", kind], env={**os.environ, "PYTHONHASHSEED": seed},
                           capture_output=True, text=True, timeout=60, check=True).stdout
            for kind in ("dot", "mermaid") for seed in ("0", "1")}
    assert len(runs) == 2  # one text per format, whatever the hash seed
    out = tmp_path / "dag.mmd"
    assert graph(capsys, str(EXAMPLES / "sweep.cnai"), "-o", str(out))[0] == 0
    mermaid = out.read_text(encoding="utf-8")
    assert mermaid == graph(capsys, str(EXAMPLES / "sweep.cnai"), "--format", "mermaid")[1]
    assert mermaid.splitlines()[:4] == ["---", "title: sweep", "---", "flowchart TB"]
    assert '  subgraph g_condition_1["if pick.best #lt; 0.05"]' in mermaid
    assert '  n1 ==>|"if pick.best #lt; 0.05"| n2' in mermaid
    assert "  class n0 gpu" in mermaid


@needs_dot
def test_png_is_a_readable_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dag.png"
    assert graph(capsys, str(SEED), "-o", str(out))[0] == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    width, height = struct.unpack(">II", data[16:24])
    assert (length, kind) == (13, b"IHDR") and width > 100 and height > 100
    assert data[-8:-4] == b"IEND"


def test_without_dot_svg_fails_plainly_and_keeps_the_output(tmp_path: Path) -> None:
    out = tmp_path / "dag.svg"
    out.write_text("old", encoding="utf-8")
    python = Path(sys.executable)
    env = {**os.environ, "PATH": str(tmp_path / "nothing"), "NO_COLOR": "1"}
    result = subprocess.run([str(python), "-m", "cnai", "graph", str(SEED), "-o", str(out)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("cnai: error: SVG output needs Graphviz's `dot` program")
    assert "-o dag.dot" in result.stderr and result.stderr.count("\n") == 1
    assert out.read_text(encoding="utf-8") == "old"
    as_dot = subprocess.run([str(python), "-m", "cnai", "graph", str(SEED), "-o",
                             str(tmp_path / "dag.dot")], env=env, capture_output=True,
                            text=True, timeout=60)
    assert as_dot.returncode == 0, as_dot.stderr


def test_usage_and_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, stderr = graph(capsys, str(SEED), "-o", str(tmp_path / "dag.jpeg"))
    assert status == 2 and "cannot tell the format from 'dag.jpeg'" in stderr
    bad = tmp_path / "bad.cnai"
    bad.write_text('pipeline p {\n  step a after nothing { image = "x" }\n}\n',
                   encoding="utf-8")
    out = tmp_path / "dag.dot"
    out.write_text("old", encoding="utf-8")
    status, stdout, stderr = graph(capsys, str(bad), "-o", str(out))
    assert (status, stdout) == (1, "") and "error[E0102]" in stderr
    assert out.read_text(encoding="utf-8") == "old"


@needs_dot
def test_the_readme_picture_is_what_cnai_graph_draws(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "dag.svg"
    assert graph(capsys, str(SEED), "-o", str(out))[0] == 0
    drawn, committed = out.read_text(encoding="utf-8"), PICTURE.read_text(encoding="utf-8")
    version = re.compile(r"<!-- Generated by graphviz version (\S+)")
    found = version.search(committed)
    assert found is not None
    if found.group(1) == version.search(drawn).group(1):  # type: ignore[union-attr]
        assert drawn == committed, ("docs/images/model_pipeline.svg is stale: "
                                    "cnai graph examples/model_pipeline.cnai -o "
                                    "docs/images/model_pipeline.svg")
    else:  # another Graphviz lays it out differently: the same nodes, edges and labels
        assert svg_parts(drawn) == svg_parts(committed)


def test_check_and_graph_dot_do_not_import_graphviz() -> None:
    script = ("import sys\nfrom cnai.cli import main\n"
              f"main(['check', {str(SEED)!r}])\nmain(['graph', {str(SEED)!r}])\n"
              "print('graphviz' in sys.modules, 'cnai.authoring.graph' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.endswith("False True\n")


@needs_dot
@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "fixtures" / "valid").glob("*.cnai")),
                         ids=lambda p: p.name)
def test_every_valid_fixture_renders(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, svg, stderr = graph(capsys, str(path), "--format", "svg")
    assert (status, stderr) == (0, "")
    nodes, _, _ = svg_parts(svg)
    pipeline = compile_file(path, "ir").graph
    assert pipeline is not None
    assert {s.name for s in pipeline.steps} <= nodes
