"""Accounts (issue 9, items 5 and 6): disable, delete, reset, revoke from the admin API and
`huis accounts`; common passwords refused in the page's language; safe redirects; Secure
cookies behind a trusted proxy; the database 0600 and one hub per database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect

from controller.alerts.channels.page import PageChannel
from controller.alerts.model import AckOutcome
from controller.alerts.policy import load_alerts
from controller.alerts.service import AlertService
from controller.alerts.tokens import AckClaims
from controller.clock import VirtualClock
from controller.events import Context
from controller.hub import Hub
from controller.store import Database
from dashboard.app import create_app
from dashboard.auth import SESSION_COOKIE, AuthError, check_password
from dashboard.server import serve
from tests.conftest import ROOT, free_port
from tests.dashboard.conftest import PASSWORD, Server, add_user, csrf, login, running
from tests.support import eventually

RESIDENT = "Mevrouw Jansen"
NEW_PASSWORD = "een-ander-lang-wachtwoord"


async def admin_and_anna(db: Database, clock: VirtualClock) -> None:
    await add_user(db, clock, "beheer", "admin")
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")


async def test_a_disabled_users_session_is_refused_at_once_and_their_live_feed_ends(
        hub: Hub, db: Database, clock: VirtualClock) -> None:
    await admin_and_anna(db, clock)
    await add_user(db, clock, "tech", "technician")
    async with running(create_app(hub, db=db)) as server, httpx.AsyncClient(base_url=server.url) as admin, \
            httpx.AsyncClient(base_url=server.url) as anna, httpx.AsyncClient(base_url=server.url) as tech:
        await login(admin, "beheer")
        await login(anna, "anna")
        await login(tech, "tech")
        assert (await anna.get("/api/care/me")).status_code == 200
        cookie = f"{SESSION_COOKIE}={tech.cookies[SESSION_COOKIE]}"
        async with connect(f"ws://127.0.0.1:{server.port}/ws/live", additional_headers={"Cookie": cookie}) as ws:
            assert json.loads(await ws.recv())["staff"] is True
            for who in ("anna", "tech"):
                r = await admin.post(f"/api/admin/users/{who}/disabled", json={"disabled": True},
                                     headers=await csrf(admin))
                assert r.status_code == 200 and r.json()["disabled"] is True
            # The very next request is refused; so is logging in again.
            assert (await anna.get("/api/care/me")).status_code == 403
            assert (await login(anna, "anna")).status_code == 401
            # The technician's open socket is told at once and carries no more staff events.
            while json.loads(await ws.recv())["type"] != "session_ended":
                pass
            assert not next(iter(s for s in server.app.state.huis.feed.subscribers)).staff
        users = {u["username"]: u for u in (await admin.get("/api/admin/users")).json()}
        assert users["anna"]["disabled"] is True and users["anna"]["sessions"] == 0
        await admin.post("/api/admin/users/anna/disabled", json={"disabled": False}, headers=await csrf(admin))
        assert (await login(anna, "anna")).status_code == 200
    actions = [r["action"] for r in await db.fetchall(
        "SELECT action FROM dashboard_audit WHERE username = 'beheer' ORDER BY id")]
    assert actions.count("user_disabled") == 2 and "user_enabled" in actions


async def test_reset_revoke_delete_and_the_last_admin(hub: Hub, db: Database, clock: VirtualClock) -> None:
    await admin_and_anna(db, clock)
    async with running(create_app(hub, db=db)) as server, httpx.AsyncClient(base_url=server.url) as admin, \
            httpx.AsyncClient(base_url=server.url) as anna:
        await login(admin, "beheer")
        await login(anna, "anna")
        r = await admin.post("/api/admin/users/anna/password", json={"password": NEW_PASSWORD},
                             headers=await csrf(admin))
        assert r.status_code == 200
        assert (await anna.get("/api/care/me")).status_code == 403  # her session ended
        assert (await login(anna, "anna")).status_code == 401  # the old password is gone
        assert (await login(anna, "anna", NEW_PASSWORD)).status_code == 200
        r = await admin.post("/api/admin/users/anna/revoke", headers=await csrf(admin))
        assert r.json() == {"ok": True, "ended": 1}
        assert (await anna.get("/api/care/me")).status_code == 403
        # The last admin can be neither disabled nor deleted: nobody could manage accounts.
        for method, url, body in (("POST", "/api/admin/users/beheer/disabled", {"disabled": True}),
                                  ("DELETE", "/api/admin/users/beheer", None)):
            r = await admin.request(method, url, json=body, headers={**await csrf(admin), "Accept-Language": "en"})
            assert r.status_code == 422 and r.json()["detail"] == "This is the last admin; add another admin first."
        assert (await admin.delete("/api/admin/users/anna", headers=await csrf(admin))).status_code == 200
        assert "anna" not in [u["username"] for u in (await admin.get("/api/admin/users")).json()]
        # Only an admin manages accounts.
        await add_user(db, clock, "tech", "technician")
        tech = httpx.AsyncClient(base_url=server.url)
        async with tech:
            await login(tech, "tech")
            r = await tech.post("/api/admin/users/beheer/revoke", headers=await csrf(tech))
            assert r.status_code == 403 and "technician" in r.json()["detail"]


@pytest.mark.parametrize("password", ["aaaaaaaaaa", "password123", "qwertyuiop", "1234567890", "welkom1234"])
def test_common_and_easily_guessed_passwords_are_refused(password: str) -> None:
    with pytest.raises(AuthError) as err:
        check_password(password)
    assert "too common" in str(err.value) and "te gewoon" in err.value.text("nl")


def test_a_long_unusual_password_is_accepted() -> None:
    check_password(PASSWORD)
    check_password("paard-batterij-nietje-correct")


async def test_refusals_come_in_the_pages_language(hub: Hub, db: Database, clock: VirtualClock) -> None:
    await admin_and_anna(db, clock)
    async with running(create_app(hub, db=db)) as server, httpx.AsyncClient(base_url=server.url) as admin:
        await login(admin, "beheer")
        body = {"username": "piet", "password": "kort", "role": "caregiver", "caregiver": "piet"}
        nl = await admin.post("/api/admin/users", json=body, headers={**await csrf(admin), "Accept-Language": "nl"})
        assert nl.status_code == 422 and nl.json()["detail"] == "Een wachtwoord heeft minstens 10 tekens nodig."
        en = await admin.post("/api/admin/users", json=body, headers={**await csrf(admin), "Accept-Language": "en"})
        assert en.json()["detail"] == "A password needs at least 10 characters."
        body["password"] = "aaaaaaaaaa"
        nl = await admin.post("/api/admin/users", json=body, headers={**await csrf(admin), "Accept-Language": "nl"})
        assert nl.json()["detail"].startswith("Dit wachtwoord is te gewoon")


async def test_a_failed_login_keeps_only_a_known_user_name(hub: Hub, db: Database, clock: VirtualClock) -> None:
    await admin_and_anna(db, clock)
    async with running(create_app(hub, db=db)) as server, httpx.AsyncClient(base_url=server.url) as c:
        # Someone types their password into the name field.
        assert (await login(c, "Geheim-Wachtwoord-123", "x")).status_code == 401
        assert (await login(c, "anna", "verkeerd-wachtwoord")).status_code == 401
    details = [r["detail"] for r in await db.fetchall(
        "SELECT detail FROM dashboard_audit WHERE action = 'login_failed' ORDER BY id")]
    assert details == ["unknown user name from 127.0.0.1", "user 'anna' from 127.0.0.1"]
    assert not await db.fetchall("SELECT 1 FROM dashboard_audit WHERE detail LIKE '%Geheim%'")


@pytest.mark.parametrize("target", ["/%5Cexample.org/phish", "//evil.example", "https://evil.example",
                                    "/\\evil.example", "/%09/evil.example", "javascript:alert(1)",
                                    "/%2F%2Fevil.example"])
async def test_login_refuses_to_send_anyone_to_another_site(client: httpx.AsyncClient, target: str) -> None:
    r = await client.get(f"/login?next={target}")
    assert r.status_code == 303 and r.headers["location"] == "/login"


async def test_login_keeps_a_path_on_this_hub(client: httpx.AsyncClient) -> None:
    assert (await client.get("/login?next=/zorg")).status_code == 200
    assert (await client.get("/login?next=/technicus%3Ftab%3Daudit")).status_code == 200


@contextlib.asynccontextmanager
async def behind_proxy(app: FastAPI, trusted: list[str]) -> AsyncIterator[Server]:
    port = free_port()
    started = asyncio.Event()
    task = asyncio.create_task(serve(app, "127.0.0.1", port, started=started, trusted_proxies=trusted))
    try:
        await asyncio.wait_for(started.wait(), 10)
        yield Server(app=app, url=f"http://127.0.0.1:{port}", port=port)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(("trusted", "secure", "address"), [(["127.0.0.1"], True, "203.0.113.7"),
                                                            ([], False, "127.0.0.1")])
async def test_secure_cookies_and_the_client_address_come_from_a_trusted_proxy_only(
        hub: Hub, db: Database, clock: VirtualClock, trusted: list[str], secure: bool, address: str) -> None:
    await add_user(db, clock, "tech", "technician")
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    async with behind_proxy(create_app(hub, db=db), trusted) as server, \
            httpx.AsyncClient(base_url=server.url, headers=forwarded) as c:
        r = await c.get("/login")
        csrf_token = r.cookies.get("huis_csrf") or c.cookies.get("huis_csrf")
        # A Secure cookie is not sent back over plain HTTP by httpx: send it as the proxy would.
        r = await c.post("/api/login", json={"username": "tech", "password": PASSWORD},
                         headers={"X-CSRF-Token": csrf_token or "", "Cookie": f"huis_csrf={csrf_token}"})
        assert r.status_code == 200
    cookies = r.headers.get_list("set-cookie")
    assert all(("; Secure" in h or "; secure" in h) == secure for h in cookies), cookies
    row = await db.fetchone("SELECT detail FROM dashboard_audit WHERE action = 'login'")
    assert row is not None and row["detail"] == f"from {address}"


def config_in(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "home.yaml").read_text()
    text = text.replace("path: ../var/huis.db", f"path: {tmp_path / 'huis.db'}")
    text += f"\nscenarios: [{ROOT / 'scenarios'}]\nalerts: {ROOT / 'config' / 'alerts.yaml'}\n"
    path = tmp_path / "home.yaml"
    path.write_text(text)
    return path


def huis(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "huis.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=60, cwd=ROOT)


async def test_huis_accounts_from_the_command_line(tmp_path: Path, hub: Hub, clock: VirtualClock) -> None:
    config = config_in(tmp_path)
    path = tmp_path / "huis.db"
    async with await Database.connect(path) as db:
        await admin_and_anna(db, clock)
        app = create_app(hub, db=db)
        async with running(app) as server, httpx.AsyncClient(base_url=server.url) as anna:
            await login(anna, "anna")
            listed = await asyncio.to_thread(huis, "accounts", "list", "--config", str(config))
            assert listed.returncode == 0
            assert [line.split()[:4] for line in listed.stdout.splitlines()[1:]] == [
                ["anna", "caregiver", "active", "1"], ["beheer", "admin", "active", "0"]]
            done = await asyncio.to_thread(huis, "accounts", "disable", "anna", "--config", str(config))
            assert done.returncode == 0 and "anna is disabled" in done.stdout
            # Another process disabled her: this hub refuses her very next request.
            assert (await anna.get("/api/care/me")).status_code == 403
            weak = await asyncio.to_thread(huis, "accounts", "password", "anna", "--password-stdin",
                                           "--config", str(config), stdin="aaaaaaaaaa\n")
            assert weak.returncode == 2 and "too common" in weak.stderr
            ok = await asyncio.to_thread(huis, "accounts", "password", "anna", "--password-stdin",
                                         "--config", str(config), stdin=NEW_PASSWORD + "\n")
            assert ok.returncode == 0
            last = await asyncio.to_thread(huis, "accounts", "delete", "beheer", "--config", str(config))
            assert last.returncode == 2 and "last admin" in last.stderr
        rows = await db.fetchall("SELECT username, action FROM dashboard_audit WHERE username = 'cli'")
        assert [r["action"] for r in rows] == ["user_disabled", "password_reset"]
    verified = await asyncio.to_thread(huis, "audit", "verify", "--config", str(config))
    assert verified.returncode == 0, verified.stdout


def test_a_new_database_and_its_audit_key_are_readable_by_the_hubs_user_only(tmp_path: Path) -> None:
    async def make() -> None:
        async with await Database.connect(tmp_path / "huis.db") as db:
            from dashboard.auth import Auth
            await Auth(db, VirtualClock()).ready()

    old = os.umask(0o022)
    try:
        asyncio.run(make())
    finally:
        os.umask(old)
    for name in ("huis.db", "audit.key"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


async def test_a_second_hub_on_the_same_database_refuses_and_leaves_the_first_alone(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    pid_file = tmp_path / "huis.pid"
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "huis.cli", "run", "--config", str(config), "--mqtt-port", str(free_port()),
        "--dashboard-port", str(free_port()), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await eventually(lambda: pid_file.exists() and pid_file.read_text().strip() == str(first.pid), within=30)
        second = await asyncio.to_thread(huis, "run", "--config", str(config), "--mqtt-port", str(free_port()),
                                         "--dashboard-port", str(free_port()))
        assert second.returncode != 0
        assert f"Another hub (pid {first.pid}) is already running on the database" in second.stderr
        assert pid_file.read_text().strip() == str(first.pid)  # untouched
        assert first.returncode is None
    finally:
        first.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(first.wait(), 20)
        except TimeoutError:
            first.kill()
            await first.wait()


async def test_an_ack_link_expires_on_the_wall_clock_not_the_hubs(hub: Hub, db: Database, clock: VirtualClock,
                                                                  tmp_path: Path) -> None:
    wall = VirtualClock(clock.now())
    config = load_alerts(ROOT / "config" / "alerts.yaml", hub.config.caregivers)
    service = AlertService.from_hub(hub, db, config, base_url="http://127.0.0.1", channels=[PageChannel()],
                                    key_file=tmp_path / "ack.key", wall=wall)
    task = asyncio.create_task(service.run())
    try:
        await service.open()
        alert_id = await service.raise_alert(
            key="t.k", scenario="test", severity="urgent", message="Uit bed.",
            context=Context(origin="device:bed_sensor"),
            data={"audience": "caregivers", "recipients": [], "trigger": {}})
        alert = await service.get(alert_id)
        assert alert is not None
        token = service.links.issue(alert, service.caregivers["piet"], "ntfy").rsplit("/", 1)[1]
        await clock.advance(hours=13)  # the hub's clock runs a night ahead (a demo at 20x)
        assert isinstance(await service.check_link(token), AckClaims)
        await wall.advance(hours=12)  # ack_link_ttl in config/alerts.yaml, in real time
        refused = await service.check_link(token)
        assert isinstance(refused, AckOutcome) and refused.reason == "expired"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await service.aclose()
