"""The resident's routine as a week heat map: this week against the usual (staff only).

Caregivers, technicians and admins may read it; every read is written to the audit log like
other care data (`require_roles(..., audit=True)`).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request

from controller.routine import Routine, load_activity, load_routine, this_week
from controller.store import Database
from dashboard.auth import User
from dashboard.security import CARE_ROLES, TECH_ROLES, dashboard_of, require_roles

router = APIRouter()

Staff = Annotated[User, Depends(require_roles(*sorted({*CARE_ROLES, *TECH_ROLES}), audit=True))]


def _db(request: Request) -> Database | None:
    d = dashboard_of(request)
    if d.routine is not None:
        return d.routine.db
    return d.history.db if d.history is not None else None


@router.get("/api/routine", tags=["care"])
async def routine_map(request: Request, user: Staff) -> dict[str, object]:
    """The learned routine (usual activity per hour of the week, bed and wake times, quiet gaps)
    and this week's activity per hour, for the heat map."""
    d = dashboard_of(request)
    cfg = d.hub.config
    now = d.hub.clock.now()
    tz = ZoneInfo(cfg.home.location.timezone)
    db = _db(request)
    if db is None:
        return {"available": False}
    if d.history is not None:
        await d.history.flush()  # this week includes the last minutes
    routine: Routine = d.routine.current if d.routine is not None and d.routine.current.computed_at \
        else await load_routine(db, cfg, now)
    local = now.astimezone(tz)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time(0), tzinfo=tz)
    week = this_week(await load_activity(db, cfg, monday, now + timedelta(seconds=1)), tz, now)
    return {"available": True, **routine.as_dict(), "this_week": week,
            "now": {"weekday": local.weekday(), "hour": local.hour}}
