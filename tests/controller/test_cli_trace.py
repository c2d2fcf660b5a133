"""`huis trace SCENARIO`: why a scenario did or did not run, from a real hub's database.

The database is written by the demo home's own hub, engine and history (shipped scenarios,
virtual clock, a real SQLite file); then the real `huis` command reads it in a subprocess.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from controller.clock import VirtualClock
from controller.store import Database
from controller.testing import MemoryAlertSink, MemoryLink
from huis.compose import Parts, load_home
from tests.conftest import ROOT
from tests.controller.test_cli_user import config_in, huis
from tests.engine.conftest import running


async def record_a_day(config: Path) -> None:
    """The bed empties at 14:00 (a day: the night rules' time condition is false) and the
    tag is seen; nobody opens a door, nobody presses the SOS button."""
    cfg = load_home(config)
    clock = VirtualClock(datetime(2026, 1, 5, 12, 0, tzinfo=UTC))  # Monday 13:00 in Zwolle
    parts = Parts.load(cfg)
    hub = parts.hub(clock, MemoryLink())
    db = await Database.connect(tmp_db(config))
    history = parts.history(hub, db, clock)
    await history.open()
    engine = parts.engine(hub, db, MemoryAlertSink())
    try:
        async with running(engine):
            hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True})
            await clock.advance(timedelta(hours=1))
            hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})  # 14:00 local
            await clock.advance(timedelta(minutes=2))
            await engine.flush()
        await history.flush()
    finally:
        await db.close()


def tmp_db(config: Path) -> Path:
    return config.parent / "huis.db"


async def test_a_rule_whose_condition_was_false_says_which_and_when(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    await record_a_day(config)
    done = huis("trace", "night_exit_lights", "--config", str(config))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"night_exit_lights: loaded from {ROOT / 'scenarios' / 'night_exit.yaml'}:149" in out
    assert "  trigger  state bed_sensor.occupancy -> false" in out
    # The trigger was seen (from the history), and the condition that stopped it is named.
    assert "bed_sensor.occupancy: last reported 2026-01-05 14:00:00 (false); " \
           "as this trigger wants it: 2026-01-05 14:00:00" in out
    assert "last evaluation 2026-01-05 14:00:00: not_fired" in out
    assert "FALSE  time 22:00..07:00" in out
    assert "why      its trigger fired, but it did not run (see the last evaluation)." in out
    assert "No traces recorded." not in out


async def test_a_rule_whose_trigger_was_never_seen_says_so(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    await record_a_day(config)
    done = huis("trace", "night_exit_door", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "night_exit_door: loaded from" in done.stdout
    assert "front_door/back_door.open: never reported in the history (30 days)" in done.stdout
    assert "why      none of its triggers has fired since the traces began." in done.stdout
    assert "No traces recorded for night_exit_door." in done.stdout

    sos = huis("trace", "sos_pressed", "--config", str(config))
    assert "sos_button event: never reported in the history" in sos.stdout


async def test_a_time_rule_says_when_it_fires_next(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    await record_a_day(config)
    done = huis("trace", "day_wake_light", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "  trigger  time 07:00" in done.stdout
    assert "next at 20" in done.stdout  # a date: computed from now, whatever day that is


def test_an_unknown_scenario_is_exit_2_with_the_near_names(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    done = huis("trace", "nite_exit", "--config", str(config))
    assert done.returncode == 2
    assert "There is no scenario 'nite_exit'" in done.stdout
    assert "near names: night_exit_door, night_exit_lights" in done.stdout
    # Nothing was created where the hub keeps its database.
    assert not tmp_db(config).exists()


def test_a_scenario_in_a_file_that_does_not_load_says_why(tmp_path: Path) -> None:
    scenarios = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", scenarios)
    text = (scenarios / "night_exit.yaml").read_text()
    (scenarios / "night_exit.yaml").write_text(text.replace("device: bed_sensor, attribute: occupancy, to: false}",
                                                            "device: bed_sensr, attribute: occupancy, to: false}", 1))
    config = config_in(tmp_path)
    config.write_text(config.read_text().replace(f"scenarios: [{ROOT / 'scenarios'}]", f"scenarios: [{scenarios}]"))
    done = huis("trace", "night_exit_lights", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert f"night_exit_lights: written in {scenarios / 'night_exit.yaml'}:149 but NOT loaded." in done.stdout
    assert "unknown device 'bed_sensr' (did you mean 'bed_sensor'?)" in done.stdout
