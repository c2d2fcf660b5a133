"""Which names a scenario's `{placeholders}` may use, and why a name cannot be filled in.

Checked at load time so a misspelt `{state.bed_sensor.ocupancy}` is reported in the file, not
discovered as an empty message at night.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from controller.config import HomeConfig
from controller.engine.device_facts import Kinds, attributes_of
from controller.engine.hints import suggest

# Names a template may start with, besides parameter names (so no parameter may take them).
TEMPLATE_ROOTS = ("resident", "home", "scenario", "time", "weekday", "date", "mode", "presence",
                  "trigger", "state", "previous", "name", "room_name", "wait")
TRIGGER_VARIABLES = ("id", "type", "device", "device_name", "room", "room_name", "attribute",
                     "from", "to", "value", "event", "data", "for", "time", "late", "key",
                     "scenario", "severity", "action", "by")

# Why a name cannot be filled in, and a hint (or None when it can).
NameProblem = tuple[str, str | None]


def template_name_problem(
    names: tuple[str, ...], cfg: HomeConfig | None, params: Iterable[str], kinds: Kinds
) -> NameProblem | None:
    """Why a placeholder cannot be filled in, or None when it can."""
    root = names[0]
    roots = [*TEMPLATE_ROOTS, *params]
    if root not in roots:
        return f"unknown template name '{'.'.join(names)}'", suggest(root, roots) or "see docs/scenarios.md"
    if root in ("trigger", "wait"):
        return _run_name_problem(names)
    if root in ("state", "previous"):
        return _state_name_problem(names, cfg, kinds)
    if root in ("name", "room_name"):
        return _display_name_problem(names, cfg)
    if len(names) != 1:
        return f"'{'.'.join(names)}': '{root}' has no parts", None
    return None


def _run_name_problem(names: tuple[str, ...]) -> NameProblem | None:
    """trigger.<variable>, wait.result and wait.trigger.<variable>."""
    root, shown = names[0], ".".join(names)
    rest = names[1:]
    if root == "wait":
        if not rest or rest[0] not in ("result", "trigger"):
            return f"'{shown}': use wait.result or wait.trigger.<name>", None
        rest = rest[1:] if rest[0] == "trigger" else ()
        if not rest and names[1] == "trigger":
            return f"'{shown}': name a field, e.g. wait.trigger.device", None
    if rest and rest[0] not in TRIGGER_VARIABLES:
        return (f"'{shown}': triggers have no '{rest[0]}'",
                suggest(rest[0], TRIGGER_VARIABLES) or f"known: {', '.join(TRIGGER_VARIABLES)}")
    if root == "trigger" and not rest:
        return f"'{shown}': name a field, e.g. trigger.device", None
    return None


def _state_name_problem(names: tuple[str, ...], cfg: HomeConfig | None, kinds: Kinds) -> NameProblem | None:
    """state.<device>.<attribute> and previous.<device>.<attribute>."""
    shown = ".".join(names)
    if len(names) != 3:
        return f"'{shown}': write {names[0]}.<device>.<attribute>", None
    if cfg is None:
        return None
    if names[1] not in cfg.devices:
        return f"unknown device '{names[1]}' in '{shown}'", suggest(names[1], cfg.devices)
    kind = cfg.devices[names[1]].kind
    known = attributes_of(kinds, kind)
    if known is not None and names[2] not in known:
        return f"a {kind} has no attribute '{names[2]}'", suggest(names[2], known)
    return None


def _display_name_problem(names: tuple[str, ...], cfg: HomeConfig | None) -> NameProblem | None:
    """name.<device> and room_name.<room>."""
    root, shown = names[0], ".".join(names)
    if len(names) != 2:
        return f"'{shown}': write {root}.<id>", None
    if cfg is None:
        return None
    pool: Collection[str] = cfg.devices if root == "name" else cfg.rooms
    if names[1] not in pool:
        what = "device" if root == "name" else "room"
        return f"unknown {what} '{names[1]}' in '{shown}'", suggest(names[1], pool)
    return None
