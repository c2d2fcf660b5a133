"""The uplink in the hub, on an in-memory link and a virtual clock: what goes up, which commands
are carried out and which refused (and why). Over real brokers: test_bridge.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from controller.alerts.channels.page import PageChannel
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context
from controller.mqtt import MemoryLink
from controller.uplink_wire import LOCAL_COMMAND, make_command, parse_up, up_subject
from huis.compose import Home, open_home
from huis.uplink import KEY_FILE, SEEN_FILE, Uplink
from tests.ha.tasks import supervised
from tests.uplink.conftest import HOME_ID, PSEUDONYM, with_central

RESIDENT_TEXT = "Mevrouw Jansen heeft op de alarmknop gedrukt"


@dataclass
class Running:
    home: Home
    link: MemoryLink
    clock: VirtualClock

    @property
    def uplink(self) -> Uplink:
        assert self.home.uplink is not None
        return self.home.uplink

    def up(self, kind: str | None = None) -> list[dict[str, object]]:
        """Upward messages so far (of `kind`), parsed as the centre parses them."""
        out = []
        for topic, payload, qos, _ in self.link.sent:
            if topic.startswith("huis/uplink/"):
                k = topic.rsplit("/", 1)[1]
                assert qos == (0 if k == "heartbeat" else 1)  # a heartbeat is worth only its freshness
                parse_up(up_subject(HOME_ID, k), payload)  # the centre can read it
                if kind is None or k == kind:
                    out.append(json.loads(payload))
        return out

    async def command(self, doc: dict[str, object] | bytes) -> None:
        payload = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        self.home.hub.handle_message(LOCAL_COMMAND, payload)
        await self.clock.wait_idle()

    async def sos(self) -> str:
        alert_id = await self.home.alerts.raise_alert(key="sos", scenario="sos_pressed", severity="urgent",
                                                      message=RESIDENT_TEXT, context=Context(origin="test"),
                                                      data={})
        await self.clock.wait_idle()
        return alert_id


async def running(cfg: HomeConfig, clock: VirtualClock, folder: Path) -> AsyncIterator[Running]:
    link = MemoryLink()
    home = await open_home(cfg, clock, link=link, db_path=folder / "huis.db", alert_channels=[PageChannel()])
    try:
        async with supervised(home.run()):
            await home.engine.ready.wait()
            await clock.wait_idle()
            yield Running(home, link, clock)
    finally:
        await home.close()


@pytest.fixture
async def r(demo_config: HomeConfig, clock: VirtualClock, tmp_path: Path) -> AsyncIterator[Running]:
    async for x in running(with_central(demo_config, tmp_path), clock, tmp_path):
        yield x


def key_of(r: Running) -> bytes:
    return r.uplink.key


async def test_start_up_sends_house_snapshot_and_heartbeats_on_the_clock(r: Running) -> None:
    (house,) = r.up("house")
    assert house["presence"] == "home" and house["pseudonym"] == PSEUDONYM
    (snapshot,) = r.up("snapshot")
    assert snapshot["alerts"] == [] and snapshot["home"] == HOME_ID
    assert [h["seq"] for h in r.up("heartbeat")] == [1]
    await r.clock.advance(minutes=3)
    beats = r.up("heartbeat")
    assert [h["seq"] for h in beats] == [1, 2, 3, 4]
    assert "pseudonym" in beats[0] and "pseudonym" not in beats[1]  # only in the first of a kind
    assert len({h["msg_id"] for h in beats}) == 4


async def test_an_alert_goes_up_with_a_neutral_title_and_without_the_residents_words(r: Running) -> None:
    alert_id = await r.sos()
    steps = r.up("alert")
    assert steps and steps[0]["action"] == "raised"
    alert = steps[0]["alert"]
    assert isinstance(alert, dict)
    assert alert["id"] == alert_id and alert["severity"] == "urgent" and alert["title"] == "Alarmknop ingedrukt"
    assert "message" not in alert and "note" not in alert
    everything = b"".join(p for t, p, *_ in r.link.sent if t.startswith("huis/uplink/"))
    assert RESIDENT_TEXT.encode() not in everything and b"Jansen" not in everything
    await r.home.alerts.resolve(alert_id, by="anna", note="Mevrouw Jansen was gevallen, geholpen")
    await r.clock.wait_idle()
    last = r.up("alert")[-1]
    assert last["action"] == "resolved" and last["alert"]["state"] == "resolved"  # type: ignore[index]
    assert b"gevallen" not in b"".join(p for t, p, *_ in r.link.sent if t.startswith("huis/uplink/"))


async def test_share_details_sends_the_message_and_note(demo_config: HomeConfig, clock: VirtualClock,
                                                        tmp_path: Path) -> None:
    async for run in running(with_central(demo_config, tmp_path, share_details=True), clock, tmp_path):
        alert_id = await run.sos()
        assert run.up("alert")[0]["alert"]["message"] == RESIDENT_TEXT  # type: ignore[index]
        await run.home.alerts.resolve(alert_id, by="anna", note="Geholpen")
        await clock.wait_idle()
        assert run.up("alert")[-1]["alert"]["note"] == "Geholpen"  # type: ignore[index]


async def test_a_signed_command_acknowledges_as_the_centres_user(r: Running) -> None:
    alert_id = await r.sos()
    cmd = make_command(key_of(r), action="acknowledge", alert=alert_id, by="marieke", at=r.clock.now())
    await r.command(cmd)
    (alert,) = r.home.alerts.active()
    assert alert.acknowledged_by == "centre:marieke" and alert.acknowledged_via == "central"
    up = r.up("alert")[-1]
    assert up["action"] == "acknowledged"
    assert up["alert"]["acknowledged_via"] == "central"  # type: ignore[index]
    assert r.uplink.carried_out == 1 and not r.uplink.refused
    # Resolve with a note, from the centre.
    await r.command(make_command(key_of(r), action="resolve", alert=alert_id, by="marieke",
                                 at=r.clock.now(), note="Gebeld: alles goed"))
    assert r.home.alerts.active() == []
    assert r.up("alert")[-1]["alert"]["resolution"] == "caregiver"  # type: ignore[index]


async def test_bad_old_replayed_and_unknown_commands_are_refused_with_the_reason(r: Running, tmp_path: Path) -> None:
    alert_id = await r.sos()
    key = key_of(r)
    forged = make_command(bytes(32), action="acknowledge", alert=alert_id, by="m", at=r.clock.now())
    old = make_command(key, action="acknowledge", alert=alert_id, by="m", at=r.clock.now() - timedelta(hours=2))
    unknown = make_command(key, action="acknowledge", alert="a-nothing", by="m", at=r.clock.now())
    for doc in (forged, old, unknown, b"not json"):
        await r.command(doc)
    assert r.home.alerts.active()[0].acknowledged_by is None
    assert dict(r.uplink.refused) == {"bad_signature": 1, "too_old": 1, "unknown_alert": 1, "malformed": 1}
    good = make_command(key, action="acknowledge", alert=alert_id, by="m", at=r.clock.now())
    await r.command(good)
    await r.command(good)
    assert r.uplink.refused["replayed"] == 1 and r.uplink.carried_out == 1
    assert json.loads((tmp_path / SEEN_FILE).read_text()) == [good["msg_id"]]
    # The technician is told, once, with the count.
    notice = next(a for a in r.home.alerts.active() if a.key == "central.refused")
    assert notice.data.get("audience") == "technician" and notice.repeats >= 1
    # ... and technician notices never go to the centre.
    assert all(m["alert"]["key"] != "central.refused" for m in r.up("alert"))  # type: ignore[index]
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600


async def test_a_replay_is_refused_after_a_restart(demo_config: HomeConfig, tmp_path: Path) -> None:
    cfg = with_central(demo_config, tmp_path)
    clock = VirtualClock()
    async for run in running(cfg, clock, tmp_path):
        alert_id = await run.sos()
        good = make_command(run.uplink.key, action="acknowledge", alert=alert_id, by="m", at=clock.now())
        await run.command(good)
        assert run.uplink.carried_out == 1
    async for run in running(cfg, clock, tmp_path):
        await run.command(good)
        assert dict(run.uplink.refused) == {"replayed": 1}
        # The snapshot after the restart has the acknowledged alert.
        (snap,) = run.up("snapshot")
        assert [a["acknowledged_by"] for a in snap["alerts"]] == ["centre:m"]  # type: ignore[attr-defined]


async def test_an_alert_resolved_while_its_page_is_out_stays_resolved(r: Running) -> None:
    # Found by tests/integration/test_central.py: the delivery finishing after the resolve put
    # its old copy back as an active "shown" alert, at home and so at the centre.
    alert_id = await r.home.alerts.raise_alert(key="wander.x", scenario="wander_left_home", severity="urgent",
                                               message=RESIDENT_TEXT, context=Context(origin="test"), data={})
    await r.home.alerts.resolve(alert_id, by="anna", note="Was in de tuin")
    await r.clock.advance(minutes=1)
    alert = await r.home.alerts.get(alert_id)
    assert alert is not None and alert.state == "resolved" and r.home.alerts.active() == []
    assert [m["alert"]["state"] for m in r.up("alert")][-1] == "resolved"  # type: ignore[index]
