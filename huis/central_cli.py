"""`huis central`: the centre's service, its database schema, and adding a home.

    huis central run --config config/central.yaml       consume, store, send commands, serve
    huis central init --config config/central.yaml      schema, partitions, homes, the NATS consumer
    huis central add-home zwolle-0042 --team noord      the home's key and NATS password files
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path

from central.config import CentralConfig, load_central
from central.servers import home_permissions
from central.service import ensure_nats, prepare, run_centre
from central.store import Store
from central.wire import HOME_ID
from controller.clock import RealClock
from controller.errors import ConfigError, HuisError
from controller.keyfile import load_key
from huis import central_view_cli

log = logging.getLogger("huis.central")

DEFAULT_CONFIG = "config/central.yaml"
EXIT_CONFIG = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("central", help="the care organisation's centre: many homes, one view")
    central = p.add_subparsers(dest="central_command", required=True)
    run = central.add_parser("run", help="consume the homes' streams, store, send commands, serve the dashboard")
    run.add_argument("--config", default=DEFAULT_CONFIG)
    run.add_argument("--no-dashboard", action="store_true", help="consume and store only")
    run.set_defaults(func=cmd_run)
    init = central.add_parser("init", help="create the PostgreSQL schema and the NATS consumer (idempotent)")
    init.add_argument("--config", default=DEFAULT_CONFIG)
    init.set_defaults(func=cmd_init)
    add = central.add_parser("add-home", help="make a home's command key and NATS password; print what it needs")
    add.add_argument("home")
    add.add_argument("--team", required=True)
    add.add_argument("--config", default=DEFAULT_CONFIG)
    add.set_defaults(func=cmd_add_home)
    central_view_cli.register(central)  # `user ...` and `audit verify`: the central dashboard's


def _load(path: str) -> CentralConfig | None:
    try:
        return load_central(path)
    except ConfigError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found.", file=sys.stderr)
        return None


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _load(args.config)
    if cfg is None:
        return EXIT_CONFIG

    async def until_stopped() -> None:
        # SIGTERM (systemd's stop) ends it as Ctrl-C does: every task cancelled, the stats logged.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await run_centre(cfg, RealClock(), web=not args.no_dashboard)

    try:
        asyncio.run(until_stopped())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except HuisError as exc:
        print(f"huis central: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    cfg = _load(args.config)
    if cfg is None:
        return EXIT_CONFIG

    async def main() -> str:
        clock = RealClock()
        async with Store.open(cfg.dsn()) as store:
            await prepare(cfg, store, clock)
            partitions = await store.partitions()
        await ensure_nats(cfg.nats_settings(), cfg)
        return (f"schema ready (partitions {', '.join(partitions)}), {len(cfg.homes)} home(s), "
                "the ingest's consumer on $MQTT_msgs ready")

    try:
        print(f"huis central init: {asyncio.run(main())}")
    except HuisError as exc:
        print(f"huis central init: {exc}", file=sys.stderr)
        return 1
    return 0


def _password_file(path: Path) -> str:
    """The home's NATS password: made once (0600, O_EXCL), then read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text(encoding="ascii").strip()


def add_to_config(cfg: CentralConfig, home: str, team: str) -> bool:
    """Append `home: {team: ...}` to the config's `homes:` section when that is the file's last
    section (as shipped); False when the file has another shape (then the user adds it)."""
    path = Path(cfg.source)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tops = [i for i, line in enumerate(lines) if line and not line[0].isspace() and not line.startswith("#")]
    if not tops or lines[tops[-1]].rstrip() != "homes:":
        return False
    sep = "" if text.endswith("\n") else "\n"
    path.write_text(f"{text}{sep}  {home}: {{team: {team}}}\n", encoding="utf-8")
    return True


def cmd_add_home(args: argparse.Namespace) -> int:
    cfg = _load(args.config)
    if cfg is None:
        return EXIT_CONFIG
    home, team = args.home, args.team
    if not HOME_ID.match(home):
        print(f"huis central add-home: {home!r} is not a home id (letters, digits, '-' and '_')", file=sys.stderr)
        return EXIT_CONFIG
    if team not in cfg.teams:
        print(f"huis central add-home: {team!r} is not a team in {cfg.source} "
              f"(teams: {', '.join(sorted(cfg.teams)) or 'none'})", file=sys.stderr)
        return EXIT_CONFIG
    known = cfg.homes.get(home)
    if known is not None and known.team != team:
        print(f"huis central add-home: {home} is in team {known.team} in {cfg.source}; change it there",
              file=sys.stderr)
        return EXIT_CONFIG
    key_file = cfg.key_file(home)
    load_key(key_file, what=f"command key of {home}")
    password = _password_file(cfg.nats_password_file(home))
    if known is None and not add_to_config(cfg, home, team):
        print(f"add to the homes: section of {cfg.source}:\n  {home}: {{team: {team}}}\n")
    user = {"user": f"home-{home}", "password": password, "permissions": home_permissions(home)}
    print(f"""home {home} (team {team})

At the centre, add this user to the CARE account of every NATS node's config, then reload them
(nats-server --signal reload):
  {json.dumps(user)}

For the home (copy over a safe channel; both files 0600):
  command key:        {key_file}   -> the hub's central.key_file
  NATS MQTT account:  user home-{home}, password in {cfg.nats_password_file(home)}
                      -> the home's mosquitto bridge (remote_username / remote_password)
  bridge addresses:   {' '.join(cfg.nats.mqtt)}
  client id:          huis-{home}  (cleansession false, try_private false; docs/central.md)""")
    return 0
