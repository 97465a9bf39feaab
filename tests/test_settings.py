"""Every setting is declared once (cnai.semantics.settings); what derives from the
declarations is checked here, setting by setting, so a new declaration is covered without a
new test:

- the declarations are well formed, and the checker's tables are theirs;
- the IR: every ir.Step / ir.Pipeline field is a setting's or listed as structural, and each
  setting's kind matches its attribute's annotation;
- template sharing: two steps that differ only in one setting never share a template (the
  pair is made from the declaration), and dedupe_templates ignores only structural fields;
- rendering: each setting names a renderer each target registers, or a registered code that
  refuses it; and its declared example, compiled for each target, changes the output (or is
  refused with that code);
- the docs: docs/language.md's tables name every setting.
"""

from __future__ import annotations

import importlib
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml

import cnai.backends.argo
import cnai.backends.kfp  # noqa: F401  (registers its renderers)
from cnai.backends import argo_settings, kfp_platform
from cnai.context import CompileContext, Options
from cnai.diagnostics import CODES
from cnai.driver import CompileFailed, compile_source
from cnai.semantics import ir
from cnai.semantics.fields import FIELDS, REQUIRED
from cnai.semantics.settings import (
    BY_CONTEXT,
    CONTEXT_MODELS,
    KINDS,
    MERGES,
    SETTINGS,
    STRUCTURAL_PIPELINE_FIELDS,
    STRUCTURAL_STEP_FIELDS,
    TARGETS,
    Setting,
)
from cnai.source import SourceFile, Span

dedupe = importlib.import_module("cnai.passes.dedupe_templates")  # the module, not the pass
kfp_submit = importlib.import_module("cnai.submit.kfp_submit")

ROOT = Path(__file__).resolve().parent.parent
TOP = ("pipeline", "step", "service", "dataset")  # contexts that are not blocks
CODE = re.compile(r"[EW]\d{4}")
RENDERERS = {"argo": argo_settings.RENDERERS, "kfp": kfp_platform.RENDERERS}
IDS = [f"{s.where[0]}.{s.name}" for s in SETTINGS]


def block_of(context: str) -> Setting:
    """The setting that opens block ``context`` (``resources { ... }``)."""
    return next(s for s in SETTINGS if s.name == context and s.kind in ("block", "decl"))


# ---- the declarations --------------------------------------------------------------------

def test_declarations_are_well_formed() -> None:
    for setting in SETTINGS:
        assert setting.kind in KINDS and setting.merge in MERGES, setting
        assert setting.example, f"`{setting.name}` has no example"
        for context in setting.where:
            assert context in CONTEXT_MODELS, f"`{setting.name}`: unknown context {context}"
            if context not in TOP:
                block_of(context)  # a block's fields belong to a declared block
        if setting.merge:
            assert "pipeline" in setting.where and len(setting.where) > 1, setting
    # One declaration per name and context: a second would silently replace the first.
    assert sum(len(s.where) for s in SETTINGS) == sum(map(len, BY_CONTEXT.values()))


def test_the_checkers_tables_are_the_declarations() -> None:
    for context, settings in BY_CONTEXT.items():
        assert list(FIELDS[context]) == [n for n, s in settings.items() if s.kind != "decl"]
        assert REQUIRED[context] == tuple(n for n in FIELDS[context] if settings[n].required)


def test_a_simple_setting_is_read_from_its_declaration() -> None:
    """`timeout` has no reader of its own: its range comes from the declaration."""
    source = 'pipeline p { step s { image = "i" timeout = "1h30m" cache = true } }'
    (step,) = compile_source(source, "t.cnai", "argo").graph.steps  # type: ignore[union-attr]
    assert (step.timeout_seconds, step.cache) == (5400, True)
    with pytest.raises(CompileFailed) as failure:
        compile_source('pipeline p { step s { image = "i" timeout = 3 } }', "t.cnai", "argo")
    assert [d.message for d in failure.value.diagnostics] == [
        "expected a string, found an integer"]


# ---- the IR ------------------------------------------------------------------------------

def _annotation(model: type[ir.Node], path: str) -> Any:
    annotation: Any = model
    for name in path.split("."):
        (model,) = [t for t in _types(annotation) if isinstance(t, type)
                    and issubclass(t, ir.Node)]
        annotation = model.model_fields[name].annotation
    return annotation


def _types(annotation: Any) -> list[Any]:
    """The alternatives of an annotation (``X | None``: X and None's type), flattened."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _types(arg)]
    if origin is typing.Annotated:
        return _types(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return sorted({type(v) for v in typing.get_args(annotation)}, key=str)
    return [origin or annotation]


def _fits(kind: str, found: list[Any]) -> bool:
    kinds = {"string": str, "int": int, "duration": int, "quantity": str, "bool": bool,
             "list": list, "value": str}
    if kind in kinds:
        return kinds[kind] in found and bool not in found if kind != "bool" else bool in found
    # Blocks: a model of their own (Resources), a list of entries (env), or a mapping of the
    # user's keys (node_selector, the pipeline's labels).
    return any(t in (list, dict) or (isinstance(t, type) and issubclass(t, ir.Node))
               for t in found)


@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_each_setting_fills_an_ir_field_of_its_kind(setting: Setting) -> None:
    for context in setting.where:
        annotation = _annotation(CONTEXT_MODELS[context], setting.ir)
        assert _fits(setting.kind, _types(annotation)), (
            f"`{setting.name}` is declared {setting.kind} but {CONTEXT_MODELS[context].__name__}"
            f".{setting.ir} is {annotation}")


@pytest.mark.parametrize(("model", "contexts", "structural"), [
    (ir.Step, ("step", "service"), STRUCTURAL_STEP_FIELDS),
    (ir.Pipeline, ("pipeline",), STRUCTURAL_PIPELINE_FIELDS)])
def test_every_ir_field_is_a_settings_or_structural(
        model: type[ir.Node], contexts: tuple[str, ...], structural: tuple[str, ...]) -> None:
    filled = {s.ir.split(".")[0] for c in contexts for s in BY_CONTEXT[c].values()}
    fields = set(model.model_fields)
    assert not filled - fields, f"settings fill no such {model.__name__} field"
    assert not filled & set(structural), "a field is both a setting's and structural"
    missing = fields - filled - set(structural)
    assert not missing, (f"{model.__name__} fields {sorted(missing)} are no setting's: declare "
                         "them in semantics/settings.py or list them as structural")
    assert not set(structural) - fields


# ---- template sharing --------------------------------------------------------------------

SPAN = Span(SourceFile("t.cnai", "s"), 0, 1)
SAMPLES: dict[str, Any] = {"string": "sample", "int": 7, "bool": True, "duration": 60,
                           "quantity": "3"}


def _other(kind: str, value: Any) -> Any:
    """A value of ``kind`` other than ``value``."""
    if value is None:
        return SAMPLES[kind]
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    return f"{value}-other"


def _base_step(name: str) -> ir.Step:
    return ir.Step(name=name, k8s_name=name, span=SPAN, image="img",
                   command=[ir.Text.of("run")], args=[ir.Text.of("--seed"), ir.Text.of("1")])


def _block(context: str) -> ir.Node:
    """A block's model with its required fields filled (``retry { limit }``)."""
    values = {s.ir: SAMPLES[s.kind] for s in BY_CONTEXT[context].values() if s.required}
    if context == "distributed":
        values = {"framework": "pytorch", "masters": 1, "workers": 1}
    return CONTEXT_MODELS[context].model_construct(**values)


def _variants(setting: Setting) -> list[tuple[str, Any, Any]]:
    """(the ir.Step attribute, its value in one step, in the other) for each way steps can
    differ in ``setting`` alone."""
    step = _base_step("a")
    attr, _, rest = setting.ir.partition(".")
    if setting.kind == "list":  # a literal word is lifted as an argument; its count is shape
        return [(attr, getattr(step, attr), [*getattr(step, attr), ir.Text.of("x")])]
    if setting.name == "env":
        return [(attr, [], [ir.EnvVar(name="MODE", value=ir.Text.of("fast"))])]
    if isinstance(getattr(step, attr), dict):  # a block of the user's keys
        return [(attr, {}, {"team": "vision"})]
    if setting.kind in ("block", "decl"):
        base = _block(setting.name)
        return [(attr, base, base.model_copy(update={
                    sub.ir: _other(sub.kind, getattr(base, sub.ir, None))}))
                for sub in BY_CONTEXT[setting.name].values()]
    if rest:  # a field of a model on the step: `serving.port`
        model = CONTEXT_MODELS["scale"]  # the services' settings fill ir.Serving
        base = model()
        return [(attr, base, base.model_copy(update={
            rest: _other(setting.kind, getattr(base, rest))}))]
    return [(attr, getattr(step, attr), _other(setting.kind, getattr(step, attr)))]


def _shared(first: ir.Step, second: ir.Step) -> bool:
    graph = ir.Pipeline(name="p", k8s_name="p", span=SPAN, steps=[first, second])
    after = dedupe.dedupe_templates(graph, CompileContext(Options()))
    return any(step.template is not None for step in after.steps)


def test_steps_that_differ_only_in_their_names_and_words_share() -> None:
    """The control for the test below: equal steps do share."""
    other = _base_step("b").model_copy(update={"args": [ir.Text.of("--seed"), ir.Text.of("2")]})
    assert _shared(_base_step("a"), other)


STEP_SETTINGS = [s for s in SETTINGS if {"step", "service"} & set(s.where)]


@pytest.mark.parametrize("setting", STEP_SETTINGS, ids=[s.name for s in STEP_SETTINGS])
def test_steps_that_differ_in_a_setting_never_share_a_template(setting: Setting) -> None:
    for attr, one, other in _variants(setting):
        first = _base_step("a").model_copy(update={attr: one})
        second = _base_step("b").model_copy(update={attr: other})
        assert not _shared(first, second), (
            f"two steps differing only in `{setting.name}` ({attr}: {one!r} / {other!r}) "
            "share a template")


def test_dedupe_templates_ignores_only_structural_fields() -> None:
    assert set(dedupe._NOT_COMPARED) <= set(STRUCTURAL_STEP_FIELDS)
    compared = set(dedupe._COMPARED) | set(dedupe._READ_APART)
    assert compared | set(dedupe._NOT_COMPARED) == set(ir.Step.model_fields)


# ---- rendering ---------------------------------------------------------------------------

def _renderer(setting: Setting, target: str) -> str:
    """The declared renderer or code; a block's field without one is its block's."""
    found = setting.render(target)
    if not found and setting.where[0] not in TOP:
        found = block_of(setting.where[0]).render(target)
    return found


@pytest.mark.parametrize("target", TARGETS)
def test_every_setting_is_rendered_or_refused(target: str) -> None:
    for setting in SETTINGS:
        key = _renderer(setting, target)
        assert key, f"`{setting.name}` says nothing of {target}"
        if CODE.fullmatch(key):
            assert key in CODES, f"`{setting.name}` is refused on {target} with unknown {key}"
        elif key.startswith("submit."):  # rendered when `cnai submit` sends it
            assert callable(getattr(kfp_submit, key.removeprefix("submit.")))
        else:
            assert callable(RENDERERS[target].get(key)), (
                f"`{setting.name}`: no {target} renderer registered as `{key}`")
    declared = {_renderer(s, target) for s in SETTINGS}
    assert not set(RENDERERS[target]) - declared, "renderers no setting names"


PARENTS = {
    "resources": "step", "retry": "step", "scheduling": "step", "quota": "pipeline",
    "scale": "service", "canary": "service", "circuit_breaker": "service",
    "distributed": "step",
    # ---- identity, access, pod metadata and security ----
    "security": "step",

    # ---- placement and resources ----
    "node_affinity": "step",

    # ---- configuration and volumes ----
    "volume": "pipeline",
}
OPENERS = {"distributed": "distributed tensorflow",
           "volume": "volume v"}
BASE = {"pipeline": [], "dataset": ['source = "s3://bucket/data"', 'path = "/data"',
                                    'size = "1Gi"'],
        "step": ['image = "busybox"', 'command = ["run"]', "mount d"],
        "service": ['image = "server"']}


def program(extra: list[tuple[str, str]]) -> str:
    """The base pipeline with each (context, text) written in its context."""
    items: dict[str, list[str]] = {context: list(texts) for context, texts in BASE.items()}
    for context, text in extra:
        kept = items.setdefault(context, [])
        name = text.split()[0]
        kept[:] = [t for t in kept if t.split()[0] != name]  # a required one is replaced
        kept.append(text)
    for block in sorted(set(items) - set(BASE), key=list(PARENTS).index):
        opener = OPENERS.get(block, block)
        items[PARENTS[block]].append(f"{opener} {{ {'  '.join(items[block])} }}")
    body = "\n".join([*items["pipeline"], f"dataset d {{ {'  '.join(items['dataset'])} }}",
                      f"step s {{ {'  '.join(items['step'])} }}",
                      f"service api after s {{ {'  '.join(items['service'])} }}"])
    return f"pipeline p {{\n{body}\n}}\n"


def output(source: str, target: str) -> str | set[str]:
    """The documents and namespace objects, or the codes reported."""
    try:
        result = compile_source(source, "t.cnai", target)
    except CompileFailed as failure:
        return {d.code for d in failure.diagnostics}
    return yaml.safe_dump_all([*result.documents, *result.namespace_objects]) + "".join(
        d.code for d in result.warnings)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("setting", SETTINGS, ids=IDS)
def test_each_settings_example_reaches_the_output(setting: Setting, target: str) -> None:
    key = _renderer(setting, target)
    base = output(program(list(setting.needs)), target)
    assert isinstance(base, str), f"the base program does not compile: {base}"
    found = output(program([*setting.needs, (setting.where[0], setting.example)]), target)
    if key.startswith("W"):  # a warning: compiled, without it
        assert isinstance(found, str) and found.endswith(key), (
            f"`{setting.name}` on {target}: expected warning {key}, got {found}")
    elif CODE.fullmatch(key):
        assert isinstance(found, set) and key in found, (
            f"`{setting.name}` on {target}: expected {key}, got {found}")
    elif key.startswith("submit."):
        assert found == base  # the compiled output is unchanged; submit reads the IR
    else:
        assert isinstance(found, str), f"`{setting.example}` does not compile: {found}"
        assert found != base, f"`{setting.example}` changes nothing on {target}"


# ---- the docs ----------------------------------------------------------------------------

def _rows(text: str) -> dict[str, str]:
    """docs/language.md's table rows, by each backquoted name in their first column."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            for quoted in re.findall(r"`([^`]+)`", first):
                rows.setdefault(quoted.split()[0], line)
    return rows


def test_every_setting_is_documented() -> None:
    rows = _rows((ROOT / "docs" / "language.md").read_text(encoding="utf-8"))
    for setting in SETTINGS:
        for context in setting.where:
            if context in TOP:
                assert setting.name in rows, (
                    f"docs/language.md has no table row for `{setting.name}` ({context})")
            else:  # a block's field: in its own table, or named in its block's row
                row = rows.get(setting.name, "") + rows.get(context, "")
                assert re.search(rf"`[^`|]*\b{setting.name}\b[^`|]*`", row), (
                    f"docs/language.md does not document `{setting.name}` of `{context}`")


# ---- a setting added through the declaration: image_pull_policy ---------------------------
# One declaration (semantics/settings.py), its IR fields (ir.Step/ir.Pipeline), one renderer
# per target (k8s.container for Argo's containers and training jobs, kfp_platform's executor
# config) and a row in docs/language.md: the checker, the pipeline-wide default and template
# sharing come from the declaration.

PULL = """\
pipeline p {
  image_pull_policy = "IfNotPresent"
  step a { image = "busybox" command = ["run"] }
  step b { image = "busybox" command = ["run"] image_pull_policy = "Always" }
  step c { image = "busybox" command = ["run"] }
  step t { image = "busybox" distributed pytorch { workers = 1 } }
}
"""


def test_image_pull_policy_on_argo_is_the_steps_or_the_pipelines() -> None:
    import schemacheck

    (workflow,) = compile_source(PULL, "t.cnai", "argo").documents
    schemacheck.assert_valid(workflow)
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    # a and c share a template (same policy); b differs in its policy alone and does not.
    tasks = {t["name"]: t["template"] for t in templates["main"]["dag"]["tasks"]}
    assert tasks["a"] == tasks["c"] != tasks["b"]
    assert templates[tasks["a"]]["container"]["imagePullPolicy"] == "IfNotPresent"
    assert templates[tasks["b"]]["container"]["imagePullPolicy"] == "Always"
    job = yaml.safe_load(templates[tasks["t"]]["resource"]["manifest"])
    assert [r["template"]["spec"]["containers"][0]["imagePullPolicy"]
            for r in job["spec"]["pytorchReplicaSpecs"].values()] == ["IfNotPresent"] * 2


def test_image_pull_policy_on_kfp_is_the_executor_configs() -> None:
    from test_kfp_support import pipeline_spec, platform_spec

    documents = compile_source(PULL, "t.cnai", "kfp").documents
    spec = pipeline_spec(documents[0])  # parses strictly into kfp-pipeline-spec
    configs = platform_spec(documents[1])  # and kfp-kubernetes' KubernetesExecutorConfig
    policy = {name: config.image_pull_policy for name, config in configs.items()}
    tasks = spec.root.dag.tasks
    executor = {name: f"exec-{tasks[name].component_ref.name.removeprefix('comp-')}"
                for name in ("a", "b", "c")}
    assert [policy[executor[n]] for n in ("a", "b", "c")] == [
        "IfNotPresent", "Always", "IfNotPresent"]


def test_image_pull_policy_takes_kubernetes_values_only() -> None:
    with pytest.raises(CompileFailed) as failure:
        compile_source('pipeline p { step s { image = "i" image_pull_policy = "always" } }',
                       "t.cnai", "argo")
    (diagnostic,) = failure.value.diagnostics
    assert (diagnostic.code, diagnostic.message) == (
        "E0208", '`image_pull_policy` is one of "Always", "IfNotPresent", "Never"')
