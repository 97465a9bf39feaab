"""Wait for an object to meet its success or failure condition: watch, else poll."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes.client.rest import ApiException

from cnai_launcher.conditions import Condition
from cnai_launcher.kube import Kube, api_error
from cnai_launcher.resources import Ref
from cnai_runtime.exitcodes import CONDITION_FAILED, NOT_FOUND, TIMEOUT, StepError

WATCH_WINDOW = 60  # seconds per watch request before re-reading the object


def summarize(obj: dict[str, Any]) -> str:
    """A one-line status: phase, conditions, replica counts (whatever the object has)."""
    status = obj.get("status")
    if not isinstance(status, dict) or not status:
        return "no status yet"
    parts = []
    if status.get("phase"):
        parts.append(f"phase={status['phase']}")
    conditions = status.get("conditions")
    if isinstance(conditions, list) and conditions:
        shown = []
        for cond in conditions:
            if isinstance(cond, dict):
                text = f"{cond.get('type')}={cond.get('status')}"
                if cond.get("status") != "True" and cond.get("reason"):
                    text += f"({cond['reason']})"
                shown.append(text)
        parts.append("conditions=[" + ", ".join(shown) + "]")
    replicas = status.get("replicaStatuses")
    if isinstance(replicas, dict) and replicas:
        counts = []
        for role, value in sorted(replicas.items()):
            if isinstance(value, dict):
                nums = ",".join(f"{k}={v}" for k, v in sorted(value.items()) if isinstance(v, int))
                counts.append(f"{role}({nums})")
        parts.append("replicas=" + " ".join(counts))
    for key in ("latestReadyRevisionName", "url"):
        if status.get(key):
            parts.append(f"{key}={status[key]}")
    return " ".join(parts) or "status present"


@dataclass
class Outcome:
    obj: dict[str, Any]
    elapsed: float


Judge = Callable[[dict[str, Any]], bool]
"""Decides on one observed object: True for success, False to keep waiting; raises
:class:`StepError` for a failure."""


def conditions_judge(
    ref: Ref, success: Condition, failure: Condition, log: logging.Logger
) -> Judge:
    """Argo semantics: any failure requirement fails; all success requirements succeed."""

    def judge(obj: dict[str, Any]) -> bool:
        failed = failure.any_match(obj)
        if failed is not None:
            raise StepError(
                f"{ref}: failure condition met: {failed.text} ({summarize(obj)})",
                CONDITION_FAILED,
            )
        if success.all_match(obj):
            log.info("%s: success condition met: %s", ref, success.text)
            return True
        return False

    return judge


class Waiter:
    def __init__(
        self,
        kube: Kube,
        ref: Ref,
        judge: Judge,
        log: logging.Logger,
        poll_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kube, self.ref, self.judge = kube, ref, judge
        self.log, self.poll_interval, self.clock = log, poll_interval, clock
        self._last_summary = ""
        self._started = clock()

    def _decide(self, obj: dict[str, Any]) -> bool:
        """Log status changes, then let the judge decide."""
        summary = summarize(obj)
        if summary != self._last_summary:
            self.log.info("%s: %s", self.ref, summary)
            self._last_summary = summary
        return self.judge(obj)

    def _get(self) -> dict[str, Any]:
        try:
            return self.kube.get(self.ref)
        except ApiException as exc:
            if exc.status == 404:
                raise StepError(f"{self.ref} was deleted while waiting", NOT_FOUND) from None
            raise api_error(exc, f"reading {self.ref}") from None

    def _remaining(self, deadline: float) -> float:
        return deadline - self.clock()

    def _timeout(self, timeout: float) -> StepError:
        return StepError(
            f"{self.ref}: neither condition held within {timeout:g}s "
            f"(last status: {self._last_summary or 'unknown'})",
            TIMEOUT,
        )

    def wait(self, timeout: float) -> Outcome:
        """Block until success (returned), failure or timeout (StepError raised)."""
        deadline = self._started + timeout if timeout > 0 else math.inf
        obj = self._get()
        use_watch = True
        while True:
            if self._decide(obj):
                return Outcome(obj, self.clock() - self._started)
            remaining = self._remaining(deadline)
            if remaining <= 0:
                raise self._timeout(timeout)
            if use_watch:
                opened = self.clock()
                try:
                    found = self._watch(obj, remaining)
                except (ApiException, urllib3.exceptions.HTTPError, ValueError) as exc:
                    reason = getattr(exc, "status", None) or type(exc).__name__
                    self.log.info(
                        "watch unavailable (%s): polling every %gs", reason, self.poll_interval
                    )
                    use_watch = False
                    found = None
                if found is not None:
                    return Outcome(found, self.clock() - self._started)
                if use_watch and self.clock() - opened < 1.0:
                    # The stream closed at once (a proxy, a restarting API server): do not
                    # turn the watch loop into a busy loop.
                    time.sleep(max(0.0, min(1.0, self._remaining(deadline))))
            else:
                time.sleep(max(0.0, min(self.poll_interval, self._remaining(deadline))))
            if self._remaining(deadline) <= 0:
                raise self._timeout(timeout)
            obj = self._get()

    def _watch(self, obj: dict[str, Any], remaining: float) -> dict[str, Any] | None:
        """Follow events until a decision (returned) or the window closes (None)."""
        version = str(obj.get("metadata", {}).get("resourceVersion", ""))
        window = WATCH_WINDOW if remaining == math.inf else min(WATCH_WINDOW, math.ceil(remaining))
        for kind, event_obj in self.kube.watch(self.ref, version, window):
            if kind == "DELETED":
                raise StepError(f"{self.ref} was deleted while waiting", NOT_FOUND)
            if kind == "ERROR":  # e.g. 410 Gone: resourceVersion too old; re-read and go on
                return None
            changed = kind in ("ADDED", "MODIFIED") and isinstance(event_obj, dict)
            if changed and self._decide(event_obj):
                return dict(event_obj)
        return None
