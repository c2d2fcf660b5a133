from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from controller.bus import EventBus
from controller.events import STATE_CHANGED, Context, Event, EventType, StateChanged, is_a


def _event(kind: str = "state_changed") -> Event[object]:
    return Event(type=EventType(kind), time=datetime(2026, 1, 1, tzinfo=UTC), context=Context(origin="test"),
                 data={})


def test_listeners_get_their_types_and_all_listeners_everything() -> None:
    bus = EventBus()
    typed: list[str] = []
    everything: list[str] = []
    bus.subscribe(lambda e: typed.append(e.type), "state_changed")
    bus.subscribe(lambda e: everything.append(e.type))
    bus.publish(_event("state_changed"))
    bus.publish(_event("device_event"))
    assert typed == ["state_changed"]
    assert everything == ["state_changed", "device_event"]


def test_failing_listener_is_logged_and_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    with caplog.at_level(logging.ERROR):
        bus.publish(_event())
    assert len(seen) == 1
    assert "failed on state_changed" in caplog.text


def test_unsubscribe() -> None:
    bus = EventBus()
    seen: list[Event] = []
    unsubscribe = bus.subscribe(seen.append)
    unsubscribe()
    bus.publish(_event())
    assert seen == []


def test_context_chain_explains_cause() -> None:
    sensor = Context(origin="device:bed_sensor", description="occupancy false")
    rule = sensor.child("scenario:night_exit", "bed empty at night")
    action = rule.child("command:hall_light")
    assert [c.origin for c in action.chain()] == ["command:hall_light", "scenario:night_exit", "device:bed_sensor"]
    assert action.explain().endswith("device:bed_sensor: occupancy false")


def test_an_event_type_is_its_name_and_builds_events_of_its_payload() -> None:
    bus = EventBus()
    got: list[Event[StateChanged]] = []
    bus.subscribe(got.append, STATE_CHANGED)
    event = STATE_CHANGED.event(time=datetime(2026, 1, 1, tzinfo=UTC), context=Context(origin="test"),
                                device="bed_sensor", data={"changes": {"occupancy": (True, False)}})
    bus.publish(event)
    assert STATE_CHANGED == "state_changed"  # what scenarios and the history name it
    assert got == [event]
    assert got[0].data["changes"]["occupancy"] == (True, False)
    assert is_a(_event("state_changed"), STATE_CHANGED)
    assert not is_a(_event("device_event"), STATE_CHANGED)
