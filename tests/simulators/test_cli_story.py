"""`huis simulate --story` with a simulated home running: the pace, why, and each step as it plays."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from controller.clock import VirtualClock
from controller.durations import format_duration
from huis.compose import load_home
from simulators.home import SimulatedHome
from simulators.story_scripts import STORIES
from tests.conftest import Mosquitto
from tests.simulators.conftest import rig
from tests.simulators.test_cli import config_for, run_cli


async def test_a_story_on_the_running_demo_says_its_pace_and_shows_each_step(
        tmp_path: Path, mosquitto: Mosquitto, clock: VirtualClock, capsys: pytest.CaptureFixture[str]) -> None:
    config = config_for(tmp_path, mosquitto.port)
    home = SimulatedHome(load_home(config), clock)  # a clock at real-time pace, as the live hub's
    story = STORIES["night_toilet"]
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        home.start(r.conn, r.tg)
        try:
            await r.sync()
            cli = asyncio.create_task(run_cli(config, "--story", "night_toilet"))
            await r.rec.wait_for(lambda: any(t.startswith("huis/simulators/reply/") and b'"started"' in p
                                             for t, p in r.rec.messages))
            await clock.advance(story.duration)
            assert await cli == 0
        finally:
            home.stop()
    out = capsys.readouterr().out.splitlines()
    assert "huis simulate: at the demo clock's pace (1x) this takes about 8m of real time." in out
    assert any(line.startswith("  It cannot play faster here: the story plays on the live hub's clock")
               for line in out), out
    assert any("`huis demo --speed 20`" in line for line in out), out
    # Every step with a text, in order, with where it is in the story.
    steps = [line for line in out if line.startswith("[+")]
    assert steps == [f"[+{format_duration(s.at)} of 8m] {s.text}" for s in story.steps if s.text]
    assert any(line.endswith("] Ze stapt uit bed.") for line in steps), steps
    assert out[-1] == "huis simulate: story 'night_toilet' finished."

