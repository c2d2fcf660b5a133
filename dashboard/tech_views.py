"""What the technician console shows beyond the raw records: why a scenario did not run, and an
event log in which repeated sightings are one row with a count instead of a flood.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from controller.engine import check_paths
from controller.engine.engine import Engine
from controller.engine.why import Why, ids_in_files
from controller.hub import Hub

# Attributes that change with every report of a device without saying anything new: a tag's
# sightings and distance (ESPresense, every few seconds), radio figures, light levels. An event
# that changes only these repeats the one before it when the same attributes changed.
NOISE = frozenset({"sightings", "distance", "rssi", "linkquality", "voltage", "illuminance",
                   "illuminance_lux"})


async def scenario_why(engine: Engine, hub: Hub, paths: Sequence[str], scenario: str) -> Why:
    """`huis trace`'s explanation for the console: from the running engine, and from the files
    on disk for a scenario it does not run (with the problems that keep it out)."""
    files = ids_in_files(paths)
    problems: list[str] = []
    if engine.scenario_set.get(scenario) is None and scenario in files.where:
        problems = [str(p) for p in check_paths([hub.config.source, *paths], hub.kinds)]
    return await engine.why(scenario, files=files, problems=problems)


def _changed(record: Mapping[str, object]) -> tuple[str, ...] | None:
    """The attributes an event record changed, when it changed only noise; else None."""
    data = record.get("data")
    if not isinstance(data, Mapping):
        return None
    changes = data.get("changes")
    if isinstance(changes, Mapping):
        keys = tuple(sorted(str(k) for k in changes))
    elif "attribute" in data:  # a history row: one attribute
        keys = (str(data["attribute"]),)
    else:
        return None
    return keys if keys and all(k in NOISE for k in keys) else None


def repeats(a: Mapping[str, object], b: Mapping[str, object]) -> bool:
    """Whether event record `b` only repeats `a`: same device, type and noise attributes."""
    keys = _changed(a)
    return keys is not None and a.get("device") == b.get("device") and a.get("type") == b.get("type") \
        and keys == _changed(b)


def collapse(records: Iterable[Mapping[str, object]], limit: int) -> list[dict[str, object]]:
    """Records newest first, each run of repeats one row: the newest, with `count` and the
    `first` time of the run. At most `limit` rows."""
    out: list[dict[str, object]] = []
    for rec in records:
        if out and repeats(out[-1], rec):
            out[-1]["count"] = int(str(out[-1].get("count", 1))) + 1
            out[-1]["first"] = rec.get("time")
            continue
        if len(out) >= limit:
            break
        out.append({**rec, "count": 1, "first": rec.get("time")})
    return out

