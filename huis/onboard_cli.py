"""`huis devices`: Zigbee2MQTT onboarding from the command line, as on the technician console.

    huis devices new                                  # what Zigbee2MQTT has that home.yaml does not
    huis devices propose 0x00158d000411086c --room hall --name "Beweging hal 2"
    huis devices permit-join --seconds 120            # 1..254; 0 closes

The command logs in to the home's broker with the hub's account under a client id of its own,
reads the retained `zigbee2mqtt/bridge/devices` and, for permit-join, publishes
`bridge/request/permit_join` `{"time": N}` and prints Zigbee2MQTT's answer. `propose` prints the
`home.yaml` line and the problems `huis check` would report with it; nothing is written.
Permit joining is written to the dashboard's audit log as done by "cli".
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import Callable
from typing import Any

from controller.clock import RealClock
from controller.config import HomeConfig, resolve
from controller.mqtt import MqttLink
from controller.store import Database
from dashboard.auth import Auth, User
from devices import KINDS
from devices.onboarding import NoAdapter, propose, text
from devices.z2m_bridge import PERMIT_MAX, Bridge, BridgeDevice, adapter_for, looks_like
from huis.compose import hub_settings, load_home

EXIT_PROBLEMS = 2
EXIT_NO_ANSWER = 1
CLI = User(id=0, username="cli", role="technician", display_name="command line")


async def _follow(cfg: HomeConfig, bridge: Bridge, done: Callable[[], bool], wait: float,
                  send: tuple[str, bytes] | None = None) -> bool:
    """Listen to the bridge topics (and publish `send` once subscribed) until `done()` or
    `wait` seconds; whether `done()` became true."""
    host, port = (cfg.mqtt.host, cfg.mqtt.port) if cfg.mqtt else (cfg.embedded_broker.host, cfg.embedded_broker.port)
    settings = dataclasses.replace(hub_settings(cfg, host, port), client_id=f"huis-devices-{os.getpid()}",
                                   persistent=False)
    clock = RealClock()
    changed = asyncio.Event()

    def on_message(topic: str, payload: bytes) -> None:
        bridge.handle(topic, payload, clock.now())
        changed.set()

    link = MqttLink(settings, clock, on_message)
    link.subscribe(*bridge.topics)
    task = asyncio.create_task(link.run(), name="devices-cli-mqtt")
    try:
        async with asyncio.timeout(wait):
            await link.connected.wait()
            if send is not None:
                link.send(send[0], send[1], qos=1, retain=False)
            while not done():
                changed.clear()
                await changed.wait()
        return True
    except TimeoutError:
        return done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _lang(args: argparse.Namespace, cfg: HomeConfig) -> str:
    return str(args.lang or cfg.home.language)


def _describe(dev: BridgeDevice, lang: str) -> list[str]:
    kind = adapter_for(dev.model, KINDS)
    what = text("kind", lang, kind=kind) if kind else text("no_adapter", lang)
    if kind is None and (hint := looks_like(dev)):
        what += "; " + text("looks_like", lang, kind=hint, feature=", ".join(dev.exposes[:3]))
    notes = [n for n, on in (("unsupported", not dev.supported), ("interviewing", not dev.interview_completed)) if on]
    lines = [f"  {dev.ieee}  {dev.vendor or '?'} {dev.model or dev.model_id or '?'}: {dev.description or ''}",
             f"      {what}" + "".join(f"; {text(n, lang)}" for n in notes),
             f"      exposes: {', '.join(dev.exposes) or '-'}"]
    return lines


async def _heard(cfg: HomeConfig, wait: float) -> Bridge | None:
    bridge = Bridge()
    ok = await _follow(cfg, bridge, lambda: bridge.heard_devices is not None, wait)
    return bridge if ok else None


def cmd_new(args: argparse.Namespace) -> int:
    """List what Zigbee2MQTT reports that the home does not know yet."""
    cfg = load_home(args.config)
    lang = _lang(args, cfg)
    bridge = asyncio.run(_heard(cfg, args.timeout))
    if bridge is None:
        print(text("no_bridge", lang, topic="zigbee2mqtt/bridge/devices", seconds=args.timeout), file=sys.stderr)
        return EXIT_NO_ANSWER
    new = bridge.new_devices(cfg)
    if not new:
        print(text("none_new", lang))
        return 0
    print(text("new_title", lang, config=args.config))
    for dev in new:
        print("\n".join(_describe(dev, lang)))
    return 0


def cmd_propose(args: argparse.Namespace) -> int:
    """Print the checked home.yaml line for one new device."""
    cfg = load_home(args.config)
    lang = _lang(args, cfg)
    bridge = asyncio.run(_heard(cfg, args.timeout))
    if bridge is None:
        print(text("no_bridge", lang, topic="zigbee2mqtt/bridge/devices", seconds=args.timeout), file=sys.stderr)
        return EXIT_NO_ANSWER
    dev = next((d for d in bridge.new_devices(cfg) if d.ieee == args.ieee), None)
    if dev is None:
        print(text("unknown_ieee", lang, ieee=args.ieee), file=sys.stderr)
        return EXIT_PROBLEMS
    try:
        proposal = propose(dev, cfg, KINDS, room=args.room, name=args.name, device_id=args.id)
    except NoAdapter:
        print("\n".join(_describe(dev, lang)), file=sys.stderr)
        return EXIT_PROBLEMS
    print(text("proposal", lang, config=args.config))
    print(f"  {proposal.yaml}")
    for problem in proposal.problems:
        print(problem, file=sys.stderr)
    print(text("valid", lang) if proposal.ok else text("invalid", lang, n=len(proposal.problems)))
    print(text("not_written", lang, config=args.config))
    return 0 if proposal.ok else EXIT_PROBLEMS


async def _audit(cfg: HomeConfig, detail: str) -> None:
    async with await Database.connect(resolve(cfg, cfg.storage.path), component="devices-cli") as db:
        await Auth(db, RealClock()).audit(CLI, "zigbee_permit_join", detail=detail)


def cmd_permit_join(args: argparse.Namespace) -> int:
    """Ask Zigbee2MQTT to permit joining for a while and print its answer."""
    cfg = load_home(args.config)
    lang = _lang(args, cfg)
    if not 0 <= args.seconds <= PERMIT_MAX:
        print(f"huis devices permit-join: --seconds takes 0..{PERMIT_MAX} (0 closes)", file=sys.stderr)
        return EXIT_PROBLEMS
    bridge = Bridge()
    clock = RealClock()
    request = bridge.request_permit(args.seconds, clock.now())
    print(text("permit_sent", lang, seconds=args.seconds))
    answered = asyncio.run(_follow(cfg, bridge, lambda: bridge.permit.status is not None, args.timeout, request))
    asyncio.run(_audit(cfg, f"{args.seconds} s ({bridge.permit.transaction}): "
                            f"{bridge.permit.status or 'no answer'}"))
    permit = bridge.permit
    if not answered:
        print(text("permit_silent", lang, topic="zigbee2mqtt/bridge/response/permit_join", seconds=args.timeout),
              file=sys.stderr)
        return EXIT_NO_ANSWER
    if permit.status == "error":
        print(text("permit_error", lang, error=permit.error), file=sys.stderr)
        return EXIT_PROBLEMS
    if permit.until is None:
        print(text("permit_closed", lang))
    else:
        until = permit.until.astimezone().strftime("%H:%M:%S")
        print(text("permit_ok", lang, seconds=permit.seconds, until=until))
    return 0


def register(sub: Any, default_config: str) -> None:
    """Add `huis devices new|propose|permit-join` to the CLI's subcommands."""
    p = sub.add_parser("devices", help="Zigbee2MQTT onboarding: new devices, home.yaml proposals, permit join")
    dev_sub = p.add_subparsers(dest="devices_command", required=True)
    new = dev_sub.add_parser("new", help="what Zigbee2MQTT reports that home.yaml does not have yet")
    new.set_defaults(func=cmd_new)
    prop = dev_sub.add_parser("propose", help="the checked home.yaml line for a new device (not written)")
    prop.add_argument("ieee", help="the device's IEEE address, as `huis devices new` lists it")
    prop.add_argument("--room", required=True, help="the room id from home.yaml")
    prop.add_argument("--name", default=None, help="the name people read (default: the model's description)")
    prop.add_argument("--id", default=None, help="the huis device id (default: from the name)")
    prop.set_defaults(func=cmd_propose)
    permit = dev_sub.add_parser("permit-join", help="let new Zigbee devices join for a while")
    permit.add_argument("--seconds", type=int, default=120, help=f"1..{PERMIT_MAX} (default 120); 0 closes")
    permit.set_defaults(func=cmd_permit_join)
    for q, wait in ((new, 5.0), (prop, 5.0), (permit, 10.0)):
        q.add_argument("--config", default=default_config)
        q.add_argument("--lang", choices=("nl", "en"), default=None, help="default: the home's language")
        q.add_argument("--timeout", type=float, default=wait, help="seconds to wait for Zigbee2MQTT")
