"""The tour's stories play in sandboxes: the live hub's clock, alert store, caregivers and devices
are never touched, whatever a story raises in its own home.

Each story plays for real (its own hub, the shipped scenarios, the real AlertService on its own
SQLite file) with the pace sped up, so a night takes a moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from controller.alerts.channels.page import PageChannel
from controller.alerts.service import AlertService
from controller.clock import VirtualClock
from controller.hub import Hub
from controller.mqtt import MemoryLink
from controller.store import Database
from dashboard.app import create_app
from dashboard.live import LiveFeed, Subscriber
from dashboard.narrate import Narrator
from dashboard.story_player import StoryRunner
from dashboard.tour_sandbox import story_start
from simulators.home import SimulatedHome
from simulators.story_scripts import STORIES
from tests.dashboard.conftest import csrf

SPEEDUP = 2000.0  # tests play fast; nothing here asserts how long anything takes

# What each story raises in its sandbox (keys), and nothing else.
EXPECTED = {
    "night_exit": ["night_exit.bed_empty"],
    "night_toilet": [],
    "night_exit_door": ["night_exit.door", "wander.left_home"],
    "wandering": ["wander.left_home"],
    "missed_medication": ["medication.missed.13:00"],
    "morning_routine": [],
}


def runner_for(hub: Hub, service: AlertService) -> tuple[StoryRunner, list[dict[str, Any]]]:
    """A story runner for `hub`, and the list of every message it shows the tour."""
    runner = StoryRunner(hub.config, LiveFeed(hub, Narrator(hub.config)), policies=service.config)
    runner.pace.speedup = SPEEDUP
    seen: list[dict[str, Any]] = []
    runner.subscribers.add(Recorder(seen))
    return runner, seen


class Recorder(Subscriber):
    """A tour screen that keeps every message."""

    def __init__(self, into: list[dict[str, Any]]) -> None:
        super().__init__(staff=False)
        self.into = into

    def offer(self, message: dict[str, Any]) -> None:
        self.into.append(message)


def texts(seen: list[dict[str, Any]]) -> list[str]:
    """Every sentence, caption and alert the tour showed, in Dutch."""
    out: list[str] = []
    for m in seen:
        if m["type"] == "narration":
            out.append(m["narration"]["text"]["nl"] + " " + m["narration"]["why"].get("nl", ""))
        elif m["type"] == "story" and m.get("step"):
            out.append(m["step"]["nl"])
        elif m["type"] == "alerts":
            out += [a["message"]["nl"] for a in m["alerts"]]
    return out


@pytest.mark.parametrize("name", list(STORIES))
async def test_a_story_raises_nothing_in_the_live_home_and_leaves_its_clock(
        name: str, hub: Hub, clock: VirtualClock,
        alert_service: tuple[AlertService, PageChannel]) -> None:
    service, page = alert_service
    runner, seen = runner_for(hub, service)
    before = clock.now()
    await runner.play(name)

    # The story did what it shows, in its own home: these alerts, to demo caregivers only,
    # and all of them cleared by the end.
    assert sorted(str(a["key"]) for a in runner.report.values()) == EXPECTED[name]
    for alert in runner.report.values():
        assert set(alert["reached"]) <= {"bezoeker", "zorgteam"} and alert["reached"]
        assert alert["state"] == "resolved"
    assert any("Het licht" in t or "Beweging" in t for t in texts(seen))  # the rules were loaded
    # The live home: the same time, no alert in memory or in its store, nobody paged, nothing sent.
    assert clock.now() == before
    assert service.active() == []
    assert await service.recent() == []
    assert all(page.for_caregiver(c) == [] for c in hub.config.caregivers)
    assert isinstance(hub.link, MemoryLink) and hub.link.sent == []
    # Medication is told in its own story only.
    medication = [t for t in texts(seen) if "medic" in t.lower() or "dosis" in t.lower()]
    assert (medication != []) == (name == "missed_medication"), medication
    # The screen is back on the live home, with nothing of the story left.
    assert seen[-1]["type"] == "snapshot" and seen[-1]["sandbox"] is False and seen[-1]["alerts"] == []


@pytest.mark.parametrize("today", [date(2026, 12, 5), date(2026, 12, 9)])  # a Saturday, a Wednesday
async def test_the_morning_routine_is_a_weekday_morning_whatever_day_the_tour_is(
        today: date, hub: Hub, alert_service: tuple[AlertService, PageChannel]) -> None:
    runner, seen = runner_for(hub, alert_service[0])
    runner.today = lambda: today
    start = story_start(STORIES["morning_routine"], runner.tz, today).astimezone(runner.tz)
    assert (start.weekday(), f"{start:%H:%M}") == (1, "06:58")  # the Tuesday of that week
    await runner.play("morning_routine")
    told = [(m["narration"]["time"][11:16], m["narration"]["text"]["nl"]) for m in seen if m["type"] == "narration"]
    assert ("07:00", "Het licht in de slaapkamer gaat aan op 1%.") in told or any(
        t == "07:00" and s.startswith("Het licht in de slaapkamer gaat aan") for t, s in told), told
    assert any(s.startswith("De speaker in de woonkamer zegt: “Goedemorgen") for _, s in told), told
    assert any(s.startswith("Het gordijn in de slaapkamer gaat open") for _, s in told), told


async def test_the_bathroom_light_is_caused_by_getting_up_not_by_the_other_light(
        hub: Hub, alert_service: tuple[AlertService, PageChannel]) -> None:
    runner, seen = runner_for(hub, alert_service[0])
    await runner.play("night_toilet")
    told = [m["narration"] for m in seen if m["type"] == "narration"]
    up = next(i for i, n in enumerate(told) if n["text"]["nl"] == "Mevrouw Jansen stapt uit bed.")
    lights = [i for i, n in enumerate(told)
              if n["text"]["nl"].startswith("Het licht in de") and "aan" in n["text"]["nl"]]
    assert lights and min(lights) > up  # no light before its cause
    bathroom = told[next(i for i in lights if "badkamer" in told[i]["text"]["nl"])]
    assert bathroom["why"]["nl"] == "het oriëntatielicht 's nachts, na: Mevrouw Jansen stapt uit bed"
    assert bathroom["why"]["en"] == "the night-time orientation light, after: Mevrouw Jansen gets out of bed"


# -- the routes: who may start what, and the visitor's token ---------------------------------


@pytest.fixture
async def tour_app(hub: Hub, db: Database, clock: VirtualClock) -> AsyncIterator[FastAPI]:
    yield create_app(hub, db=db, simulated_home=SimulatedHome(hub.config, clock))


@pytest.fixture
async def tour_client(tour_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tour_app),
                                 base_url="http://hub.test") as c:
        yield c


async def test_story_starts_are_limited_per_address(tour_app: FastAPI, tour_client: httpx.AsyncClient) -> None:
    runner: StoryRunner = tour_app.state.huis.stories
    headers = await csrf(tour_client)
    assert (await tour_client.post("/api/tour/stories/no_such_story", headers=headers)).status_code == 404
    for _ in range(runner.limit.limit):
        r = await tour_client.post("/api/tour/reset", headers=headers)
        assert r.status_code == 200
    r = await tour_client.post("/api/tour/stories/night_exit", headers=headers)
    assert r.status_code == 429 and "Too many" in r.json()["detail"]
    assert runner.playing is None
    # Another address may still start one.
    assert runner.request("night_exit", "192.0.2.7") == "queued"
    assert runner.request("night_toilet", "192.0.2.8") == "busy"


async def test_the_visitor_page_needs_the_current_story_token(
        tour_app: FastAPI, tour_client: httpx.AsyncClient) -> None:
    runner: StoryRunner = tour_app.state.huis.stories
    assert (await tour_client.get("/api/visitor/guess")).status_code == 410
    assert (await tour_client.get("/api/tour/visitor-qr.svg", params={"t": "guess"})).status_code == 404
    token = runner.phones.open({"nl": "Test", "en": "Test"})
    assert len(token) >= 20
    r = await tour_client.get("/api/tour/visitor-qr.svg", params={"t": token})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and "<svg" in r.text
    assert (await tour_client.get(f"/api/visitor/{token}")).json() == {
        "type": "snapshot", "story": {"nl": "Test", "en": "Test"}, "alerts": []}
    page = await tour_client.get(f"/bezoeker/{token}")
    assert page.status_code == 200 and "visitor.js" in page.text
    runner.phones.close()
    assert (await tour_client.get(f"/api/visitor/{token}")).status_code == 410
    headers = await csrf(tour_client)
    r = await tour_client.post(f"/api/visitor/{token}/alerts/x/ack", headers=headers)
    assert r.status_code == 410
