"""The routine's week heat map: a JSON endpoint for staff only (audited like other care data),
drawn on the caregiver page and the technician console in headless Chromium."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from controller.clock import VirtualClock
from controller.history import History
from controller.hub import Hub
from controller.store import Database
from dashboard.app import create_app
from dashboard.auth import SESSION_COOKIE
from tests.dashboard.conftest import PASSWORD, add_user, login, running
from tests.dashboard.test_browser import open_page, shot
from tests.routine_days import days, one_day, write_history

RESIDENT = "Mevrouw Jansen"
MONDAY = date(2026, 1, 5)  # the clock fixture: Monday 12:00 in Zwolle


@pytest.fixture
async def history(tmp_path: Path, hub: Hub, clock: VirtualClock) -> History:
    """Two usual weeks before this Monday, and this Monday's morning, in the hub's SQLite file."""
    await write_history(tmp_path / "huis.db", days(MONDAY - timedelta(days=14), 14) + one_day(MONDAY))
    return History(await Database.connect(tmp_path / "huis.db"), hub.bus, clock)


async def test_staff_read_the_routine_and_each_read_is_audited(hub: Hub, db: Database, clock: VirtualClock,
                                                              history: History) -> None:
    app = create_app(hub, db=db, history=history)
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    await add_user(db, clock, "tech", "technician")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
            assert (await c.get("/api/routine")).status_code == 403  # a visitor
            await login(c, "anna")
            r = (await c.get("/api/routine")).json()
            assert (r["available"], r["learned"], r["days_known"]) == (True, True, 14)
            assert r["weekdays"][0] == {"day": "mon", "bed": "23:00", "wake": "07:30", "wake_by": "09:00",
                                        "active_hours": [7, 8, 9, 10, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22]}
            assert r["quiet"]["day"] == {"gaps": 196, "p50": 20.0, "p90": 20.0, "longest": 90.0, "limit": 113.0}
            week = r["this_week"]
            assert week[0][3] == 3 and week[0][9] == 3 and week[0][12] == 0  # up to 12:00 only
            assert week[0][13] is None and week[6][0] is None
            assert r["usual"][0][9] == 3.0 and r["now"] == {"weekday": 0, "hour": 12}
            c.cookies.delete(SESSION_COOKIE)
            await login(c, "tech")
            assert (await c.get("/api/routine")).status_code == 200
        rows = await db.fetchall("SELECT username, resident, detail FROM dashboard_audit WHERE action = 'read'")
        assert [tuple(row) for row in rows] == [("anna", RESIDENT, "GET /api/routine"),
                                               ("tech", RESIDENT, "GET /api/routine")]
    finally:
        await history.db.close()


@pytest.mark.browser
async def test_the_week_heat_map_is_drawn_for_caregiver_and_technician(
        hub: Hub, db: Database, clock: VirtualClock, history: History, browser: Any) -> None:
    app = create_app(hub, db=db, history=history)
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    await add_user(db, clock, "tech", "technician")
    try:
        async with running(app) as server:
            page, problems = await open_page(browser, server.url + "/login?next=/zorg")
            await page.get_by_label("Gebruikersnaam").fill("anna")
            await page.get_by_label("Wachtwoord").fill(PASSWORD)
            await page.get_by_role("button", name="Inloggen").click()
            await expect(page).to_have_url(server.url + "/zorg")
            routine = page.locator("#routine")
            await expect(routine.locator(".badge")).to_have_text("Geleerd uit 14 dagen")
            week = routine.get_by_role("img", name="Activiteit per uur deze week")
            await expect(week.locator(".cell")).to_have_count(7 * 24)
            await expect(routine.get_by_role("img", name="Gebruikelijke activiteit per uur van de week")
                         .locator(".cell")).to_have_count(7 * 24)
            await expect(week.locator(".cell.future")).to_have_count(6 * 24 + 11)  # after Monday 12:00
            await expect(week.locator('.cell.current[data-day="0"][data-hour="12"]')).to_have_count(1)
            # Monday 13:00 is still ahead; the hour of her nap is usually quiet, not marked.
            box = await week.locator('.cell[data-day="0"][data-hour="9"]').bounding_box()
            assert box is not None and box["width"] > 8 and box["height"] > 8  # drawn, not collapsed
            await expect(routine.locator("table.habits")).to_contain_text("07:30")
            await shot(page, "routine-care.png")
            await page.get_by_role("button", name="English").click()
            await expect(routine.locator(".badge")).to_have_text("Learned from 14 days")
            await expect(routine.get_by_role("img", name="Activity per hour this week")).to_be_visible()
            await shot(page, "routine-care-en.png")
            # This app runs without an alert service: the care page says so (501), nothing else fails.
            assert [p for p in problems if "501" not in p] == []

            page, problems = await open_page(browser, server.url + "/login?next=/technicus")
            await page.get_by_label("Gebruikersnaam").fill("tech")
            await page.get_by_label("Wachtwoord").fill(PASSWORD)
            await page.get_by_role("button", name="Inloggen").click()
            await expect(page).to_have_url(server.url + "/technicus")
            # The URL comes before the page's scripts: a click on a tab before tech.js listens is
            # lost (seen under load in the full suite).
            await page.locator("body[data-ready]").wait_for()
            await page.get_by_role("tab", name="Ritme").click()
            await expect(page.locator("#p-routine .heat.week .cell")).to_have_count(7 * 24)
            await shot(page, "routine-technician.png")
            assert problems == []
    finally:
        await history.db.close()
