"""How a step's outcome decides what runs next and how a DAG ends: Argo's rules, in one place
that the Argo backend renders (backends/argo_hygiene.py) and the local runner executes
(local/engine.py). Phases are Argo's NodePhase names: Succeeded, Failed, Error, Skipped,
Omitted.

- ``after X`` runs when X Succeeded, ``after X.failed`` when it Failed or ended in Error (a
  pod lost to its node), ``after X.done`` in any of the three; a step that continues on
  failure is waited for as ``done``. A member whose wait is not met is Omitted.
- A DAG's phase (workflow/controller/dag.go, assessDAGPhase, argoproj/argo-workflows
  v4.1.2): each member's *branch phase* is its own when it completed, and the worst of what
  it waits for when it was Omitted (an omitted task inherits its parents' phase, Failed or
  Error first). The DAG fails when a member nothing waits for (a *target*) has a failed
  branch phase, unless that member continues on failure. So a failed step whose only
  dependants are `after X.failed` / `after X.done` steps that succeeded does not fail the
  run: its failure was handled.
- A retry (operator.go, processNodeRetries; retry_strategy.go): ``on = "error"`` retries
  attempts that ended in Error, ``"failure"`` those that Failed, ``"any"`` both (Argo's
  OnError, OnFailure, Always); ``exit_codes`` retries only failures with one of them.
"""

from __future__ import annotations

from collections.abc import Callable

from cnai.lowering.build import topological
from cnai.lowering.plan import PlanTask
from cnai.semantics import ir

SUCCEEDED, FAILED, ERROR = "Succeeded", "Failed", "Error"
_ACCEPTS: dict[str, frozenset[str]] = {
    "succeeded": frozenset((SUCCEEDED,)),
    "failed": frozenset((FAILED, ERROR)),
    "done": frozenset((SUCCEEDED, FAILED, ERROR)),
}
_FAILED = frozenset((FAILED, ERROR))


def accepts(outcome: ir.Outcome, phase: str) -> bool:
    """Whether a member waiting for ``outcome`` of a member that ended in ``phase`` runs."""
    return phase in _ACCEPTS[outcome]


def dag_failed(members: list[PlanTask], phase_of: Callable[[str], str],
               continues: Callable[[str], bool]) -> bool:
    """Whether a DAG whose members all ended, member ``name`` in ``phase_of(name)``, ends
    Failed."""
    branch: dict[str, str] = {}
    waited = set()
    for member in topological(members):
        phase = phase_of(member.name)
        if phase == "Omitted":
            inherited = [branch[name] for name in member.waits_for]
            phase = next((p for p in inherited if p in _FAILED), SUCCEEDED)
        branch[member.name] = phase
        waited.update(member.waits_for)
    return any(branch[m.name] in _FAILED and not continues(m.name)
               for m in members if m.name not in waited)


def retried(retry: ir.Retry, errored: bool, exit_code: int | None) -> bool:
    """Whether a failed attempt is retried (its limit aside): ``errored`` when it ended in
    Error rather than Failed."""
    if (retry.on == "error" and not errored) or (retry.on == "failure" and errored):
        return False
    return not retry.exit_codes or (not errored and exit_code in retry.exit_codes)
