"""Restart safety: a new service on the same SQLite file carries on where the old one stopped."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import AlertsConfig
from controller.clock import VirtualClock
from controller.config import HomeConfig
from tests.alerts.conftest import ctx, harness, recipients_of
from tests.alerts.fakes import NtfyServer
from tests.support import eventually


async def raise_sos(svc: object) -> str:
    return str(await svc.raise_alert(key="sos", scenario="sos", severity="urgent",  # type: ignore[attr-defined]
                                     message="Mevrouw Jansen heeft op de alarmknop gedrukt.",
                                     context=ctx(), data={}))


async def test_escalation_continues_after_restart_without_duplicates(
        tmp_path: Path, clock: VirtualClock, alerts_config: AlertsConfig, demo_config: HomeConfig,
        ntfy: NtfyServer) -> None:
    db = tmp_path / "huis.db"
    async with harness(db, clock, alerts_config, demo_config, [NtfyChannel(server=ntfy.url), PageChannel()]) as h:
        alert_id = await raise_sos(h.svc)
        await h.advance(minutes=4)
        assert sorted(recipients_of(ntfy)) == ["anna", "buur", "piet"]
    # The hub is down for a minute; then a new process opens the same file.
    await clock.advance(minutes=1)
    async with harness(db, clock, alerts_config, demo_config, [NtfyChannel(server=ntfy.url), PageChannel()]) as h2:
        assert [a.id for a in h2.svc.active()] == [alert_id]
        await h2.advance(minutes=0.5)
        assert sorted(recipients_of(ntfy)) == ["anna", "buur", "piet"]  # nothing re-sent
        await h2.advance(minutes=1)  # 6 minutes after the alert: the care team
        assert recipients_of(ntfy)[3:] == ["team"]
        await h2.advance(minutes=5)
        assert recipients_of(ntfy)[3:] == ["team", "team"]  # the repeat, once
        assert Counter(recipients_of(ntfy)) == {"piet": 1, "anna": 1, "buur": 1, "team": 2}
        assert (await h2.svc.acknowledge(alert_id, by="team", channel="ntfy")).ok
        await h2.advance(minutes=10)
        assert len(recipients_of(ntfy)) == 5


async def test_an_alert_raised_just_before_a_crash_is_still_delivered(
        tmp_path: Path, clock: VirtualClock, alerts_config: AlertsConfig, demo_config: HomeConfig,
        ntfy: NtfyServer) -> None:
    db = tmp_path / "huis.db"
    async with harness(db, clock, alerts_config, demo_config, [NtfyChannel(server=ntfy.url)], run=False) as h:
        alert_id = await raise_sos(h.svc)  # committed; the process dies before sending anything
    assert ntfy.messages == []
    async with harness(db, clock, alerts_config, demo_config, [NtfyChannel(server=ntfy.url)]) as h2:
        await h2.advance()
        assert recipients_of(ntfy) == ["piet"]
        timeline = await h2.svc.timeline(alert_id)
        assert [t["detail"] for t in timeline if t["event"] == "delivered"] == ["re-sent after restart"]


async def test_deliveries_in_flight_at_the_crash_are_sent_again_once(
        tmp_path: Path, clock: VirtualClock, alerts_config: AlertsConfig, demo_config: HomeConfig,
        ntfy: NtfyServer) -> None:
    db = tmp_path / "huis.db"
    async with NtfyServer() as hung:
        # Step 1 (piet) goes out normally; step 2's sends hang at the push service.
        async with harness(db, clock, alerts_config, demo_config, [NtfyChannel(server=ntfy.url)]) as h:
            alert_id = await raise_sos(h.svc)
            await h.advance(minutes=1)
            assert recipients_of(ntfy) == ["piet"]
            hung.hold = asyncio.Event()
            first = h.svc.channels["ntfy"]
            h.svc.channels["ntfy"] = NtfyChannel(server=hung.url)
            await first.aclose()  # type: ignore[attr-defined]
            await h.clock.advance(minutes=2)
            await eventually(lambda: len(hung.http.requests) == 2)  # type: ignore[union-attr]
            # ... and the hub dies here, with anna's and buur's sends unanswered.
        async with harness(db, clock, alerts_config, demo_config, [NtfyChannel(server=ntfy.url)]) as h2:
            await h2.advance()
            # Those two may or may not have reached the phones: they go again (at least once),
            # while piet, recorded as sent, is not paged a second time.
            assert Counter(recipients_of(ntfy)) == {"piet": 1, "anna": 1, "buur": 1}
            states = {d.recipient: d.status for d in await h2.svc.store.deliveries(alert_id)}
            assert states == {"piet": "sent", "anna": "sent", "buur": "sent"}
            await h2.advance(minutes=3)
            assert recipients_of(ntfy)[3:] == ["team"]
