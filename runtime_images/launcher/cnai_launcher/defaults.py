"""Conditions used when neither --success-condition nor --failure-condition is given.

An object of a kind not listed here counts as done once it is created (as in Argo, when
a resource template has no conditions).
"""

from __future__ import annotations

from typing import Any

_TRAINING_JOBS = {"TFJob", "PyTorchJob", "MPIJob", "XGBoostJob", "PaddleJob", "JAXJob"}

DEFAULTS: dict[tuple[str, str], tuple[str, str]] = {
    **{
        ("kubeflow.org", kind): (
            "status.conditions[type=Succeeded].status = True",
            "status.conditions[type=Failed].status = True",
        )
        for kind in _TRAINING_JOBS
    },
    ("data.fluid.io", "DataLoad"): ("status.phase = Complete", "status.phase = Failed"),
    ("serving.knative.dev", "Service"): (
        "status.conditions[type=Ready].status = True, status.latestReadyRevisionName",
        "status.conditions[type=Ready].status = False",
    ),
    ("batch", "Job"): (
        "status.conditions[type=Complete].status = True",
        "status.conditions[type=Failed].status = True",
    ),
}


def default_conditions(obj: dict[str, Any]) -> tuple[str, str]:
    """(success, failure) condition text for the object's kind; empty when none apply."""
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return DEFAULTS.get((group, str(obj.get("kind", ""))), ("", ""))
