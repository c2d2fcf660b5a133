"""`huis simulate` against a real mosquitto: what it publishes, delegation, errors."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from controller.clock import VirtualClock
from huis.cli import build_parser
from huis.compose import load_home
from simulators.home import SimulatedHome
from tests.conftest import DEMO_CONFIG, Mosquitto, free_port
from tests.simulators.conftest import Recorder, rig


def config_for(tmp_path: Path, port: int) -> str:
    """The demo home, with its embedded-broker address pointing at the test's mosquitto."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    text, n = re.subn(r"(embedded_broker:\n  host: 127\.0\.0\.1\n  port: )\d+", rf"\g<1>{port}", text)
    assert n == 1
    path = tmp_path / "home.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


async def run_cli(config: str, *argv: str) -> int:
    args = build_parser().parse_args(["simulate", "--config", config, *argv])
    # simulate() runs its own event loop, as the console script does: give it a thread.
    return await asyncio.to_thread(args.func, args)


@pytest.fixture
async def recorder(mosquitto: Mosquitto, clock: VirtualClock):  # type: ignore[no-untyped-def]
    rec = Recorder(mosquitto.host, mosquitto.port, clock)
    task = asyncio.create_task(rec.link.run())
    async with asyncio.timeout(5):
        await rec.link.connected.wait()
    yield rec
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def device_messages(rec: Recorder) -> list[str]:
    return [t for t, _ in rec.messages if t.startswith(("zigbee2mqtt/", "espresense/", "huis/dispenser"))]


async def test_bed_becomes_empty(tmp_path: Path, mosquitto: Mosquitto, recorder: Recorder,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    config = config_for(tmp_path, mosquitto.port)
    assert await run_cli(config, "bed_sensor", "occupancy=false") == 0
    state = await recorder.next("zigbee2mqtt/bed_sensor")
    assert set(state) == {"occupancy", "battery", "linkquality"} and state["occupancy"] is False
    out = capsys.readouterr().out
    assert "-> zigbee2mqtt/bed_sensor: {\"occupancy\":false," in out
    # Exactly the change: no availability, no other device.
    assert device_messages(recorder) == ["zigbee2mqtt/bed_sensor"]


@pytest.mark.parametrize("argv, topic, expected", [
    (("front_door", "contact=false"), "zigbee2mqtt/front_door", {"contact": False}),
    (("sos_button", "action=emergency"), "zigbee2mqtt/sos_button", {"action": "emergency"}),
    (("hall_light", "state=on", "brightness=100"), "zigbee2mqtt/hall_light",
     {"state": "ON", "brightness": 100}),
    (("dispenser", "doses_left=3"), "huis/dispenser/dispenser/state", {"doses_left": 3}),
    (("wander_tag", "room=hall"), "espresense/devices/wander_tag/hall", {"id": "wander_tag"}),
])
async def test_devices_by_hand(tmp_path: Path, mosquitto: Mosquitto, recorder: Recorder,
                               argv: tuple[str, ...], topic: str, expected: dict[str, object]) -> None:
    assert await run_cli(config_for(tmp_path, mosquitto.port), *argv) == 0
    got = await recorder.until(topic, lambda p: True)
    assert {k: got[k] for k in expected} == expected


async def test_tag_outside_publishes_nothing(tmp_path: Path, mosquitto: Mosquitto,
                                             recorder: Recorder) -> None:
    assert await run_cli(config_for(tmp_path, mosquitto.port), "wander_tag", "room=outside") == 0
    assert device_messages(recorder) == []
    # The command waited for the broker's acknowledgement before exiting, so nothing is late.


async def test_availability_by_hand(tmp_path: Path, mosquitto: Mosquitto, recorder: Recorder) -> None:
    assert await run_cli(config_for(tmp_path, mosquitto.port), "kitchen_motion",
                         "availability=offline") == 0
    assert await recorder.next("zigbee2mqtt/kitchen_motion/availability") == {"state": "offline"}


async def test_story_runs_to_its_end(tmp_path: Path, mosquitto: Mosquitto, recorder: Recorder,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = config_for(tmp_path, mosquitto.port)
    assert await run_cli(config, "--story", "night_toilet", "--speed", "3600") == 0
    await recorder.wait_for(lambda: len(recorder.raw("zigbee2mqtt/bed_sensor")) == 3)
    assert [p["occupancy"] for p in recorder.payloads("zigbee2mqtt/bed_sensor")] == [True, False, True]
    assert any(p["occupancy"] for p in recorder.payloads("zigbee2mqtt/bathroom_motion"))
    out = capsys.readouterr().out
    assert "Ze stapt uit bed." in out  # the demo home speaks Dutch


async def test_running_home_does_the_change(tmp_path: Path, mosquitto: Mosquitto,
                                            clock: VirtualClock,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    config = config_for(tmp_path, mosquitto.port)
    home = SimulatedHome(load_home(config), clock)
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        home.start(r.conn, r.tg)
        try:
            await r.sync()
            assert await run_cli(config, "front_door", "contact=false") == 0
            assert home["front_door"].contact is False  # the running home's own device changed
            await r.rec.until("zigbee2mqtt/front_door", lambda p: p["contact"] is False)
            assert "done by the running simulated home" in capsys.readouterr().out

            assert await run_cli(config, "front_door", "contact=false", "--local") == 0
            assert "-> zigbee2mqtt/front_door" in capsys.readouterr().out
        finally:
            home.stop()


async def test_errors_say_what_was_meant(tmp_path: Path, mosquitto: Mosquitto,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    config = config_for(tmp_path, mosquitto.port)
    assert await run_cli(config, "bed_sensr", "occupancy=false") == 2
    assert "there is no device 'bed_sensr'" in capsys.readouterr().err
    assert await run_cli(config, "bed_sensor", "ocupancy=false") == 2
    assert "did you mean 'occupancy'" in capsys.readouterr().err
    assert await run_cli(config, "front_door", "contact=ajar") == 2
    assert "contact takes true or false" in capsys.readouterr().err
    assert await run_cli(config, "bed_sensor") == 2
    assert "bed_sensor has: occupancy" in capsys.readouterr().err.replace("device has", "bed_sensor has")
    assert await run_cli(config, "--story", "wanderng") == 2
    assert "did you mean 'wandering'" in capsys.readouterr().err


async def test_broker_not_reachable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert await run_cli(config_for(tmp_path, port), "bed_sensor", "occupancy=false",
                         "--timeout", "0.5") == 1
    assert f"cannot reach the MQTT broker at 127.0.0.1:{port}" in capsys.readouterr().err


async def test_leaves_only_one_retained_status_behind(tmp_path: Path, mosquitto: Mosquitto,
                                                clock: VirtualClock) -> None:
    assert await run_cli(config_for(tmp_path, mosquitto.port), "bed_sensor", "occupancy=true") == 0
    late = Recorder(mosquitto.host, mosquitto.port, clock)
    task = asyncio.create_task(late.link.run())
    try:
        async with asyncio.timeout(5):
            await late.link.connected.wait()
        late.link.send("test/marker", b"x")  # after the retained messages, in order
        await late.wait_for(lambda: bool(late.raw("test/marker")))
        # Just the shared last will of `huis simulate` clients: no retained 'online', nothing
        # per run, and nothing that looks like a device.
        left = [(t, p) for t, p in late.messages if not t.startswith("test/")]
        assert left == [("huis/simulate/status", b"offline")]
    finally:
        task.cancel()


async def test_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_cli(config_for(tmp_path, 1884), "--list") == 0
    out = capsys.readouterr().out
    assert "wander_tag" in out and "room=bedroom|bathroom|hall|living|kitchen|garden|outside" in out
    assert "night_exit" in out
