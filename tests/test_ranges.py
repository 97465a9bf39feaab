"""Numbers past what the engines hold get a coded diagnostic at their span, never a crash
(cnai.limits): int64 literals, int32 counts, quantities up to 2^63-1, durations up to
2^31-1 seconds, floats up to 1.8e308."""

from __future__ import annotations

import pytest

from cnai.diagnostics.render import render_text
from cnai.driver import CompileFailed, compile_source

BIG_FLOAT = "9" * 310 + ".0"
HUGE_INT = "9" * 4400  # past Python's 4,300-digit int() limit
OVER_INT64 = str(2**63)
OVER_INT32 = str(2**31)


def step(body: str = "") -> str:
    return f'step s {{ image = "a"  command = ["echo"] {body} }}'


CASES = {
    "float param": (f"param x: float = {BIG_FLOAT}", "E0208", "too large for a number"),
    "float list item": (f"param x: list[float] = [1.0, {BIG_FLOAT}]", "E0208",
                        "too large for a number"),
    "float loop item": (f'for x in [1.5, {BIG_FLOAT}] {{ {step()} }}', "E0208",
                        "too large for a number"),
    "huge int param": (f"param x: int = {HUGE_INT}", "E0208", "too large for an integer"),
    "int param past int64": (f"param x: int = {OVER_INT64}", "E0208",
                             "too large for an integer"),
    "huge timeout": (step(f'timeout = "{HUGE_INT}s"'), "E0208", "is too long"),
    "timeout past int32 seconds": (step('timeout = "2147483648s"'), "E0208", "is too long"),
    "huge cpu": (step('resources { cpu = "99999999999999999999" }'), "E0206", "too large"),
    "huge memory": (step('resources { memory = "9999999999999Ei" }'), "E0206", "too large"),
    "cpu number past int64": (step(f"resources {{ cpu = {HUGE_INT} }}"), "E0208",
                              "too large for an integer"),
    "gpu past int32": (step(f"resources {{ gpu = {OVER_INT32} }}"), "E0208",
                       "above the maximum 2147483647"),
    "retry limit past int32": (step(f"retry {{ limit = {OVER_INT32} }}"), "E0208",
                               "above the maximum"),
    "retry factor past int32": (step(f'retry {{ limit = 2 backoff = "1s" factor = {OVER_INT32} }}'),
                                "E0208", "above the maximum"),
    "huge retry factor": (step(f'retry {{ limit = 2 backoff = "1s" factor = {BIG_FLOAT} }}'),
                          "E0208", "too large for a number"),
    "gate on a huge float": (
        'step s { image = "a" command = ["echo", outputs.v] output v: float }\n'
        f'  step t when s.v > {BIG_FLOAT} {{ image = "a" }}', "E0208", "too large for a number"),
    "gate on an int past int64": (
        f'param n: int = 1\n  step s when n > {OVER_INT64} {{ image = "a" }}', "E0208",
        "too large for an integer"),
    "quota gpu past int32": (f"quota {{ gpu = {OVER_INT32} }}\n  {step()}", "E0208",
                             "above the maximum"),
    "quota gpu huge": (f"quota {{ gpu = {HUGE_INT} }}\n  {step()}", "E0208",
                       "too large for an integer"),
    "parallel past int32": (f'for x in [1, 2] parallel {OVER_INT32} {{ {step()} }}', "E0208",
                            "`parallel` is at most 2147483647"),
    "parallel huge": (f'for x in [1, 2] parallel {HUGE_INT} {{ {step()} }}', "E0208",
                      "too large for an integer"),
}


@pytest.mark.parametrize("target", ["argo", "kfp"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_out_of_range_numbers_are_diagnosed(name: str, target: str) -> None:
    body, code, words = CASES[name]
    text = f"pipeline p {{\n  {body}\n}}\n"
    with pytest.raises(CompileFailed) as failed:
        compile_source(text, "p.cnai", target)
    found = [d for d in failed.value.diagnostics if d.code == code and words in d.message]
    assert found, [f"{d.code} {d.message}" for d in failed.value.diagnostics]
    assert found[0].span.line == 2 or "gate" in name or "quota" in name
    # Long literals are cut in the message, not quoted whole.
    assert all(len(d.message) < 200 for d in failed.value.diagnostics)
    assert "Traceback" not in render_text(failed.value.diagnostics, failed.value.sources)


def test_the_largest_values_each_engine_holds_still_compile() -> None:
    assert compile_source(f'pipeline p {{ param n: int = {2**63 - 1}  step s {{ image = "a" }} }}',
                          "p.cnai", "argo").text
    text = f"""pipeline p {{
  param n: int = {2**53}
  step s {{ image = "a"  command = ["echo", "${{n}}"]  timeout = "2147483647s"
            resources {{ gpu = 2147483647  memory = "7Ei" }}  retry {{ limit = 2147483647 }} }}
}}
"""
    for target in ("argo", "kfp"):
        assert compile_source(text, "p.cnai", target).text


def test_an_interpolated_template_argument_is_refused_not_a_crash() -> None:
    text = """pipeline p {
  param who: string = "x"
  template t(x: string) { image = "a" command = ["echo", "a${x}b"] }
  step u { use t(x = "hi ${who}") }
}
"""
    with pytest.raises(CompileFailed) as failed:
        compile_source(text, "p.cnai")
    assert [(d.code, d.span.line) for d in failed.value.diagnostics] == [("E0201", 4)]


ECHO_N = 'step s { image = "a"  command = ["echo", "${n}"] }'


@pytest.mark.parametrize("where", [
    f"param n: int = 9007199254740993\n  {ECHO_N}",
    f"param n: list[int] = [1, -9007199254740993]\n  {ECHO_N}",
    'for x in [1, 9007199254740993] { step s { image = "a"  command = ["echo", "${x}"] } }',
])
def test_kubeflow_refuses_integers_a_double_cannot_hold(where: str) -> None:
    text = f"pipeline p {{\n  {where}\n}}\n"
    assert compile_source(text, "p.cnai", "argo").text  # Argo passes text: exact
    with pytest.raises(CompileFailed) as failed:
        compile_source(text, "p.cnai", "kfp")
    assert [(d.code, d.span.line) for d in failed.value.diagnostics] == [("E0401", 2)]
    assert "2^53" in failed.value.diagnostics[0].message
    # 2^53 itself is exact.
    assert compile_source(text.replace("9007199254740993", "9007199254740992"), "p.cnai", "kfp")
