"""An alert occurrence is never silent (issue 8, docs/alerts.md "Occurrences").

The demo home's shipped config/alerts.yaml, a real local ntfy server, a real SQLite file and a
virtual clock. On the code before issue 8 a raise of an active key returned the existing alert
and an acknowledged alert stayed active until resolved: an evening's false door page hid a real
night exit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.alerts import lifecycle
from controller.alerts.channels.base import Channel
from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.escalation import policy_of
from controller.alerts.policy import AlertsConfig
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context
from tests.alerts.conftest import TOPIC, Harness, ctx, harness, recipients_of
from tests.alerts.fakes import NtfyServer

DOOR = "night_exit.front_door"
DOOR_MESSAGE = "De voordeur gaat open terwijl het bed leeg is."
QUIET = "inactivity.no_motion"
QUIET_MESSAGE = "Al 4 uur geen beweging gezien."


def at(hour: int, minute: int, day: int = 5) -> datetime:
    """A moment in January 2026, Amsterdam time (UTC+1), as UTC."""
    return datetime(2026, 1, day, hour - 1, minute, tzinfo=UTC)


@pytest.fixture
def evening() -> VirtualClock:
    return VirtualClock(at(21, 33))


@pytest.fixture
async def home(tmp_path: Path, evening: VirtualClock, alerts_config: AlertsConfig,
               demo_config: HomeConfig, ntfy: NtfyServer) -> AsyncIterator[Harness]:
    async with harness(tmp_path / "huis.db", evening, alerts_config, demo_config,
                       [NtfyChannel(server=ntfy.url), PageChannel()]) as h:
        yield h


async def raise_door(h: Harness, origin: str | None = None) -> str:
    return await h.svc.raise_alert(key=DOOR, scenario="night_exit", severity="urgent", message=DOOR_MESSAGE,
                                   context=ctx("front door opened, bed empty"),
                                   data={"origin": origin} if origin else {})


async def raise_quiet(h: Harness) -> str:
    return await h.svc.raise_alert(key=QUIET, scenario="inactivity", severity="warning",
                                   message=QUIET_MESSAGE, context=ctx("no motion for 4 h"), data={})


async def run_until(h: Harness, when: datetime) -> None:
    await h.svc.settled()
    await h.clock.run_until(when)
    await h.svc.settled()


def texts_to(ntfy: NtfyServer, who: str) -> list[str]:
    return [m["message"] for m in ntfy.to(TOPIC[who])]


async def test_an_acknowledged_evening_door_page_does_not_hide_a_real_night_exit(
        home: Harness, ntfy: NtfyServer) -> None:
    evening = await raise_door(home)  # 21:33: he goes out before bed (a false page)
    await home.advance(minutes=2)
    assert (await home.svc.acknowledge(evening, by="piet", channel="ntfy")).ok  # 21:35
    await run_until(home, at(3, 4, day=6))
    assert [a.id for a in home.svc.active()] == [evening]  # acknowledged, never resolved

    night = await raise_door(home)  # 03:04: the real exit
    await home.advance()
    assert night != evening
    alert = await home.svc.get(night)
    assert alert is not None
    assert (alert.previous_id, alert.occurrence, alert.state) == (evening, 2, "delivered")
    assert recipients_of(ntfy) == ["piet", "piet"]
    assert ntfy.to(TOPIC["piet"])[-1]["message"] == f"Opnieuw: {DOOR_MESSAGE}"
    assert ntfy.to(TOPIC["piet"])[-1]["priority"] == 5
    # Its own escalation: nobody answers, so after 3 minutes the daughter and the neighbour.
    await home.advance(minutes=3)
    assert sorted(recipients_of(ntfy)[2:]) == ["anna", "buur"]
    raised = [t for t in await home.svc.timeline(night) if t["event"] == "raised"]
    assert raised[0]["detail"].startswith(f"again (occurrence 2), after {evening} (acknowledged by piet")
    assert "reoccurred" in [t["event"] for t in await home.svc.timeline(evening)]
    assert home.svc.is_active(DOOR)
    assert [a for a, _ in home.actions()].count("raised") == 2

    # The scenario's resolve closes every occurrence of its key.
    assert await home.svc.resolve_alert(key=DOOR, reason="Meneer is weer binnen.",
                                        context=Context(origin="rule:night_exit"))
    assert home.svc.active() == []
    assert not home.svc.is_active(DOOR)


async def test_one_occurrence_is_delivered_once_also_across_a_restart(
        tmp_path: Path, evening: VirtualClock, alerts_config: AlertsConfig, demo_config: HomeConfig,
        ntfy: NtfyServer) -> None:
    db = tmp_path / "huis.db"
    def channels() -> list[Channel]:  # each process its own (closing a service closes them)
        return [NtfyChannel(server=ntfy.url), PageChannel()]

    async with harness(db, evening, alerts_config, demo_config, channels()) as h:
        first = await raise_door(h, origin="run-a/actions[0]")
        await h.advance(minutes=1)
        assert (await h.svc.acknowledge(first, by="piet", channel="ntfy")).ok
    async with harness(db, evening, alerts_config, demo_config, channels()) as h:
        second = await raise_door(h, origin="run-b/actions[0]")  # a new occurrence: it pages
        await h.advance()
    async with harness(db, evening, alerts_config, demo_config, channels()) as h:
        # The rule run resumed after the restart raises the same occurrence again: no new alert.
        assert await raise_door(h, origin="run-b/actions[0]") == second
        assert await raise_door(h, origin="run-a/actions[0]") == first
        await h.advance(minutes=1)
        assert [a.id for a in h.svc.active()] == [first, second]
        rows = await h.db.fetchall("SELECT alert_id, kind, step, recipient, COUNT(*) AS n"
                                   " FROM alert_deliveries GROUP BY alert_id, kind, step, recipient")
        assert all(r["n"] == 1 for r in rows)
    assert texts_to(ntfy, "piet") == [DOOR_MESSAGE, f"Opnieuw: {DOOR_MESSAGE}"]
    assert Counter(recipients_of(ntfy)) == {"piet": 2}


async def test_a_repeated_warning_is_counted_then_renotifies_after_renotify_after(
        home: Harness, ntfy: NtfyServer) -> None:
    policy = home.svc.config.policies["standard"]
    assert policy.renotify_after.total_seconds() == 30 * 60  # the shipped default
    alert_id = await raise_quiet(home)
    await home.advance(minutes=1)
    assert sorted(recipients_of(ntfy)) == ["anna", "piet"]
    assert (await home.svc.acknowledge(alert_id, by="anna", channel="ntfy")).ok  # at 21:34
    await home.advance()
    sent = len(ntfy.messages)  # the alert to both, and "Anna gaat erheen." to Piet

    await run_until(home, at(21, 44))
    assert await raise_quiet(home) == alert_id  # 10 minutes after the acknowledgement: counted
    await home.svc.settled()
    alert = await home.svc.get(alert_id)
    assert alert is not None and (alert.repeats, alert.state) == (1, "acknowledged")
    assert len(ntfy.messages) == sent
    assert (await home.svc.audit(alert_id=alert_id))[0]["event"] == "repeated"

    await run_until(home, at(22, 5))
    assert await raise_quiet(home) == alert_id  # 31 minutes after it: tell those paged again
    await home.advance()
    again = f"Opnieuw (3 keer in totaal): {QUIET_MESSAGE}"
    assert texts_to(ntfy, "piet")[-1] == again and texts_to(ntfy, "anna")[-1] == again
    assert ntfy.to(TOPIC["piet"])[-1]["priority"] == 4
    audit = await home.svc.audit(alert_id=alert_id)
    assert [r["event"] for r in audit[:3]] == ["notified", "notified", "renotified"]
    assert audit[2]["detail"] == "raised again (3 times): piet, anna"

    await run_until(home, at(22, 13))
    assert await raise_quiet(home) == alert_id  # 8 minutes after the re-notification: counted
    await home.svc.settled()
    assert len(ntfy.messages) == sent + 2
    alert = await home.svc.get(alert_id)
    assert alert is not None and alert.repeats == 3
    assert [a for a, _ in home.actions()].count("repeated") == 3


async def test_an_acknowledged_alert_left_active_expires_and_those_paged_are_told(
        home: Harness, ntfy: NtfyServer) -> None:
    quiet = await raise_quiet(home)
    door = await raise_door(home)
    await home.advance(minutes=1)
    assert (await home.svc.acknowledge(quiet, by="anna", channel="ntfy")).ok  # 21:34
    await run_until(home, at(5, 33, day=6))
    assert {a.id for a in home.svc.active()} == {quiet, door}

    await run_until(home, at(5, 34, day=6))  # 8 hours after the acknowledgement
    alert = await home.svc.get(quiet)
    assert alert is not None and (alert.state, alert.resolution, alert.resolved_by) == ("resolved", "expired", "hub")
    last = (await home.svc.audit(alert_id=quiet))
    assert "expired" in [r["event"] for r in last]
    expired = next(r for r in last if r["event"] == "expired")
    assert (expired["user"], expired["detail"]) == ("hub", "verlopen: 8 uur geen activiteit en niet afgehandeld")
    told = "Automatisch gesloten: 8 uur niets meer gebeurd en niet afgehandeld."
    assert texts_to(ntfy, "piet")[-1] == told and texts_to(ntfy, "anna")[-1] == told

    # The urgent door page nobody acknowledged does not expire: it is still escalating.
    still = await home.svc.get(door)
    assert still is not None and still.state == "delivered"
    assert lifecycle.expires_at(still, policy_of(home.svc.config, still)) is None
    assert still.next_at is not None and still.next_at > home.clock.now()
    repeats_before = recipients_of(ntfy).count("team")
    await home.advance(minutes=5)
    assert recipients_of(ntfy).count("team") == repeats_before + 1
    assert [a.id for a in home.svc.active()] == [door]


async def test_a_renotification_in_flight_at_a_crash_is_sent_once(
        tmp_path: Path, evening: VirtualClock, alerts_config: AlertsConfig, demo_config: HomeConfig,
        ntfy: NtfyServer) -> None:
    db = tmp_path / "huis.db"

    def channels() -> list[Channel]:
        return [NtfyChannel(server=ntfy.url), PageChannel()]

    async with harness(db, evening, alerts_config, demo_config, channels(), run=False) as h:
        alert_id = await raise_quiet(h)
        assert (await h.svc.acknowledge(alert_id, by="anna", channel="dashboard")).ok
        await evening.advance(minutes=31)
        assert await raise_quiet(h) == alert_id  # re-notification stored, then the hub dies
    assert ntfy.messages == []
    again = f"Opnieuw (2 keer in totaal): {QUIET_MESSAGE}"
    for _ in range(2):  # two restarts: the first sends what was pending, the second nothing
        async with harness(db, evening, alerts_config, demo_config, channels()) as h:
            await h.advance(minutes=1)
        assert texts_to(ntfy, "piet") == ["Anna gaat erheen.", again]
        assert texts_to(ntfy, "anna") == [again]
