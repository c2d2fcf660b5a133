"""The audit trail (issue 9, item 4): every staff read logged; both audit tables append-only with
a keyed chain; `huis audit verify` finds an edited, removed or cut-off row; old databases
migrate honestly; refused-link noise is counted, not written row by row."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from controller import audit
from controller.alerts.channels.page import PageChannel
from controller.alerts.service import AlertService
from controller.alerts.store import _SCHEMA as ALERT_SCHEMA
from controller.alerts.store import AlertStore, AuditEntry
from controller.clock import VirtualClock
from controller.events import Context
from controller.hub import Hub
from controller.store import Database
from dashboard.app import create_app
from dashboard.auth import SCHEMA as DASHBOARD_SCHEMA
from dashboard.auth import SESSION_COOKIE, Auth
from tests.conftest import ROOT
from tests.dashboard.conftest import add_user, login, running

RESIDENT = "Mevrouw Jansen"


def huis(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "huis.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


async def reads(db: Database, user: str) -> list[tuple[str, str | None, str]]:
    rows = await db.fetchall("SELECT action, resident, detail, time FROM dashboard_audit "
                             "WHERE username = ? ORDER BY id", (user,))
    assert all(r["time"] for r in rows)
    return [(r["action"], r["resident"], r["detail"]) for r in rows]


async def test_every_staff_read_over_http_and_websocket_is_audited(
        hub: Hub, db: Database, clock: VirtualClock,
        alert_service: tuple[AlertService, PageChannel]) -> None:
    service, _ = alert_service
    await add_user(db, clock, "tech", "technician")
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    await service.raise_alert(key="t.k", scenario="test", severity="warning", message="Uit bed.",
                              context=Context(origin="device:bed_sensor"),
                              data={"audience": "caregivers", "recipients": [], "trigger": {}})
    await clock.wait_idle()
    async with running(create_app(hub, db=db, alerts=service)) as server, \
            httpx.AsyncClient(base_url=server.url) as tech, httpx.AsyncClient(base_url=server.url) as anna:
        await login(tech, "tech")
        for path in ("/api/tech/audit", "/api/tech/events?device=bed_sensor", "/api/tech/devices",
                     "/api/tech/presence", "/api/routine", "/api/alerts/audit"):
            assert (await tech.get(path)).status_code == 200, path
        cookie = f"{SESSION_COOKIE}={tech.cookies[SESSION_COOKIE]}"
        async with connect(f"ws://127.0.0.1:{server.port}/ws/live", additional_headers={"Cookie": cookie}) as ws:
            assert json.loads(await ws.recv())["staff"] is True
        await login(anna, "anna")
        for path in ("/api/care/alerts", "/api/care/timeline", "/api/care/presence", "/api/routine"):
            assert (await anna.get(path)).status_code == 200, path
    tech_reads = await reads(db, "tech")
    for what in ("GET /api/tech/audit", "GET /api/tech/events?device=bed_sensor", "GET /api/tech/devices",
                 "GET /api/tech/presence", "GET /api/routine", "GET /api/alerts/audit",
                 "GET /ws/live (live event feed)"):
        assert ("read", RESIDENT, what) in tech_reads, what
    anna_reads = await reads(db, "anna")
    for what in ("GET /api/care/alerts", "GET /api/care/timeline", "GET /api/care/presence", "GET /api/routine"):
        assert ("read", RESIDENT, what) in anna_reads, what
    # The alert log names whose alerts were listed, too.
    viewed = await db.fetchall("SELECT user, resident FROM alert_audit WHERE event = 'viewed'")
    assert ("anna", RESIDENT) in [(r["user"], r["resident"]) for r in viewed]


async def test_a_console_refreshing_itself_is_one_row_not_hundreds(hub: Hub, db: Database,
                                                                   clock: VirtualClock) -> None:
    wall = VirtualClock(clock.now())
    await add_user(db, clock, "tech", "technician")
    async with running(create_app(hub, db=db, wall=wall)) as server, \
            httpx.AsyncClient(base_url=server.url) as tech:
        await login(tech, "tech")
        for _ in range(20):
            assert (await tech.get("/api/tech/devices")).status_code == 200
        await wall.advance(seconds=61)
        assert (await tech.get("/api/tech/devices")).status_code == 200
    assert (await reads(db, "tech")).count(("read", RESIDENT, "GET /api/tech/devices")) == 2


async def test_both_audit_tables_refuse_update_and_delete(db: Database, clock: VirtualClock) -> None:
    auth = Auth(db, clock, wall=clock)
    await auth.audit(None, "login_failed", detail="unknown user name from 10.0.0.9")
    store = AlertStore(db)
    await store.open()
    await store.record_audit([AuditEntry(time=clock.now(), alert_id="a1", event="viewed", user="anna")])
    for table in ("dashboard_audit", "alert_audit", "audit_chains"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await db.execute(f"UPDATE {table} SET time = 'x'" if table != "audit_chains"
                             else "UPDATE audit_chains SET keyed_from = 99")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            await db.execute(f"DELETE FROM {table}")
    key_file = Path(db.path).parent / "audit.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


async def filled(path: Path, clock: VirtualClock) -> None:
    """Five rows in each audit table, written as the hub writes them."""
    async with await Database.connect(path) as db:
        auth = Auth(db, clock, wall=clock)
        store = AlertStore(db)
        await store.open()
        for i in range(5):
            await auth.audit(None, "read", resident=RESIDENT, detail=f"GET /api/tech/events?n={i}")
            await store.record_audit([AuditEntry(time=clock.now(), alert_id=f"a{i}", event="viewed",
                                                 resident=RESIDENT, user="anna")])


def tamper(path: Path, *sql: str) -> None:
    """What someone with the file (and sqlite3) but without the key can do."""
    conn = sqlite3.connect(path)
    try:
        for s in sql:
            conn.execute(s)
        conn.commit()
    finally:
        conn.close()


async def test_huis_audit_verify_names_an_edited_row(tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "huis.db"
    await filled(path, clock)
    good = huis("audit", "verify", "--db", str(path))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "The audit log is intact." in good.stdout
    assert "keyed (HMAC-SHA256) chain from row 1" in good.stdout
    tamper(path, "DROP TRIGGER dashboard_audit_no_update",
           "UPDATE dashboard_audit SET detail = 'GET /api/care/me' WHERE id = 3")
    bad = huis("audit", "verify", "--db", str(path))
    assert bad.returncode == 1
    assert "FIRST BAD ROW: 3: its contents do not match its hash" in bad.stdout
    assert "TAMPERED" in bad.stdout
    # Recomputing the hash is no way out: without the key it is a plain SHA-256, not the HMAC.
    tamper(path, "DROP TRIGGER alert_audit_no_update",
           "UPDATE alert_audit SET user = 'mallory' WHERE seq = 2")
    both = huis("audit", "verify", "--db", str(path))
    assert both.stdout.count("FIRST BAD ROW") == 2 and "FIRST BAD ROW: 2:" in both.stdout


async def test_verify_finds_a_removed_row_and_the_exported_head_a_cut_off_end(
        tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "huis.db"
    await filled(path, clock)
    exported = huis("audit", "head", "--db", str(path))
    assert exported.returncode == 0
    heads = {h["table"]: h for h in json.loads(exported.stdout)["chains"]}
    assert heads["alert_audit"]["seq"] == 5 and len(heads["alert_audit"]["hash"]) == 64
    head_file = tmp_path / "head.json"
    head_file.write_text(exported.stdout)
    tamper(path, "DROP TRIGGER alert_audit_no_delete", "DELETE FROM alert_audit WHERE seq = 5")
    # The chain up to row 4 still adds up; only the exported head shows that row 5 is gone.
    alone = huis("audit", "verify", "--db", str(path))
    assert alone.returncode == 0
    checked = huis("audit", "verify", "--db", str(path), "--head", str(head_file))
    assert checked.returncode == 1
    assert "row 5 of the exported head is gone: rows were cut off the end" in checked.stdout
    tamper(path, "DELETE FROM alert_audit WHERE seq = 2")
    gap = huis("audit", "verify", "--db", str(path))
    assert "FIRST BAD ROW: 3: its prev_hash is not the hash of the row before" in gap.stdout


async def test_an_older_database_keeps_its_rows_and_says_where_the_keyed_chain_starts(
        tmp_path: Path, clock: VirtualClock) -> None:
    path = tmp_path / "huis.db"
    # What the previous version wrote: dashboard rows without any chain, alert rows with an
    # unkeyed SHA-256 chain.
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for step in (*ALERT_SCHEMA, DASHBOARD_SCHEMA[0]):
        conn.executescript(step)
    conn.execute("INSERT INTO schema_version VALUES ('alerts', ?)", (len(ALERT_SCHEMA),))
    prev = audit.GENESIS
    for i in range(3):
        values = [f"2026-01-0{i + 1}T10:00:00+00:00", f"a{i}", "raised", RESIDENT, "", "", ""]
        digest = audit.legacy_sha(prev, values)
        conn.execute("INSERT INTO alert_audit (time, alert_id, event, resident, user, channel, detail, "
                     "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (*values, prev, digest))
        prev = digest
        conn.execute("INSERT INTO dashboard_audit (time, username, role, action, resident, detail) "
                     "VALUES (?, 'tech', 'technician', 'read', ?, 'GET /api/tech/events')",
                     (values[0], RESIDENT))
    conn.execute("INSERT INTO schema_version VALUES ('dashboard', 1)")
    conn.commit()
    conn.close()
    await filled(path, clock)  # this version opens it and writes five more rows in each
    out = huis("audit", "verify", "--db", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "rows 1-3: written by an older version without any chain (not verifiable)" in out.stdout
    assert "rows 1-3: written before the keyed chain, with an unkeyed SHA-256 chain" in out.stdout
    assert out.stdout.count("keyed (HMAC-SHA256) chain from row 4") == 2
    assert "chain intact up to row 8" in out.stdout


async def test_a_hundred_bad_links_from_one_address_are_three_rows_with_a_count(
        hub: Hub, db: Database, clock: VirtualClock,
        alert_service: tuple[AlertService, PageChannel]) -> None:
    service, _ = alert_service
    async with running(create_app(hub, db=db, alerts=service)) as server, \
            httpx.AsyncClient(base_url=server.url) as mallory:
        for i in range(100):
            r = await mallory.post(f"/alerts/ack/forged{i}.signature")
            assert r.status_code == 403
    rows = [r["detail"] for r in await service.audit(limit=1000) if r["event"] == "ack_link_refused"]
    assert len(rows) == 3
    assert rows[0].endswith("from 127.0.0.1; 100 refused from 127.0.0.1 within 10 minutes")
    assert rows[1].endswith("; 10 refused from 127.0.0.1 within 10 minutes")
    assert rows[2].startswith("forged") and rows[2].endswith("from 127.0.0.1")
