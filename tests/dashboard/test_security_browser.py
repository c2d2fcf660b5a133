"""Security in Chromium (issues 9 and 10): no open redirect after login, the technician console's
admin tab stays hidden for technicians, 403 pages per audience, refusals in the page's language,
and an admin disabling a user from the admin page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from controller.clock import VirtualClock
from controller.store import Database
from tests.dashboard.conftest import PASSWORD, Server, add_user, login
from tests.dashboard.test_browser import open_page, shot

pytestmark = pytest.mark.browser
RESIDENT = "Mevrouw Jansen"


def script_errors(problems: list[str]) -> list[str]:
    """Console errors other than the 403s and 422s these tests cause on purpose."""
    return [p for p in problems if not p.startswith("Failed to load resource")]


async def log_in(page: Any, username: str) -> None:
    await page.get_by_label("Gebruikersnaam").fill(username)
    await page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Inloggen").click()


@pytest.mark.parametrize("target", ["/%5Cexample.org/phish", "//example.org", "https://example.org",
                                    "/%5C%5Cexample.org"])
async def test_login_never_lands_on_another_site(server: Server, browser: Any, db: Database,
                                                 clock: VirtualClock, target: str) -> None:
    await add_user(db, clock, "tech", "technician")
    page, problems = await open_page(browser, f"{server.url}/login?next={target}")
    await expect(page).to_have_url(server.url + "/login")  # the hub dropped the bad `next`
    # And if the page is reached with it anyway (the script checks on its own):
    await page.evaluate("t => history.replaceState(null, '', '/login?next=' + t)", target)
    await log_in(page, "tech")
    await expect(page).to_have_url(server.url + "/technicus")
    assert script_errors(problems) == []


async def test_a_path_on_this_hub_is_followed(server: Server, browser: Any, db: Database,
                                              clock: VirtualClock) -> None:
    await add_user(db, clock, "beheer", "admin")
    page, _ = await open_page(browser, f"{server.url}/login?next=/zorg")
    await log_in(page, "beheer")
    await expect(page).to_have_url(server.url + "/zorg")


async def test_a_technician_sees_no_users_tab_and_a_caregiver_a_403_for_technicians(
        server: Server, browser: Any, db: Database, clock: VirtualClock) -> None:
    await add_user(db, clock, "tech", "technician")
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    page, problems = await open_page(browser, server.url + "/login")
    await log_in(page, "tech")
    await expect(page).to_have_url(server.url + "/technicus")
    await expect(page.get_by_role("tab", name="Auditlog")).to_be_visible()
    users_tab = page.locator("#tab-users")
    await expect(users_tab).to_be_hidden()
    assert await users_tab.evaluate("el => getComputedStyle(el).display") == "none"
    # Her own 403 page for technicians' pages; his for caregivers' pages: not the same text.
    response = await page.goto(server.url + "/zorg")
    assert response is not None and response.status == 403
    await expect(page.locator("#forbidden-text")).to_have_text(
        "U bent ingelogd als technicus: deze pagina is voor zorgverleners. Uw eigen pagina staat hieronder.")
    await page.get_by_role("link", name="Naar mijn pagina").click()
    await expect(page).to_have_url(server.url + "/technicus")  # still logged in
    anna, _ = await open_page(browser, server.url + "/login")
    await log_in(anna, "anna")
    await expect(anna).to_have_url(server.url + "/zorg")
    await anna.goto(server.url + "/technicus")
    await expect(anna.locator("#forbidden-text")).to_have_text(
        "U bent ingelogd als zorgverlener: deze pagina is voor technici en beheerders. "
        "Uw eigen pagina staat hieronder.")
    visitor, _ = await open_page(browser, server.url + "/technicus")
    await expect(visitor.locator("#forbidden-text")).to_have_text(
        "Deze pagina is voor technici en beheerders. Log in met het account van een technicus.")
    assert script_errors(problems) == []


async def test_the_admin_page_speaks_one_language_and_disables_a_user(
        server: Server, browser: Any, db: Database, clock: VirtualClock) -> None:
    await add_user(db, clock, "beheer", "admin")
    await add_user(db, clock, "anna", "caregiver", residents=(RESIDENT,), caregiver="anna")
    page, problems = await open_page(browser, server.url + "/login")
    await log_in(page, "beheer")
    await expect(page).to_have_url(server.url + "/technicus")
    await page.get_by_role("tab", name="Gebruikers").click()
    await page.locator("#u-name").fill("piet")
    await page.locator("#u-pass").fill("kort")
    await page.get_by_role("button", name="Gebruiker toevoegen").click()
    await expect(page.locator("#user-result")).to_have_text(
        "Dat lukte niet: Een wachtwoord heeft minstens 10 tekens nodig.")
    await page.locator("#u-pass").fill("aaaaaaaaaa")
    await page.get_by_role("button", name="Gebruiker toevoegen").click()
    await expect(page.locator("#user-result")).to_contain_text("Dat lukte niet: Dit wachtwoord is te gewoon")
    await page.get_by_role("button", name="English").first.click()
    await page.get_by_role("button", name="Add user").click()
    await expect(page.locator("#user-result")).to_contain_text(
        "That did not work: This password is too common")
    await page.get_by_role("button", name="Nederlands").first.click()
    # Anna is logged in elsewhere; the admin disables her, and her next request is refused.
    async with httpx.AsyncClient(base_url=server.url) as anna:
        await login(anna, "anna")
        assert (await anna.get("/api/care/me")).status_code == 200
        row = page.locator('#users tr[data-user="anna"]')
        await expect(row).to_contain_text("actief")
        await row.get_by_role("button", name="Uitschakelen").click()
        await expect(page.locator("#users-result")).to_have_text("anna is uitgeschakeld; de sessies zijn beëindigd.")
        await expect(row).to_have_attribute("data-disabled", "1")
        assert (await anna.get("/api/care/me")).status_code == 403
    await shot(page, "admin-users.png")
    assert script_errors(problems) == []
