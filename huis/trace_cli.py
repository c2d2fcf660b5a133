"""`huis trace`: the last runs of a scenario, and why it did or did not run.

With a scenario named, the traces come after an explanation (controller.engine.why): loaded or
not and from which file, each trigger and when the hub last saw what it listens to, the last
evaluation whose conditions were false, pending timers, the next time a time trigger fires. An
unknown name is exit 2 with the near names.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from controller.clock import RealClock
from controller.config import HomeConfig, resolve
from controller.engine.device_facts import Kinds
from controller.engine.loader import config_scenario_paths, load_scenarios
from controller.engine.scenario_set import LoadedScenario
from controller.engine.traces import load_traces, render_traces
from controller.engine.why import Why, explain, ids_in_files, render_why
from controller.errors import ConfigError
from controller.store import Database
from devices import KINDS

EXIT_UNKNOWN = 2

__all__ = ["trace"]


def trace(cfg: HomeConfig, scenario: str | None, limit: int = 20, out: TextIO | None = None,
          kinds: Kinds = KINDS) -> int:
    """Print the latest traces of a scenario (or all), in local time; with a scenario, first why
    it did or did not run. 0, or 2 for a scenario that exists nowhere."""
    out = out or sys.stdout
    text, code = asyncio.run(_trace(cfg, scenario, limit, kinds))
    out.write(text)
    return code


async def _trace(cfg: HomeConfig, scenario: str | None, limit: int, kinds: Kinds) -> tuple[str, int]:
    tz = ZoneInfo(cfg.home.location.timezone)
    path = resolve(cfg, cfg.storage.path)
    if not await asyncio.to_thread(Path(path).exists):
        # Opening would create an empty database where the hub expects its own.
        db = await Database.connect(":memory:")
        note = f"No database at {path}: the hub has not run with this configuration.\n"
    else:
        db = await Database.connect(path)
        note = ""
    try:
        if scenario is None:
            if not await _has_traces(db):
                return note or "No traces recorded yet (the engine has not run with this database).\n", 0
            return render_traces(await load_traces(db, scenario, limit), tz), 0
        why = await _why(db, cfg, scenario, kinds)
        found = await load_traces(db, scenario, limit) if await _has_traces(db) else []
        lines = [note.rstrip("\n")] if note else []
        if not why.known and found:
            # It ran once (an older set, other files): what it did is still worth reading.
            lines.append(f"{scenario}: not in the scenario files {cfg.source} names now; "
                         "its traces from before:")
        else:
            lines += render_why(why, tz)
        if not why.known and not found:
            return "\n".join(lines) + "\n", EXIT_UNKNOWN
        lines.append("")
        lines.append(f"Last runs of {scenario}:" if found else f"No traces recorded for {scenario}.")
        text = "\n".join(lines) + "\n"
        return text + (render_traces(found, tz) if found else ""), 0
    finally:
        await db.close()


async def _has_traces(db: Database) -> bool:
    return await db.fetchone("SELECT 1 FROM sqlite_master WHERE name = 'engine_traces'") is not None


async def _why(db: Database, cfg: HomeConfig, scenario: str, kinds: Kinds) -> Why:
    """Explain `scenario` as the hub would run it: the configured files, the stored parameters."""
    paths = config_scenario_paths(cfg)
    loaded: LoadedScenario | None = None
    problems: list[str] = []
    try:
        loaded = load_scenarios(paths, cfg, kinds, await _overrides(db)).get(scenario)
    except ConfigError as exc:
        problems = [str(p) for p in exc.problems]
    return await explain(db, cfg, scenario, loaded, RealClock().now(), files=ids_in_files(paths),
                         problems=problems)


async def _overrides(db: Database) -> dict[str, dict[str, object]]:
    """Parameters set on the dashboard (the engine keeps them next to its traces)."""
    if await db.fetchone("SELECT 1 FROM sqlite_master WHERE name = 'engine_parameters'") is None:
        return {}
    out: dict[str, dict[str, object]] = {}
    for r in await db.fetchall("SELECT scope, name, value FROM engine_parameters"):
        out.setdefault(str(r["scope"]), {})[str(r["name"])] = json.loads(str(r["value"]))
    return out
