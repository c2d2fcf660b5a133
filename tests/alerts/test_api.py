"""The dashboard's alert API and the public link pages, over real HTTP (uvicorn on loopback)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from controller.alerts.channels.ntfy import NtfyChannel
from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import AlertsConfig
from controller.clock import VirtualClock
from controller.config import HomeConfig
from dashboard.alerts_api import create_alerts_router
from dashboard.server import serve
from tests.alerts.conftest import TOPIC, Harness, ctx, harness
from tests.alerts.fakes import NtfyServer
from tests.conftest import free_port


def require_caregiver(x_user: Annotated[str | None, Header()] = None) -> str:
    if not x_user:
        raise HTTPException(401, "Log in first.")
    return x_user


def require_technician(x_user: Annotated[str | None, Header()] = None,
                       x_role: Annotated[str | None, Header()] = None) -> str:
    if not x_user:
        raise HTTPException(401, "Log in first.")
    if x_role != "technician":
        raise HTTPException(403, "Technicians only.")
    return x_user


@dataclass
class Api:
    h: Harness
    ntfy: NtfyServer
    http: httpx.AsyncClient  # no credentials: what a phone has
    base: str

    def as_user(self, user: str, role: str = "caregiver") -> dict[str, str]:
        return {"X-User": user, "X-Role": role}

    async def raise_sos(self) -> str:
        alert_id = await self.h.svc.raise_alert(key="sos", scenario="sos", severity="urgent",
                                                message="Mevrouw Jansen heeft op de alarmknop gedrukt.",
                                                context=ctx(), data={})
        await self.h.advance()
        return alert_id

    def button(self, who: str, label: str) -> dict[str, Any]:
        msg = [m for m in self.ntfy.to(TOPIC[who]) if m.get("actions")][-1]
        return next(a for a in msg["actions"] if a["label"] == label)


@pytest.fixture
async def api(tmp_path: Path, clock: VirtualClock, alerts_config: AlertsConfig, demo_config: HomeConfig,
              ntfy: NtfyServer) -> AsyncIterator[Api]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    channels = [NtfyChannel(server=ntfy.url), PageChannel()]
    async with harness(tmp_path / "huis.db", clock, alerts_config, demo_config, channels, base_url=base) as h:
        app = FastAPI()
        app.include_router(create_alerts_router(h.svc, require_caregiver=require_caregiver,
                                                require_technician=require_technician))
        started = asyncio.Event()
        server = asyncio.create_task(serve(app, "127.0.0.1", port, started=started))
        await started.wait()
        try:
            async with httpx.AsyncClient(base_url=base) as http:
                yield Api(h=h, ntfy=ntfy, http=http, base=base)
        finally:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)


async def test_ntfy_button_acknowledges_from_the_phone_once(api: Api) -> None:
    alert_id = await api.raise_sos()
    button = api.button("piet", "Ik ga erheen")
    assert button["url"].startswith(api.base + "/alerts/ack/")
    # What the ntfy app does for an http action: that method, that URL, no login.
    resp = await api.http.request(button["method"], button["url"])
    assert resp.status_code == 200
    assert "Piet, je bevestiging is ontvangen" in resp.text
    alert = await api.h.svc.get(alert_id)
    assert alert is not None and (alert.state, alert.acknowledged_by, alert.acknowledged_via) == (
        "acknowledged", "piet", "ntfy")

    replay = await api.http.request(button["method"], button["url"])
    assert replay.status_code == 409
    assert "Deze link is al gebruikt" in replay.text
    # "Bekijk" still shows the alert, and says it was confirmed.
    page = await api.http.get(api.button("piet", "Bekijk")["url"])
    assert page.status_code == 200
    assert "Mevrouw Jansen heeft op de alarmknop gedrukt." in page.text
    assert "Je hebt deze melding al bevestigd." in page.text
    assert "<form" not in page.text


async def test_confirm_page_does_not_acknowledge_until_the_button_is_pressed(api: Api) -> None:
    alert_id = await api.raise_sos()
    url = api.button("piet", "Bekijk")["url"]
    page = await api.http.get(url)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert ">Ik ga erheen</button>" in page.text
    assert "Mevrouw Jansen heeft op de alarmknop gedrukt." in page.text
    alert = await api.h.svc.get(alert_id)
    assert alert is not None and alert.state == "delivered"  # a link preview changes nothing
    english = await api.http.get(url + "?lang=en")
    assert ">I&#x27;m on my way</button>" in english.text or ">I'm on my way</button>" in english.text
    # The form posts back to the same link.
    posted = await api.http.post(url)
    assert posted.status_code == 200
    alert = await api.h.svc.get(alert_id)
    assert alert is not None and alert.state == "acknowledged"


async def test_forged_and_expired_links_get_a_clear_dutch_page(api: Api) -> None:
    await api.raise_sos()
    url = api.button("piet", "Ik ga erheen")["url"]
    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    for method in ("GET", "POST"):
        resp = await api.http.request(method, forged)
        assert resp.status_code == 403
        assert "Deze link is niet geldig." in resp.text
    await api.h.clock.advance(hours=13)
    resp = await api.http.post(url)
    assert resp.status_code == 410
    assert "Deze link is verlopen." in resp.text
    assert (await api.http.get(url)).status_code == 410


async def test_second_caregiver_is_told_who_is_going(api: Api) -> None:
    await api.raise_sos()
    await api.h.advance(minutes=3)
    assert (await api.http.post(api.button("anna", "Ik ga erheen")["url"])).status_code == 200
    late = await api.http.post(api.button("buur", "Ik ga erheen")["url"])
    assert late.status_code == 409
    assert "Anna gaat al erheen." in late.text


async def test_caregiver_api_acknowledge_resolve_timeline(api: Api) -> None:
    alert_id = await api.raise_sos()
    assert (await api.http.get("/api/alerts")).status_code == 401
    anna = api.as_user("anna")
    active = (await api.http.get("/api/alerts", headers=anna)).json()
    assert [(a["id"], a["state"], a["severity"]) for a in active] == [(alert_id, "delivered", "urgent")]
    assert "device:bed_sensor" in active[0]["cause"]

    ack = await api.http.post(f"/api/alerts/{alert_id}/acknowledge", headers=anna)
    assert ack.status_code == 200 and ack.json()["acknowledged_by_name"] == "Anna"
    again = await api.http.post(f"/api/alerts/{alert_id}/acknowledge", headers=api.as_user("piet"))
    assert (again.status_code, again.json()["detail"]) == (409, "Anna is already going.")

    empty = await api.http.post(f"/api/alerts/{alert_id}/resolve", headers=anna, json={"note": ""})
    assert empty.status_code == 422
    done = await api.http.post(f"/api/alerts/{alert_id}/resolve", headers=anna,
                               json={"note": "Gevallen in de gang, niets gebroken. Huisarts gebeld."})
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["resolution"]) == ("resolved", "caregiver")
    assert (await api.http.post(f"/api/alerts/{alert_id}/resolve", headers=anna,
                                json={"note": "nog eens"})).status_code == 409
    assert (await api.http.get("/api/alerts", headers=anna)).json() == []
    recent = (await api.http.get("/api/alerts/recent", headers=anna)).json()
    assert [a["id"] for a in recent] == [alert_id]

    await api.h.advance()
    tl = (await api.http.get(f"/api/alerts/{alert_id}/timeline", headers=anna)).json()
    events = [t["event"] for t in tl["timeline"] if t["type"] == "transition"]
    assert events[:4] == ["raised", "delivering", "escalated", "delivered"]
    assert "acknowledged" in events and "resolved" in events
    attempts = [t for t in tl["timeline"] if t["type"] == "attempt"]
    assert attempts[0]["channel"] == "ntfy" and attempts[0]["ok"] and attempts[0]["user"] == "piet"
    assert (await api.http.get("/api/alerts/al-nope/timeline", headers=anna)).status_code == 404


async def test_audit_log_is_for_technicians(api: Api) -> None:
    alert_id = await api.raise_sos()
    await api.http.get(f"/api/alerts/{alert_id}", headers=api.as_user("anna"))
    assert (await api.http.get("/api/alerts/audit", headers=api.as_user("anna"))).status_code == 403
    tech = api.as_user("henk", "technician")
    entries = (await api.http.get("/api/alerts/audit", headers=tech)).json()
    assert entries[0]["event"] == "viewed" and entries[0]["user"] == "anna"
    assert {e["resident"] for e in entries} == {"Mevrouw Jansen"}
    assert (await api.http.get("/api/alerts/audit/verify", headers=tech)).json() == {
        "intact": True, "first_broken_seq": None}
    cancel = await api.http.post(f"/api/alerts/{alert_id}/cancel", headers=tech, json={"reason": "Testalarm"})
    assert cancel.status_code == 200 and cancel.json()["state"] == "cancelled"
    await api.h.advance()
    assert any(m["message"] == "Melding ingetrokken: Testalarm" for m in api.ntfy.to(TOPIC["piet"]))


async def test_live_stream_sends_a_snapshot_then_every_change(api: Api) -> None:
    first = await api.raise_sos()
    got: list[tuple[str, dict[str, Any]]] = []
    async with api.http.stream("GET", "/api/alerts/stream", headers=api.as_user("anna")) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.aiter_lines()
        event = ""
        async for line in lines:
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                got.append((event, json.loads(line[6:])))
                if event == "snapshot":
                    await api.h.svc.acknowledge(first, by="anna", channel="dashboard")
                elif got[-1][1]["action"] == "acknowledged":
                    break
    assert got[0][0] == "snapshot" and [a["id"] for a in got[0][1]["alerts"]] == [first]
    ack = got[-1][1]
    assert (ack["action"], ack["id"], ack["by"], ack["channel"], ack["severity"]) == (
        "acknowledged", first, "anna", "dashboard", "urgent")


async def test_technician_sends_a_test_alert_to_one_phone(api: Api) -> None:
    tech = api.as_user("henk", "technician")
    assert (await api.http.post("/api/alerts/test", headers=api.as_user("anna"),
                                json={"caregiver": "anna"})).status_code == 403
    assert (await api.http.post("/api/alerts/test", headers=tech, json={"caregiver": "nobody"})).status_code == 404
    sent = await api.http.post("/api/alerts/test", headers=tech, json={"caregiver": "anna"})
    assert sent.status_code == 200 and sent.json()["scenario"] == "test"
    await api.h.advance(minutes=10)
    assert [m["topic"] for m in api.ntfy.messages] == [TOPIC["anna"]]  # anna only, once, no escalation
    assert api.ntfy.messages[0]["message"].startswith("Testmelding voor Anna")
    assert (await api.http.post(api.button("anna", "Ik ga erheen")["url"])).status_code == 200


async def test_a_new_occurrence_is_shown_linked_to_the_one_still_open(api: Api) -> None:
    first = await api.raise_sos()
    assert (await api.http.post(api.button("piet", "Ik ga erheen")["url"])).status_code == 200
    second = await api.raise_sos()  # pressed again while Piet is on his way: a new alert
    anna = api.as_user("anna")
    active = (await api.http.get("/api/alerts", headers=anna)).json()
    assert [(a["id"], a["previous_id"], a["occurrence"], a["state"]) for a in active] == [
        (first, None, 1, "acknowledged"), (second, first, 2, "delivered")]
    page = await api.http.get(api.button("piet", "Bekijk")["url"])
    assert "Opnieuw: Mevrouw Jansen heeft op de alarmknop gedrukt." in page.text
    tl = (await api.http.get(f"/api/alerts/{first}/timeline", headers=anna)).json()
    assert [t["detail"] for t in tl["timeline"] if t["event"] == "reoccurred"] == [f"raised again as {second}"]
