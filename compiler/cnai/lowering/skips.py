"""Which steps may not run: the one rule the backends read to give outputs their defaults
(Argo) and to leave skipped iterations out of a fan-in (Kubeflow)."""

from __future__ import annotations

from cnai.semantics import ir


def skippable_steps(pipeline: ir.Pipeline) -> set[str]:
    """Steps that may not run: gated ones, those in if/else branches, those that run only if
    a step failed (`after X.failed`), and everything downstream of them."""
    skippable = Skippable(pipeline)
    for step in pipeline.steps:  # topological order: upstream steps are decided first
        skippable.add(step)
    return skippable.steps


class Skippable:
    """skippable_steps, decided a step at a time, each after every step it depends on (the
    plan decides each step as its own walk over the steps reaches it)."""

    def __init__(self, pipeline: ir.Pipeline) -> None:
        self.pipeline = pipeline
        self.steps: set[str] = set()
        self.branched: dict[str | None, bool] = {None: False}  # group -> in an if/else branch

    def add(self, step: ir.Step) -> None:
        """Add ``step`` to :attr:`steps` if it may not run."""
        in_branch = self.branched.get(step.group)
        if in_branch is None:
            in_branch = self.branched[step.group] = any(
                isinstance(g, ir.Branch) for g in self.pipeline.ancestors(step.group))
        if step.when is not None or in_branch:
            self.steps.add(step.name)
            return
        skippable = self.steps
        for dependency in step.depends:
            if dependency.step in skippable or dependency.outcome == "failed":
                skippable.add(step.name)
                return


def skippable_in_loop(pipeline: ir.Pipeline) -> set[str]:
    """Steps inside a loop that may not run in some iteration while the loop runs: gated
    ones, those in a branch inside their loop, and those after such a step in the same loop.
    Read after the loop, their fan-in leaves those iterations out."""
    skippable: set[str] = set()
    for step in pipeline.steps:  # topological order
        loops = pipeline.loops_around(step.group)
        if not loops:
            continue
        inner = loops[0].id
        branched = False
        for group in pipeline.ancestors(step.group):
            if group.id == inner:
                break
            branched = branched or isinstance(group, ir.Branch)
        same_loop = (d.step for d in step.depends if d.step in skippable)
        if step.when is not None or branched or any(
                pipeline.loops_around(pipeline.step(d).group)[0].id == inner
                for d in same_loop):
            skippable.add(step.name)
    return skippable
