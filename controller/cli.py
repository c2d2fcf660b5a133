"""The `huis` command: run the hub, run the demo home, check configuration, drive simulators.

The CLI is the composition root: it is the one place in `controller/` that reaches out to
`dashboard/` and `simulators/`, and it does so lazily, per command.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from controller import logs
from controller.clock import AcceleratedClock, Clock, RealClock
from controller.config import HomeConfig, load_home
from controller.errors import ConfigError, HuisError

log = logging.getLogger("huis")

DEFAULT_CONFIG = "config/home.yaml"
EXIT_CONFIG = 2


def _load(path: str) -> HomeConfig:
    return load_home(path)


def cmd_check(args: argparse.Namespace) -> int:
    """Validate configuration, scenarios and alert policies together; print every problem."""
    from controller.engine.loader import _is_config, check_paths, scenario_files
    from controller.errors import Problem
    from controller.yamlfile import load_file
    from devices import KINDS

    paths = args.paths or [DEFAULT_CONFIG]
    problems: list[Problem] = check_paths(paths, KINDS)
    # The alerts file a configuration names is part of the home: check it too.
    for path in scenario_files(paths):
        try:
            doc = load_file(path)
            if not _is_config(path, doc):
                continue
            cfg = _load(str(path))
        except ConfigError:
            continue  # already reported by check_paths
        if cfg.alerts is not None:
            from controller.app import alerts_config

            try:
                alerts_config(cfg)
            except ConfigError as exc:
                problems.extend(exc.problems)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found.", file=sys.stderr)
        return EXIT_CONFIG
    print(f"OK: {', '.join(str(p) for p in paths)} valid.")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print (or write) the JSON Schema of scenario files, for editor completion."""
    from controller.engine import commands

    return commands.schema(args.output)


def cmd_trace(args: argparse.Namespace) -> int:
    """Print the last runs of a scenario: trigger, conditions, actions, cause chain."""
    from controller.engine import commands

    return commands.trace(_load(args.config), args.scenario, args.limit)


def cmd_reload(args: argparse.Namespace) -> int:
    """Ask the running hub to reload its scenarios (SIGHUP via its pid file)."""
    from controller.engine import commands

    return commands.reload(commands.pid_file_for(_load(args.config)))


def cmd_replay(args: argparse.Namespace) -> int:
    """Play a recorded event log through the scenarios, capturing what would have happened."""
    from controller.replay import replay

    return replay(args.config, args.scenarios, args.log, args.speed)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the hub's history as an event log (CSV) for `huis replay`."""
    from controller.replay import database_path, export

    db = args.db or database_path(args.config)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            return export(db, args.since, args.until, out)
    return export(db, args.since, args.until)


async def _run_until_stopped(main: Coroutine[Any, Any, None]) -> None:
    # SIGTERM (docker stop, systemd) stops as cleanly as Ctrl-C does.
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    await main


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` until it ends or Ctrl-C / SIGTERM stops it; every service stops cleanly.

    Raises the first HuisError when a service could not start (a port in use, say).
    """
    try:
        asyncio.run(_run_until_stopped(main))
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except BaseExceptionGroup as group:
        matched, _ = group.split(HuisError)
        if matched is None:
            raise
        raise _first(matched) from group


def _first(group: BaseExceptionGroup[HuisError]) -> HuisError:
    exc = group.exceptions[0]
    return _first(exc) if isinstance(exc, BaseExceptionGroup) else exc


async def _serve_home(cfg: HomeConfig, clock: Clock, host: str, port: int, *, simulate: bool = False) -> None:
    from controller.app import open_home
    from controller.config import Mqtt
    from controller.runtime import link_settings
    from dashboard.app import create_app
    from dashboard.server import serve

    settings = link_settings(cfg, cfg.mqtt or Mqtt(host=host, port=port))
    home = await open_home(cfg, clock, settings=settings)
    services = []
    simulated = None
    if simulate:
        from simulators.home import SimulatedHome, run_simulators

        simulated = SimulatedHome(cfg, clock)

        async def simulators() -> None:
            await run_simulators(cfg, clock, host, port, home=simulated)

        services.append(simulators)
    app = create_app(home.hub, db=home.db, engine=home.engine, alerts=home.alerts, simulated_home=simulated,
                     history=home.history)

    async def dashboard() -> None:
        await serve(app, cfg.dashboard.host, cfg.dashboard.port)

    from controller.engine import commands

    pid_file = commands.write_pid_file(commands.pid_file_for(cfg))
    commands.install_reload_signal(home.engine)  # SIGHUP / `huis reload`
    try:
        await home.run(dashboard, *services)
    finally:
        pid_file.unlink(missing_ok=True)
        await home.close()


def _overrides(cfg: HomeConfig, args: argparse.Namespace) -> HomeConfig:
    """Apply command-line overrides (containers name the broker host, not the YAML)."""
    from controller.config import Mqtt

    if getattr(args, "mqtt_host", None) or getattr(args, "mqtt_port", None):
        base = cfg.mqtt or Mqtt()
        mqtt = base.model_copy(update={k: v for k, v in (("host", args.mqtt_host), ("port", args.mqtt_port)) if v})
        cfg = cfg.model_copy(update={"mqtt": mqtt})
    if getattr(args, "dashboard_host", None) or getattr(args, "dashboard_port", None):
        dash = cfg.dashboard.model_copy(update={k: v for k, v in (("host", args.dashboard_host),
                                                                  ("port", args.dashboard_port))
                                                if v is not None})
        cfg = cfg.model_copy(update={"dashboard": dash})
    return cfg


def cmd_run(args: argparse.Namespace) -> int:
    """Run the hub against the broker named in the configuration."""
    cfg = _overrides(_load(args.config), args)
    if cfg.mqtt is None:
        print(f"{args.config}: no 'mqtt' section: `huis run` needs an external broker "
              "(use `huis demo` for the embedded one).", file=sys.stderr)
        return EXIT_CONFIG
    clock = RealClock()
    _run(_serve_home(cfg, clock, cfg.mqtt.host, cfg.mqtt.port))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo home: embedded broker (unless configured), simulators, hub and dashboard."""

    from controller.broker import embedded_broker

    cfg = _overrides(_load(args.config), args)
    # Always the demo clock, even at speed 1: tour-guide stories speed it up and jump it to night.
    clock = AcceleratedClock(args.speed or cfg.simulation.speed)

    async def main() -> None:
        if cfg.mqtt is not None:
            await _serve_home(cfg, clock, cfg.mqtt.host, cfg.mqtt.port, simulate=True)
            return
        eb = cfg.embedded_broker
        async with embedded_broker(eb.host, eb.port) as (host, port):
            await _serve_home(cfg, clock, host, port, simulate=True)

    print(f"huis demo: dashboard on http://{cfg.dashboard.host}:{cfg.dashboard.port}  (Ctrl-C stops)")
    _run(main())
    print("huis demo: stopped.")
    return 0


def cmd_simulators(args: argparse.Namespace) -> int:
    """Run the simulated devices of the configured home until stopped (docker-compose)."""
    from simulators.home import run_simulators

    cfg = _overrides(_load(args.config), args)
    speed = args.speed or cfg.simulation.speed
    clock: Clock = AcceleratedClock(speed) if speed != 1 else RealClock()
    host, port = (cfg.mqtt.host, cfg.mqtt.port) if cfg.mqtt else (cfg.embedded_broker.host, cfg.embedded_broker.port)
    _run(run_simulators(cfg, clock, host, port))
    return 0


def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--mqtt-host", default=None, help="override the broker host from the config")
    p.add_argument("--mqtt-port", type=int, default=None)
    p.add_argument("--dashboard-host", default=None, help="override the dashboard address")
    p.add_argument("--dashboard-port", type=int, default=None)


def cmd_user_add(args: argparse.Namespace) -> int:
    """Create a dashboard account; the password is asked for (or read from stdin), never shown."""
    import getpass

    from controller.config import resolve
    from controller.store import Database
    from dashboard.auth import AuthError, create_user

    cfg = _load(args.config)
    if args.role == "caregiver" and args.caregiver not in cfg.caregivers:
        print(f"huis user add: a caregiver account needs --caregiver, one of: {', '.join(cfg.caregivers)}",
              file=sys.stderr)
        return EXIT_CONFIG
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.username}: ")
        if getpass.getpass("Again: ") != password:
            print("huis user add: the passwords differ.", file=sys.stderr)
            return EXIT_CONFIG
    residents = [cfg.resident.pseudonym] if args.role == "caregiver" else []

    async def add() -> None:
        db = await Database.connect(resolve(cfg, cfg.storage.path))
        try:
            await create_user(db, username=args.username, password=password, role=args.role,
                              residents=residents, caregiver=args.caregiver, display_name=args.name,
                              now=RealClock().now())
        finally:
            await db.close()

    try:
        asyncio.run(add())
    except AuthError as exc:
        print(f"huis user add: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"Added {args.role} '{args.username}'.")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Drive a simulated device by hand."""
    from simulators.cli import simulate

    return simulate(args)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="huis", description="Domotics hub for the Huis van de toekomst.")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run the hub against an external MQTT broker")
    _server_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="run the demo home: broker, simulators, hub, dashboard")
    _server_options(p)
    p.add_argument("--speed", type=float, default=None, help="simulated seconds per real second")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("simulators", help="run only the simulated devices against a broker")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--mqtt-host", default=None)
    p.add_argument("--mqtt-port", type=int, default=None)
    p.add_argument("--speed", type=float, default=None, help="simulated seconds per real second")
    p.set_defaults(func=cmd_simulators)

    p = sub.add_parser("check", help="validate configuration and scenario files")
    p.add_argument("paths", nargs="*", help=f"files to check (default: {DEFAULT_CONFIG})")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files (editor completion)")
    p.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("trace", help="why a scenario did or did not fire: its last runs")
    p.add_argument("scenario", nargs="?", default=None, help="scenario id (default: all)")
    p.add_argument("-n", "--limit", type=int, default=20)
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("reload", help="reload the running hub's scenarios (atomic; invalid sets are refused)")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(func=cmd_reload)

    p = sub.add_parser("replay", help="play a recorded event log through the scenarios (dry run)")
    p.add_argument("log", help="CSV: timestamp,device,attribute,value")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--scenarios", nargs="*", default=None, help="scenario files or folders (default: the config's)")
    p.add_argument("--speed", type=float, default=None, help="play at N x real time instead of instantly")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("export", help="write the hub's history as an event log for `huis replay`")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--db", default=None, help="database file (default: the config's storage.path)")
    p.add_argument("--since", default=None, help="ISO date/time or a duration ago (7d)")
    p.add_argument("--until", default=None)
    p.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("user", help="manage dashboard accounts")
    user_sub = p.add_subparsers(dest="user_command", required=True)
    p = user_sub.add_parser("add", help="add an account (caregiver, technician or admin)")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=("caregiver", "technician", "admin"))
    p.add_argument("--caregiver", default=None, help="for a caregiver: their id in config/home.yaml")
    p.add_argument("--name", default=None, help="the name shown in the dashboard")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(func=cmd_user_add)

    p = sub.add_parser("simulate", help="drive simulated devices by hand (e.g. the bed becomes empty)")
    from simulators.cli import add_arguments

    add_arguments(p)
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(func=cmd_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `huis` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(args.log_level, args.log_json)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return EXIT_CONFIG
    except HuisError as exc:
        print(f"huis {args.command}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
