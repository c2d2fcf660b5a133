"""Checks between scenarios: a `cancel` action or an `alert` trigger naming another scenario.

They run once every file is validated, since the scenario named may live in another file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from controller.engine import model as m
from controller.engine.hints import suggest
from controller.engine.scenario_set import LoadedScenario
from controller.errors import Problem
from controller.yamlfile import Located, Path_

# The parts of a scenario a walk visits.
Part = m.Trigger | m.Condition | m.Action


def check_set(docs: Sequence[Located], loaded: Sequence[LoadedScenario]) -> list[Problem]:
    """References between scenarios: cancel targets and alert triggers naming a scenario."""
    ids = [s.id for s in loaded]
    by_file = {d.file: d for d in docs}
    problems: list[Problem] = []
    for s in loaded:
        doc = by_file.get(s.file)
        if doc is None:
            continue
        for path, node in walk_scenario(s.model, ("scenarios", s.index)):
            for target in _scenarios_named(node):
                if target not in ids:
                    problems.append(doc.problem((*path, "scenario"), f"unknown scenario '{target}'",
                                                suggest(target, ids)))
    return problems


def _scenarios_named(node: Part) -> list[str]:
    if isinstance(node, m.CancelAction):
        return [node.scenario] if isinstance(node.scenario, str) else node.scenario
    if isinstance(node, m.AlertTrigger) and node.scenario is not None:
        return [node.scenario]
    return []


def walk_scenario(s: m.Scenario, base: Path_ = ()) -> Iterator[tuple[Path_, Part]]:
    """Every trigger, condition and action of a scenario with its path, depth first."""
    for i, t in enumerate(s.triggers):
        yield (*base, "triggers", i), t
    yield from _walk_conditions(s.conditions, (*base, "conditions"))
    yield from walk_actions(s.actions, (*base, "actions"))


def _walk_conditions(conds: Sequence[m.Condition], base: Path_) -> Iterator[tuple[Path_, Part]]:
    for i, c in enumerate(conds):
        yield (*base, i), c
        if isinstance(c, m.AndCondition | m.OrCondition | m.NotCondition):
            yield from _walk_conditions(c.conditions, (*base, i, "conditions"))


def walk_actions(actions: Sequence[m.Action], base: Path_) -> Iterator[tuple[Path_, Part]]:
    """Every action (and wait trigger, if condition) below `actions`, with its path."""
    for i, a in enumerate(actions):
        yield (*base, i), a
        if isinstance(a, m.WaitAction):
            for j, t in enumerate(a.triggers):
                yield (*base, i, "triggers", j), t
        elif isinstance(a, m.IfAction):
            yield from _walk_conditions(a.conditions, (*base, i, "conditions"))
            yield from walk_actions(a.then, (*base, i, "then"))
            yield from walk_actions(a.else_, (*base, i, "else"))
