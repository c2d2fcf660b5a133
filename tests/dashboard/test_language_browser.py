"""One language at a time: every page, in Dutch and in English, shows no text of the other language.

Every page (tour, visitor phone, care, devices, technician console with each tab and a scenario's
explanation, login, setup, the admin's user page, the 403 page) is rendered in Debian's
Chromium in each language; so is every page of the care centre (central/: login, the overview
with a timeline, the audit viewer, the accounts page with a one-time password, choosing one's
own password, its 403 page).
What a person reads is collected: the visible text, the title, and the aria-label, placeholder,
alt and title attributes. Two checks, both must find nothing:

1. The other language's catalogue: every text of the other language that is not also a text of
   this one (placeholders matched as "anything") must not appear. Catches a text left in the
   HTML, a key looked up in the wrong scope, a server sentence built outside the catalogue.
2. A word list: short words that exist in only one of the two languages ("the", "and", "alert",
   "password" on a Dutch page; "de", "het", "een", "melding" on an English one), as whole words.
   Catches text that is in no catalogue at all (a hard-coded sentence, a library's message).
   File names, paths and YAML keys inside a sentence ("home.yaml", "devices:") are not words.

Not checked, on purpose: `<code>`/`<pre>` (scenario YAML, raw data, ids, paths, cause chains,
audit records), and elements marked with another `lang` than the page's (names written in the
configuration, which is Dutch, such as "Voordeur" or a scenario's description). Marking them is
what a screen reader needs as well. The home's name is a proper name and taken out of titles.
`test_the_checker_finds_a_planted_english_string` shows that the check fails on an English
sentence planted in a Dutch page, and on a Dutch one in an English page.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, expect

from central.accounts import Accounts
from central.servers import Postgres
from controller import i18n
from controller.alerts.channels.page import PageChannel
from controller.alerts.service import AlertService
from controller.clock import VirtualClock
from controller.events import Context
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink
from dashboard.app import create_app
from huis.compose import Parts
from simulators.home import SimulatedHome
from tests.central.view_support import PASSWORD as CENTRAL_PASSWORD
from tests.central.view_support import WALL, app_for, seeded, served
from tests.dashboard.conftest import PASSWORD, Server, add_user, running
from tests.dashboard.test_browser import BIG_SCREEN, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

RESIDENT = "Mevrouw Jansen"
# The home's name (config/home.yaml) is a proper name, in titles too ("Log in — Huis van de toekomst").
BRAND = "Huis van de toekomst"

# Words of one language that the other does not use (lower case, whole words). Kept to words
# that are neither names nor shared ("in", "is", "live", "status", "scenario", "online" are both).
ONLY = {
    "en": {"the", "and", "alert", "alerts", "password", "passwords", "no", "not", "traces", "trace",
           "recorded", "problem", "problems", "with", "you", "your", "yet", "never", "none", "running",
           "waiting", "loading", "connected", "devices", "device", "timeline", "caregiver", "caregivers",
           "technician", "users", "user", "name", "sessions", "events", "tour", "care", "home", "away",
           "resolve", "cancel", "close", "reload", "house", "what", "why", "who", "time", "room"},
    "nl": {"de", "het", "een", "niet", "geen", "melding", "meldingen", "wachtwoord", "gebruiker",
           "gebruikers", "wordt", "zijn", "naar", "voor", "gaat", "nog", "ook", "uit", "bij", "op", "en",
           "van", "met", "er", "deze", "dit", "uw", "wacht", "apparaat", "apparaten", "verbinding",
           "tijdlijn", "rondleiding", "inloggen", "uitloggen", "zorg", "technicus", "bewoner", "sluiten",
           "waarom", "wat", "tijd", "ruimte", "thuis", "weg", "onbekend", "afhandelen", "herladen"},
}

COLLECT = """() => {
  const lang = document.documentElement.lang;
  // Code, raw data and text marked as another language (configured names) are not prose.
  const skip = el => !!el.closest("code, pre, script, style, template") ||
                     (el.closest("[lang]") && el.closest("[lang]").lang !== lang);
  const visible = el => { const s = getComputedStyle(el);
    return s.display !== "none" && s.visibility !== "hidden" && el.getClientRects().length > 0; };
  const out = [document.title];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walk.nextNode()) {
    const n = walk.currentNode, el = n.parentElement;
    if (el && n.textContent.trim() && !skip(el) && visible(el)) out.push(n.textContent.trim());
  }
  for (const el of document.querySelectorAll("[aria-label], [placeholder], [alt], [title]")) {
    if (skip(el)) continue;
    for (const a of ["aria-label", "placeholder", "alt", "title"]) {
      const v = el.getAttribute(a);
      if (v && v.trim()) out.push(v.trim());
    }
  }
  return { lang, texts: out };
}"""


# Inside prose, a file name, path or YAML key is code: "home.yaml", "bridge/devices", "devices:".
_CODE_LIKE = re.compile(r"[/`_={}]|\w\.\w|^[a-z]+:\W*$")


def _forms(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def _pattern(text: str) -> re.Pattern[str] | None:
    """A catalogue text as a pattern (placeholders match anything); None when too short to tell
    the languages apart (a single short word such as 'Open' or 'Status')."""
    literal = re.sub(r"\{\w+\}", "", text)
    if len(literal.strip()) < 5:
        return None
    parts = re.split(r"\{\w+\}", text)
    body = r".+?".join(re.escape(p) for p in parts)
    return re.compile(rf"(?<![\w]){body}(?![\w])" if text[:1].isalnum() and text[-1:].isalnum() else body)


def _catalogue_patterns(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    other = "en" if lang == "nl" else "nl"
    mine = {f for v in i18n.catalogue(lang).values() for f in _forms(v)}  # type: ignore[arg-type]
    out = []
    for msgid, value in i18n.catalogue(other).items():  # type: ignore[arg-type]
        for form in _forms(value):
            if form in mine or any(form in m for m in mine):
                continue  # the same in both languages ("Status", "Live", "{n}× sinds")
            p = _pattern(form)
            if p is not None:
                out.append((msgid, p))
    return out


def foreign(lang: str, texts: list[str]) -> list[str]:
    """Every text on a page of `lang` that belongs to the other language, with why."""
    found = []
    patterns = _catalogue_patterns(lang)
    other = "en" if lang == "nl" else "nl"
    for text in (t.replace(BRAND, "") for t in texts):
        for msgid, p in patterns:
            if p.search(text):
                found.append(f"{text!r}: the {other} text of {msgid}")
        words = {w.lower() for chunk in text.split() if not _CODE_LIKE.search(chunk)
                 for w in re.findall(r"[A-Za-zÀ-ÿ]+", chunk)}
        bad = sorted(words & ONLY[other])
        if bad:
            found.append(f"{text!r}: {other} word(s) {', '.join(bad)}")
    return found


async def read(page: Page) -> tuple[str, list[str]]:
    got = await page.evaluate(COLLECT)
    return str(got["lang"]), [str(t) for t in got["texts"]]


Site = tuple[Server, Hub, AlertService, VirtualClock]


@contextlib.asynccontextmanager
async def site(hub: Hub, db: Database, clock: VirtualClock, service: AlertService) -> AsyncIterator[Server]:
    """The demo home with its scenarios on an engine, its history, the alert service with an open
    alert, stories (a simulated home), and accounts for each role."""
    parts = Parts.load(hub.config)
    engine = parts.engine(hub, db, MemoryAlertSink())
    history = parts.history(hub, db, clock)
    await history.open()
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.ready.wait(), 10)
    await add_user(db, clock, "tech", "technician")
    await add_user(db, clock, "piet", "caregiver", residents=(RESIDENT,), caregiver="piet")
    app = create_app(hub, db=db, engine=engine, history=history, alerts=service,
                     simulated_home=SimulatedHome(hub.config, clock))
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False, "battery": 12})
    hub.inject("zigbee2mqtt/front_door", {"contact": False})
    cause = Context(origin="device:front_door").child("scenario:night_exit_door", "door at night")
    await service.raise_alert(
        key="night_exit.door", scenario="night_exit_door", severity="urgent",
        message="De voordeur ging om 02:10 open terwijl Mevrouw Jansen uit bed is.", context=cause,
        data={"audience": "caregivers", "recipients": [], "trigger": {}, "language": "nl",
              "message_en": "The front door opened at 02:10 while Mevrouw Jansen is out of bed."})
    await clock.wait_idle()
    try:
        async with running(app) as server:
            yield server
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def in_language(browser: Any, lang: str) -> Any:
    """A browser context whose pages start in `lang` (what the language button remembers)."""
    context = await browser.new_context(viewport=BIG_SCREEN, device_scale_factor=1)
    await context.add_init_script(f"localStorage.setItem('huis.lang', '{lang}')")
    return context


async def log_in(context: Any, server: Server, username: str, target: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{server.url}/login?next={target}")
    await page.locator("#username").fill(username)
    await page.locator("#password").fill(PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page).to_have_url(server.url + target)
    await page.wait_for_load_state("load")  # its scripts ran: a click now is heard
    return page


async def pages_of(browser: Any, server: Server, lang: str, db: Database,
                   clock: VirtualClock) -> AsyncIterator[tuple[str, Page]]:
    """Every page and state a person reads, in `lang`, each once it has drawn (the first-run
    setup page while there is no admin yet)."""
    visitor = await in_language(browser, lang)
    page = await visitor.new_page()
    for path, ready in (("/", "#stories [data-story]"), ("/devices", "#devices tr"), ("/login", "#login-form"),
                        ("/setup", "#setup-form"), ("/technicus", "#forbidden-text"),
                        ("/bezoeker/no-such-token", "#v-status")):
        await page.goto(server.url + path)
        await expect(page.locator(ready).first).to_be_visible()
        if path == "/":
            await expect(page.locator("#tour-alerts .alert")).to_have_count(1)
            await page.locator('[data-device="bed_sensor"]').click()  # "what is this for?"
            await expect(page.locator("#device-info")).to_be_visible()
        if path == "/login":  # a refusal, said by the page
            await page.locator("#username").fill("nobody")
            await page.locator("#password").fill("wrong-password-1")
            await page.locator("#login-form button[type=submit]").click()
            await expect(page.locator("#login-error")).not_to_be_empty()
        if path == "/bezoeker/no-such-token":
            await expect(page.locator("#v-status")).not_to_be_empty()
        yield path, page
    care = await in_language(browser, lang)
    page = await log_in(care, server, "piet", "/zorg")
    await expect(page.locator("#alerts article")).to_have_count(1)
    await page.locator("#alerts .resolve").click()
    await expect(page.locator("#alerts textarea")).to_be_visible()
    yield "/zorg", page
    await page.goto(server.url + "/technicus")  # a caregiver on a technician's page: 403
    await expect(page.locator("#login-link")).to_have_attribute("href", "/zorg")
    yield "/technicus as caregiver", page
    tech = await in_language(browser, lang)
    page = await log_in(tech, server, "tech", "/technicus")
    for tab in ("devices", "scenarios", "events", "routine", "zigbee", "audit"):
        await page.locator(f"#tab-{tab}").click()
        await expect(page.locator(f"#p-{tab}")).to_be_visible()
        if tab == "devices":
            await expect(page.locator("#health tr").first).to_be_visible()
        if tab == "scenarios":
            await expect(page.locator("#scenarios tr").first).to_be_visible()
            await page.locator('#scenarios tr[data-scenario="night_exit_lights"] button').click()
            await expect(page.locator("#traces .verdict")).to_be_visible()
            await page.locator("#check").click()
            await expect(page.locator("#reload-result p")).to_be_visible()
        if tab == "events":
            await expect(page.locator("#events tr").first).to_be_visible()
        if tab == "routine":
            await expect(page.locator("#routine .legend, #routine p").first).to_be_visible()
        yield f"/technicus#{tab}", page
    await page.goto(server.url + "/zorg")  # a technician on a caregiver's page: 403
    await expect(page.locator("#login-link")).to_have_attribute("href", "/technicus")
    yield "/zorg as technician", page
    await add_user(db, clock, "beheer", "admin")
    admin = await in_language(browser, lang)
    page = await log_in(admin, server, "beheer", "/technicus")
    await page.locator("#tab-users").click()
    await expect(page.locator('#users tr[data-user="piet"]')).to_be_visible()
    await page.locator("#u-name").fill("nieuw")
    await page.locator("#u-pass").fill("kort")  # the "Dat lukte niet: A password needs ..."
    await page.locator("#user-form button[type=submit]").click()
    await expect(page.locator("#user-result")).not_to_be_empty()
    yield "/technicus#users (admin)", page


@pytest.mark.parametrize("lang", ["nl", "en"])
async def test_every_page_speaks_one_language(lang: str, browser: Any, hub: Hub, db: Database,
                                              clock: VirtualClock,
                                              alert_service: tuple[AlertService, PageChannel]) -> None:
    service, _ = alert_service
    async with site(hub, db, clock, service) as server:
        seen, problems = [], []
        async for where, page in pages_of(browser, server, lang, db, clock):
            page_lang, texts = await read(page)
            assert page_lang == lang, where
            seen.append(where)
            problems += [f"{where}: {p}" for p in foreign(lang, texts)]
            if where in ("/", "/zorg", "/technicus#users (admin)"):
                name = {"/": "tour", "/zorg": "care"}.get(where, "admin")
                await shot(page, f"language-{name}-{lang}.png")
        assert len(seen) == 16
        assert problems == [], "\n".join(problems)


async def test_the_checker_finds_a_planted_english_string(browser: Any, hub: Hub, db: Database,
                                                          clock: VirtualClock,
                                                          alert_service: tuple[AlertService, PageChannel]) -> None:
    service, _ = alert_service
    async with site(hub, db, clock, service) as server:
        context = await in_language(browser, "nl")
        page = await context.new_page()
        await page.goto(server.url + "/")
        await expect(page.locator("#tour-alerts .alert")).to_have_count(1)
        assert foreign("nl", (await read(page))[1]) == []
        # What the issue saw: an English refusal inside a Dutch sentence, and an untranslated
        # message; once as text, once as a button's label.
        await page.evaluate("""() => {
            const p = document.createElement("p");
            p.textContent = "Dat lukte niet: A password needs at least 10 characters.";
            document.getElementById("now").append(p);
            document.getElementById("reset").setAttribute("aria-label", "No traces recorded.");
        }""")
        found = foreign("nl", (await read(page))[1])
        assert any("auth.password_short" in f for f in found)  # the English catalogue text
        assert any("password" in f and "word(s)" in f for f in found)  # and the word list
        assert any("No traces recorded." in f for f in found)
        # And the other way round: a Dutch sentence on the English page.
        await page.locator(".lang-switch").first.click()
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        assert foreign("en", (await read(page))[1]) != []
        await page.evaluate("document.querySelector('#now p:last-child').remove(); "
                            "document.getElementById('reset').setAttribute('aria-label', 'Start again')")
        assert foreign("en", (await read(page))[1]) == []
        await page.evaluate("""() => { const p = document.createElement("p");
            p.textContent = "Er gaat nu een melding naar de mantelzorger.";
            document.getElementById("now").append(p); }""")
        found = foreign("en", (await read(page))[1])
        assert any("story.caption" in f or "word(s)" in f for f in found)


# -- the care centre's pages (central/): one language per page there too ------------------------


async def central_pages(browser: Any, url: str, lang: str) -> AsyncIterator[tuple[str, Page]]:
    """Every central page and state a person reads, in `lang` (chosen with ?lang=, as its link does)."""
    context = await browser.new_context(viewport=BIG_SCREEN, device_scale_factor=1)
    page = await context.new_page()
    await page.goto(f"{url}/login?lang={lang}")
    await page.locator("#username").fill("beheer")
    await page.locator("#password").fill("wrong-password-1")
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("#login-error")).not_to_be_empty()  # a refusal, said by the server
    yield "central /login", page
    await page.locator("#password").fill(CENTRAL_PASSWORD)
    await page.locator("#login-form button[type=submit]").click()
    await expect(page.locator("body[data-loaded]")).to_have_count(1)
    await page.locator('.alert[data-alert="a-sos-0003"] button.resolve').click()
    await page.locator('.home[data-home="zwolle-0004"] .home-open').click()  # device trouble, a timeline
    await expect(page.locator("#timeline-items li").first).to_be_visible()
    yield "central /", page
    await page.goto(url + "/audit")
    await expect(page.locator("#chain")).to_have_attribute("data-state", "ok")
    await expect(page.locator("#audit-rows tr").first).to_be_visible()
    yield "central /audit", page
    await page.goto(url + "/accounts")
    await expect(page.locator("body[data-loaded]")).to_have_count(1)
    await page.locator("#a-username").fill("nina")  # a caregiver without a team: refused
    await page.locator("#add-user button[type=submit]").click()
    await expect(page.locator("#add-error")).not_to_be_empty()
    await page.locator('#accounts tr[data-user="joost"] button.reset').click()  # asked first
    await expect(page.locator('#accounts tr[data-user="joost"] .confirm-text')).to_be_visible()
    yield "central /accounts (asking)", page
    await page.locator('#accounts tr[data-user="joost"] button.confirm').click()
    await expect(page.locator("#once")).to_be_visible()
    yield "central /accounts (one-time password)", page
    one_time = await page.locator("#once-password").inner_text()
    joost = await (await browser.new_context(viewport=BIG_SCREEN)).new_page()
    await joost.goto(f"{url}/login?lang={lang}")
    await joost.locator("#username").fill("joost")
    await joost.locator("#password").fill(one_time)
    await joost.locator("#login-form button[type=submit]").click()
    await expect(joost.locator("#password-form")).to_be_visible()
    await joost.locator("#current").fill(one_time)
    await joost.locator("#new").fill("welkom123")  # too short: refused by the server
    await joost.locator("#again").fill("welkom123")
    await joost.locator("#password-form button[type=submit]").click()
    await expect(joost.locator("#password-error")).not_to_be_empty()
    yield "central /password (one-time)", joost
    nurse = await (await browser.new_context(viewport=BIG_SCREEN)).new_page()
    await nurse.goto(f"{url}/login?lang={lang}")
    await nurse.locator("#username").fill("marieke")
    await nurse.locator("#password").fill(CENTRAL_PASSWORD)
    await nurse.locator("#login-form button[type=submit]").click()
    await expect(nurse.locator("body[data-loaded]")).to_have_count(1)
    await nurse.goto(url + "/accounts")
    await expect(nurse.locator("#forbidden-why")).to_be_visible()
    yield "central /accounts as caregiver (403)", nurse


@pytest.mark.parametrize("lang", ["nl", "en"])
async def test_every_central_page_speaks_one_language(lang: str, browser: Any, tmp_path: Any) -> None:
    pg = Postgres()
    pg.start()
    try:
        async with seeded(pg.dsn) as store:
            await Accounts(store.pool, WALL).create_user(username="beheer", password=CENTRAL_PASSWORD, role="admin")
            async with served(app_for(store, tmp_path, None)) as server:
                seen, problems = [], []
                async for where, page in central_pages(browser, server.url, lang):
                    page_lang, texts = await read(page)
                    assert page_lang == lang, where
                    seen.append(where)
                    problems += [f"{where}: {p}" for p in foreign(lang, texts)]
                    assert len(texts) >= 5, where  # the checker read the page
                    if where == "central /audit":  # the checker sees these pages: a planted text is found
                        other = "en" if lang == "nl" else "nl"
                        await page.evaluate("t => { const p = document.createElement('p'); p.id = 'planted'; "
                                            "p.textContent = t; document.querySelector('main').append(p); }",
                                            i18n.text(other, "central.audit_empty"))
                        assert any("central.audit_empty" in f for f in foreign(lang, (await read(page))[1]))
                        await page.evaluate("document.getElementById('planted').remove()")
    finally:
        pg.stop()
    assert len(seen) == 7
    assert problems == [], "\n".join(problems)
