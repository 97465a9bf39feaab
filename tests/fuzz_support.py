"""What the fuzz suites share (docs/testing.md, "Fuzzing"): the hypothesis profiles, the
seed files, and one run of the real `cnai` command with the properties every input must keep.

Profiles, chosen by the environment variable ``CNAI_FUZZ`` (default ``ci``):

- ``ci``: a bounded number of examples per fuzz test, derandomized, so the suite takes about
  a minute and never flakes (the same inputs on every run);
- ``long``: the documented longer run, random, ``CNAI_FUZZ_EXAMPLES`` examples per test
  (default 10,000).

The profiles are registered under their own names and applied with ``@fuzz_settings()`` to
the fuzz tests only, so the other hypothesis tests keep their own settings.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from hypothesis import HealthCheck, Phase, settings
from kfp import components

import schemacheck
from cnai.cli import EXIT_INTERNAL, main
from test_kfp_support import pipeline_spec  # imports celpy, which sets the recursion limit

ROOT = Path(__file__).resolve().parent.parent
FUZZ_FIXTURES = ROOT / "tests" / "fixtures" / "fuzz"

PROFILE = os.environ.get("CNAI_FUZZ", "ci")
CI_EXAMPLES = {"programs": 120, "mutations": 400}
LONG_EXAMPLES = int(os.environ.get("CNAI_FUZZ_EXAMPLES", "10000"))

_COMMON = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow,
                                                       HealthCheck.data_too_large,
                                                       HealthCheck.filter_too_much],
           "database": None,
           # No shrinking: a failure prints the whole input at once (and its blob for
           # @reproduce_failure), instead of minutes spent shrinking a generated program.
           "phases": [Phase.explicit, Phase.reuse, Phase.generate]}
for _suite, _count in CI_EXAMPLES.items():
    settings.register_profile(f"cnai-fuzz-ci-{_suite}", max_examples=_count,
                              derandomize=True, print_blob=True, **_COMMON)
    settings.register_profile(f"cnai-fuzz-long-{_suite}", max_examples=LONG_EXAMPLES,
                              derandomize=False, print_blob=True, **_COMMON)


def fuzz_settings(suite: str) -> settings:
    """The settings of one fuzz suite (``programs`` or ``mutations``) under the profile."""
    if PROFILE not in ("ci", "long"):
        raise ValueError(f"CNAI_FUZZ={PROFILE!r}: expected ci or long")
    return settings.get_profile(f"cnai-fuzz-{PROFILE}-{suite}")


# ---- seeds ---------------------------------------------------------------------------------

FENCE = re.compile(r"^```(?P<tag>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)


def seed_texts() -> list[str]:
    """Every .cnai file of examples/ and tests/fixtures/, and every cnai block of the docs."""
    files = sorted([*(ROOT / "examples").glob("*.cnai"),
                    *(ROOT / "tests" / "fixtures").rglob("*.cnai")])
    texts = [path.read_text(encoding="utf-8") for path in files]
    for doc in sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"]):
        for match in FENCE.finditer(doc.read_text(encoding="utf-8")):
            if match.group("tag") in ("cnai", "cnai-fragment"):
                texts.append(match.group("body"))
    return texts


# ---- one run of the command ----------------------------------------------------------------

@dataclass
class Run:
    status: int
    stdout: str
    stderr: str

    @property
    def codes(self) -> list[str]:
        return [d["code"] for d in json.loads(self.stderr)["diagnostics"]
                if d["severity"] == "error"]


def cnai(*argv: str) -> Run:
    """`cnai ARGV...` in this process, as the console script runs it (cli.main)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exit_:  # argparse
            status = exit_.code if isinstance(exit_.code, int) else 1
    return Run(status, out.getvalue(), err.getvalue())


def assert_no_crash(run: Run, what: str) -> None:
    text = run.stdout + run.stderr
    assert run.status != EXIT_INTERNAL, f"{what}: exit 70\n{run.stderr}"
    assert "Traceback" not in text and "internal error" not in text, f"{what}:\n{run.stderr}"
    assert run.status in (0, 1), f"{what}: exit {run.status}\n{run.stderr}"


def check_and_compile_agree(path: Path) -> dict[str, Run]:
    """Run `cnai check` and `cnai compile --target argo|kfp` on one file and assert the
    properties every input keeps, valid or not:

    - no run exits 70 or prints a traceback or "internal error"; each exits 0 or 1;
    - check and compile agree: a file check refuses, compile refuses too; a file check accepts
      compiles, or is refused only with target codes (E04xx: what one engine cannot express),
      or E0009 for a file of templates only, which check accepts and compile refuses
      (docs/language.md, "Templates and imports").

    Returns the runs, keyed ``check``, ``argo`` and ``kfp``.
    """
    name = str(path)
    runs = {"check": cnai("check", name, "--format", "json")}
    for target in ("argo", "kfp"):
        runs[target] = cnai("compile", name, "--target", target, "--format", "json")
    for what, run in runs.items():
        assert_no_crash(run, f"{what} {name}")
    if runs["check"].status == 1:
        for target in ("argo", "kfp"):
            assert runs[target].status == 1, f"check refuses {name}, {target} compiles it"
    else:
        for target in ("argo", "kfp"):
            if runs[target].status == 1:
                codes = runs[target].codes
                allowed = codes == ["E0009"] or all(c.startswith("E04") for c in codes)
                assert codes and allowed, (
                    f"check accepts {name}, compile --target {target} refuses it with {codes}"
                    f"\n{runs[target].stderr}")
    return runs


def assert_output_valid(target: str, text: str) -> None:
    """The compiled text parses as YAML; Argo's documents validate strictly against the
    official schemas; Kubeflow's parses into kfp-pipeline-spec's PipelineSpec and loads with
    kfp (as `kfp.client` reads a package)."""
    documents = list(yaml.safe_load_all(text))
    assert documents, "no document"
    if target == "argo":
        schemacheck.assert_all_valid(documents)
    else:
        pipeline_spec(documents[0])
        components.load_component_from_text(text)
