"""The central dashboard's API on a real PostgreSQL, served by uvicorn on a loopback port:
sort order, team isolation (IDOR), login, CSRF, CSP, no open redirect, the audit chain, language.

The command path here is a recorder at the app's seam (`CommandPath`): these tests are about who
may send what. tests/central/test_browser_central.py sends through the real one to a real cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from central.access_audit import AccessAudit
from central.accounts import Accounts
from central.servers import Postgres
from central.store import CommandRow, Store
from controller import i18n
from huis import central_view_cli
from tests.central.view_support import (
    NOORD,
    ORDER_ALL,
    ORDER_NOORD,
    PASSWORD,
    WALL,
    ZUID,
    app_for,
    csrf,
    login,
    seeded,
    served,
)


@dataclass
class Recorder:
    """Records what the app asks the command path to send, and sends nothing."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def give(self, home: str, alert_id: str, action: str, *, user: str, note: str | None = None) -> object:
        self.sent.append({"home": home, "alert": alert_id, "action": action, "user": user, "note": note})
        return None


@pytest.fixture
def pg(postgres: Postgres) -> Postgres:
    """The conftest's PostgreSQL (one per module)."""
    return postgres


@pytest.fixture
async def store(pg: Postgres) -> AsyncIterator[Store]:
    """The core's store, seeded with eight homes of two teams and three accounts."""
    async with seeded(pg.dsn) as s:
        yield s


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def base(store: Store, tmp_path: Path, recorder: Recorder) -> AsyncIterator[str]:
    async with served(app_for(store, tmp_path, recorder)) as server:
        yield server.url


@pytest.fixture
async def client(base: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base) as c:
        yield c


@contextlib.asynccontextmanager
async def as_user(base: str, username: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base) as c:
        r = await login(c, username)
        assert r.status_code == 200, r.text
        yield c


async def test_nothing_without_login_and_no_default_account(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/overview")
    assert r.status_code == 401
    assert r.json()["detail"] == i18n.text("nl", "central.err_login")  # Dutch unless the page asked for English
    r = await client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    for name, password in (("admin", "admin"), ("admin", ""), ("root", "huis"), ("marieke", "marieke")):
        r = await login(client, name, password)
        assert r.status_code == 401, (name, password)
    assert "huis_central_session" not in client.cookies


async def test_open_alerts_sorted_by_urgency_then_age(base: str) -> None:
    async with as_user(base, "coby") as coby:
        d = (await coby.get("/api/overview")).json()
    assert [a["id"] for a in d["alerts"]] == ORDER_ALL
    first = d["alerts"][0]
    assert first["pseudonym"] == "Wilg 14" and first["state"] == "delivered" and first["acknowledged_by"] is None
    acked = d["alerts"][-1]
    assert acked["acknowledged_by"] == "anna" and acked["acknowledged_at"] is not None
    assert d["summary"] == {"homes": 8, "open": 6, "waiting": 5, "silent": 1, "trouble": 1}
    assert [a["hub"] for a in d["alerts"]] == ["up", "up", "up", "silent", "up", "up"]
    homes = {h["id"]: h for h in d["homes"]}
    assert homes["zwolle-0005"]["status"] == "silent" and d["homes"][0]["id"] == "zwolle-0005"
    assert homes["zwolle-0004"]["trouble"][0]["health"] == "battery_low"
    assert homes["zwolle-0006"]["open"] == 0  # its alert is resolved
    assert {h["status"] for h in d["homes"] if h["id"] != "zwolle-0005"} == {"up"}


async def test_only_pseudonym_and_neutral_title_reach_the_page(base: str, store: Store) -> None:
    # A home that shares details (central.share_details) sends `message` and `note`: stored, not shown.
    async with store.pool.connection() as conn:
        await conn.execute("UPDATE alerts SET message = 'Mevrouw Jansen is de deur uit', note = 'dochter gebeld'")
    async with as_user(base, "coby") as coby:
        overview = (await coby.get("/api/overview")).text
        timeline = (await coby.get("/api/homes/zwolle-0001/timeline")).text
    for body in (overview, timeline):
        assert "Jansen" not in body and "dochter" not in body
        assert '"message"' not in body and '"note"' not in body


async def test_caregiver_sees_only_her_teams_homes(base: str) -> None:
    async with as_user(base, "marieke") as marieke, as_user(base, "joost") as joost:
        m = (await marieke.get("/api/overview")).json()
        j = (await joost.get("/api/overview")).json()
    assert sorted(h["id"] for h in m["homes"]) == sorted(NOORD)
    assert [a["id"] for a in m["alerts"]] == ORDER_NOORD
    assert sorted(h["id"] for h in j["homes"]) == sorted(ZUID)
    assert [a["id"] for a in j["alerts"]] == ["a-wander-0101"]
    assert m["user"]["teams"] == ["noord"] and not m["user"]["all_homes"]


async def test_another_teams_home_and_alert_do_not_exist_for_her(base: str, recorder: Recorder) -> None:
    """IDOR: every API checks the team, not the page. Another team's home reads exactly as a home
    that does not exist, and nothing is sent."""
    async with as_user(base, "marieke") as marieke:
        mine = await marieke.get("/api/homes/zwolle-0001/timeline")
        theirs = await marieke.get("/api/homes/kampen-0101/timeline")
        nowhere = await marieke.get("/api/homes/nergens-0000/timeline")
        ack = await marieke.post("/api/homes/kampen-0101/alerts/a-wander-0101/acknowledge", headers=csrf(marieke))
        # Their alert id under one of her own homes, and the other way round:
        mixed = await marieke.post("/api/homes/zwolle-0001/alerts/a-wander-0101/acknowledge", headers=csrf(marieke))
        resolve = await marieke.post("/api/homes/kampen-0101/alerts/a-wander-0101/resolve",
                                     json={"note": "x"}, headers=csrf(marieke))
    assert mine.status_code == 200 and mine.json()["pseudonym"] == "Tulp 17"
    assert theirs.status_code == nowhere.status_code == 404
    assert theirs.json() == nowhere.json()
    assert ack.status_code == mixed.status_code == resolve.status_code == 404
    assert ack.json() == mixed.json()
    assert recorder.sent == []
    assert "Wilg" not in theirs.text + ack.text


async def test_acknowledge_and_resolve_go_to_the_command_path(base: str, recorder: Recorder) -> None:
    async with as_user(base, "marieke") as marieke:
        r = await marieke.post("/api/homes/zwolle-0001/alerts/a-night-0001/acknowledge", headers=csrf(marieke))
        assert r.status_code == 200 and r.json()["outcome"] == "sent"
        empty = await marieke.post("/api/homes/zwolle-0003/alerts/a-sos-0003/resolve", json={"note": ""},
                                   headers=csrf(marieke))
        assert empty.status_code == 422  # a note is required, as on the caregiver's page
        r = await marieke.post("/api/homes/zwolle-0003/alerts/a-sos-0003/resolve", json={"note": "Vals alarm"},
                               headers=csrf(marieke))
        assert r.status_code == 200
        closed = await marieke.post("/api/homes/zwolle-0006/alerts/a-closed-0006/acknowledge",
                                    headers=csrf(marieke))
        assert closed.status_code == 409
    assert recorder.sent == [
        {"home": "zwolle-0001", "alert": "a-night-0001", "action": "acknowledge", "user": "marieke", "note": None},
        {"home": "zwolle-0003", "alert": "a-sos-0003", "action": "resolve", "user": "marieke", "note": "Vals alarm"},
    ]


async def test_state_changes_need_the_csrf_token(base: str, recorder: Recorder) -> None:
    async with as_user(base, "marieke") as marieke:
        url = "/api/homes/zwolle-0001/alerts/a-night-0001/acknowledge"
        none = await marieke.post(url)
        wrong = await marieke.post(url, headers={"X-CSRF-Token": "not-the-cookie"})
        logout = await marieke.post("/api/logout")
    assert none.status_code == wrong.status_code == logout.status_code == 403
    assert recorder.sent == []
    # Logging in needs it too (a page on another site cannot log someone in as someone else).
    async with httpx.AsyncClient(base_url=base) as c:
        r = await c.post("/api/login", json={"username": "marieke", "password": PASSWORD})
    assert r.status_code == 403


async def test_no_open_redirect_after_login(base: str, client: httpx.AsyncClient) -> None:
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "/%5Cevil.example",
                   "javascript:alert(1)", "/\tevil"):
        r = await client.get("/login", params={"next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", target
        await client.get("/login")
        r = await client.post("/api/login", json={"username": "coby", "password": PASSWORD, "next": target},
                              headers=csrf(client))
        assert r.status_code == 200 and r.json()["go"] == "/", target
    await client.get("/login")
    r = await client.post("/api/login", json={"username": "coby", "password": PASSWORD, "next": "/?lang=en"},
                          headers=csrf(client))
    assert r.json()["go"] == "/?lang=en"


async def test_cookies_and_security_headers(client: httpx.AsyncClient, store: Store) -> None:
    page = await client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    r = await login(client, "coby")
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and "huis_central_session" in v)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    api = await client.get("/api/overview")
    assert api.headers["cache-control"] == "no-store" and "content-security-policy" in api.headers
    # A disabled account's sessions end at once.
    async with as_user(str(client.base_url), "marieke") as marieke:
        assert (await marieke.get("/api/overview")).status_code == 200
        await Accounts(store.pool, WALL).set_disabled("marieke", True)
        assert (await marieke.get("/api/overview")).status_code == 401
        assert (await login(marieke, "marieke")).status_code == 401
    # Five wrong passwords lock the name for a while (the hub's rate limiter).
    async with httpx.AsyncClient(base_url=str(client.base_url)) as other:
        codes = [(await login(other, "joost", "wrong-password-123")).status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


async def test_every_read_is_audited_in_a_keyed_chain(base: str, store: Store, tmp_path: Path, pg: Postgres,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    async with as_user(base, "marieke") as marieke:
        await marieke.get("/api/overview")
        await marieke.get("/api/overview")  # within a minute: the same read, one row
        await marieke.get("/api/homes/zwolle-0002/timeline")
        await marieke.get("/api/homes/kampen-0101/timeline")  # refused: nothing read
        await marieke.post("/api/homes/zwolle-0001/alerts/a-night-0001/acknowledge", headers=csrf(marieke))
    audit = AccessAudit(pool=store.pool, key_file=tmp_path / "centre-audit.key", wall=WALL)  # type: ignore[arg-type]
    await audit.open()
    rows = list(reversed(await audit.rows()))
    mine = [(r["action"], r["detail"], sorted(r["homes"])) for r in rows if r["username"] == "marieke"]
    assert mine == [
        ("login", mine[0][1], []),
        ("read", "GET /api/overview", sorted(NOORD)),
        ("read", "GET /api/homes/zwolle-0002/timeline", ["zwolle-0002"]),
        ("acknowledge", "alert a-night-0001: sent", ["zwolle-0001"]),
    ]
    assert [r["seq"] for r in await audit.rows(home="zwolle-0002")][:1] == [rows[2]["seq"]]
    assert (await audit.verify()).ok
    # Append-only: the service's own database user cannot change or remove a row.
    async with store.pool.connection() as conn:
        for sql in ("UPDATE centre_audit SET username = 'x'", "DELETE FROM centre_audit", "TRUNCATE centre_audit"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                await conn.execute(sql)
            await conn.rollback()
        # Someone with the database but not the key drops the trigger and edits a row:
        await conn.execute("ALTER TABLE centre_audit DISABLE TRIGGER USER")
        await conn.execute("UPDATE centre_audit SET homes = '{zwolle-0001}' WHERE detail LIKE '%%zwolle-0002%%'")
        await conn.execute("ALTER TABLE centre_audit ENABLE TRIGGER USER")
        await conn.commit()
    verdict = await audit.verify()
    assert not verdict.ok and verdict.bad == rows[2]["seq"] and "edited" in verdict.reason
    # `huis central audit verify` says the same, and refuses another key.
    parser = argparse.ArgumentParser()
    central_view_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["audit", "verify", "--dsn", pg.dsn, "--audit-key", str(tmp_path / "centre-audit.key")])
    assert await asyncio.to_thread(args.func, args) == 1
    assert f"FIRST BAD ROW: {rows[2]['seq']}" in capsys.readouterr().out
    other = tmp_path / "other.key"
    other.write_text("ab" * 32)
    other.chmod(0o600)
    args = parser.parse_args(["audit", "verify", "--dsn", pg.dsn, "--audit-key", str(other)])
    assert await asyncio.to_thread(args.func, args) == 2
    assert "another key" in capsys.readouterr().err


async def test_pages_are_dutch_by_default_and_english_when_asked(client: httpx.AsyncClient) -> None:
    # The texts are the catalogues' central.* ids (tests/controller/test_i18n_catalogue.py keeps
    # both languages complete); the page's script gets them from /i18n/catalogue.js.
    script = await client.get("/i18n/catalogue.js")
    assert script.status_code == 200 and '"central.login_title": "Log in to the care centre"' in script.text
    assert (await client.get("/static/common.js")).status_code == 200
    nl = (await client.get("/login")).text
    assert 'lang="nl"' in nl and "Inloggen bij de zorgcentrale" in nl and "Log in to" not in nl
    en = await client.get("/login", params={"lang": "en"})
    assert 'lang="en"' in en.text and "Log in to the care centre" in en.text and "Wachtwoord" not in en.text
    assert "huis_central_lang=en" in en.headers["set-cookie"]
    again = await client.get("/login")  # the choice is remembered
    assert 'lang="en"' in again.text
    await login(client, "coby")
    page = (await client.get("/")).text
    assert "Care centre" in page and "Zorgcentrale" not in page
    r = await client.get("/api/homes/nergens/timeline", headers={"Accept-Language": "en"})
    assert r.json()["detail"] == i18n.text("en", "central.err_no_home")
    overview = (await client.get("/api/overview", headers={"Accept-Language": "en"})).json()
    titles = {a["id"]: a["title"] for a in overview["alerts"]}
    assert titles["a-night-0001"] == "Out of bed at night"  # not the home's Dutch title
    overview = (await client.get("/api/overview", headers={"Accept-Language": "nl"})).json()
    assert {a["id"]: a["title"] for a in overview["alerts"]}["a-night-0001"] == "Nachtelijk verlaten van de woning"


def test_accounts_from_the_command_line(pg: Postgres, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    central_view_cli.register(parser.add_subparsers(dest="command"))

    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        args = parser.parse_args(["user", *argv, "--dsn", pg.dsn])
        code: int = args.func(args)
        return code

    assert run("add", "fatima", "--role", "caregiver", "--team", "noord", "--team", "zuid",
               "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert "sees the homes of team noord, zuid" in capsys.readouterr().out
    assert run("add", "nina", "--role", "caregiver", "--password-stdin", stdin=PASSWORD + "\n") == 2
    assert "needs at least one team" in capsys.readouterr().err
    assert run("add", "wim", "--role", "admin", "--password-stdin", stdin="welkom123\n") == 2
    assert "password" in capsys.readouterr().err
    assert run("add", "FATIMA", "--role", "coordinator", "--password-stdin", stdin=PASSWORD + "\n") == 2
    assert "already a user" in capsys.readouterr().err
    assert run("add", "ilse", "--role", "coordinator", "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert "sees every home" in capsys.readouterr().out
    assert run("disable", "fatima") == 0
    assert "fatima is disabled; their sessions have ended." in capsys.readouterr().out
    assert run("list") == 0
    listing = capsys.readouterr().out
    assert "fatima" in listing and "noord,zuid" in listing and "ilse" in listing and "(all)" in listing
    assert "disabled" in next(line for line in listing.splitlines() if line.startswith("fatima"))
    assert run("enable", "nobody") == 2


async def test_a_sent_command_shows_as_waiting_until_the_home_answers(base: str, store: Store) -> None:
    now = WALL.now()
    for i, (home, alert, outcome) in enumerate((("zwolle-0001", "a-night-0001", "sent"),
                                                ("zwolle-0003", "a-sos-0003", "failed"))):
        await store.record_command(CommandRow(msg_id=str(uuid.UUID(int=i + 1)), home=home, alert_id=alert,
                                              action="acknowledge", by_user="centre:marieke", note=None, at=now,
                                              outcome=outcome, detail=None))
    async with as_user(base, "coby") as coby:
        alerts = {a["id"]: a for a in (await coby.get("/api/overview")).json()["alerts"]}
        timeline = (await coby.get("/api/homes/zwolle-0001/timeline")).json()["items"]
    pending = alerts["a-night-0001"]["pending"]
    assert pending["action"] == "acknowledge" and pending["by"] == "centre:marieke"
    assert alerts["a-sos-0003"]["pending"] is None  # not sent: nothing to wait for
    assert timeline[0] | {"at": None} == {"at": None, "kind": "command", "action": "acknowledge",
                                          "alert": "a-night-0001", "by": "centre:marieke", "outcome": "sent"}
