"""What the night nurse's screen shows, read from the centre's store and limited to what the
user may see.

Every query here takes the user and filters on `homes.team` in SQL, so a caregiver's request
for another team's home or alert finds nothing (404), whatever the page shows or hides. Only
the pseudonym, the neutral title and ids leave this module: never an alert's `message` or `note`
(which a home sends only with `central.share_details`).

The order of open alerts: those nobody is on the way to first, then by severity (urgent,
warning, info), then the longest open first. Homes: silent hubs first, then homes with open
alerts, then homes with device trouble, then the rest, by id within each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from central.accounts import CentreUser, Conn
from central.store import SILENT_AFTER
from controller.alerts.model import ACKNOWLEDGED, ACTIVE_STATES, SEVERITIES

TIMELINE_SPAN = timedelta(hours=24)
TIMELINE_LIMIT = 300
PENDING_FOR = timedelta(hours=1)  # a command older than this is refused by the hub anyway
_RANK = {s: i for i, s in enumerate(SEVERITIES)}

# Which homes a user sees: all for a coordinator or admin, else their teams'.
_SCOPE = "(%(all)s OR h.team = ANY(%(teams)s))"


def _scope(user: CentreUser) -> dict[str, Any]:
    return {"all": user.all_homes, "teams": list(user.teams)}


def iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def alert_order(a: dict[str, Any]) -> tuple[int, int, datetime]:
    """Sort key of an open alert: nobody going first, then severity, then oldest first."""
    return (1 if a["state"] == ACKNOWLEDGED else 0, _RANK.get(a["severity"], len(_RANK)), a["raised_at"])


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    """The screen's data: homes, open alerts and device trouble of the user's teams."""

    now: datetime
    homes: list[dict[str, Any]]
    alerts: list[dict[str, Any]]

    @property
    def home_ids(self) -> list[str]:
        return [h["id"] for h in self.homes]

    def as_dict(self) -> dict[str, Any]:
        homes = [{**h, "last_heartbeat": iso(h["last_heartbeat"]), "heard_at": iso(h["heard_at"])}
                 for h in self.homes]
        alerts = [{k: iso(v) if isinstance(v, datetime) else v for k, v in a.items()} for a in self.alerts]
        return {"now": self.now.isoformat(), "silent_after_s": int(SILENT_AFTER.total_seconds()),
                "homes": homes, "alerts": alerts,
                "summary": {"homes": len(homes), "open": len(alerts),
                            "waiting": sum(1 for a in alerts if a["state"] != ACKNOWLEDGED),
                            "silent": sum(1 for h in homes if h["status"] in ("silent", "never")),
                            "trouble": sum(1 for h in homes if h["trouble"])}}


def _home_status(h: dict[str, Any], now: datetime) -> str:
    if h["heard_at"] is None:
        return "never"
    return "silent" if now - h["heard_at"] >= SILENT_AFTER else "up"


def _home_order(h: dict[str, Any]) -> tuple[int, str]:
    if h["status"] in ("silent", "never"):
        rank = 0
    elif h["open"]:
        rank = 1
    elif h["trouble"]:
        rank = 2
    else:
        rank = 3
    return rank, h["id"]


async def overview(conn: Conn, user: CentreUser, now: datetime) -> Overview:
    """Everything the screen shows for `user` at `now` (the centre's wall clock)."""
    scope = _scope(user)
    cur = await conn.execute(
        "SELECT h.id, h.pseudonym, h.team, h.last_heartbeat, h.heard_at, h.presence, h.mode "
        f"FROM homes h WHERE {_SCOPE} ORDER BY h.id", scope)
    homes = {r["id"]: {**r, "open": 0, "trouble": []} for r in await cur.fetchall()}
    cur = await conn.execute(
        "SELECT a.home, a.id, a.scenario, a.severity, a.state, a.title, a.raised_at, a.updated_at, "
        "a.occurrence, a.repeats, a.acknowledged_by, a.acknowledged_via, a.acknowledged_at, a.unknown_at_home "
        f"FROM alerts a JOIN homes h ON h.id = a.home WHERE a.state = ANY(%(active)s) AND {_SCOPE}",
        {**scope, "active": list(ACTIVE_STATES)})
    alerts = [dict(r) for r in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT d.home, d.device, d.device_kind, d.room, d.health, d.at FROM devices d "
        f"JOIN homes h ON h.id = d.home WHERE d.health <> 'online' AND {_SCOPE} ORDER BY d.home, d.device", scope)
    for d in await cur.fetchall():
        homes[d["home"]]["trouble"].append({"device": d["device"], "kind": d["device_kind"], "room": d["room"],
                                            "health": d["health"], "at": iso(d["at"])})
    pending = await _pending(conn, user, now)
    for h in homes.values():
        h["status"] = _home_status(h, now)
    for a in alerts:
        home = homes[a["home"]]
        a["pseudonym"] = home["pseudonym"]
        a["hub"] = home["status"]  # a command to a silent hub waits for its link
        a["pending"] = pending.get((a["home"], a["id"]))
        home["open"] += 1
        home["worst"] = min(home.get("worst", "info"), a["severity"], key=lambda s: _RANK.get(s, len(_RANK)))
    return Overview(now=now, homes=sorted(homes.values(), key=_home_order), alerts=sorted(alerts, key=alert_order))


async def _pending(conn: Conn, user: CentreUser, now: datetime) -> dict[tuple[str, str], dict[str, Any]]:
    """Commands sent within the last hour to alerts not yet updated since: the hub has not
    answered them (yet). The newest per alert."""
    cur = await conn.execute(
        "SELECT DISTINCT ON (c.home, c.alert_id) c.home, c.alert_id, c.action, c.by_user, c.at "
        "FROM commands c JOIN homes h ON h.id = c.home JOIN alerts a ON a.home = c.home AND a.id = c.alert_id "
        f"WHERE c.outcome = 'sent' AND c.at > %(since)s AND c.at > a.updated_at AND {_SCOPE} "
        "ORDER BY c.home, c.alert_id, c.at DESC", {**_scope(user), "since": now - PENDING_FOR})
    return {(r["home"], r["alert_id"]): {"action": r["action"], "by": r["by_user"], "at": iso(r["at"])}
            for r in await cur.fetchall()}


async def visible_alert(conn: Conn, user: CentreUser, home: str, alert_id: str) -> dict[str, Any] | None:
    """One alert if `user` may see its home; None otherwise (and when there is none)."""
    cur = await conn.execute(
        "SELECT a.home, a.id, a.state, a.severity, a.acknowledged_by FROM alerts a JOIN homes h ON h.id = a.home "
        f"WHERE a.home = %(home)s AND a.id = %(id)s AND {_SCOPE}", {**_scope(user), "home": home, "id": alert_id})
    return await cur.fetchone()


async def visible_home(conn: Conn, user: CentreUser, home: str) -> dict[str, Any] | None:
    cur = await conn.execute(f"SELECT h.id, h.pseudonym, h.team FROM homes h WHERE h.id = %(home)s AND {_SCOPE}",
                             {**_scope(user), "home": home})
    return await cur.fetchone()


def _event(row: dict[str, Any]) -> dict[str, Any]:
    """One stored message as a timeline item: only neutral fields of its body."""
    body: dict[str, Any] = row["body"] or {}
    item: dict[str, Any] = {"at": iso(row["at"]), "kind": row["kind"], "action": row["action"]}
    if row["kind"] == "alert":
        a = body.get("alert") or {}
        item |= {"alert": a.get("id"), "scenario": a.get("scenario"), "title": a.get("title"),
                 "severity": a.get("severity"), "state": a.get("state"), "by": a.get("acknowledged_by")}
    elif row["kind"] == "house":
        item |= {"presence": body.get("presence"), "mode": body.get("mode")}
    elif row["kind"] == "device":
        item |= {"device": body.get("device"), "room": body.get("room"), "health": body.get("health")}
    elif row["kind"] == "snapshot":
        item |= {"count": len(body.get("alerts") or [])}
    return item


async def timeline(conn: Conn, home: str, now: datetime) -> list[dict[str, Any]]:
    """The home's last 24 hours, newest first: what it reported (heartbeats left out) and the
    commands the centre sent it. The caller has checked that the user may see `home`."""
    since = now - TIMELINE_SPAN
    cur = await conn.execute(
        "SELECT at, kind, action, body FROM events WHERE home = %s AND at >= %s AND kind <> 'heartbeat' "
        "ORDER BY at DESC LIMIT %s", (home, since, TIMELINE_LIMIT))
    items = [(r["at"], _event(r)) for r in await cur.fetchall()]
    cur = await conn.execute(
        "SELECT at, action, alert_id, by_user, outcome FROM commands WHERE home = %s AND at >= %s "
        "ORDER BY at DESC LIMIT %s", (home, since, TIMELINE_LIMIT))
    items += [(r["at"], {"at": iso(r["at"]), "kind": "command", "action": r["action"], "alert": r["alert_id"],
                         "by": r["by_user"], "outcome": r["outcome"]}) for r in await cur.fetchall()]
    items.sort(key=lambda i: i[0], reverse=True)
    return [item for _, item in items[:TIMELINE_LIMIT]]
