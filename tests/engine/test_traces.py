"""Traces: what a run saw and did, why it (did not) happen, kept in SQLite, printed as text."""

from __future__ import annotations

import asyncio
import io
import signal
from pathlib import Path
from zoneinfo import ZoneInfo

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import (
    Engine,
    load_scenarios,
    load_traces,
    render_traces,
)
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink
from devices import KINDS
from huis import cli as commands

from ..support import eventually
from .conftest import advance_to, bed, engine_for, running, traces_of

ROOT = Path(__file__).resolve().parents[2]
NIGHT = """
scenarios:
  - id: night
    triggers:
      - {type: state, device: bed_sensor, attribute: occupancy, to: false, for: 10m}
    conditions:
      - {type: time, after: "22:00", before: "07:00"}
      - {type: resident, is: home}
    actions:
      - {type: light, device: bedroom_light, brightness_percent: 10}
      - {type: alert, key: night.bed, severity: warning, message: "{resident} is uit bed"}
"""


async def test_trace_records_trigger_conditions_actions_and_cause(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    engine = engine_for(hub, db, sink, NIGHT)
    async with running(engine):
        await advance_to(clock, "23:00")
        bed(hub, False)
        await clock.advance(minutes=10)
        [trace] = await traces_of(engine, "night")
    assert trace.status == "completed"
    assert trace.trigger["description"] == "state bed_sensor.occupancy -> false for 10 minutes"
    assert trace.trigger["device"] == "bed_sensor" and trace.trigger["to"] is False
    assert trace.cause == (
        "scenario:night: state bed_sensor.occupancy -> false for 10 minutes",
        "timer: for 10m (deadline 2026-01-05T22:10:00+00:00)",
        "device:bed_sensor: message on zigbee2mqtt/bed_sensor",
    )
    assert [(c["condition"], c["result"]) for c in trace.conditions] == [
        ("time 22:00..07:00", True), ("resident is home", True)]
    assert [(a["action"], a["outcome"], a["ok"]) for a in trace.actions] == [
        ('light bedroom_light {"brightness_percent":10}', "sent", True),
        ("alert warning night.bed: Mevrouw Jansen is uit bed", "raised alert-1", True),
    ]
    text = render_traces([trace], ZoneInfo("Europe/Amsterdam"))
    assert text.splitlines() == [
        "2026-01-05 23:10:00  night  completed",
        "  trigger  state bed_sensor.occupancy -> false for 10 minutes",
        "  cause    scenario:night: state bed_sensor.occupancy -> false for 10 minutes <- timer: for "
        "10m (deadline 2026-01-05T22:10:00+00:00) <- device:bed_sensor: message on zigbee2mqtt/bed_sensor",
        "  ok       time 22:00..07:00",
        "  ok       resident is home",
        '  done     [23:10:00] light bedroom_light {"brightness_percent":10} -> sent',
        "  done     [23:10:00] alert warning night.bed: Mevrouw Jansen is uit bed -> raised alert-1",
    ]


async def test_why_it_did_not_fire(hub: Hub, db: Database, sink: MemoryAlertSink,
                                   clock: VirtualClock) -> None:
    engine = engine_for(hub, db, sink, NIGHT)
    async with running(engine):
        bed(hub, False)  # at noon
        await clock.advance(minutes=10)
        [trace] = await traces_of(engine, "night")
    assert trace.status == "not_fired"
    assert trace.notes == ("condition not met: time 22:00..07:00",)
    assert render_traces([trace], ZoneInfo("Europe/Amsterdam")).splitlines()[3:] == [
        "  FAILED   time 22:00..07:00",
        "  ok       resident is home",
        "  note     condition not met: time 22:00..07:00",
    ]


async def test_a_waiting_run_shows_in_the_traces(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                 clock: VirtualClock) -> None:
    text = """
scenarios:
  - id: later
    triggers: [{type: event, device: sos_button, event: emergency}]
    actions: [{type: delay, duration: 1h}, {type: set_mode, mode: night}]
"""
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
        await clock.advance(minutes=5)
        [trace] = await traces_of(engine, "later")
        assert trace.status == "waiting"
        await clock.advance(hours=1)
        [trace] = await traces_of(engine, "later")
        assert trace.status == "completed"


async def test_only_the_last_100_per_scenario_are_kept(hub: Hub, db: Database,
                                                       sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = """
scenarios:
  - id: a
    mode: parallel
    triggers: [{type: event, device: sos_button, event: emergency}]
    actions: [{type: announce, text: "{time}"}]
  - id: b
    triggers: [{type: state, device: bed_sensor, attribute: occupancy}]
    actions: [{type: set_mode, mode: day}]
"""
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        bed(hub, True)
        for _ in range(130):
            hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
            await clock.advance(seconds=1)
        counts = {r["scenario"]: r["n"] for r in await db.fetchall(
            "SELECT scenario, COUNT(*) AS n FROM engine_traces GROUP BY scenario")}
        assert counts == {"a": 100, "b": 1}
        newest = await load_traces(db, "a", limit=1)
        assert newest[0].actions[0]["action"] == "announce '12:02'"


def test_check_command_prints_problems_and_exits_2(home: HomeConfig) -> None:
    out, err = io.StringIO(), io.StringIO()
    broken = ROOT / "scenarios" / "_examples" / "broken.yaml"
    assert commands.check([ROOT / "config" / "home.yaml", broken], out, err) == 2
    lines = err.getvalue().splitlines()
    assert lines[0] == (f"{broken}:6: scenarios[0].triggers[0].device: unknown device 'bed_sensr' "
                        "(did you mean 'bed_sensor'?)")
    assert lines[-1] == "7 problems found."
    ok = io.StringIO()
    showcase = ROOT / "scenarios" / "_examples" / "showcase.yaml"
    assert commands.check([ROOT / "config" / "home.yaml", showcase], ok, err) == 0


def test_schema_command_writes_a_file(tmp_path: Path) -> None:
    assert commands.schema(tmp_path / "schema.json") == 0
    assert '"title": "huis scenario file"' in (tmp_path / "schema.json").read_text()


async def test_trace_command_reads_the_hub_database(home: HomeConfig, clock: VirtualClock,
                                                    tmp_path: Path, sink: MemoryAlertSink) -> None:
    cfg = home.model_copy(update={"storage": home.storage.model_copy(
        update={"path": str(tmp_path / "huis.db")})})
    db = await Database.connect(tmp_path / "huis.db")
    hub = Hub(cfg, clock, KINDS)
    engine = engine_for(hub, db, sink, NIGHT)
    async with running(engine):
        bed(hub, False)
        await clock.advance(minutes=10)
    await db.close()
    out = io.StringIO()
    # `huis trace` runs its own event loop, as the CLI does.
    await asyncio.to_thread(commands.trace, cfg, "night", 5, out)
    # 'night' is in no file the configuration names: the traces it left are shown all the same.
    assert "2026-01-05 12:10:00  night  not_fired" in out.getvalue().splitlines()


async def test_reload_command_signals_the_running_hub(home: HomeConfig, tmp_path: Path, hub: Hub,
                                                     db: Database, sink: MemoryAlertSink) -> None:
    # This process plays the running hub: SIGHUP reaches its engine through the loop's handler.
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "a.yaml").write_text(NIGHT)
    engine = Engine(hub, db, sink, load_scenarios([folder], home, KINDS), paths=[folder])
    async with running(engine):
        commands.install_reload_signal(engine)
        try:
            (folder / "a.yaml").write_text(NIGHT.replace("id: night", "id: renamed"))
            pid_file = commands.write_pid_file(commands.pid_file_for(home.model_copy(
                update={"storage": home.storage.model_copy(update={"path": str(tmp_path / "h.db")})})))
            assert pid_file == tmp_path / "huis.pid"
            assert commands.reload(pid_file, io.StringIO()) == 0
            await eventually(lambda: engine.scenario_set.ids() == ["renamed"])
        finally:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
    err = io.StringIO()
    assert commands.reload(tmp_path / "nope.pid", err) == 1
    assert err.getvalue().startswith(f"cannot reach the running hub through {tmp_path}/nope.pid")


def test_shipped_schema_json_is_current() -> None:
    # Editors read scenarios/schema.json; regenerate with `huis schema -o scenarios/schema.json`.
    from controller.engine.schema import schema_text
    from tests.conftest import ROOT

    assert (ROOT / "scenarios" / "schema.json").read_text() == schema_text()
