"""The `huis` command: run the hub, run the demo home, check configuration, drive simulators.

Each subcommand is a `cmd_*` function taking the parsed arguments; what the scenario commands
do is in plain functions (`check`, `schema`, `trace`, `reload`, `replay`) that tests call too.
Homes are built by `huis.compose`, the composition root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

# What `huis run` does not need is imported inside the commands that do (start-up time: the
# first reaction within 500 ms of exec, docs/performance.md).
from controller import logs
from controller.alerts.policy import AlertsConfig
from controller.clock import Clock, RealClock
from controller.config import HomeConfig, Mqtt, read_home, resolve
from controller.errors import ConfigError, HuisError, Problem
from controller.store import Database
from devices import KINDS
from huis.check_cli import check, home_problems
from huis.compose import (
    Parts,
    alerts_config,
    broker_credentials,
    install_reload_signal,
    load_home,
    pid_file_for,
    serve_home,
    write_pid_file,
)
from huis.trace_cli import trace

log = logging.getLogger("huis")

__all__ = ["check", "install_reload_signal", "main", "pid_file_for", "reload", "replay", "schema", "trace",
           "write_pid_file"]

DEFAULT_CONFIG = "config/home.yaml"
EXIT_CONFIG = 2  # a problem in the configuration or scenario files (also `huis check`)
SERVERS = ("run", "demo", "simulators")  # the commands that run until stopped


# -- what the scenario commands do ----------------------------------------------------------------


def schema(output: str | Path | None = None, out: TextIO | None = None) -> int:
    """Write the scenario JSON Schema to `output` (or stdout)."""
    from controller.engine.schema import schema_text

    text = schema_text()
    if output is None:
        (out or sys.stdout).write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
    return 0


def reload(pid_file: str | Path, err: TextIO | None = None) -> int:
    """Ask the running hub to reload its scenarios (SIGHUP); 1 when no hub is running."""
    err = err or sys.stderr
    try:
        pid = int(Path(pid_file).read_text(encoding="utf-8").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        print(f"cannot reach the running hub through {pid_file}: {exc}", file=err)
        return 1
    print(f"asked hub {pid} to reload; `huis check` first shows problems, the hub log shows the "
          "result (an invalid set is refused and the running scenarios stay).", file=err)
    return 0


def replay(config_path: str | Path, scenario_paths: Sequence[str | Path] | None, csv_path: str | Path,
           speed: float | None = None, out: TextIO | None = None, *, per_period: bool = False,
           json_path: str | Path | None = None, night: str | None = None) -> int:
    """`huis replay`: 0 when the log was replayed; 2 with every problem in the files.

    `scenario_paths` empty or None means the scenario folders named by the configuration.
    `per_period` prints the per day and night summary instead of every line; `json_path`
    writes it as JSON too ('-': to `out`, instead of any text); `night` is '22:00-07:00'.
    """
    from controller.replay import check_log, periods_of, replay_rows, summary
    from controller.replay_summary import NIGHT, parse_night, render, to_json

    stream = out if out is not None else sys.stdout
    problem = _replay_options(speed, night)
    if problem:
        print(f"huis replay: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    window = parse_night(night) if night else NIGHT
    to_stdout = json_path is not None and str(json_path) == "-"
    try:
        cfg = load_home(config_path)
        parts = Parts.load(cfg, list(scenario_paths) if scenario_paths else None)
        rows = check_log(parts, csv_path)
        report = asyncio.run(replay_rows(parts, rows, stream, speed=speed, source=str(csv_path),
                                         quiet=per_period or to_stdout))
    except ConfigError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found.", file=sys.stderr)
        return EXIT_CONFIG
    tz = ZoneInfo(cfg.home.location.timezone)
    periods = periods_of(report, tz, window)
    if json_path is not None:
        doc = json.dumps(to_json(periods, window, log=str(csv_path), events=report.events, tz=tz),
                         ensure_ascii=False, indent=2) + "\n"
        if to_stdout:
            stream.write(doc)
            return 0
        if not _write(json_path, doc):
            return 1
    if per_period:
        stream.write(render(periods, tz, window))
    print(summary(report), file=stream)
    return 0


def _write(path: str | Path, text: str) -> bool:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"huis replay: cannot write {path}: {exc}", file=sys.stderr)
        return False
    return True


def _replay_options(speed: float | None, night: str | None) -> str | None:
    """What is wrong with `huis replay`'s options, if anything."""
    from controller.replay_summary import parse_night

    if speed is not None and not speed > 0:
        return f"--speed must be a positive number, not {speed:g}"
    if night:
        try:
            parse_night(night)
        except ValueError as exc:
            return f"--night: {exc}"
    return None


def _replay_paths(args: argparse.Namespace) -> str | None:
    """Sort `huis replay`'s paths: options come in any order, so `--scenarios DIR LOG` leaves the
    log among the scenario paths; then it is the last of them. Returns a problem, if any."""
    if args.log is None:
        if not args.scenarios:
            return "which event log? (huis replay LOG [--scenarios DIR ...])"
        args.log = args.scenarios.pop()
    log = Path(args.log)
    if log.is_dir() or log.suffix in (".yaml", ".yml"):
        return f"{args.log} is a scenario folder or file, not an event log (CSV); name the log too"
    return None


# -- the subcommands ------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    """Validate configuration, scenarios and alert policies together; print every problem."""
    return check(args.paths)


def _report(problems: Sequence[Problem], after: str = "") -> bool:
    """Print `problems` (and `after`) to stderr; True when there were any."""
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) found.{after}", file=sys.stderr)
    return bool(problems)


def cmd_schema(args: argparse.Namespace) -> int:
    """Print (or write) the JSON Schema of scenario files, for editor completion."""
    return schema(args.output)


def cmd_trace(args: argparse.Namespace) -> int:
    """Print the last runs of a scenario: trigger, conditions, actions, cause chain."""
    return trace(load_home(args.config), args.scenario, args.limit)


def cmd_reload(args: argparse.Namespace) -> int:
    """Check the files, then ask the running hub to reload its scenarios (SIGHUP via its pid file).

    Problems are shown here and the hub is not asked: it would refuse the set and keep running
    the old one anyway (and says so in its log when the files change in between).
    """
    if _report(home_problems([args.config]),
               " The running hub was not asked to reload and keeps its scenarios."):
        return EXIT_CONFIG
    return reload(pid_file_for(load_home(args.config)))


def cmd_replay(args: argparse.Namespace) -> int:
    """Play a recorded event log through the scenarios, capturing what would have happened."""
    problem = _replay_paths(args)
    if problem:
        print(f"huis replay: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return replay(args.config, args.scenarios, args.log, args.speed, per_period=args.summary,
                  json_path=args.json, night=args.night)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the hub's history as an event log (CSV) for `huis replay`."""
    from controller.replay import export

    db = args.db or database_path(args.config)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as out:
            return export(db, args.since, args.until, out)
    return export(db, args.since, args.until)


async def _run_until_stopped(main: Coroutine[object, object, None]) -> None:
    # SIGTERM (docker stop, systemd) stops as cleanly as Ctrl-C does.
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    await main


def _run(main: Coroutine[object, object, None]) -> None:
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


def database_path(config_path: str | Path) -> Path:
    """The SQLite file a configuration names (`storage.path`), for `huis export`'s default."""
    cfg = load_home(config_path)
    return resolve(cfg, cfg.storage.path)


def _overrides(cfg: HomeConfig, args: argparse.Namespace) -> HomeConfig:
    """Apply command-line overrides (containers name the broker host, not the YAML)."""
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


def _refuse_to_start(args: argparse.Namespace) -> bool:
    """Check the home as `huis check` does and print every problem; True: do not start.

    A hub that started with a scenario missing would leave, say, the SOS button unhandled
    without anyone knowing; refusing is loud and safe.
    """
    return _report(home_problems([args.config]),
                   f" huis {args.command}: the hub does not start until they are fixed (`huis check` shows them too).")


def _load_to_start(args: argparse.Namespace) -> tuple[HomeConfig, Parts, AlertsConfig] | None:
    """The configuration, scenarios and alerts `huis run` and `huis demo` start with, each file
    read once (start-up time); None when there is a problem: then every problem has been
    printed as `huis check` shows them (that full check runs only then)."""
    try:
        cfg, problems = read_home(args.config, KINDS)
        if not problems:
            policies = alerts_config(cfg)
            return _overrides(cfg, args), Parts.load(cfg), policies
    except ConfigError:
        pass
    _refuse_to_start(args)
    return None


def cmd_run(args: argparse.Namespace) -> int:
    """Run the hub against the broker named in the configuration."""
    loaded = _load_to_start(args)
    if loaded is None:
        return EXIT_CONFIG
    cfg, parts, policies = loaded
    if cfg.mqtt is None:
        print(f"{args.config}: no 'mqtt' section: `huis run` needs an external broker "
              "(use `huis demo` for the embedded one).", file=sys.stderr)
        return EXIT_CONFIG
    clock = RealClock()
    from controller.hub import freeze_after_start

    freeze_after_start()  # no full collection pauses over start-up's objects (docs/performance.md)
    _run(serve_home(cfg, clock, cfg.mqtt.host, cfg.mqtt.port, parts=parts, policies=policies))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo home: embedded broker (unless configured), simulators, hub and dashboard."""
    from controller.broker import demo_broker
    from controller.clock import AcceleratedClock
    from huis.uplink import embedded_broker_warning

    loaded = _load_to_start(args)
    if loaded is None:
        return EXIT_CONFIG
    cfg, parts, policies = loaded
    # Always the demo clock, even at speed 1: tour-guide stories speed it up and jump it to night.
    clock = AcceleratedClock(args.speed or cfg.simulation.speed)
    # The embedded broker is closed too: its accounts are generated at the first start.
    credentials = broker_credentials(cfg) if cfg.mqtt is None else None

    async def main() -> None:
        if cfg.mqtt is not None:
            await serve_home(cfg, clock, cfg.mqtt.host, cfg.mqtt.port, simulate=True, parts=parts,
                             policies=policies)
            return
        eb = cfg.embedded_broker
        if (warning := embedded_broker_warning(cfg)) is not None:
            log.warning("%s", warning)
        async with demo_broker(eb.host, eb.port, credentials=credentials, server=eb.server) as (host, port):
            await serve_home(cfg, clock, host, port, simulate=True, parts=parts, policies=policies)

    print(f"huis demo: dashboard on http://{cfg.dashboard.host}:{cfg.dashboard.port}  (Ctrl-C stops)")
    _run(main())
    print("huis demo: stopped.")
    return 0


def cmd_simulators(args: argparse.Namespace) -> int:
    """Run the simulated devices of the configured home until stopped (docker-compose)."""
    from controller.clock import AcceleratedClock
    from simulators.home import run_simulators

    cfg = _overrides(load_home(args.config), args)
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

    from dashboard.auth import AuthError, create_user

    cfg = load_home(args.config)
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

    return simulate(args, load_home(args.config))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser for every subcommand; for the long-running ones (`command` is run, demo
    or simulators), without those whose modules take time and memory to import (accounts with
    the password checker's dictionaries, audit, the centre with PostgreSQL and NATS, broker,
    simulate): a process keeps what it imported for as long as it runs."""
    parser = argparse.ArgumentParser(prog="huis", description="Domotics hub for the Huis van de toekomst.")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    sub = parser.add_subparsers(dest="command", required=True)
    _home_commands(sub)
    _scenario_commands(sub)
    _history_commands(sub)
    _routine_command(sub)
    if command in SERVERS:
        return parser
    from huis.broker_cli import add_broker_command
    from huis.uplink_cli import add_uplink_command
    from simulators.cli import add_arguments

    _user_commands(sub)
    add_broker_command(sub)
    add_uplink_command(sub)
    p = sub.add_parser("simulate", help="drive simulated devices by hand (e.g. the bed becomes empty)")
    add_arguments(p)
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(func=cmd_simulate)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv`, if it can be told before parsing."""
    args = iter(argv)
    for arg in args:
        if arg == "--log-level":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def _home_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _scenario_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check", help="validate configuration, alerts and scenario files")
    p.add_argument("paths", nargs="*",
                   help=f"files or folders: the config folder, a scenarios folder (default: {DEFAULT_CONFIG})")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files (editor completion)")
    p.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("trace", help="why a scenario did or did not fire: its last runs")
    p.add_argument("scenario", nargs="?", default=None,
                   help="scenario id: why it did or did not run, then its runs (default: all runs)")
    p.add_argument("-n", "--limit", type=int, default=20)
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("reload", help="reload the running hub's scenarios (atomic; invalid sets are refused)")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.set_defaults(func=cmd_reload)


def _history_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("replay", help="play a recorded event log through the scenarios (dry run)")
    # The log is optional here only because `--scenarios A B LOG` takes it too (_replay_paths).
    p.add_argument("log", nargs="?", default=None, help="CSV: timestamp,device,attribute,value")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--scenarios", nargs="*", default=None, help="scenario files or folders (default: the config's)")
    p.add_argument("--speed", type=float, default=None, help="play at N x real time instead of instantly")
    p.add_argument("--summary", action="store_true",
                   help="print pages, lights and reminders per day and night instead of every line")
    p.add_argument("--json", default=None, metavar="FILE",
                   help="write the per day and night summary as JSON to FILE ('-': stdout only)")
    p.add_argument("--night", default=None, metavar="HH:MM-HH:MM",
                   help="the night for --summary and --json (default 22:00-07:00)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("export", help="write the hub's history as an event log for `huis replay`")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--db", default=None, help="database file (default: the config's storage.path)")
    p.add_argument("--since", default=None, help="ISO date/time or a duration ago (7d)")
    p.add_argument("--until", default=None)
    p.add_argument("-o", "--output", default=None, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_export)


def _user_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from huis import accounts_cli, audit_cli, central_cli, onboard_cli

    accounts_cli.register(sub, DEFAULT_CONFIG)
    central_cli.register(sub)  # `huis central`: the care organisation's centre (docs/central.md)
    audit_cli.register(sub, DEFAULT_CONFIG)
    onboard_cli.register(sub, DEFAULT_CONFIG)

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


# -- the resident's routine -----------------------------------------------------------------------


def routine(cfg: HomeConfig, db_path: str | Path, at: datetime | None = None, *, as_json: bool = False,
            out: TextIO | None = None) -> int:
    """`huis routine`: print what the hub learned of the resident's days (or the defaults)."""
    from controller.routine import default_routine, load_routine, render_routine

    async def main() -> str:
        db = await Database.connect(db_path)
        try:
            if await db.fetchone("SELECT 1 FROM sqlite_master WHERE name = 'history'") is None:
                learned = default_routine(cfg.routine, ZoneInfo(cfg.home.location.timezone))
            else:
                learned = await load_routine(db, cfg, at or RealClock().now())
        finally:
            await db.close()
        if as_json:
            return json.dumps(learned.as_dict(), indent=2) + "\n"
        return render_routine(learned, cfg.resident.pseudonym)

    (out or sys.stdout).write(asyncio.run(main()))
    return 0


def cmd_routine(args: argparse.Namespace) -> int:
    """Print the resident's routine: bed and wake times, active hours, quiet-gap percentiles."""
    cfg = load_home(args.config)
    at = datetime.fromisoformat(args.at) if args.at else None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(cfg.home.location.timezone))
    return routine(cfg, args.db or resolve(cfg, cfg.storage.path), at, as_json=args.json)


def _routine_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("routine", help="the resident's routine learned from the history (or the defaults)")
    p.add_argument("--config", default=DEFAULT_CONFIG)
    p.add_argument("--db", default=None, help="database file (default: the config's storage.path)")
    p.add_argument("--at", default=None, help="as learned at this ISO date/time (default: now)")
    p.add_argument("--json", action="store_true", help="JSON for tools")
    p.set_defaults(func=cmd_routine)


def tune_malloc() -> None:
    """glibc's allocator for a process that runs for months (docs/performance.md, "Memory").

    A fixed mmap threshold: buffers over 128 KiB (a 1 MB payload someone sent, a page of the
    history) are mapped and given back when freed; glibc's default raises the threshold after
    the first such free, and every later one then stays on the heap for good (measured: +12 MiB
    after a fuzz run). At most two malloc arenas: each SQLite connection's thread would otherwise
    get one of its own and keep its high-water mark.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return  # not glibc (musl, macOS): its defaults stand
    mallopt(-8, 2)  # M_ARENA_MAX
    mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `huis` console script."""
    command = _command(sys.argv[1:] if argv is None else argv)
    if command in SERVERS and argv is None:  # a process of its own, not a test calling main()
        tune_malloc()
    parser = build_parser(command)
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
