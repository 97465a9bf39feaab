"""Compile the file for submission, reporting diagnostics exactly as ``cnai compile`` does.

The target's documents alone do not say everything submit needs: a KFP PipelineSpec has no
schedule, and Argo parameters carry no types. Both come from the IR the documents were made
from (``CompileResult.graph``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnai.context import Options
from cnai.driver import CompileFailed, compile_source
from cnai.submit.params import GpuParam, Param, gpu_params_of, params_of
from cnai.usage import print_diagnostics, read_input


@dataclass(frozen=True)
class Compiled:
    name: str  # the pipeline's Kubernetes name
    description: str | None
    schedule: str | None  # five-field cron or @descriptor, as written
    params: list[Param]
    documents: list[dict[str, Any]]
    text: str  # the target's YAML, as `cnai compile` writes it
    service_account: str | None = None  # the pipeline's `service_account`: the run's on KFP
    # (step, param, the quota's GPUs): steps whose GPU count a param sets under a GPU quota,
    # checked again with the value a run passes (params.check_gpu_quota)
    gpu_params: tuple[GpuParam, ...] = ()


def compile_for(path: str, target: str, options: Options, colour: str) -> Compiled | None:
    """The compiled pipeline, or None once errors have been reported (exit 1)."""
    data = read_input(path)
    try:
        result = compile_source(data, path, target, options)
    except CompileFailed as failure:
        print_diagnostics(failure.diagnostics, failure.sources, colour)
        return None
    print_diagnostics(result.warnings, result.sources, colour)
    pipeline = result.graph
    assert pipeline is not None
    return Compiled(name=pipeline.k8s_name, description=pipeline.description,
                    schedule=pipeline.schedule, params=params_of(pipeline),
                    documents=result.documents, text=result.text,
                    service_account=pipeline.service_account,
                    gpu_params=gpu_params_of(pipeline))
