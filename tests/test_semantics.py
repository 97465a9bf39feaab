"""Semantics: the IR the front end builds (types, inputs, edges, names, order)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from analysis import codes, graph
from cnai.driver import CompileFailed, compile_file
from cnai.semantics import ir
from cnai.semantics.units import format_duration, is_quantity, k8s_name, parse_duration
from cnai.source import SourceFile
from testpaths import COMPILING_EXAMPLES, EXAMPLES, VALID_FIXTURES


@pytest.fixture(scope="module")
def seed() -> ir.Pipeline:
    text = (EXAMPLES / "model_pipeline.cnai").read_text()
    return graph(text)


def test_seed_params_are_typed(seed: ir.Pipeline) -> None:
    assert [(p.name, str(p.type), p.default) for p in seed.params] == [
        ("data_uri", "string", "s3://datasets/imagenet"), ("min_accuracy", "float", 0.9),
        ("epochs", "int", 90)]


def test_seed_order_and_edges(seed: ir.Pipeline) -> None:
    assert [s.name for s in seed.steps] == [
        "preload_imagenet", "validate", "train", "evaluate", "deploy"]
    edges = {s.name: [(d.step, d.kind) for d in s.depends] for s in seed.steps}
    assert edges == {
        "preload_imagenet": [],
        "validate": [("preload_imagenet", "dataset")],
        "train": [("preload_imagenet", "dataset"), ("validate", "order")],
        "evaluate": [("train", "data")],
        "deploy": [("evaluate", "gate"), ("train", "data")],
    }


def test_seed_inputs_and_placeholders(seed: ir.Pipeline) -> None:
    train = seed.step("train")
    assert [(i.name, i.source.kind, str(i.type)) for i in train.inputs] == [
        ("epochs", "param", "int")]
    command = [t.model_dump()["parts"] for t in train.command]
    assert command[3] == [{"kind": "input", "name": "epochs"}]
    assert command[5] == [{"kind": "output_path", "name": "model"}]
    evaluate = seed.step("evaluate")
    (model,) = evaluate.inputs
    assert model.source == ir.OutputRef(step="train", output="model", type=ir.Type(name="model"))


def test_seed_gate_is_typed(seed: ir.Pipeline) -> None:
    gate = seed.step("deploy").when
    assert gate is not None and gate.text == "evaluate.accuracy > min_accuracy"
    assert isinstance(gate.expr, ir.Compare) and gate.expr.op == ">"
    assert gate.expr.left == ir.OutputRef(step="evaluate", output="accuracy",
                                          type=ir.Type(name="float"))
    assert gate.expr.right == ir.ParamRef(name="min_accuracy", type=ir.Type(name="float"))


def test_seed_resources_retry_mounts(seed: ir.Pipeline) -> None:
    train = seed.step("train")
    assert train.resources == ir.Resources(gpu=8, cpu="32", memory="128Gi")
    assert train.retry == ir.Retry(limit=3, backoff_seconds=60)
    assert train.mounts == [ir.Mount(dataset="imagenet", path="/cache/imagenet")]
    preload = seed.step("preload_imagenet")
    assert preload.kind == "preload" and preload.mounts[0].read_only is False
    assert seed.datasets[0].source_ref == ir.ParamRef(name="data_uri",
                                                      type=ir.Type(name="string"))


def test_int_and_float_compare_but_not_string_and_float() -> None:
    base = ('pipeline p { param n: int = 1  param s: string = "a"\n'
            ' step e { image = "x" output acc: float }\n')
    graph(base + ' step d when e.acc > n and s != "b" { image = "x" } }')
    assert codes(base + ' step d when e.acc > s { image = "x" } }') == ["E0203"]
    assert codes(base + ' step d when s < "b" { image = "x" } }') == ["E0203"]
    assert codes(base + ' step d when n and true { image = "x" } }') == ["E0205"]


def test_same_input_twice_is_one_input() -> None:
    pipeline = graph('pipeline p { param lr: float = 0.1\n'
                     ' step a { image = "x" command = ["${lr}", lr, "--lr=${lr}"] } }')
    assert [i.name for i in pipeline.step("a").inputs] == ["lr"]


def test_input_names_stay_unique() -> None:
    pipeline = graph('pipeline p { param a_b: string = "x"\n'
                     ' step a { image = "x" output b: string }\n'
                     ' step c { image = "x" command = [a_b, a.b] } }')
    assert [i.name for i in pipeline.step("c").inputs] == ["a_b", "a_b_2"]


def test_declaration_order_does_not_matter() -> None:
    pipeline = graph('pipeline p { step late { image = "x" command = [early.v] }\n'
                     ' step early { image = "x" output v: string } }')
    assert [s.name for s in pipeline.steps] == ["early", "late"]


def test_self_reference_is_reported() -> None:
    assert codes('pipeline p { step a { image = "x" output v: string\n'
                 ' command = [a.v] } }') == ["E0302"]


def test_defaults_must_match_types() -> None:
    pipeline = graph('pipeline p { param f: float = 1  param l: list[float] = [1, 0.5]\n'
                     ' step s { image = "x" } }')
    assert pipeline.param("f").default == 1.0
    assert pipeline.param("l").default == [1.0, 0.5]
    assert codes('pipeline p { param l: list[int] = [1, "a"] step s { image = "x" } }') == [
        "E0201"]


@pytest.mark.parametrize("name, expected", [
    ("train_small", "train-small"), ("Train", "train"), ("_x_", "x"), ("a__b", "a--b"),
    ("x" * 70, "x" * 54 + "-" + "f4f2bb1f"),
])
def test_k8s_names(name: str, expected: str) -> None:
    mapped = k8s_name(name)
    assert len(mapped) <= 63
    if len(name) <= 63:
        assert mapped == expected
    else:
        assert mapped.startswith("x" * 54 + "-") and len(mapped) == 63


@pytest.mark.parametrize("text, ok", [
    ("500m", True), ("2", True), ("1.5", True), ("64Gi", True), ("1e3", True), ("2Ti", True),
    ("12GB", False), ("-1", False), ("lots", False), ("", False), ("1.2.3", False),
])
def test_quantities(text: str, ok: bool) -> None:
    assert is_quantity(text) is ok


@pytest.mark.parametrize("text, seconds", [
    ("30s", 30), ("2h", 7200), ("1h30m", 5400), ("1d", 86400), ("1m", 60), ("1500ms", None),
    ("2000ms", 2), ("h", None), ("10", None), ("1m1h", 3660), ("", None),
])
def test_durations(text: str, seconds: int | None) -> None:
    assert parse_duration(text) == seconds


def test_duration_formatting() -> None:
    assert [format_duration(s) for s in (60, 90, 7200, 5400, 86400)] == [
        "1m", "1m30s", "2h", "1h30m", "24h"]


_SPAN = SourceFile("t.cnai", "step a {}").span(0, 4)
_UNVALIDATED = [  # (fast constructor, its model_construct equivalent, its validated one)
    (lambda: ir.Text.of("python", ir.InputValue.named("lr"), ir.OutputPath.named("out")),
     lambda: ir.Text.model_construct(parts=["python", ir.InputValue(name="lr"),
                                            ir.OutputPath(name="out")]),
     lambda: ir.Text(parts=["python", ir.InputValue(name="lr"), ir.OutputPath(name="out")])),
    (lambda: ir.InputValue.named("lr"), lambda: ir.InputValue.model_construct(name="lr"),
     lambda: ir.InputValue(name="lr")),
    (lambda: ir.OutputPath.named("out"), lambda: ir.OutputPath.model_construct(name="out"),
     lambda: ir.OutputPath(name="out")),
    (lambda: ir.ParamRef.of("lr", ir.Type(name="float")),
     lambda: ir.ParamRef.model_construct(name="lr", type=ir.Type(name="float")),
     lambda: ir.ParamRef(name="lr", type=ir.Type(name="float"))),
    (lambda: ir.OutputRef.of("a", "m", ir.Type(name="model")),
     lambda: ir.OutputRef.model_construct(step="a", output="m", type=ir.Type(name="model")),
     lambda: ir.OutputRef(step="a", output="m", type=ir.Type(name="model"))),
    (lambda: ir.Input.of("a_m", ir.OutputRef(step="a", output="m", type=ir.Type(name="model")),
                         ir.Type(name="model"), _SPAN),
     lambda: ir.Input.model_construct(
         name="a_m", source=ir.OutputRef(step="a", output="m", type=ir.Type(name="model")),
         type=ir.Type(name="model"), span=_SPAN),
     lambda: ir.Input(name="a_m",
                      source=ir.OutputRef(step="a", output="m", type=ir.Type(name="model")),
                      type=ir.Type(name="model"), span=_SPAN)),
    (lambda: ir.Input.of("arg1", ir.Literal_.of("x", ir.Type(name="string")),
                         ir.Type(name="string")),
     lambda: ir.Input.model_construct(
         name="arg1", source=ir.Literal_.model_construct(value="x", type=ir.Type(name="string")),
         type=ir.Type(name="string")),
     lambda: ir.Input(name="arg1", source=ir.Literal_(value="x", type=ir.Type(name="string")),
                      type=ir.Type(name="string"))),
    (lambda: ir.Output.of("m", ir.Type(name="model"), None, _SPAN),  # every field given
     lambda: ir.Output.model_construct(name="m", type=ir.Type(name="model"), path=None,
                                       span=_SPAN, stdout=False, metric_of=None),
     lambda: ir.Output(name="m", type=ir.Type(name="model"), path=None, span=_SPAN,
                       stdout=False, metric_of=None)),
    (lambda: ir.Output.of("n", ir.Type(name="int"), None, _SPAN, True),  # `at stdout`
     lambda: ir.Output.model_construct(name="n", type=ir.Type(name="int"), path=None,
                                       span=_SPAN, stdout=True, metric_of=None),
     lambda: ir.Output(name="n", type=ir.Type(name="int"), path=None, span=_SPAN,
                       stdout=True, metric_of=None)),
    (lambda: ir.Dependency.of("a", "data", _SPAN),
     lambda: ir.Dependency.model_construct(step="a", kind="data", span=_SPAN,
                                           outcome="succeeded"),
     lambda: ir.Dependency(step="a", kind="data", span=_SPAN, outcome="succeeded")),
]


_OUTPUT = ir.Output.of("m", ir.Type(name="int"), None, _SPAN)
_UNVALIDATED.append((
    lambda: ir.Step.of("a", "a", _SPAN, "busybox", [_OUTPUT], "for-x", ir.Resources()),
    lambda: ir.Step.model_construct(name="a", k8s_name="a", span=_SPAN, image="busybox",
                                    outputs=[_OUTPUT], group="for-x"),
    lambda: ir.Step(name="a", k8s_name="a", span=_SPAN, image="busybox", outputs=[_OUTPUT],
                    group="for-x")))
_UNVALIDATED.append((
    lambda: ir.Step.made({"name": "a", "k8s_name": "a", "span": _SPAN, "image": "busybox",
                          "outputs": [_OUTPUT], "group": "for-x"}, ir.Resources()),
    *_UNVALIDATED[-1][1:]))


@pytest.mark.parametrize("fast,constructed,validated", _UNVALIDATED)
def test_unvalidated_constructors_build_the_same_models(
        fast: Callable[[], ir.Node], constructed: Callable[[], ir.Node],
        validated: Callable[[], ir.Node]) -> None:
    # The checker's fast constructors (ir._trusted) must make exactly the model that
    # model_construct and validation make: equal, same dump, same fields set, and as usable.
    made = fast()
    for other in (constructed(), validated()):
        assert made == other and type(made) is type(other)
        assert made.model_dump() == other.model_dump()
        assert made.model_dump_json() == other.model_dump_json()
        assert made.model_fields_set == other.model_fields_set
        assert list(made.__dict__) == list(other.__dict__)
        assert made.__pydantic_extra__ == other.__pydantic_extra__
        assert made.__pydantic_private__ == other.__pydantic_private__
    assert made.model_copy(update={}) == made
    assert type(made).model_validate(dict(made.__dict__)) == made  # the values pass validation


def test_updated_is_model_copy() -> None:
    step = ir.Step(name="a", k8s_name="a", span=_SPAN, image="busybox",
                   command=[ir.Text.of("echo")])
    step.cache = True  # a field set after construction counts as set
    made = ir.updated(step, template="t", args=[ir.Text.of("hi")])
    copied = step.model_copy(update={"template": "t", "args": [ir.Text.of("hi")]})
    assert made == copied and made.model_dump() == copied.model_dump()
    assert made.model_fields_set == copied.model_fields_set
    assert list(made.__dict__) == list(copied.__dict__)
    assert made.command is step.command and step.template is None  # shallow, and a copy
    with pytest.raises(AssertionError):
        ir.updated(ir.Pipeline(name="p", k8s_name="p", span=_SPAN), name="q")


def test_shared_nodes_are_made_once_and_equal_fresh_ones() -> None:
    shared = ir.SharedNodes()
    lr = shared.input_value("lr")
    assert shared.input_value("lr") is lr and lr == ir.InputValue(name="lr")
    assert shared.output_path("lr") == ir.OutputPath(name="lr") != lr  # kinds kept apart
    assert shared.text("python") is shared.text("python")
    assert shared.text("python") == ir.Text(parts=["python"])
    assert shared.text(lr) is shared.text(ir.InputValue.named("lr"))  # by content
    assert shared.text(lr) == ir.Text(parts=[ir.InputValue(name="lr")])
    assert shared.text(shared.output_path("lr")) == ir.Text(parts=[ir.OutputPath(name="lr")])
    assert shared.text("lr") != shared.text(lr)
    float_ = ir.Type(name="float")
    assert shared.param_ref("lr", float_) is shared.param_ref("lr", float_)
    assert shared.param_ref("lr", float_) == ir.ParamRef(name="lr", type=float_)


def test_steps_share_their_repeated_words() -> None:
    # The checker makes one text per repeated word or single placeholder (ir.SharedNodes).
    text = """pipeline p {
      param lr: float = 0.1
      step a { image = "i"  command = ["python", "--lr", lr, outputs.m]  output m: float }
      step b { image = "i"  command = ["python", "--lr", "${lr}", outputs.m, a.m]
               output m: float }
    }"""
    a, b = graph(text).steps
    assert all(x is y for x, y in zip(a.command, b.command[:4], strict=True))
    assert b.command[4] == ir.Text(parts=[ir.InputValue(name="a_m")])


@pytest.mark.parametrize("path", ["/cnai/inputs", "/cnai/inputs/data", "/cnai", "/cnai/outputs"])
def test_a_mount_over_the_step_s_own_directories_is_an_error(path: str) -> None:
    # `b` reads an artifact (mounted under /cnai/inputs) and writes an output (/cnai/outputs).
    text = f"""pipeline p {{
      param uri: string = "s3://b/d"
      dataset d {{ source = uri  path = "{path}"  size = "1Gi" }}
      step a {{ image = "x"  command = ["a", outputs.m]  output m: model }}
      step b {{ image = "x"  command = ["b", a.m, outputs.n]  mount d  output n: int }}
    }}"""
    assert "E0208" in codes(text)


def test_a_mount_beside_the_step_s_own_directories_is_fine() -> None:
    graph("""pipeline p {
      param uri: string = "s3://b/d"
      dataset d { source = uri  path = "/cnai/data"  size = "1Gi" }
      step a { image = "x"  command = ["a", outputs.m]  output m: model }
      step b { image = "x"  command = ["b", a.m, outputs.n]  mount d  output n: int }
    }""")


def test_shared_fields_sets_hold_every_field_and_stay_unchanged() -> None:
    # Text.of, Input.of (with a span), Output.of and Dependency.of give each node one shared
    # fields set (ir._ALL_FIELDS): safe only while it names every field of the class, so that
    # pydantic's __setattr__ (which adds the name it sets) never changes it.
    for cls, fields in ir._ALL_FIELDS.items():
        assert fields == set(cls.model_fields), cls
    made = [ir.Text.of("a"), ir.Text.of("b"),
            ir.Output.of("m", ir.Type(name="model"), None, _SPAN),
            ir.Dependency.of("a", "data", _SPAN), ir.Dependency.of("b", "order", None)]
    made[0].parts = ["c"]
    made[3].span = None
    copied = made[1].model_copy(update={"parts": ["d"]})
    for node in [*made, copied]:
        assert node.model_fields_set == set(type(node).model_fields)
    assert copied.model_fields_set is not made[1].model_fields_set  # copied, not shared


def test_a_shared_fields_set_refuses_a_field_it_does_not_name() -> None:
    # The checker shares each finished step's fields set with the steps that set the same
    # fields (ir.share_fields_set): a field assigned later would count as set in all of them.
    a, b = (ir.Step(name=n, k8s_name=n, span=_SPAN, image="x") for n in "ab")
    a.cache = b.cache = True
    for step in (a, b):
        ir.share_fields_set(step)
    assert a.model_fields_set is b.model_fields_set
    assert a.model_fields_set == {"name", "k8s_name", "span", "image", "cache"}
    a.cache = False  # a field the set names
    with pytest.raises(AssertionError, match="`retry`"):
        a.retry = ir.Retry(limit=1)
    assert "retry" not in b.model_fields_set
    copied = a.model_copy(update={"retry": ir.Retry(limit=1)})
    assert copied.model_fields_set == {*a.model_fields_set, "retry"}
    assert a.model_fields_set == b.model_fields_set == copied.model_fields_set - {"retry"}
    copied.timeout_seconds = 5  # a copy's set is its own
    assert "timeout_seconds" in copied.model_fields_set - a.model_fields_set


def test_steps_asking_for_the_same_resources_share_them() -> None:
    a, b, c, d = graph("""pipeline p {
      param n: int = 1
      step a { image = "x"  resources { cpu = 2  memory = "1Gi" } }
      step b { image = "x"  resources { cpu = 2  memory = "1Gi" } }
      step c { image = "x"  resources { cpu = 3  memory = "1Gi" } }
      step d { image = "x"  resources { gpu = n } }
    }""").steps
    assert a.resources is b.resources and a.resources == ir.Resources(cpu="2", memory="1Gi")
    assert c.resources is not a.resources and c.resources == ir.Resources(cpu="3", memory="1Gi")
    assert d.resources.gpu_param == ir.ParamRef(name="n", type=ir.Type(name="int"))
    shared = ir.SharedNodes()
    assert shared.resources({"gpu": 1}) is shared.resources({"gpu": 1})
    assert shared.resources({"gpu": True}) is not shared.resources({"gpu": 1})  # 1 == True


def test_the_steps_shared_empty_lists_stay_empty() -> None:
    # The checker's steps share ir.EMPTY_LIST and ir.EMPTY_DICT (ir.Step.of): a stage that
    # appended to one would change every step holding it.
    for path in [*COMPILING_EXAMPLES, *VALID_FIXTURES]:
        for target in ("argo", "kfp", "ir"):
            with contextlib.suppress(CompileFailed):
                compile_file(path, target)
    assert ir.EMPTY_LIST == [] and ir.EMPTY_DICT == {}
    a, b = graph("""pipeline p {
      volume v { empty_dir = true  path = "/v" }
      step a { image = "x"  mount v }
      step b { image = "x" }
    }""").steps
    assert [v.name for v in a.volumes] == ["v"] and b.volumes is ir.EMPTY_LIST
    assert ir.EMPTY_LIST == []


def test_checked_steps_share_their_fields_sets() -> None:
    a, b = graph("""pipeline p {
      step a { image = "x"  command = ["a"] }
      step b { image = "y"  command = ["b"] }
    }""").steps
    assert a.model_fields_set is b.model_fields_set
    assert a.resources.model_fields_set is b.resources.model_fields_set


def test_assign_sets_fields_as_setattr_does() -> None:
    # The checker sets a step's fields with ir.assign, not pydantic's __setattr__: the same
    # values, in the same places, counted as set alike.
    made, set_one_by_one = (ir.Step(name="a", k8s_name="a", span=_SPAN, image="x")
                            for _ in range(2))
    ir.assign(made, cache=True, args=[ir.Text.of("hi")], retry=None)
    set_one_by_one.cache = True
    set_one_by_one.args = [ir.Text.of("hi")]
    set_one_by_one.retry = None
    assert made == set_one_by_one and made.model_dump() == set_one_by_one.model_dump()
    assert made.model_fields_set == set_one_by_one.model_fields_set
    assert list(made.__dict__) == list(set_one_by_one.__dict__)
    ir.share_fields_set(made)
    ir.assign(made, cache=False)  # a field the shared set names
    with pytest.raises(AssertionError, match="`timeout_seconds`"):
        ir.assign(made, timeout_seconds=5)
    assert "timeout_seconds" not in made.model_fields_set


def test_resources_read_once_report_in_every_step() -> None:
    # Steps repeating a block of literals share what it reads as (StepChecker._resources),
    # but one whose reading reported something is read, and reported, in each step.
    a, b, c, d = graph("""pipeline p {
      step a { image = "x"  resources { cpu = 2  memory = "1Gi" } }
      step b { image = "x"  resources { cpu = 2  memory = "1Gi" } }
      step c { image = "x"  resources { cpu = 2.0  memory = "1Gi" } }
      step d { image = "x"  resources { cpu = 2  memory = "1Gi"  gpu = 0 } }
    }""").steps
    assert a.resources is b.resources and c.resources.cpu == "2.0"
    assert d.resources.gpu == 0 and d.resources is not a.resources
    warned = """pipeline p {
      step a { image = "x"  resources { memory = "1m" } }
      step b { image = "x"  resources { memory = "1m" } }
      step c { image = "x"  resources { cpu = 2  cpu = 2 } }
      step d { image = "x"  resources { cpu = 2  cpu = 2 } }
    }"""
    assert codes(warned) == ["W0101", "W0101", "E0110", "E0110"]


def test_steps_reading_one_output_share_its_source() -> None:
    # An output or a param read whole is one source for every step reading it
    # (Checker.output_sources, param_sources); gathered from a loop, a list of its own.
    p = graph("""pipeline p {
      param lr: float = 0.1
      param xs: list[int] = [1, 2]
      step a { image = "i"  command = ["a", outputs.m]  output m: float }
      for x in xs {
        step l { image = "i"  command = ["l", "${x}", outputs.m]  output m: float }
      }
      step b { image = "i"  command = ["b", a.m, lr, l.m] }
      step c { image = "i"  command = ["c", "${a.m}", "${lr}", l.m] }
    }""")
    b, c = p.step("b"), p.step("c")
    assert [i.source for i in b.inputs] == [i.source for i in c.inputs]
    assert all(x.source is y.source for x, y in zip(b.inputs[:2], c.inputs[:2], strict=True))
    assert b.inputs[0].source == ir.OutputRef(step="a", output="m", type=ir.Type(name="float"))
    assert b.inputs[2].source.type == ir.Type(name="list", item=ir.Type(name="float"))
