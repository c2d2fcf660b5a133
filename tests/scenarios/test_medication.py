"""Medication: reminder, second reminder after 30 min, caregiver alert after 60, refill notice."""

from __future__ import annotations

from pathlib import Path

from controller.clock import VirtualClock
from controller.config import HomeConfig

from .conftest import Home

MEDS = "medicijnen"
KITCHEN_ON = {"state": "ON", "brightness": 203}
KITCHEN_BRIGHT = {"state": "ON", "brightness": 254}


async def test_a_dose_taken_after_the_first_reminder_ends_it(day: Home) -> None:
    await day.at("13:00")
    day.dispenser("dose_due", "13:00")
    await day.wait(minutes=4)
    day.dispenser("dose_taken", "13:00", doses_left=11)
    await day.wait(hours=2)
    assert day.said(MEDS) == ["Het is tijd voor uw medicijnen van 13:00. Ze liggen klaar in de keuken."]
    assert [c for t, c in day.timeline("kitchen_light") if t >= "13:00"] == [KITCHEN_ON]
    assert [r for r in day.sink.records if r.key.startswith("medication")] == []


async def test_not_taken_reminds_again_at_30_and_alerts_a_caregiver_at_60_minutes(day: Home) -> None:
    await day.at("13:00")
    day.dispenser("dose_due", "13:00")
    await day.wait(minutes=29)
    assert len(day.said(MEDS)) == 1
    await day.wait(minutes=1)
    assert day.said_at(MEDS)[1] == ("13:30", "Vergeet u uw medicijnen van 13:00 niet? Ze liggen in de keuken.")
    assert day.timeline("kitchen_light")[-2:] == [("13:00", KITCHEN_ON), ("13:30", KITCHEN_BRIGHT)]
    await day.wait(minutes=29)
    assert day.sink.records == []
    await day.wait(minutes=1)
    [alert] = day.sink.raised()
    assert (alert.key, alert.severity, alert.audience) == ("medication.missed.13:00", "warning", "caregivers")
    assert alert.message == ("Mevrouw Jansen heeft de dosis van 13:00 na twee herinneringen nog niet "
                             "ingenomen. Even bellen?")
    assert day.alerts() == [("14:00", "raised", "medication.missed.13:00")]


async def test_taken_late_resolves_the_caregiver_alert(day: Home) -> None:
    await day.at("13:00")
    day.dispenser("dose_due", "13:00")
    await day.wait(minutes=75)
    day.dispenser("dose_taken", "13:00")
    await day.wait(minutes=1)
    assert day.alerts() == [("14:00", "raised", "medication.missed.13:00"),
                            ("14:15", "resolved", "medication.missed.13:00")]
    assert day.sink.resolved()[0].reason == "alsnog ingenomen"


async def test_taken_before_the_second_reminder_has_no_second_reminder(day: Home) -> None:
    await day.at("18:00")
    day.dispenser("dose_due", "18:00")
    await day.wait(minutes=29)
    day.dispenser("dose_taken", "18:00")
    await day.wait(hours=2)
    assert [t for t, _ in day.said_at(MEDS) if t.startswith("18")] == ["18:00"]
    assert day.raised("medication.missed.18:00") == []


async def test_a_snoozed_dose_due_again_is_the_same_episode(day: Home) -> None:
    await day.at("13:00")
    day.dispenser("dose_due", "13:00")
    await day.wait(minutes=10)
    day.dispenser("dose_due", "13:00")  # the snooze ended
    await day.wait(hours=2)
    assert len(day.said(MEDS)) == 2  # first and second reminder, not four
    assert day.raised("medication.missed.13:00") == ["medication.missed.13:00"]


async def test_refill_low_is_a_technician_notice(day: Home) -> None:
    day.dispenser("refill_low", doses_left=6)
    await day.wait(seconds=1)
    [alert] = day.sink.raised()
    assert (alert.key, alert.severity, alert.audience) == ("medication.refill", "info", "technician")
    assert "nog 6 doses" in alert.message
    day.hub.inject("huis/dispenser/dispenser/state", {"doses_left": 28})
    await day.wait(seconds=1)
    assert day.alerts()[-1] == ("12:00", "resolved", "medication.refill")


async def test_a_restart_during_the_wait_keeps_the_reminder_schedule(
        demo_config: HomeConfig, clock: VirtualClock, tmp_path: Path) -> None:
    first = Home(demo_config, clock, tmp_path / "huis.db")
    await first.start()
    first.settle_in(in_bed=False, room="kitchen")
    await first.at("13:00")
    first.dispenser("dose_due", "13:00")
    await first.wait(minutes=10)
    await first.stop()  # the hub restarts at 13:10, the run waiting for the dose

    second = Home(demo_config, clock, tmp_path / "huis.db")
    await second.start()
    try:
        second.settle_in(in_bed=False, room="kitchen")
        await second.at("14:01")
        assert second.said_at(MEDS) == [("13:30", "Vergeet u uw medicijnen van 13:00 niet? Ze liggen in de keuken.")]
        assert second.alerts() == [("14:00", "raised", "medication.missed.13:00")]
    finally:
        await second.stop()
