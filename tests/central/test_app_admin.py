"""The audit viewer and account management over HTTP, on a real PostgreSQL and uvicorn: who may
open them (a caregiver gets 403, a coordinator the audit only, an admin both), filters and
pages, the chain's state, one-time passwords, CSRF, and that every one of these requests is
itself in the audit chain."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from central.access_audit import AccessAudit
from central.accounts import Accounts
from central.routes_admin import AUDIT_PAGE
from central.servers import Postgres
from central.store import Store
from controller import i18n
from huis import central_view_cli
from tests.central.test_view import as_user, base, pg, recorder, store  # noqa: F401  (fixtures)
from tests.central.view_support import NOORD, PASSWORD, WALL, csrf, login


@pytest.fixture
async def admin(store: Store) -> str:  # noqa: F811
    await Accounts(store.pool, WALL).create_user(username="beheer", password=PASSWORD, role="admin",
                                                display_name="Bea Beheer")
    return "beheer"


async def audit_rows(store: Store, tmp_path: Path) -> list[dict[str, object]]:  # noqa: F811
    audit = AccessAudit(pool=store.pool, key_file=tmp_path / "centre-audit.key", wall=WALL)  # type: ignore[arg-type]
    await audit.open()
    return list(reversed(await audit.rows(limit=10_000)))


OVERSIGHT_API = [("GET", "/api/audit"), ("GET", "/api/audit/chain"), ("GET", "/api/admin/users"),
                 ("POST", "/api/admin/users"), ("POST", "/api/admin/users/joost/disabled"),
                 ("POST", "/api/admin/users/joost/password")]


async def _codes(c: httpx.AsyncClient) -> dict[str, int]:
    got = {}
    for path in ("/audit", "/accounts"):
        got[path] = (await c.get(path)).status_code
    for method, path in OVERSIGHT_API:
        body = {"username": "x", "role": "caregiver", "teams": ["noord"]} if path == "/api/admin/users" else {}
        r = await c.request(method, path, json=body if method == "POST" else None,
                            headers=csrf(c) if method == "POST" else None)
        got[f"{method} {path}"] = r.status_code
    return got


async def test_who_may_open_what(base: str, store: Store, admin: str, tmp_path: Path) -> None:  # noqa: F811
    async with httpx.AsyncClient(base_url=base) as nobody:
        page = await nobody.get("/audit")
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/audit"
        assert (await nobody.get("/api/audit")).status_code == 401
    async with as_user(base, "marieke") as marieke:
        got = await _codes(marieke)
        forbidden = await marieke.get("/accounts")
    assert set(got.values()) == {403}, got
    assert "Deze pagina is voor beheerders van de centrale." in forbidden.text
    async with as_user(base, "coby") as coby:
        got = await _codes(coby)
    assert got["/audit"] == got["GET /api/audit"] == got["GET /api/audit/chain"] == 200
    assert {v for k, v in got.items() if "audit" not in k} == {403}, got
    async with as_user(base, admin) as beheer:
        got = await _codes(beheer)
    assert got["/accounts"] == got["GET /api/admin/users"] == got["POST /api/admin/users/joost/password"] == 200
    assert got["POST /api/admin/users"] == 201
    # Refused attempts are in the audit too, with what was asked.
    refused = [(r["username"], r["detail"]) for r in await audit_rows(store, tmp_path) if r["action"] == "refused"]
    assert ("marieke", "GET /accounts") in refused and ("marieke", "POST /api/admin/users/joost/password") in refused
    assert ("coby", "GET /api/admin/users") in refused and not any(u == "beheer" for u, _ in refused)


async def test_the_audit_viewer_filters_pages_and_is_audited(base: str, store: Store,  # noqa: F811
                                                             tmp_path: Path) -> None:
    async with as_user(base, "marieke") as marieke:
        await marieke.get("/api/overview")
        await marieke.get("/api/homes/zwolle-0002/timeline")
    async with as_user(base, "joost") as joost:
        for home in ("kampen-0101", "kampen-0102", "kampen-0101"):  # the same read again within a minute: one row
            await joost.get(f"/api/homes/{home}/timeline")
    audit = AccessAudit(pool=store.pool, key_file=tmp_path / "centre-audit.key", wall=WALL)  # type: ignore[arg-type]
    await audit.open()
    for i in range(AUDIT_PAGE + 10):  # enough rows for a second page
        await audit.append(None, "login_failed", detail=f"from 10.0.0.{i % 250}")
    async with as_user(base, "coby") as coby:
        first = (await coby.get("/api/audit")).json()
        assert len(first["rows"]) == AUDIT_PAGE and first["next_before"] == first["rows"][-1]["seq"]
        seqs = [r["seq"] for r in first["rows"]]
        assert seqs == sorted(seqs, reverse=True)  # newest first
        second = (await coby.get("/api/audit", params={"before": first["next_before"]})).json()
        assert second["rows"][0]["seq"] < seqs[-1] and second["rows"][-1]["action"] == "login"  # marieke's
        assert second["next_before"] is None
        assert {"marieke", "joost", "coby"} <= set(first["usernames"])

        by_user = (await coby.get("/api/audit", params={"username": "Marieke"})).json()["rows"]
        assert {r["username"] for r in by_user} == {"marieke"}
        assert [r["action"] for r in by_user] == ["read", "read", "login"]
        by_home = (await coby.get("/api/audit", params={"home": "zwolle-0002"})).json()["rows"]
        assert [(r["username"], r["detail"]) for r in by_home][-2:] == [
            ("marieke", "GET /api/homes/zwolle-0002/timeline"), ("marieke", "GET /api/overview")]
        today = WALL.now().astimezone(ZoneInfo("Europe/Amsterdam")).date()
        on_day = (await coby.get("/api/audit", params={"day": today.isoformat(), "username": "joost"})).json()
        assert [r["action"] for r in on_day["rows"]] == ["read", "read", "login"]
        day_before = (today - timedelta(days=1)).isoformat()
        assert (await coby.get("/api/audit", params={"day": day_before})).json()["rows"] == []
        bad = await coby.get("/api/audit", params={"day": "gisteren"}, headers={"Accept-Language": "en"})
        assert bad.status_code == 422 and bad.json()["detail"] == i18n.text("en", "central.err_day")

        chain = (await coby.get("/api/audit/chain")).json()
        assert chain["ok"] and chain["rows"] > AUDIT_PAGE
    # Reading the audit is itself audited: each page and filter, and the check of the chain.
    rows = await audit_rows(store, tmp_path)
    reads = [(r["action"], r["detail"], r["homes"]) for r in rows if r["username"] == "coby"]
    assert ("audit_read", "GET /api/audit", []) in reads
    assert ("audit_read", f"GET /api/audit before={first['next_before']}", []) in reads
    assert ("audit_read", "GET /api/audit user=Marieke", []) in reads
    assert ("audit_read", "GET /api/audit home=zwolle-0002", ["zwolle-0002"]) in reads  # "who read home X" finds it
    assert ("audit_verify", "intact", []) in reads

    # Someone with the database but not the key edits a row: the viewer says which, and how.
    victim = by_home[-1]["seq"]
    async with store.pool.connection() as conn:
        await conn.execute("ALTER TABLE centre_audit DISABLE TRIGGER USER")
        await conn.execute("UPDATE centre_audit SET homes = '{zwolle-0003}' WHERE seq = %s", (victim,))
        await conn.execute("ALTER TABLE centre_audit ENABLE TRIGGER USER")
    async with as_user(base, "coby") as coby:
        chain = (await coby.get("/api/audit/chain")).json()
    assert (chain["ok"], chain["bad"], chain["problem"]) == (False, victim, "edited")


async def test_accounts_in_the_browser_api(base: str, store: Store, admin: str, tmp_path: Path,  # noqa: F811
                                           pg: Postgres, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    async with as_user(base, admin) as beheer:
        listing = (await beheer.get("/api/admin/users")).json()
        assert [u["username"] for u in listing["users"]] == ["beheer", "coby", "joost", "marieke"]
        assert listing["teams"] == ["noord", "zuid"]
        assert "password" not in str(listing) and "argon2" not in str(listing)
        assert next(u for u in listing["users"] if u["username"] == "beheer")["sessions"] == 1

        # Added with team and role; the centre makes the password and shows it this once.
        r = await beheer.post("/api/admin/users", json={"username": "fatima", "role": "caregiver", "teams": ["noord"],
                                                         "display_name": "Fatima"}, headers=csrf(beheer))
        assert r.status_code == 201, r.text
        added = r.json()
        one_time = added["password"]
        assert added["user"] == {"username": "fatima", "role": "caregiver", "name": "Fatima", "teams": ["noord"],
                                 "all_homes": False, "must_change": True}
        assert len(one_time) == 19 and one_time.count("-") == 3
        async with httpx.AsyncClient(base_url=base) as fatima:
            # The one-time password lets her in to choose her own, and to nothing else.
            r = await login(fatima, "fatima", one_time)
            assert r.status_code == 200 and r.json()["go"] == "/password"
            refused = await fatima.get("/api/overview")
            assert refused.status_code == 403 and refused.json()["detail"] == i18n.text("nl", "central.err_must_change")
            assert (await fatima.get("/")).headers["location"] == "/password"
            assert (await fatima.get("/password")).status_code == 200
            own = "zwolle-nachtdienst-fatima"
            for current, new, why in ((one_time, own, "err_csrf"), ("geraden-wachtwoord", own, "err_current"),
                                      (one_time, "welkom123", None), (one_time, one_time, "password_same")):
                headers = {} if why == "err_csrf" else csrf(fatima)
                r = await fatima.post("/api/password", json={"current": current, "new": new}, headers=headers)
                assert r.status_code in (403, 422), r.text
                if why:
                    assert r.json()["detail"] == i18n.text("nl", f"central.{why}")
            r = await fatima.post("/api/password", json={"current": one_time, "new": own}, headers=csrf(fatima))
            assert r.status_code == 200 and r.json()["user"]["must_change"] is False
            overview = (await fatima.get("/api/overview")).json()
            assert sorted(h["id"] for h in overview["homes"]) == sorted(NOORD)

            # A new one-time password: the old one stops working, her open session ends.
            r = await beheer.post("/api/admin/users/fatima/password", headers=csrf(beheer))
            again = r.json()["password"]
            assert r.status_code == 200 and again != one_time
            assert (await fatima.get("/api/overview")).status_code == 401
        async with httpx.AsyncClient(base_url=base) as fatima:
            assert (await login(fatima, "fatima", own)).status_code == 401
            r = await login(fatima, "fatima", again)
            assert r.status_code == 200 and r.json()["go"] == "/password"  # one-time again
            # Disabled: her session ends at once; enabled: she may log in again.
            r = await beheer.post("/api/admin/users/fatima/disabled", json={"disabled": True}, headers=csrf(beheer))
            assert r.status_code == 200 and r.json()["disabled"] is True
            assert (await fatima.get("/api/overview")).status_code == 401
            assert (await login(fatima, "fatima", again)).status_code == 401
            r = await beheer.post("/api/admin/users/fatima/disabled", json={"disabled": False}, headers=csrf(beheer))
            assert r.json()["disabled"] is False
            assert (await login(fatima, "fatima", again)).status_code == 200

        # Refusals in the page's language, the account unchanged.
        no_team = await beheer.post("/api/admin/users", json={"username": "nina", "role": "caregiver"},
                                    headers=csrf(beheer))
        assert no_team.status_code == 422 and no_team.json()["detail"] == i18n.text("nl", "central.err_needs_team")
        taken = await beheer.post("/api/admin/users", json={"username": "FATIMA", "role": "coordinator"},
                                  headers={**csrf(beheer), "Accept-Language": "en"})
        assert taken.json()["detail"] == "There is already a user called 'FATIMA'."
        bad_team = await beheer.post("/api/admin/users", json={"username": "nina", "role": "caregiver",
                                                               "teams": ["no rd"]}, headers=csrf(beheer))
        assert bad_team.json()["detail"] == i18n.text("nl", "central.err_team", team="no rd")
        self_off = await beheer.post("/api/admin/users/beheer/disabled", json={"disabled": True}, headers=csrf(beheer))
        assert self_off.status_code == 409
        missing = await beheer.post("/api/admin/users/nobody/password", headers=csrf(beheer))
        assert missing.status_code == 404 and "nobody" in missing.json()["detail"]

        # CSRF: without the header (or with another token) nothing changes.
        for headers in ({}, {"X-CSRF-Token": "not-the-cookie"}):
            for path, body in (("/api/admin/users", {"username": "mallory", "role": "admin"}),
                               ("/api/admin/users/coby/disabled", {"disabled": True}),
                               ("/api/admin/users/coby/password", None)):
                assert (await beheer.post(path, json=body, headers=headers)).status_code == 403
    assert [u.username for u in await Accounts(store.pool, WALL).users()] == [
        "beheer", "coby", "fatima", "joost", "marieke"]
    async with httpx.AsyncClient(base_url=base) as coby:
        assert (await login(coby, "coby")).status_code == 200  # neither disabled nor given a new password

    # Every action in the audit, by whom; never a password.
    rows = await audit_rows(store, tmp_path)
    done = [(r["action"], r["detail"]) for r in rows if r["username"] == "beheer" and r["action"] != "login"]
    assert done == [("users_read", ""), ("user_added", "fatima as caregiver of noord"),
                    ("password_reset", "fatima"), ("user_disabled", "fatima"), ("user_enabled", "fatima")]
    hers = [(r["action"], r["detail"]) for r in rows
            if r["username"] == "fatima" and r["action"] == "password_changed"]
    assert [d.split(":")[0] for _, d in hers] == ["refused"] * 3 + ["one-time replaced"]  # CSRF: refused before
    assert not any(own in str(r) for r in rows)
    # The command line shows who has yet to choose their own password.
    parser = argparse.ArgumentParser()
    central_view_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["user", "list", "--dsn", pg.dsn])
    assert await asyncio.to_thread(args.func, args) == 0
    listing = capsys.readouterr().out.splitlines()
    assert "one-time password" in next(line for line in listing if line.startswith("fatima"))
    assert "active" in next(line for line in listing if line.startswith("marieke"))
    assert not any(one_time in str(r) or again in str(r) for r in rows)
