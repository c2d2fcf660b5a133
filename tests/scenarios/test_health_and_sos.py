"""Device health (offline, low battery -> technician) and the SOS button (urgent at once)."""

from __future__ import annotations

from .conftest import Home


async def test_a_silent_battery_device_is_offline_after_25_hours(day: Home) -> None:
    # Everything but the bed sensor keeps reporting; the bed sensor said its last word at 12:00.
    for _ in range(24):
        await day.wait(hours=1)
        day.all_still()
        day.door(False)
        day.door(False, "back_door")
        day.hub.check_health()
    await day.wait(seconds=1)
    assert "health.offline.bed_sensor" not in day.raised()
    await day.wait(hours=1, minutes=1)
    day.hub.check_health()
    await day.wait(seconds=1)
    offline = [r for r in day.sink.raised() if r.key == "health.offline.bed_sensor"]
    assert len(offline) == 1
    assert (offline[0].severity, offline[0].audience) == ("info", "technician")
    assert offline[0].message == "Bed (bed_sensor) reageert niet meer (vastgesteld om 13:01)."
    day.bed(False)  # it talks again
    await day.wait(seconds=1)
    assert day.alerts()[-1][1:] == ("resolved", "health.offline.bed_sensor")


async def test_a_silent_mains_device_is_offline_after_10_minutes(day: Home) -> None:
    day.hub.inject("huis/speaker/speaker/state", {"volume": 40, "speaking": False})
    await day.wait(minutes=10)
    day.hub.check_health()
    await day.wait(seconds=0)
    assert "health.offline.speaker" not in day.raised()
    await day.wait(seconds=11)
    day.hub.check_health()
    await day.wait(seconds=1)
    assert "health.offline.speaker" in day.raised()


async def test_zigbee2mqtt_saying_unavailable_is_offline_at_once(day: Home) -> None:
    day.hub.inject("zigbee2mqtt/front_door/availability", {"state": "offline"})
    await day.wait(seconds=1)
    assert day.raised() == ["health.offline.front_door"]


async def test_battery_below_15_percent_is_a_technician_notice_once(day: Home) -> None:
    day.hub.inject("zigbee2mqtt/hall_motion", {"battery": 16})
    await day.wait(seconds=1)
    assert day.raised() == []
    day.hub.inject("zigbee2mqtt/hall_motion", {"battery": 14})
    day.hub.inject("zigbee2mqtt/hall_motion", {"battery": 13})
    await day.wait(seconds=1)
    [alert] = day.sink.raised()
    assert alert.key == "health.battery.hall_motion"
    assert alert.message == "Batterij van Beweging hal (hall_motion) is bijna leeg: 14%."
    assert alert.audience == "technician"


async def test_sos_is_urgent_at_once_and_the_resident_hears_it_was_seen(day: Home) -> None:
    day.sos()
    await day.wait(seconds=1)
    [alert] = day.sink.raised()
    assert (alert.key, alert.severity) == ("sos", "urgent")
    assert alert.message == "Mevrouw Jansen heeft om 12:00 op de alarmknop gedrukt (Woonkamer)."
    assert day.said("oproep") == []
    await day.wait(minutes=2)
    day.sink.acknowledge("sos", by="anna")
    await day.wait(seconds=1)
    assert day.said_at("oproep") == [("12:02", "Uw oproep is gezien. Er komt iemand naar u toe.")]


async def test_sos_counts_at_night_and_when_away(night: Home) -> None:
    from controller.events import Context

    assert night.engine is not None
    night.engine.set_presence("away", Context(origin="user:anna", description="test"))
    await night.at("03:00")
    night.sos()
    await night.wait(seconds=1)
    assert night.raised() == ["sos"]
