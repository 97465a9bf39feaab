"""``apply``: create, else replace at the current resourceVersion, retrying conflicts."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from cnai_deploy.apply import apply
from cnai_launcher.resources import Ref
from cnai_runtime import exitcodes
from cnai_runtime.exitcodes import StepError

REF = Ref("serving.knative.dev/v1", "Service", "team-a", "api")
LOG = logging.getLogger("test-deploy-apply")


class ConflictingKube:
    """The object exists, and every replace loses the race (HTTP 409) ``conflicts`` times."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.replaced: list[dict[str, Any]] = []

    def create(self, ref: Ref, obj: dict[str, Any]) -> dict[str, Any]:
        raise ApiException(status=409, reason="AlreadyExists")

    def get(self, ref: Ref) -> dict[str, Any]:
        return {"metadata": {"name": ref.name, "resourceVersion": str(len(self.replaced) + 7)}}

    def replace(self, ref: Ref, obj: dict[str, Any]) -> dict[str, Any]:
        self.replaced.append(obj)
        if len(self.replaced) <= self.conflicts:
            raise ApiException(status=409, reason="Conflict")
        return obj


def test_replace_retries_a_conflict_at_the_new_resource_version() -> None:
    kube = ConflictingKube(conflicts=2)
    result = apply(kube, REF, {"metadata": {"name": "api"}, "spec": {}}, LOG)  # type: ignore[arg-type]
    assert [o["metadata"]["resourceVersion"] for o in kube.replaced] == ["7", "8", "9"]
    assert result["metadata"] == {"name": "api", "resourceVersion": "9"}


def test_conflicts_that_never_end_are_a_remote_failure_not_a_usage_error() -> None:
    kube = ConflictingKube(conflicts=10)
    with pytest.raises(StepError) as caught:
        apply(kube, REF, {"metadata": {"name": "api"}}, LOG)  # type: ignore[arg-type]
    assert len(kube.replaced) == 3
    assert caught.value.exit_code == exitcodes.REMOTE
    assert "kept changing" in caught.value.message
