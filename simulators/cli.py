"""`huis simulate`: drive simulated devices by hand against the configured broker.

    huis simulate bed_sensor occupancy=false
    huis simulate front_door contact=false
    huis simulate sos_button action=emergency
    huis simulate wander_tag room=outside
    huis simulate --story night_exit --speed 60
    huis simulate --list

When a simulated home is running (`huis demo`; it keeps `huis/simulators/status` at `online`)
the request goes to it, so its devices stay consistent: the bed stays empty, a motion sensor
still resets after its timeout, a tag that went outside stays silent. Otherwise the command
publishes itself exactly what the real device would for that change, and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from controller.clock import AcceleratedClock, Clock, RealClock
from controller.config import HomeConfig
from controller.durations import format_duration
from simulators.base import AVAILABILITY_ATTR, SimulationError
from simulators.connection import BrokerConnection, Connection, Handler
from simulators.home import (
    CONTROL_TOPIC,
    REPLY_TOPIC,
    STATUS_TOPIC,
    SimulatedHome,
    broker_settings,
)
from simulators.story_scripts import STORIES, Step, Story

EXIT_USAGE = 2
EXIT_BROKER = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `huis simulate` (`--config` is added by huis.cli)."""
    parser.add_argument("device", nargs="?", help="device id from the configuration, e.g. bed_sensor")
    parser.add_argument("values", nargs="*", metavar="attribute=value",
                        help="what changes, e.g. occupancy=false contact=false room=outside")
    parser.add_argument("--story", help=f"play a demo story: {', '.join(STORIES)}")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="for a story without a running demo: simulated seconds per real second")
    parser.add_argument("--list", action="store_true", help="list devices, their attributes and the stories")
    parser.add_argument("--local", action="store_true",
                        help="publish from this command even if a simulated home is running")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the broker")


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """What the command line asks for, validated against the home."""

    device: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    story: Story | None = None


def simulate(args: argparse.Namespace, cfg: HomeConfig) -> int:
    """Run `huis simulate` on the home `cfg` (loaded by the caller); returns the exit code."""
    home = SimulatedHome(cfg, RealClock())
    if args.list:
        print(listing(home))
        return 0
    try:
        request = parse_request(home, args.device, args.values, args.story)
        if args.speed <= 0:
            raise SimulationError("--speed must be positive")
    except SimulationError as exc:
        print(f"huis simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    host, port = (cfg.mqtt.host, cfg.mqtt.port) if cfg.mqtt else (cfg.embedded_broker.host,
                                                                   cfg.embedded_broker.port)
    try:
        return asyncio.run(run_request(cfg, request, host, port, speed=args.speed,
                                       broker_wait=args.timeout, local=args.local))
    except KeyboardInterrupt:
        return 130


def parse_request(home: SimulatedHome, device: str | None, values: list[str],
                  story: str | None) -> Request:
    """Validate the command line; SimulationError with a 'did you mean' when something is wrong."""
    if story is not None:
        if device is not None or values:
            raise SimulationError("give either a device with attribute=value, or --story, not both")
        found = home.story(story)
        home.check(found)
        return Request(story=found)
    if device is None:
        raise SimulationError("name a device and what changes (e.g. `huis simulate bed_sensor "
                              "occupancy=false`), or a --story; --list shows what there is")
    if device not in home:
        raise SimulationError(home.unknown_device(device))
    sim = home[device]
    names = [a.name for a in (*sim.attributes, AVAILABILITY_ATTR)]
    if not values:
        raise SimulationError(f"say what changes on {device}, e.g. {names[0]}=...; "
                              f"a {sim.kind} device has: {', '.join(names)}")
    raw: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SimulationError(f"'{item}' is not attribute=value (e.g. {names[0]}=...)")
        raw[key.strip()] = value.strip()
    return Request(device=device, values=sim.coerce(raw))


def listing(home: SimulatedHome) -> str:
    """Devices with their attributes, and the stories, for `--list`."""
    lines = ["Devices:"]
    for sim in home:
        lines.append(f"  {sim.id:<18} {sim.kind:<10} {sim.spec.topic}")
        for attr in (*sim.attributes, AVAILABILITY_ATTR):
            what = "|".join(attr.choices) if attr.choices else attr.type
            lines.append(f"      {attr.name}={what}  {attr.help}")
    lines.append("Stories:")
    for story in STORIES.values():
        lines.append(f"  {story.name:<18} {format_duration(story.duration):>6}  {story.title_en}")
    return "\n".join(lines)


class _Echo:
    """A publisher that prints what it sends, so the user sees exactly what went out."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        flag = " (retained)" if retain else ""
        print(f"-> {topic}{flag}: {payload.decode('utf-8', errors='replace')}")
        self._conn.send(topic, payload, qos=qos, retain=retain)

    def subscribe(self, flt: str, handler: Handler) -> None:
        self._conn.subscribe(flt, handler)

    async def flush(self) -> None:
        await self._conn.flush()


_ids = itertools.count(1)


async def run_request(cfg: HomeConfig, request: Request, host: str, port: int, *,
                      speed: float = 1.0, broker_wait: float = 5.0, local: bool = False) -> int:
    """Connect, carry out `request` (through a running simulated home if there is one), exit."""
    pid = os.getpid()
    # MqttLink announces every client on a status topic with a retained last will. One shared
    # topic for all `huis simulate` runs keeps that to a single retained 'offline' message.
    status = "huis/simulate/status"
    clock: Clock = AcceleratedClock(speed) if speed != 1 else RealClock()
    conn = BrokerConnection(broker_settings(cfg, host, port, f"huis-simulate-{pid}", status), clock)
    # Subscribed before connecting, so both are in place before anything is published: the
    # retained home status arrives right after the connect, and no reply can be missed.
    home_status: list[bytes] = []
    conn.subscribe(STATUS_TOPIC, lambda _t, payload: home_status.append(payload))
    replies = _Replies()
    conn.subscribe(f"{REPLY_TOPIC}/+", replies.on_message)
    async with asyncio.TaskGroup() as tg:
        link = tg.create_task(conn.run(), name="simulate-mqtt")
        try:
            try:
                async with asyncio.timeout(broker_wait):
                    await conn.connected()
                    # The marker comes back after the broker handed out the retained status.
                    await conn.flush()
            except TimeoutError:
                print(f"huis simulate: cannot reach the MQTT broker at {host}:{port} "
                      f"(is `huis demo` or the broker running?)", file=sys.stderr)
                return EXIT_BROKER
            if not local and home_status[-1:] == [b"online"]:
                if request.story is not None and speed != 1:
                    print("note: a running demo plays stories on its own clock; --speed is ignored "
                          "(use --local to play it from here at that speed).")
                code = await _delegate(conn, replies, request, broker_wait, cfg.home.language)
            else:
                code = await _publish_locally(cfg, clock, conn, tg, request)
            try:
                async with asyncio.timeout(broker_wait):
                    await conn.flush()
            except TimeoutError:
                print("huis simulate: the broker did not confirm the messages", file=sys.stderr)
                return EXIT_BROKER
            return code
        finally:
            link.cancel()


class _Replies:
    """Replies of the running simulated home, by request id; progress goes to `on_progress`."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.on_progress: Callable[[dict[str, Any]], None] | None = None

    def expect(self, req_id: str) -> asyncio.Future[dict[str, Any]]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = fut
        return fut

    def on_message(self, _topic: str, payload: bytes) -> None:
        try:
            reply = json.loads(payload)
        except ValueError:
            return
        if not isinstance(reply, dict) or str(reply.get("id")) not in self._waiting:
            return
        if "ok" not in reply:  # a story's pace or one of its steps, before the answer
            if self.on_progress is not None:
                self.on_progress(reply)
            return
        fut = self._waiting.pop(str(reply.get("id")))
        if not fut.done():
            fut.set_result(reply)


async def _delegate(conn: BrokerConnection, replies: _Replies, request: Request,
                    broker_wait: float, language: str = "nl") -> int:
    req_id = f"{os.getpid()}-{next(_ids)}"
    answer = replies.expect(req_id)
    message: dict[str, Any] = {"id": req_id}
    if request.story is not None:
        message["story"] = request.story.name
        print(f"huis simulate: the running demo plays '{request.story.name}' "
              f"({format_duration(request.story.duration)} of its clock)...", flush=True)
        replies.on_progress = _StoryProgress(request.story, language)
    else:
        message.update(device=request.device, set=dict(request.values))
    conn.send(CONTROL_TOPIC, json.dumps(message).encode())
    try:
        # A story takes as long as it takes on the demo's clock; a device change is quick
        # (a curtain needs its travel time).
        wait = None if request.story is not None else broker_wait + 60
        async with asyncio.timeout(wait):
            reply = await answer
    except TimeoutError:
        print("huis simulate: the running simulated home did not answer", file=sys.stderr)
        return EXIT_BROKER
    if not reply.get("ok"):
        print(f"huis simulate: {reply.get('error', 'failed')}", file=sys.stderr)
        return EXIT_USAGE
    if request.story is not None:
        print(f"huis simulate: story '{request.story.name}' finished.")
    else:
        changes = " ".join(f"{k}={_show(v)}" for k, v in request.values.items())
        print(f"huis simulate: {request.device}: {changes} (done by the running simulated home)")
    return 0


class _StoryProgress:
    """Prints a story the running demo plays: its pace (and why it is not faster), each step."""

    def __init__(self, story: Story, language: str) -> None:
        self.story = story
        self.language = language

    def __call__(self, message: dict[str, Any]) -> None:
        started, step = message.get("started"), message.get("step")
        if isinstance(started, dict):
            print(self.pace(float(started.get("speed") or 1.0)), flush=True)
        elif isinstance(step, dict):
            text = step.get("text") if self.language == "nl" else step.get("text_en")
            at = format_duration(timedelta(seconds=float(step.get("at") or 0)))
            total = format_duration(self.story.duration)
            if text:
                print(f"[+{at} of {total}] {text}", flush=True)

    def pace(self, speed: float) -> str:
        """What the pace means in real minutes, and what to do when it is too slow."""
        story = self.story
        real = format_duration(timedelta(seconds=round(story.duration.total_seconds() / speed)))
        line = f"huis simulate: at the demo clock's pace ({speed:g}x) this takes about {real} of real time."
        if speed >= story.speed:
            return line
        return (f"{line}\n  It cannot play faster here: the story plays on the live hub's clock, and "
                f"speeding that up would move the live home's time and schedules too.\n  Instead: "
                f"the tour page's story buttons play it at the story's pace ({story.speed:g}x), or "
                f"start the demo faster (`huis demo --speed {story.speed:g}`) and run this again.")


async def _publish_locally(cfg: HomeConfig, clock: Clock, conn: BrokerConnection,
                           tg: asyncio.TaskGroup, request: Request) -> int:
    home = SimulatedHome(cfg, clock)
    out = _Echo(conn)
    try:
        if request.story is not None:
            # Devices only say what the story makes them do: no announcements, no heartbeats.
            for sim in home:
                sim.attach(out, tg)

            def show(story: Story, step: Step) -> None:
                text = step.text if cfg.home.language == "nl" else step.text_en
                if text:
                    print(f"[+{format_duration(step.at)}] {text}")

            home.step_listeners.append(show)
            speed = clock.speed if isinstance(clock, AcceleratedClock) else 1.0
            real = timedelta(seconds=round(request.story.duration.total_seconds() / speed))
            print(f"huis simulate: playing '{request.story.name}' from here at {speed:g}x: about "
                  f"{format_duration(real)} of real time" + ("" if speed > 1 else
                  f" (--speed {request.story.speed:g} plays it at the story's pace)") + ".", flush=True)
            await home.play(request.story)
        else:
            assert request.device is not None
            sim = home[request.device]
            sim.attach(out, tg)
            await sim.apply(request.values)
            if sim.kind == "motion" and request.values.get("occupancy") is True:
                print(f"note: Zigbee2MQTT would send occupancy=false after the timeout; this command "
                      f"exits now, so send it with `huis simulate {sim.id} occupancy=false`.")
            if sim.kind == "tag" and request.values.get("room") not in (None, "outside"):
                print("note: ESPresense repeats this every few seconds; this command sent one report.")
    except SimulationError as exc:
        print(f"huis simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        for sim in home:
            sim.detach()
    return 0


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)
