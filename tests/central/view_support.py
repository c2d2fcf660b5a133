"""Homes, alerts and accounts for the central dashboard's tests, written through the core's own
write path (wire.parse + Store.store_batch), so the dashboard reads what the ingest would store.

Times are relative to the real clock's now: a hub is silent when the centre has not heard it for
three minutes of real time, and the page ticks ages on the server's clock.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from central.accounts import Accounts, CentreUser
from central.app import CommandPath, create_app
from central.store import Incoming, Store
from central.wire import parse
from controller.clock import RealClock
from dashboard.auth import CSRF_COOKIE
from tests.dashboard.conftest import Server, running

PASSWORD = "nachtdienst-zwolle-veilig"
WALL = RealClock()


def up(home: str, kind: str, at: datetime, **body: Any) -> dict[str, Any]:
    return {"v": 1, "msg_id": str(uuid.uuid4()), "home": home, "kind": kind, "at": at.isoformat(), **body}


def alert_doc(alert_id: str, *, scenario: str, severity: str, state: str, raised: datetime,
              updated: datetime | None = None, title: str = "", **kw: Any) -> dict[str, Any]:
    return {"id": alert_id, "key": f"{scenario}.x", "scenario": scenario, "severity": severity, "state": state,
            "title": title, "raised_at": raised.isoformat(), "updated_at": (updated or raised).isoformat(),
            "occurrence": 1, "previous_id": None, "repeats": 0, "acknowledged_by": None, "acknowledged_via": None,
            "acknowledged_at": None, "resolved_at": None, "resolution": None, **kw}


async def store_docs(store: Store, docs: list[dict[str, Any]], now: datetime) -> None:
    batch = []
    for i, doc in enumerate(docs):
        subject = f"homes.{doc['home']}.up.{doc['kind']}"
        payload = json.dumps(doc).encode()
        batch.append(Incoming(subject=subject, stream="$MQTT_msgs", stream_seq=i + 1, payload=payload,
                              message=parse(subject, payload)))
    result = await store.store_batch(batch, now)
    assert result.rejected == 0, result


@dataclass(frozen=True, slots=True)
class HomeSpec:
    id: str
    pseudonym: str
    team: str
    silent_for: timedelta | None = None  # heard last this long ago; None: just now


HOMES = (
    HomeSpec("zwolle-0001", "Tulp 17", "noord"),
    HomeSpec("zwolle-0002", "Linde 4", "noord"),
    HomeSpec("zwolle-0003", "Berk 9", "noord"),
    HomeSpec("zwolle-0004", "Eik 3", "noord"),
    HomeSpec("zwolle-0005", "Roos 21", "noord", silent_for=timedelta(minutes=9)),
    HomeSpec("zwolle-0006", "Iris 8", "noord"),
    HomeSpec("kampen-0101", "Wilg 14", "zuid"),
    HomeSpec("kampen-0102", "Esdoorn 2", "zuid"),
)
NOORD = [h.id for h in HOMES if h.team == "noord"]
ZUID = [h.id for h in HOMES if h.team == "zuid"]

# The open alerts, in the order the page must show them to someone who sees every home:
# nobody going first (urgent oldest first, then warning, then info), then the acknowledged one.
ORDER_ALL = ["a-wander-0101", "a-night-0001", "a-sos-0003", "a-med-0005", "a-battery-0004", "a-inact-0002"]
ORDER_NOORD = [a for a in ORDER_ALL if not a.endswith("0101")]


async def seed(store: Store) -> datetime:
    """Eight homes in two teams, with alerts in every state; returns the `now` they are seeded at."""
    now = WALL.now()
    ago = lambda minutes: now - timedelta(minutes=minutes)  # noqa: E731
    async with store.pool.connection() as conn:
        await conn.execute("TRUNCATE events, alerts, homes, devices, rejected, commands")
    await store.sync_homes({h.id: h.team for h in HOMES})
    for h in HOMES:
        heard = now - (h.silent_for or timedelta(seconds=20))
        await store_docs(store, [up(h.id, "heartbeat", heard, seq=100, active_alerts=0, pseudonym=h.pseudonym,
                                    started_at=(now - timedelta(days=3)).isoformat()),
                                 up(h.id, "house", heard, presence="home", mode="night")], heard)
    night = "Nachtelijk verlaten van de woning"
    docs = [
        up("zwolle-0001", "alert", ago(12), action="raised",
           alert=alert_doc("a-night-0001", scenario="night_exit", severity="urgent", state="delivered",
                           raised=ago(12), title=night)),
        up("zwolle-0002", "alert", ago(31), action="acknowledged",
           alert=alert_doc("a-inact-0002", scenario="inactivity", severity="warning", state="acknowledged",
                           raised=ago(40), updated=ago(31), title="Langere tijd geen activiteit",
                           acknowledged_by="anna", acknowledged_via="page", acknowledged_at=ago(31).isoformat())),
        up("zwolle-0003", "alert", ago(3), action="raised",
           alert=alert_doc("a-sos-0003", scenario="sos", severity="urgent", state="raised", raised=ago(3),
                           title="Noodknop ingedrukt")),
        up("zwolle-0004", "alert", ago(55), action="raised",
           alert=alert_doc("a-battery-0004", scenario="device_health", severity="info", state="shown",
                           raised=ago(55), title="Apparaat vraagt aandacht")),
        up("zwolle-0004", "device", ago(55), device="bed_sensor", device_kind="bed", room="slaapkamer",
           health="battery_low", detail="8%"),
        # Raised before its hub fell silent: the page warns that a command waits for the link.
        up("zwolle-0005", "alert", ago(25), action="raised",
           alert=alert_doc("a-med-0005", scenario="medication", severity="warning", state="delivered",
                           raised=ago(25), title="Medicatie niet ingenomen")),
        up("zwolle-0006", "alert", ago(90), action="resolved",
           alert=alert_doc("a-closed-0006", scenario="night_exit", severity="urgent", state="resolved",
                           raised=ago(95), updated=ago(90), title=night, resolved_at=ago(90).isoformat(),
                           resolution="caregiver")),
        up("kampen-0101", "alert", ago(20), action="raised",
           alert=alert_doc("a-wander-0101", scenario="wander", severity="urgent", state="delivered",
                           raised=ago(20), title="Van huis zonder begeleiding")),
    ]
    await store_docs(store, docs, now)
    return now


async def add_users(store: Store) -> dict[str, CentreUser]:
    accounts = Accounts(store.pool, WALL)
    async with store.pool.connection() as conn:
        await conn.execute("DROP TABLE IF EXISTS centre_sessions, centre_users")
    return {
        "marieke": await accounts.create_user(username="marieke", password=PASSWORD, role="caregiver",
                                              teams=["noord"], display_name="Marieke"),
        "joost": await accounts.create_user(username="joost", password=PASSWORD, role="caregiver",
                                            teams=["zuid"], display_name="Joost"),
        "coby": await accounts.create_user(username="coby", password=PASSWORD, role="coordinator",
                                           display_name="Coby"),
    }


@contextlib.asynccontextmanager
async def seeded(dsn: str) -> AsyncIterator[Store]:
    """The core's store on `dsn` with eight homes of two teams, three accounts and a new audit chain."""
    async with Store.open(dsn) as s:
        await s.init(WALL.now())
        async with s.pool.connection() as conn:
            # Each test starts a new chain with its own key (DROP is the one thing triggers allow).
            await conn.execute("DROP TABLE IF EXISTS centre_audit, centre_audit_chain")
        await seed(s)
        await add_users(s)
        yield s


def app_for(store: Store, tmp_path: Path, commands: CommandPath | None, **kw: Any) -> FastAPI:
    return create_app(store, commands=commands, audit_key=tmp_path / "centre-audit.key", **kw)


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[Server]:
    """The app on uvicorn on a free loopback port (the hub dashboard's server)."""
    async with running(app) as server:
        yield server


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Log in as a browser does: visit the login page (CSRF cookie), then post with the header."""
    page = await client.get("/login")
    assert page.status_code == 200
    return await client.post("/api/login", json={"username": username, "password": password},
                             headers={"X-CSRF-Token": client.cookies[CSRF_COOKIE]})


def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies[CSRF_COOKIE]}
