"""Durable timers: a restart or reload loses no pending `for:`, delay or wait."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import Engine, load_scenarios
from controller.errors import ConfigError
from controller.hub import Hub
from controller.mqtt import MemoryLink
from controller.store import Database
from controller.testing import MemoryAlertSink
from devices import KINDS

from .conftest import advance_to, bed, local, running, sent, traces_of

NIGHT = """
parameters:
  tolerance: {type: duration, default: 10m, min: 0m, max: 30m}
scenarios:
  - id: night_exit
    triggers:
      - {type: state, device: bed_sensor, attribute: occupancy, to: false, for: $tolerance}
    conditions:
      - {type: time, after: "22:00", before: "07:00"}
    actions:
      - {type: alert, key: night.bed, severity: warning, message: "Uit bed sinds {trigger.for}"}
"""


class Home:
    """One home across restarts: the same config, clock and database file; a new hub each time."""

    def __init__(self, config: HomeConfig, clock: VirtualClock, folder: Path) -> None:
        self.config = config
        self.clock = clock
        self.folder = folder
        self.db_path = folder / "huis.db"
        self.scenarios = folder / "scenarios"
        self.scenarios.mkdir()
        self.hub = Hub(config, clock, KINDS, MemoryLink())
        self.sink = MemoryAlertSink()

    def write(self, text: str, name: str = "night.yaml") -> None:
        (self.scenarios / name).write_text(text, encoding="utf-8")

    @asynccontextmanager
    async def start(self, *, new_hub: bool = True) -> AsyncIterator[Engine]:
        """A hub start: fresh hub state (unless `new_hub` is False) and a new engine."""
        if new_hub:
            self.hub = Hub(self.config, self.clock, KINDS, MemoryLink())
        db = await Database.connect(self.db_path)
        try:
            engine = Engine(self.hub, db, self.sink,
                            load_scenarios([self.scenarios], self.config, KINDS), paths=[self.scenarios])
            async with running(engine):
                yield engine
        finally:
            await db.close()


@pytest.fixture
def house(home: HomeConfig, clock: VirtualClock, tmp_path: Path) -> Home:
    h = Home(home, clock, tmp_path)
    h.write(NIGHT)
    return h


async def test_restart_while_for_is_pending_fires_at_the_original_deadline(
        house: Home, clock: VirtualClock) -> None:
    async with house.start():
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=4)
    await clock.advance(minutes=2)  # the hub is down from 23:04 to 23:06
    async with house.start() as engine:
        bed(house.hub, False)  # the retained state arrives again: must not restart the count
        await clock.advance(minutes=3, seconds=59)
        assert house.sink.raised == []
        await clock.advance(seconds=1)
        assert [a.message for a in house.sink.raised] == ["Uit bed sinds 10 minuten"]
        assert local(clock).strftime("%H:%M") == "23:10"
        [trace] = await traces_of(engine, "night_exit")
        assert "late" not in trace.trigger
        assert trace.cause[-2:] == ("engine: restored after a restart or reload",
                                    "device:bed_sensor: message on zigbee2mqtt/bed_sensor")
        await clock.advance(hours=1)
        assert len(house.sink.raised) == 1


async def test_a_deadline_that_passed_while_down_fires_at_start_and_says_late(
        house: Home, clock: VirtualClock) -> None:
    async with house.start():
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=4)
    await clock.advance(minutes=20)  # down until 23:24
    async with house.start() as engine:
        await clock.advance(seconds=1)
        assert len(house.sink.raised) == 1
        [trace] = await traces_of(engine, "night_exit")
        assert trace.trigger["late"] == "14m"
        assert trace.started.astimezone(local(clock).tzinfo).strftime("%H:%M") == "23:24"


async def test_a_value_seen_at_start_cancels_a_contradicted_timer(house: Home,
                                                                   clock: VirtualClock) -> None:
    async with house.start():
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=4)
    house.hub = Hub(house.config, clock, KINDS, MemoryLink())
    bed(house.hub, True)  # back in bed, reported before the engine starts
    async with house.start(new_hub=False) as engine:
        await clock.advance(minutes=30)
        assert house.sink.raised == []
        [trace] = await traces_of(engine, "night_exit")
        assert trace.status == "not_fired"
        assert trace.notes == ("cancelled at start-up: bed_sensor.occupancy is now true",)


async def test_already_true_at_start_is_evaluated(house: Home, clock: VirtualClock) -> None:
    await advance_to(clock, "23:00")
    bed(house.hub, False)  # before the engine runs: Home Assistant would never fire
    async with house.start(new_hub=False) as engine:
        await clock.advance(minutes=10)
        assert len(house.sink.raised) == 1
        [trace] = await traces_of(engine, "night_exit")
        assert trace.cause[-1] == "engine: at start-up bed_sensor.occupancy was already false"


async def test_no_second_fire_after_a_restart_in_the_same_episode(house: Home,
                                                                   clock: VirtualClock) -> None:
    async with house.start():
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=15)
        assert len(house.sink.raised) == 1
    house.hub = Hub(house.config, clock, KINDS, MemoryLink())
    bed(house.hub, False)  # still out of bed after the restart
    async with house.start(new_hub=False) as engine:
        await clock.advance(minutes=30)
        assert [t.status for t in await traces_of(engine, "night_exit")] == ["completed"]
        bed(house.hub, True)
        bed(house.hub, False)  # a new episode counts again
        await clock.advance(minutes=10)
        assert [t.status for t in await traces_of(engine, "night_exit")] == ["completed"] * 2


DELAY = """
scenarios:
  - id: later
    triggers: [{type: event, device: sos_button, event: emergency}]
    actions:
      - {type: announce, text: "nu"}
      - {type: delay, duration: 30m}
      - {type: light, device: bedroom_light, state: on}
"""


async def test_a_delay_survives_a_restart(house: Home, clock: VirtualClock) -> None:
    house.write(DELAY)
    async with house.start():
        house.hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
        await clock.advance(minutes=10)
    await clock.advance(minutes=5)
    async with house.start() as engine:
        await clock.advance(minutes=14, seconds=59)
        assert sent(house.hub, "zigbee2mqtt/bedroom_light/set") == []
        await clock.advance(seconds=1)
        assert sent(house.hub, "zigbee2mqtt/bedroom_light/set") == [{"state": "ON"}]
        [trace] = await traces_of(engine, "later")
        assert trace.status == "completed"
        assert [a["action"] for a in trace.actions] == ["announce 'nu'", "delay 30m",
                                                        "light bedroom_light {\"state\":\"ON\"}"]
        assert any(n.startswith("resumed at ") for n in trace.notes)


WAIT = """
scenarios:
  - id: dose
    triggers: [{type: event, device: dispenser, event: dose_due}]
    actions:
      - type: wait
        triggers: [{type: event, device: dispenser, event: dose_taken}]
        timeout: 30m
        on_trigger: stop
      - {type: alert, severity: warning, key: dose, message: "Niet ingenomen"}
"""


def dispenser(hub: Hub, event: str) -> None:
    hub.inject("huis/dispenser/dispenser/event",
               {"event": event, "dose": "08:00", "time": "2026-01-05T12:00:00+01:00"})


async def test_a_wait_survives_a_restart_and_times_out_on_time(house: Home,
                                                               clock: VirtualClock) -> None:
    house.write(WAIT)
    async with house.start():
        dispenser(house.hub, "dose_due")
        await clock.advance(minutes=10)
    async with house.start():
        await clock.advance(minutes=19, seconds=59)
        assert house.sink.raised == []
        await clock.advance(seconds=1)
        assert [a.message for a in house.sink.raised] == ["Niet ingenomen"]


async def test_a_resumed_wait_still_hears_its_trigger(house: Home, clock: VirtualClock) -> None:
    house.write(WAIT)
    async with house.start():
        dispenser(house.hub, "dose_due")
        await clock.advance(minutes=10)
    async with house.start():
        await clock.advance(minutes=5)
        dispenser(house.hub, "dose_taken")
        await clock.advance(hours=1)
        assert house.sink.raised == []


# -- reload -------------------------------------------------------------------------------------


async def test_reload_keeps_a_pending_timer_of_an_unchanged_scenario(house: Home,
                                                                     clock: VirtualClock) -> None:
    async with house.start() as engine:
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=4)
        house.write("scenarios:\n  - {id: extra, triggers: [{type: time, at: '08:00'}], "
                    "actions: [{type: set_mode, mode: day}]}\n", "extra.yaml")
        result = await engine.reload()
        assert (result.added, result.changed, result.unchanged) == (("extra",), (), ("night_exit",))
        await clock.advance(minutes=6)
        assert len(house.sink.raised) == 1


async def test_reload_with_a_longer_for_counts_from_the_original_start(house: Home,
                                                                       clock: VirtualClock) -> None:
    async with house.start() as engine:
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=4)
        house.write(NIGHT.replace("default: 10m", "default: 15m"))
        result = await engine.reload()
        assert result.changed == ("night_exit",)
        await clock.advance(minutes=10, seconds=59)
        assert house.sink.raised == []
        await clock.advance(seconds=1)
        assert len(house.sink.raised) == 1
        assert local(clock).strftime("%H:%M") == "23:15"


async def test_an_invalid_reload_leaves_everything_running(house: Home, clock: VirtualClock) -> None:
    async with house.start() as engine:
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=4)
        house.write(NIGHT.replace("bed_sensor", "bed_sensr"))
        house.write("scenarios: [{id: ok, triggers: [{type: time, at: '08:00'}], "
                    "actions: [{type: set_mode, mode: dag}]}]\n", "other.yaml")
        with pytest.raises(ConfigError) as caught:
            await engine.reload()
        assert [str(p) for p in caught.value.problems] == [
            f"{house.scenarios}/night.yaml:7: scenarios[0].triggers[0].device: unknown device "
            "'bed_sensr' (did you mean 'bed_sensor'?)",
            f"{house.scenarios}/other.yaml:1: scenarios[0].actions[0].mode: 'dag': input should be "
            "'day', 'night', 'away' or 'holiday'",
        ]
        assert engine.scenario_set.ids() == ["night_exit"]
        await clock.advance(minutes=6)
        assert len(house.sink.raised) == 1


async def test_reload_removing_a_scenario_drops_its_timer(house: Home, clock: VirtualClock) -> None:
    async with house.start() as engine:
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=4)
        house.write(DELAY)
        result = await engine.reload()
        assert (result.added, result.removed) == (("later",), ("night_exit",))
        await clock.advance(minutes=30)
        assert house.sink.raised == []
    async with house.start():  # and nothing comes back after a restart either
        await clock.advance(minutes=30)
        assert house.sink.raised == []


async def test_reload_resumes_a_delay_when_the_actions_are_unchanged(house: Home,
                                                                     clock: VirtualClock) -> None:
    house.write(DELAY)
    async with house.start() as engine:
        house.hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
        await clock.advance(minutes=10)
        house.write(DELAY.replace("id: later", "id: later\n    description: Nieuw"))
        assert (await engine.reload()).changed == ("later",)
        await clock.advance(minutes=20)
        assert sent(house.hub, "zigbee2mqtt/bedroom_light/set") == [{"state": "ON"}]


async def test_reload_cancels_a_waiting_run_whose_actions_changed(house: Home,
                                                                  clock: VirtualClock) -> None:
    house.write(DELAY)
    async with house.start() as engine:
        house.hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
        await clock.advance(minutes=10)
        house.write(DELAY.replace("state: on", "state: off"))
        await engine.reload()
        await clock.advance(minutes=30)
        assert sent(house.hub, "zigbee2mqtt/bedroom_light/set") == []
        [trace] = await traces_of(engine, "later")
        assert trace.status == "cancelled"
        assert trace.notes[-1].startswith("cancelled: the scenario's actions changed")


async def test_sighup_style_reload_request(house: Home, clock: VirtualClock) -> None:
    async with house.start() as engine:
        house.write(DELAY)
        engine.request_reload()
        await clock.wait_idle()  # the reload reads SQLite on aiosqlite's thread: tracked work
        assert engine.scenario_set.ids() == ["later"]
        house.write("scenarios: [oops")
        engine.request_reload()
        await clock.wait_idle()
        assert engine.last_reload_problems
        assert engine.last_reload_problems == [
            f"{house.scenarios}/night.yaml:1: YAML syntax error: expected ',' or ']', but got "
            "'<stream end>'"]
        assert engine.scenario_set.ids() == ["later"]


async def test_a_resumed_wait_counts_what_happened_while_the_hub_was_down(
        house: Home, clock: VirtualClock) -> None:
    house.write("""
scenarios:
  - id: back
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: false}]
    actions:
      - type: wait
        triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: true}]
        timeout: 1h
        on_timeout: stop
      - {type: announce, text: "weer in bed"}
""")
    async with house.start():
        bed(house.hub, True)
        bed(house.hub, False)
        await clock.advance(minutes=10)
    house.hub = Hub(house.config, clock, KINDS, MemoryLink())
    bed(house.hub, True)  # back in bed while the hub was down; retained state arrives first
    async with house.start(new_hub=False):
        await clock.advance(seconds=1)
        assert sent(house.hub, "huis/speaker/speaker/say") == [{"say": "weer in bed", "language": "nl"}]


async def test_parameters_set_on_the_dashboard_survive_a_restart(house: Home,
                                                                 clock: VirtualClock) -> None:
    async with house.start() as engine:
        with pytest.raises(ConfigError) as caught:
            await engine.set_parameters("night", {"tolerance": "45m"})
        assert [str(p) for p in caught.value.problems] == [
            f"{house.scenarios}/night.yaml:3: parameters.tolerance: override for night.tolerance: "
            "'45m' is above the maximum '30m'"]
        result = await engine.set_parameters("night", {"tolerance": "20m"})
        assert result.changed == ("night_exit",)
        [status] = engine.status()
        assert status["parameters"]["tolerance"]["value"] == "20 minutes"
        assert status["parameters"]["tolerance"]["overridden"] is True
    async with house.start():
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=19)
        assert house.sink.raised == []
        await clock.advance(minutes=1)
        assert [a.message for a in house.sink.raised] == ["Uit bed sinds 20 minuten"]


async def test_a_delay_inside_an_if_branch_resumes_in_that_branch(house: Home,
                                                                 clock: VirtualClock) -> None:
    house.write("""
scenarios:
  - id: branchy
    triggers:
      - {id: sos, type: event, device: sos_button, event: emergency}
      - {id: bed, type: state, device: bed_sensor, attribute: occupancy, to: false}
    actions:
      - type: if
        conditions: [{type: trigger, id: sos}]
        then:
          - {type: announce, text: "hulp komt"}
          - {type: delay, duration: 10m}
          - {type: light, device: bedroom_light, state: on}
        else:
          - {type: light, device: bedroom_light, state: off}
      - {type: announce, text: "klaar"}
""")
    async with house.start():
        house.hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
        await clock.advance(minutes=4)
    async with house.start() as engine:
        await clock.advance(minutes=6)
        assert sent(house.hub, "zigbee2mqtt/bedroom_light/set") == [{"state": "ON"}]
        assert sent(house.hub, "huis/speaker/speaker/say") == [{"say": "klaar", "language": "nl"}]
        [trace] = await traces_of(engine, "branchy")
        assert [a["path"] for a in trace.actions] == [
            "actions[0]", "actions[0].then[0]", "actions[0].then[1]", "actions[0].then[2]",
            "actions[1]"]


async def test_events_before_the_engine_is_ready_are_not_lost(house: Home, home: HomeConfig,
                                                             clock: VirtualClock, tmp_path: Path) -> None:
    # In `huis run` the MQTT link and the engine start together: retained states and a button
    # press may arrive while the engine is still opening its tables.
    house.write(NIGHT + """
  - id: sos
    triggers: [{type: event, device: sos_button, event: emergency}]
    actions: [{type: alert, key: sos, severity: urgent, message: "SOS"}]
""")
    await advance_to(clock, "23:00")
    db = await Database.connect(house.db_path)
    try:
        engine = Engine(house.hub, db, house.sink, load_scenarios([house.scenarios], home, KINDS))
        bed(house.hub, True)
        bed(house.hub, False)
        house.hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
        async with running(engine):
            await clock.advance(seconds=1)
            assert [a.key for a in house.sink.raised] == ["sos"]
            await clock.advance(minutes=10)
            assert [a.key for a in house.sink.raised] == ["sos", "night.bed"]
            statuses = [t.status for t in await traces_of(engine, "night_exit")]
            assert statuses == ["completed"]  # counted once, from the event's own time
    finally:
        await db.close()
