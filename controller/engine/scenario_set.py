"""What loading scenario files produces: validated scenarios with their parameters, as a set.

The engine installs a `ScenarioSet`; a reload builds a new one (from the same files and the
same device kinds) and swaps it in whole.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta

from controller.engine import model as m
from controller.engine.device_facts import Kinds

# A parameter's value after coercion to its declared type.
ParamValue = timedelta | time | bool | int | float | str
# Parameter values set outside the files (dashboard, tests): scope -> name -> raw value.
Overrides = Mapping[str, Mapping[str, object]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterInfo:
    """A declared parameter and the value in force."""

    scope: str  # the file's name or the scenario id
    name: str
    definition: m.Parameter
    value: ParamValue
    overridden: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedScenario:
    """A validated scenario with its parameters resolved, and where it came from."""

    model: m.Scenario
    file: str
    line: int | None
    index: int = 0  # position in its file's `scenarios` list
    parameters: Mapping[str, ParameterInfo]
    # The digests below, made when first asked for (a reload, a run that waits), not at load.
    _digests: dict[str, str] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def id(self) -> str:
        return self.model.id

    @property
    def digest(self) -> str:
        """Changes whenever anything about the scenario changes (a reload compares them)."""
        found = self._digests.get("all")
        if found is None:
            body = json.dumps([self.model.model_dump(mode="json", by_alias=True),
                               {k: _jsonable(p.value) for k, p in self.parameters.items()}],
                              sort_keys=True, default=str)
            found = self._digests["all"] = hashlib.sha256(body.encode()).hexdigest()[:16]
        return found

    @property
    def actions_digest(self) -> str:
        """Changes when its actions change: a pending run cannot resume then (stored with it)."""
        found = self._digests.get("actions")
        if found is None:
            body = json.dumps([a.model_dump(mode="json", by_alias=True) for a in self.model.actions],
                              sort_keys=True, default=str)
            found = self._digests["actions"] = hashlib.sha256(body.encode()).hexdigest()[:16]
        return found

    def param_values(self) -> dict[str, object]:
        """Parameter name -> value, for templates and `parameter` conditions."""
        return {name: p.value for name, p in self.parameters.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioSet:
    """A complete, valid set of scenarios, ready for the engine."""

    scenarios: tuple[LoadedScenario, ...] = ()
    files: tuple[str, ...] = ()
    # The device kinds the set was checked against, so a reload checks against the same ones.
    kinds: Kinds = field(default_factory=dict, compare=False, repr=False)

    def get(self, scenario_id: str) -> LoadedScenario | None:
        for s in self.scenarios:
            if s.id == scenario_id:
                return s
        return None

    def ids(self) -> list[str]:
        return [s.id for s in self.scenarios]


def _jsonable(value: ParamValue) -> float | int | bool | str:
    """A parameter value as JSON can hold it (for the scenario's digest)."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, time):
        return value.isoformat()
    return value
