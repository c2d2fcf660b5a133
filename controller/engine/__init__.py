"""The rule engine: care scenarios in YAML, run exactly, explained, and with durable timers.

See docs/scenarios.md for the language. Entry points:

- `load_scenarios(paths, config, kinds)` -> ScenarioSet (raises ConfigError with every problem);
- `check_paths(paths, kinds)` -> list[Problem], for `huis check`;
- `scenario_json_schema()`, for `huis schema`;
- `Engine(hub, db, alerts, scenarios)`, supervised with `hub.run(engine.run)`;
- `load_traces(db, scenario)` and `render_traces(traces)`, for `huis trace`.
"""

from __future__ import annotations

from controller.engine.alert_sink import AlertSink
from controller.engine.engine import Engine
from controller.engine.house import HOUSE_CHANGED
from controller.engine.loader import (
    LoadedScenario,
    ScenarioSet,
    check_paths,
    load_scenario_text,
    load_scenarios,
)
from controller.engine.restore import ReloadResult
from controller.engine.schema import scenario_json_schema
from controller.engine.traces import Trace, load_traces, render_traces

__all__ = [
    "HOUSE_CHANGED",
    "AlertSink",
    "Engine",
    "LoadedScenario",
    "ReloadResult",
    "ScenarioSet",
    "Trace",
    "check_paths",
    "load_scenario_text",
    "load_scenarios",
    "load_traces",
    "render_traces",
    "scenario_json_schema",
]
