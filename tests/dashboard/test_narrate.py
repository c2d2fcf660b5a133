"""The tour's sentences: what happens and why, in Dutch and English, naming no caregiver."""

from __future__ import annotations

from typing import Any

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context, Event
from controller.hub import Hub
from dashboard.narrate import Narrator, Scrubber


@pytest.fixture
def told(hub: Hub) -> list[Any]:
    """Every narration the hub's events produce."""
    narrator = Narrator(hub.config)
    out: list[Any] = []

    def listen(event: Event) -> None:
        n = narrator.narrate(event)
        if n is not None:
            out.append(n)

    hub.bus.subscribe(listen)
    return out


def nl(told: list[Any]) -> list[str]:
    return [n.text["nl"] for n in told]


async def test_a_night_exit_told_with_its_cause(hub: Hub, told: list[Any]) -> None:
    contexts: list[Context] = []
    hub.bus.subscribe(lambda e: contexts.append(e.context), "state_changed")
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True})
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})
    assert nl(told) == ["Mevrouw Jansen gaat in bed liggen.", "Mevrouw Jansen stapt uit bed."]
    assert told[-1].text["en"] == "Mevrouw Jansen gets out of bed."
    assert told[-1].why == {}
    # The rule engine acts in a context whose parent is the sensor message's context.
    rule_ctx = contexts[-1].child("scenario:night_exit_lights", "out of bed at night")
    hub.command("bathroom_light", {"state": "ON", "brightness": 25}, rule_ctx)
    last = told[-1]
    assert last.text == {"nl": "Het licht in de badkamer gaat aan op 10%.",
                         "en": "The light in the bathroom comes on at 10%."}
    assert last.why["nl"] == "het oriëntatielicht 's nachts, na: Mevrouw Jansen stapt uit bed"
    assert last.why["en"] == "the night-time orientation light, after: Mevrouw Jansen gets out of bed"
    assert last.room == "bathroom"


async def test_doors_motion_lights_curtains_and_the_tag(hub: Hub, told: list[Any],
                                                        clock: VirtualClock) -> None:
    hub.inject("zigbee2mqtt/front_door", {"contact": False})
    hub.inject("zigbee2mqtt/front_door", {"contact": True})
    hub.inject("zigbee2mqtt/hall_motion", {"occupancy": True})
    hub.inject("zigbee2mqtt/hall_motion", {"occupancy": False})  # stillness is not news
    hub.inject("zigbee2mqtt/living_light", {"state": "OFF"})
    hub.inject("zigbee2mqtt/living_curtain", {"position": 100})
    assert nl(told) == ["De voordeur gaat open.", "De voordeur gaat dicht.", "Beweging in de hal.",
                        "Het licht in de woonkamer gaat uit.",
                        "Het gordijn in de woonkamer gaat open."]
    assert [n.text["en"] for n in told[:2]] == ["The door in the hall opens.",
                                                "The door in the hall closes."]
    told.clear()
    hub.apply("wander_tag", {"room": "kitchen"}, Context(origin="device:wander_tag"))
    hub.apply("wander_tag", {"room": "outside"}, Context(origin="device:wander_tag"))
    assert nl(told) == ["Mevrouw Jansen is nu in de keuken.",
                        "Mevrouw Jansen is niet meer in huis te zien."]


async def test_alerts_are_told_without_who(hub: Hub, told: list[Any]) -> None:
    ctx = Context(origin="alerts").child("caregiver:anna", "acknowledged alert-1")
    for action in ("raised", "acknowledged", "resolved"):
        hub.bus.publish(Event(type="alert", time=hub.clock.now(), context=ctx, data={
            "action": action, "id": "alert-1", "key": "k", "severity": "urgent", "by": "anna",
            "message": "Mevrouw Jansen is al 10 minuten uit bed."}))
    assert nl(told) == ["Melding aan de zorgverleners: Mevrouw Jansen is al 10 minuten uit bed.",
                        "Een zorgverlener is onderweg.", "De melding is afgehandeld."]
    assert told[1].why["nl"].startswith("een zorgverlener")
    assert told[0].severity == "urgent"


def test_the_scrubber_replaces_names_by_relation_and_blanks_numbers(demo_config: HomeConfig) -> None:
    s = Scrubber(demo_config)
    assert s.text("Anna gaat erheen; bel Piet op 06-12345678 of +31 6 1234 5678.") == \
        "dochter gaat erheen; bel partner op [nummer] of [nummer]."
    assert s.text("Zorgteam Zwolle en Fatima zijn gewaarschuwd") == "thuiszorg en buurvrouw zijn gewaarschuwd"
    # Ordinary words and times survive.
    assert s.text("Om 23:10 stapt Mevrouw Jansen uit bed (10 min).") == \
        "Om 23:10 stapt Mevrouw Jansen uit bed (10 min)."
    assert s.deep({"a": ["Anna", {"b": "Piet"}], "n": 3}) == {"a": ["dochter", {"b": "partner"}], "n": 3}


async def test_the_speaker_is_quoted(hub: Hub, told: list[Any]) -> None:
    speaker = next(d for d, dev in hub.config.devices.items() if dev.kind == "speaker")
    room = hub.config.rooms[hub.config.devices[speaker].room or ""].name.lower()
    ctx = Context(origin="clock").child("scenario:day_greeting", "08:00")
    hub.command(speaker, {"say": "Goedemorgen! Het is maandag 5 januari.", "language": "nl"}, ctx)
    assert told[-1].text["nl"] == f"De speaker in de {room} zegt: “Goedemorgen! Het is maandag 5 januari.”"
    assert told[-1].why["nl"] == "de regel ‘day greeting’"


def test_a_cause_chain_survives_its_text_form() -> None:
    ctx = Context(origin="device:bed_sensor", description="message on zigbee2mqtt/bed_sensor") \
        .child("timer", "for 10m").child("scenario:night_exit_warning", "bed empty: a: b")
    again = Context.from_json(ctx.explain())
    assert again is not None
    assert again.explain() == ctx.explain()
    assert [c.origin for c in again.chain()] == ["scenario:night_exit_warning", "timer",
                                                 "device:bed_sensor"]
