"""Bad input at the hub (issue 14): the valid part of a message is handled, a problem is a short
message, and a device sending garbage fills neither the log nor the history."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import DEVICE_EVENT, PAYLOAD_ERROR, Event
from controller.history import History
from controller.hub import MAX_PAYLOAD, WARNINGS_PER_WINDOW, Hub
from controller.logs import KeyValueFormatter
from controller.store import Database

SOS = "zigbee2mqtt/sos_button"
BED = "zigbee2mqtt/bed_sensor"


def collect(hub: Hub, event_type: str) -> list[Event]:
    seen: list[Event] = []
    hub.bus.subscribe(seen.append, event_type)
    return seen


async def test_a_press_with_a_stale_battery_is_a_press(hub: Hub) -> None:
    presses, problems = collect(hub, DEVICE_EVENT), collect(hub, PAYLOAD_ERROR)
    hub.inject(SOS, b'{"action":"emergency","battery":100.5,"linkquality":90}')
    assert [e.data["event"] for e in presses] == ["emergency"]
    assert hub.state.get("sos_button").attributes == {"linkquality": 90}
    [problem] = problems
    assert problem.data["reason"].startswith("'battery' dropped: 'battery' = 100.5 is outside")
    hub.inject(SOS, b'{"action":"emergency","voltage":0}')  # the other value the converter produces
    assert len(presses) == 2
    assert "'voltage' dropped" in problems[-1].data["reason"]


async def test_an_oversized_payload_is_refused_by_its_size(hub: Hub, caplog: pytest.LogCaptureFixture) -> None:
    problems = collect(hub, PAYLOAD_ERROR)
    payload = json.dumps({"occupancy": True, "note": "x" * 1_048_576}).encode()
    with caplog.at_level(logging.WARNING):
        hub.inject(BED, payload)
    reason = problems[0].data["reason"]
    assert reason == f"payload of {len(payload):,} bytes is over the {MAX_PAYLOAD:,}-byte limit; not decoded"
    assert hub.state.get("bed_sensor").attributes == {}
    assert all(len(r.getMessage()) < 500 for r in caplog.records)


async def test_a_megabyte_string_reaches_neither_log_nor_history_nor_last_error(
        hub: Hub, clock: VirtualClock, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = await Database.connect(tmp_path / "huis.db")
    history = History(db, hub.bus, clock)
    await history.open()
    # Under the size cap, but a 60 KB colour mode: the attribute is refused, its size said.
    with caplog.at_level(logging.WARNING):
        hub.inject("zigbee2mqtt/hall_light", json.dumps({"state": "ON", "color_mode": "y" * 60_000}).encode())
    await history.flush()
    rows = await history.query()
    await db.close()
    assert hub.state.get("hall_light").attributes["state"] == "ON"
    assert len(hub.state.get("hall_light").last_error or "") < 400
    assert rows and all(len(json.dumps(r.value)) < 400 for r in rows)
    assert all(len(KeyValueFormatter().format(r)) < 500 for r in caplog.records)


async def test_repeated_problems_are_rate_limited_with_a_count(
        hub: Hub, clock: VirtualClock, caplog: pytest.LogCaptureFixture) -> None:
    problems = collect(hub, PAYLOAD_ERROR)
    with caplog.at_level(logging.WARNING, logger="controller.hub"):
        for _ in range(528):
            hub.inject(BED, b"not json")
        await clock.advance(seconds=61)
        hub.check_health()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == WARNINGS_PER_WINDOW + 1
    assert lines[-1] == "bad payloads: ... and 523 more from bed_sensor in the last minute"
    assert len(problems) == WARNINGS_PER_WINDOW + 1  # what history records: bounded too
    assert hub.state.get("bed_sensor").payload_errors == 528  # every one still counted
    # A new minute reports again.
    hub.inject(BED, b"not json")
    assert len(problems) == WARNINGS_PER_WINDOW + 2


async def test_other_devices_keep_their_own_quota(hub: Hub) -> None:
    problems = collect(hub, PAYLOAD_ERROR)
    for _ in range(50):
        hub.inject(BED, b"not json")
    hub.inject("zigbee2mqtt/front_door", b"not json")
    assert [e.device for e in problems].count("front_door") == 1


@pytest.mark.parametrize("depth", [1_000, 30_000])
async def test_deep_json_is_a_message_not_a_traceback(hub: Hub, caplog: pytest.LogCaptureFixture,
                                                      depth: int) -> None:
    with caplog.at_level(logging.DEBUG):
        hub.inject(BED, b"[" * depth + b"]" * depth)
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert caplog.records[0].exc_info is None
    assert "nested more than 32 levels" in caplog.records[0].getMessage()


async def test_the_demo_home_is_the_one_these_tests_use(demo_config: HomeConfig) -> None:
    assert {"sos_button", "bed_sensor", "hall_light", "front_door"} <= set(demo_config.devices)
