"""What the technician's dashboard shows of each scenario: where it is, what it is doing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from controller.engine.compiled import describe_value
from controller.engine.runs import ScenarioRuntime
from controller.engine.timers import ForTimer


class ParameterStatus(TypedDict):
    value: str
    scope: str
    description: str
    overridden: bool


class ScenarioStatus(TypedDict):
    id: str
    description: str
    file: str
    line: int | None
    enabled: bool
    mode: str
    running: int
    queued: int
    timers: list[str]  # deadlines of pending `for:` timers, ISO 8601, soonest first
    parameters: dict[str, ParameterStatus]


def scenario_status(scenarios: Iterable[ScenarioRuntime],
                    timers: Iterable[ForTimer]) -> list[ScenarioStatus]:
    """Per scenario: id, description, file, enabled, runs going, timers pending, parameters."""
    pending = list(timers)
    return [_one(sc, pending) for sc in scenarios]


def _one(sc: ScenarioRuntime, timers: list[ForTimer]) -> ScenarioStatus:
    return {
        "id": sc.id, "description": sc.model.description, "file": sc.loaded.file,
        "line": sc.loaded.line, "enabled": sc.model.enabled, "mode": sc.model.mode,
        "running": len(sc.active), "queued": len(sc.queue),
        "timers": sorted(t.deadline.isoformat() for t in timers if t.trigger.owner == sc.id),
        "parameters": {n: {"value": describe_value(p.value), "scope": p.scope,
                           "description": p.definition.description, "overridden": p.overridden}
                       for n, p in sc.loaded.parameters.items()},
    }
