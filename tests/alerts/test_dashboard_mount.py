"""The alert routes mounted in the real dashboard app: public link pages pass its middleware."""

from __future__ import annotations

import httpx

from controller.config import HomeConfig
from controller.hub import Hub
from controller.mqtt import MemoryLink
from dashboard.app import create_app
from devices import KINDS
from tests.alerts.conftest import TOPIC, Harness, ctx
from tests.alerts.fakes import NtfyServer


async def test_link_pages_work_inside_the_dashboard(alerts: Harness, ntfy: NtfyServer,
                                                    demo_config: HomeConfig) -> None:
    hub = Hub(demo_config, alerts.clock, KINDS, MemoryLink())
    app = create_app(hub, db=alerts.db, alerts=alerts.svc)
    await alerts.svc.raise_alert(key="sos", scenario="sos", severity="urgent",
                                 message="Mevrouw Jansen heeft op de alarmknop gedrukt.", context=ctx(), data={})
    await alerts.advance()
    url = [m for m in ntfy.to(TOPIC["piet"]) if m.get("actions")][0]["actions"][0]["url"]
    path = url.removeprefix("http://hub.test:8080")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test:8080") as c:
        page = await c.get(path)
        assert page.status_code == 200
        # The page's own policy, not the dashboard's (which would block its inline style).
        assert page.headers["content-security-policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")
        assert (await c.get("/api/alerts")).status_code in (401, 403)  # the rest needs a login
        done = await c.post(path)  # no cookie, no CSRF token: the signed link is the credential
        assert done.status_code == 200, done.text
        assert "Piet, je bevestiging is ontvangen" in done.text
    assert alerts.svc.active()[0].acknowledged_by == "piet"
