"""The dashboard's HTTP API through httpx's ASGI transport, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from controller.alerts.channels.page import PageChannel
from controller.alerts.service import AlertService
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context, Event
from controller.hub import Hub
from controller.mqtt import MemoryLink
from controller.store import Database
from dashboard.app import create_app
from dashboard.auth import SESSION_COOKIE, AuthError, create_user
from devices import KINDS
from tests.dashboard.conftest import CAREGIVER_NAMES, PASSWORD, add_user, csrf, login

RESIDENT = "Mevrouw Jansen"

CARE_AND_TECH_GETS = [
    "/zorg", "/technicus", "/api/care/me", "/api/care/timeline", "/api/care/alerts",
    "/api/tech/devices", "/api/tech/events", "/api/tech/audit", "/api/tech/scenarios",
    "/api/admin/users", "/api/admin/options",
]
CARE_AND_TECH_POSTS = [
    "/api/care/alerts/alert-1/acknowledge", "/api/tech/scenarios/reload",
    "/api/tech/scenarios/check", "/api/admin/users",
]


async def test_openapi_documents_the_api_and_no_cdn_docs_page(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    for path in ("/api/tour", "/api/login", "/api/care/alerts", "/api/tech/events",
                 "/api/tech/scenarios/reload"):
        assert path in schema["paths"]
    # Swagger UI would load its assets from a CDN; the demo home may be offline.
    assert (await client.get("/docs")).status_code == 404


async def test_pages_are_served_with_their_assets_and_a_strict_policy(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert "/static/tour.js" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    for name in ("common.js", "tour.js", "care.js", "tech.js", "common.css", "icon.svg"):
        assert (await client.get(f"/static/{name}")).status_code == 200
    assert (await client.get("/static/../app.py")).status_code == 404
    manifest = (await client.get("/manifest.webmanifest")).json()
    assert manifest["start_url"] == "/zorg" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        r = await client.get(icon["src"])
        assert r.status_code == 200 and r.headers["content-type"] == icon["type"]
        if icon["type"] == "image/png":
            assert r.content.startswith(b"\x89PNG")
    sw = await client.get("/sw.js")
    assert sw.headers["content-type"].startswith("text/javascript")
    assert (await client.get("/devices")).status_code == 200


@pytest.mark.parametrize("path", CARE_AND_TECH_GETS)
async def test_a_visitor_gets_403_from_caregiver_and_technician_pages_and_apis(
        client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 403
    if not path.startswith("/api/"):
        assert 'href="/login?next=' in r.text  # the way forward for someone who has an account


@pytest.mark.parametrize("path", CARE_AND_TECH_POSTS)
async def test_a_visitor_cannot_change_anything(client: httpx.AsyncClient, path: str) -> None:
    r = await client.post(path, json={}, headers=await csrf(client))
    assert r.status_code == 403


async def test_roles_keep_to_their_own_pages(client: httpx.AsyncClient, db: Database,
                                             clock: VirtualClock) -> None:
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    await add_user(db, clock, "tech", "technician")
    assert (await login(client, "anna")).status_code == 200
    assert (await client.get("/zorg")).status_code == 200
    assert (await client.get("/technicus")).status_code == 403
    assert (await client.get("/api/tech/events")).status_code == 403
    client.cookies.delete(SESSION_COOKIE)
    assert (await login(client, "tech")).status_code == 200
    assert (await client.get("/technicus")).status_code == 200
    assert (await client.get("/zorg")).status_code == 403
    assert (await client.get("/api/care/timeline")).status_code == 403
    assert (await client.get("/api/admin/users")).status_code == 403


async def test_first_run_setup_creates_the_admin_once(client: httpx.AsyncClient, db: Database) -> None:
    assert (await client.get("/api/session")).json()["setup_needed"] is True
    assert (await client.get("/setup")).status_code == 200
    body = {"username": "beheer", "password": PASSWORD, "display_name": "Beheerder"}
    # No CSRF token, no admin.
    assert (await client.post("/api/setup", json=body)).status_code == 403
    r = await client.post("/api/setup", json=body, headers=await csrf(client))
    assert r.status_code == 200, r.text
    assert r.json()["user"]["role"] == "admin"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    session = (await client.get("/api/session")).json()
    assert session["user"]["username"] == "beheer" and session["setup_needed"] is False
    # The setup page is gone for good, and nobody can create a second admin through it.
    r = await client.get("/setup", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    other = {"username": "indringer", "password": PASSWORD}
    assert (await client.post("/api/setup", json=other, headers=await csrf(client))).status_code == 403
    row = await db.fetchone("SELECT password_hash FROM dashboard_users WHERE username = 'beheer'")
    assert row is not None and row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in row["password_hash"]


async def test_setup_refuses_a_weak_password(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/setup", json={"username": "beheer", "password": "kort"},
                          headers=await csrf(client))
    assert r.status_code == 422
    assert "at least 10 characters" in r.json()["detail"]
    assert (await client.get("/api/session")).json()["setup_needed"] is True


async def test_create_user_is_what_huis_user_add_calls(db: Database, clock: VirtualClock) -> None:
    user = await create_user(db, username="piet", password=PASSWORD, role="caregiver",
                             residents=[RESIDENT], caregiver="piet", now=clock.now())
    assert user.can_see(RESIDENT) and not user.can_see("Meneer de Vries")
    with pytest.raises(AuthError, match="already a user"):
        await create_user(db, username="Piet", password=PASSWORD, role="caregiver", now=clock.now())
    with pytest.raises(AuthError, match="not a role"):
        await create_user(db, username="x", password=PASSWORD, role="root", now=clock.now())


async def test_login_needs_the_csrf_token_and_logout_too(client: httpx.AsyncClient, db: Database,
                                                         clock: VirtualClock) -> None:
    await add_user(db, clock, "tech", "technician")
    creds = {"username": "tech", "password": PASSWORD}
    assert (await client.post("/api/login", json=creds)).status_code == 403
    await csrf(client)
    r = await client.post("/api/login", json=creds, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    assert SESSION_COOKIE not in client.cookies
    assert (await login(client, "tech")).status_code == 200
    # A session alone is not enough to change anything: the header must come too.
    assert (await client.post("/api/tech/scenarios/check")).status_code == 403
    assert (await client.post("/api/logout")).status_code == 403
    assert (await client.get("/api/tech/devices")).status_code == 200
    assert (await client.post("/api/logout", headers=await csrf(client))).status_code == 200
    assert (await client.get("/api/tech/devices")).status_code == 403


async def test_login_is_rate_limited_on_the_wall_clock(hub: Hub, db: Database, clock: VirtualClock) -> None:
    # The lockout counts real time (here a second virtual clock standing in for it): the hub's
    # own clock, which a demo or simulation moves, does not lift it.
    wall = VirtualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    await add_user(db, clock, "tech", "technician")
    app = create_app(hub, db=db, wall=wall)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        for _ in range(5):
            assert (await login(client, "tech", "verkeerd-wachtwoord")).status_code == 401
        r = await login(client, "tech")  # the right password, but too late
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) > 0
        await clock.advance(hours=24)  # the hub's clock jumps a day (a tour story once did)
        assert (await login(client, "tech")).status_code == 429
        await wall.advance(minutes=14)
        assert (await login(client, "tech")).status_code == 429
        await wall.advance(minutes=1, seconds=1)
        assert (await login(client, "tech")).status_code == 200


async def test_cookies_are_secure_behind_tls(hub: Hub, db: Database, clock: VirtualClock) -> None:
    await add_user(db, clock, "tech", "technician")
    app = create_app(hub, db=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://hub.test") as c:
        r = await login(c, "tech")
    assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    assert all("Secure" in h for h in cookies)
    assert any(h.startswith(SESSION_COOKIE) and "HttpOnly" in h for h in cookies)


async def test_every_caregiver_read_of_care_data_is_audited(client: httpx.AsyncClient, db: Database,
                                                           clock: VirtualClock) -> None:
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    await login(client, "anna")
    r = await client.get("/api/care/timeline")
    assert r.status_code == 200 and r.json()["resident"] == RESIDENT
    rows = await db.fetchall("SELECT * FROM dashboard_audit WHERE action = 'read'")
    assert [(row["username"], row["resident"], row["detail"]) for row in rows] == [
        ("anna", RESIDENT, "GET /api/care/timeline")]


async def test_a_caregiver_sees_only_assigned_residents(client: httpx.AsyncClient, db: Database,
                                                       clock: VirtualClock) -> None:
    await add_user(db, clock, "buur", "caregiver", residents=(), caregiver="buur")
    await login(client, "buur")
    assert (await client.get("/api/care/me")).json()["residents"] == []
    assert (await client.get("/api/care/timeline")).status_code == 403
    r = await client.get("/api/care/timeline", params={"resident": RESIDENT})
    assert r.status_code == 403


async def test_caregiver_timeline_tells_today_in_plain_dutch(client: httpx.AsyncClient, hub: Hub,
                                                            db: Database, clock: VirtualClock) -> None:
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True})
    await clock.advance(minutes=5)
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})
    await login(client, "anna")
    items = (await client.get("/api/care/timeline")).json()["items"]
    assert [i["text"]["nl"] for i in items[:2]] == [
        "Mevrouw Jansen stapt uit bed.", "Mevrouw Jansen gaat in bed liggen."]


async def test_technician_event_log_filters(client: httpx.AsyncClient, hub: Hub, db: Database,
                                            clock: VirtualClock) -> None:
    await add_user(db, clock, "tech", "technician")
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})
    hub.inject("zigbee2mqtt/front_door", {"contact": False})
    hub.inject("zigbee2mqtt/front_door", b"not json")
    await login(client, "tech")
    by_device = (await client.get("/api/tech/events", params={"device": "front_door"})).json()
    assert {e["device"] for e in by_device} == {"front_door"}
    assert [e["type"] for e in by_device] == ["payload_error", "state_changed", "availability"]
    errors = (await client.get("/api/tech/events", params={"type": "payload_error"})).json()
    assert len(errors) == 1 and "not JSON" in errors[0]["data"]["reason"]
    text = (await client.get("/api/tech/events", params={"text": "occupancy"})).json()
    assert [e["device"] for e in text] == ["bed_sensor"]
    health = {d["id"]: d for d in (await client.get("/api/tech/devices")).json()}
    assert health["front_door"]["payload_errors"] == 1
    assert health["front_door"]["available"] is True
    assert health["bed_sensor"]["last_seen"] == clock.now().isoformat()
    assert health["hall_light"]["available"] is None and health["hall_light"]["last_seen"] is None


async def test_admin_adds_a_caregiver_linked_to_the_configuration(client: httpx.AsyncClient,
                                                                  db: Database,
                                                                  clock: VirtualClock) -> None:
    await add_user(db, clock, "beheer", "admin")
    await login(client, "beheer")
    opts = (await client.get("/api/admin/options")).json()
    assert {c["id"] for c in opts["caregivers"]} >= {"anna", "piet"}
    body = {"username": "anna", "password": PASSWORD, "role": "caregiver", "caregiver": "anna",
            "residents": [RESIDENT]}
    r = await client.post("/api/admin/users", json=body, headers=await csrf(client))
    assert r.status_code == 201, r.text
    bad = {**body, "username": "x", "caregiver": "ana"}
    r = await client.post("/api/admin/users", json=bad, headers=await csrf(client))
    assert r.status_code == 422 and "no caregiver 'ana'" in r.json()["detail"]
    users = (await client.get("/api/admin/users")).json()
    assert [u["username"] for u in users] == ["anna", "beheer"]
    assert all("password" not in str(u) for u in users)


async def test_tour_snapshot_draws_the_plan_from_config(client: httpx.AsyncClient, hub: Hub) -> None:
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})
    snap = (await client.get("/api/tour")).json()
    assert snap["resident"] == RESIDENT
    assert {r["id"] for r in snap["plan"]["rooms"]} == set(hub.config.rooms)
    devices = {d["id"]: d for d in snap["devices"]}
    bedroom = hub.config.rooms["bedroom"].area
    bed = devices["bed_sensor"]
    assert bedroom[0] <= bed["x"] <= bedroom[0] + bedroom[2]
    assert bedroom[1] <= bed["y"] <= bedroom[1] + bedroom[3]
    assert bed["attributes"]["occupancy"] is False
    assert snap["narrations"][-1]["text"] == {"nl": "Mevrouw Jansen stapt uit bed.",
                                               "en": "Mevrouw Jansen gets out of bed."}
    # No two devices in a room share a spot.
    spots = [(d["x"], d["y"]) for d in snap["devices"]]
    assert len(set(spots)) == len(spots)


async def test_tour_payload_names_no_caregiver_and_no_phone_number(client: httpx.AsyncClient,
                                                                   hub: Hub, app: FastAPI) -> None:
    # Whatever reaches the bus (an alert event naming who goes, a context naming a caregiver),
    # the visitor's JSON carries pseudonyms only.
    ctx = Context(origin="caregiver:anna", description="Anna (06-12345678) gaat erheen")
    hub.bus.publish(Event(type="alert", time=hub.clock.now(), context=ctx, data={
        "action": "acknowledged", "id": "alert-9", "key": "night_exit.bed_empty",
        "severity": "urgent", "by": "anna", "state": "acknowledged",
        "message": "Mevrouw Jansen is uit bed; Anna belt +31 6 1234 5678"}))
    raw = (await client.get("/api/tour")).text
    assert "Mevrouw Jansen" in raw and "alert-9" in raw
    for name in CAREGIVER_NAMES:
        assert name not in raw
    for number in ("12345678", "1234 5678", "+31"):
        assert number not in raw, "a phone number reached the visitor"


async def test_the_alerts_router_is_mounted_behind_the_dashboards_roles(
        hub: Hub, db: Database, clock: VirtualClock,
        alert_service: tuple[AlertService, PageChannel]) -> None:
    service, _ = alert_service
    app = create_app(hub, db=db, alerts=service)
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    await add_user(db, clock, "tech", "technician")
    alert_id = await service.raise_alert(
        key="test.k", scenario="test", severity="warning", message="Mevrouw Jansen is uit bed.",
        context=Context(origin="device:bed_sensor"),
        data={"audience": "caregivers", "recipients": [], "trigger": {}, "language": "nl"})
    await clock.wait_idle()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub.test") as c:
        assert (await c.get("/api/alerts")).status_code == 403
        assert (await c.get("/api/alerts/audit")).status_code == 403
        await login(c, "anna")
        assert [a["id"] for a in (await c.get("/api/alerts")).json()] == [alert_id]
        assert (await c.get("/api/alerts/audit")).status_code == 403  # technicians only
        mine = (await c.get("/api/care/alerts")).json()
        assert [a["id"] for a in mine["active"]] == [alert_id]
        assert [p["id"] for p in mine["active"][0]["notified"]] == ["piet", "anna"]
        # Acknowledging without the CSRF header is refused; with it, Anna is going.
        assert (await c.post(f"/api/care/alerts/{alert_id}/acknowledge")).status_code == 403
        r = await c.post(f"/api/care/alerts/{alert_id}/acknowledge", headers=await csrf(c))
        assert r.json()["ok"] is True and r.json()["by"] == "Anna"
        assert (await service.get(alert_id)).acknowledged_by == "anna"  # type: ignore[union-attr]
        # The visitor's tour shows the alert, never who goes.
        tour = (await c.get("/api/tour")).text
        assert "Mevrouw Jansen is uit bed." in tour and "Anna" not in tour
        c.cookies.delete(SESSION_COOKIE)
        await login(c, "tech")
        audit = (await c.get("/api/tech/audit")).json()
        assert {"raised", "acknowledged"} <= {row["event"] for row in audit["alerts"]}
        assert any(row["action"] == "read" and row["username"] == "anna" for row in audit["dashboard"])


async def test_tour_guide_buttons_queue_one_story_at_a_time(hub: Hub, db: Database,
                                                            clock: VirtualClock) -> None:
    from simulators.home import SimulatedHome

    app = create_app(hub, db=db, simulated_home=SimulatedHome(hub.config, clock))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub.test") as c:
        stories = (await c.get("/api/tour/stories")).json()
        names = [s["name"] for s in stories]
        assert {"night_exit", "missed_medication", "wandering", "morning_routine"} <= set(names)
        night = next(s for s in stories if s["name"] == "night_exit")
        assert night["title"]["nl"] and night["title"]["en"]
        assert (await c.post("/api/tour/stories/night_exit")).status_code == 403  # no CSRF
        r = await c.post("/api/tour/stories/night_exit", headers=await csrf(c))
        assert r.status_code == 202 and r.json()["status"] == "queued"
        r = await c.post("/api/tour/stories/wandering", headers=await csrf(c))
        assert r.status_code == 409
        r = await c.post("/api/tour/stories/nachtwandeling", headers=await csrf(c))
        assert r.status_code == 404


async def test_stories_need_a_simulated_home(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/tour/stories")).json() == []
    r = await client.post("/api/tour/stories/night_exit", headers=await csrf(client))
    assert r.status_code == 409 and "huis demo" in r.json()["detail"]


async def test_technician_notices_stay_off_the_tour_and_the_caregivers_phone(
        hub: Hub, db: Database, clock: VirtualClock,
        alert_service: tuple[AlertService, PageChannel]) -> None:
    service, pages = alert_service
    app = create_app(hub, db=db, alerts=service)
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    await add_user(db, clock, "tech", "technician")
    notice = await service.raise_alert(
        key="health.battery.bed_sensor", scenario="health_battery", severity="info",
        message="Bed: batterij 9%, vervang binnenkort.", context=Context(origin="device:bed_sensor"),
        data={"audience": "technician", "recipients": [], "trigger": {}, "language": "nl"})
    await clock.wait_idle()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub.test") as c:
        tour = (await c.get("/api/tour")).json()
        assert tour["alerts"] == [] and "batterij" not in str(tour)
        await login(c, "anna")
        assert (await c.get("/api/care/alerts")).json()["active"] == []
        c.cookies.delete(SESSION_COOKIE)
        await login(c, "tech")
        listed = (await c.get("/api/tech/alerts")).json()
        assert [a["id"] for a in listed] == [notice]
        r = await c.post(f"/api/tech/alerts/{notice}/resolve", json={"note": "batterij vervangen"},
                         headers=await csrf(c))
        assert r.status_code == 200 and r.json()["state"] == "resolved"
        assert (await c.get("/api/tech/alerts")).json() == []
    assert all(pages.for_caregiver(cg) == [] for cg in hub.config.caregivers)


async def test_a_session_ends_when_idle_and_after_its_lifetime_on_the_wall_clock(
        hub: Hub, db: Database, clock: VirtualClock) -> None:
    wall = VirtualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    await add_user(db, clock, "tech", "technician")
    app = create_app(hub, db=db, wall=wall)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
        await login(client, "tech")
        assert (await client.get("/api/tech/devices")).status_code == 200
        await clock.advance(hours=13)  # the hub's clock says nothing about sessions
        assert (await client.get("/api/tech/devices")).status_code == 200
        # Busy all morning: a request every 1h50m keeps it from going idle ...
        for _ in range(6):
            await wall.advance(hours=1, minutes=50)
            assert (await client.get("/api/tech/devices")).status_code == 200
        # ... but not past its lifetime of 12 hours.
        await wall.advance(hours=1, minutes=1)
        assert (await client.get("/api/tech/devices")).status_code == 403
        rows = await db.fetchall("SELECT token_hash FROM dashboard_sessions")
        assert len(rows) == 1 and len(rows[0]["token_hash"]) == 64  # only a SHA-256 is stored
        assert client.cookies[SESSION_COOKIE] not in rows[0]["token_hash"]
        # A new session left alone for two hours has gone idle.
        await login(client, "tech")
        await wall.advance(hours=1, minutes=59)
        assert (await client.get("/api/tech/devices")).status_code == 200
        await wall.advance(hours=2)
        assert (await client.get("/api/tech/devices")).status_code == 403


async def test_the_event_log_searches_the_sqlite_history_too(hub: Hub, db: Database,
                                                             clock: VirtualClock) -> None:
    from controller.history import History

    history = History(db, hub.bus, clock)
    await history.open()
    app = create_app(hub, db=db, history=history)
    await add_user(db, clock, "tech", "technician")
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})
    await clock.advance(hours=3)
    hub.inject("zigbee2mqtt/front_door", {"contact": False})
    await history.flush()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub.test") as c:
        await login(c, "tech")
        rows = (await c.get("/api/tech/events", params={"source": "history",
                                                        "device": "bed_sensor"})).json()
        assert [(r["type"], r["data"]["attribute"], r["data"]["value"]) for r in rows] == [
            ("state_changed", "occupancy", False), ("availability", "available", True)]
        assert rows[0]["cause"].startswith("device:bed_sensor")
        later = (await c.get("/api/tech/events", params={
            "source": "history", "since": (clock.now() - timedelta(hours=1)).isoformat()})).json()
        assert {r["device"] for r in later} == {"front_door"}
        found = (await c.get("/api/tech/events", params={"source": "history", "text": "contact"})).json()
        assert [r["data"]["attribute"] for r in found] == ["contact"]
        assert (await c.get("/api/tech/events", params={"source": "elsewhere"})).status_code == 422


async def test_todays_timeline_survives_a_hub_restart(demo_config: HomeConfig, db: Database,
                                                      clock: VirtualClock) -> None:
    from controller.history import History

    before = Hub(demo_config, clock, KINDS, MemoryLink())
    history = History(db, before.bus, clock)
    await history.open()
    contexts: list[Context] = []
    before.bus.subscribe(lambda e: contexts.append(e.context), "state_changed")
    before.inject("zigbee2mqtt/bed_sensor", {"occupancy": False, "battery": 80})
    before.command("bathroom_light", {"state": "ON", "brightness": 25},
                   contexts[-1].child("scenario:night_exit_lights", "out of bed"))
    await history.flush()
    await clock.advance(minutes=30)

    # A new process: a fresh hub and dashboard on the same database.
    after = Hub(demo_config, clock, KINDS, MemoryLink())
    app = create_app(after, db=db, history=History(db, after.bus, clock))
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    after.inject("zigbee2mqtt/front_door", {"contact": False})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub.test") as c:
        await login(c, "anna")
        items = (await c.get("/api/care/timeline")).json()["items"]
    assert [i["text"]["nl"] for i in items] == [
        "De voordeur gaat open.", "Het licht in de badkamer gaat aan op 10%.",
        "Mevrouw Jansen stapt uit bed."]
    assert items[1]["why"]["nl"].startswith("het oriëntatielicht 's nachts")
