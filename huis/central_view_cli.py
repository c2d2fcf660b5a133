"""`huis central user add|list|disable|enable` and `huis central audit verify`: the central
dashboard's accounts and its audit chain, in the centre's PostgreSQL.

There is no default password and no first-run page at the centre: the first admin, and every
caregiver and coordinator after, is made here. The password is asked twice (or read from stdin
with `--password-stdin`, for scripts) and refused when short or common, as at the hub.
Disabling an account ends its sessions at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from central.access_audit import AccessAudit
from central.accounts import ROLES, Accounts
from central.config import load_central
from central.store import Store
from controller.clock import RealClock
from controller.errors import HuisError
from huis.accounts_cli import read_password

DSN_ENV = "HUIS_CENTRAL_DSN"
DEFAULT_CONFIG = "config/central.yaml"
EXIT_REFUSED = 2


def _dsn(args: argparse.Namespace) -> str:
    """--dsn (or $HUIS_CENTRAL_DSN), else the config's; ConfigError when the config cannot say."""
    return str(args.dsn) if args.dsn else load_central(args.config).dsn()


def _audit_key(args: argparse.Namespace) -> Path:
    """--audit-key, else the config's dashboard.audit_key_file."""
    if args.audit_key:
        return Path(args.audit_key)
    cfg = load_central(args.config)
    return cfg.path(cfg.dashboard.audit_key_file)


async def _add(args: argparse.Namespace, password: str) -> str:
    async with Store.open(_dsn(args)) as store:
        user = await Accounts(store.pool, RealClock()).create_user(
            username=args.username, password=password, role=args.role, teams=args.team or (),
            display_name=args.name)
    teams = "every home" if user.all_homes else f"the homes of team {', '.join(user.teams)}"
    return f"Added {user.username} ({user.role}): sees {teams}."


async def _list(args: argparse.Namespace) -> str:
    async with Store.open(_dsn(args)) as store:
        users = await Accounts(store.pool, RealClock()).users()
    rows = [("USER", "ROLE", "TEAMS", "STATE", "NAME")]
    rows += [(u.username, u.role, "(all)" if u.all_homes else ",".join(u.teams),
              "disabled" if u.disabled else "one-time password" if u.must_change else "active", u.name)
             for u in users]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


async def _disable(args: argparse.Namespace) -> str:
    disable = args.user_command == "disable"
    async with Store.open(_dsn(args)) as store:
        user = await Accounts(store.pool, RealClock()).set_disabled(args.username, disable)
    return f"{user.username} is {args.user_command}d" + ("; their sessions have ended." if disable else ".")


def cmd_central_user(args: argparse.Namespace) -> int:
    """Run one `huis central user` subcommand."""
    try:
        if args.user_command == "add":
            print(asyncio.run(_add(args, read_password(args.username, from_stdin=args.password_stdin,
                                                             prompt="Password for"))))
        elif args.user_command == "list":
            print(asyncio.run(_list(args)))
        else:
            print(asyncio.run(_disable(args)))
    except HuisError as exc:  # AccountError, ConfigError
        print(f"huis central user {args.user_command}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


async def _verify(args: argparse.Namespace) -> tuple[bool, str]:
    key = _audit_key(args)
    async with Store.open(_dsn(args)) as store:
        audit = AccessAudit(pool=store.pool, key_file=key, wall=RealClock())
        await audit.open(create=False)
        v = await audit.verify()
    if v.ok:
        return True, f"centre_audit: {v.rows} row(s), chain intact."
    return False, f"centre_audit: {v.rows} row(s) read; FIRST BAD ROW: {v.bad}: {v.reason}"


def cmd_central_audit(args: argparse.Namespace) -> int:
    """`huis central audit verify`: recompute the dashboard's audit chain with its key."""
    try:
        ok, line = asyncio.run(_verify(args))
    except HuisError as exc:
        print(f"huis central audit verify: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(line)
    return 0 if ok else 1


def register(central_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `user ...` and `audit verify` under `huis central`."""
    p = central_sub.add_parser("user", help="accounts of the central dashboard")
    user_sub = p.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="add an account (caregiver, coordinator or admin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES,
                     help="caregiver: their teams' homes only; coordinator and admin: every home")
    add.add_argument("--team", action="append", metavar="TEAM",
                     help="a team whose homes a caregiver sees (repeat for more)")
    add.add_argument("--name", default=None, help="the name shown on the page")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (scripts)")
    listing = user_sub.add_parser("list", help="list the accounts")
    switches = []
    for verb, what in (("disable", "disable an account and end its sessions"), ("enable", "enable it again")):
        q = user_sub.add_parser(verb, help=what)
        q.add_argument("username")
        switches.append(q)
    for q in (add, listing, *switches):
        _where_arguments(q)
        q.set_defaults(func=cmd_central_user)

    audit = central_sub.add_parser("audit", help="the central dashboard's audit chain")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="recompute the chain; name the first row that fails")
    _where_arguments(verify)
    verify.add_argument("--audit-key", default=None, help="the chain's key file (default: the config's "
                        "dashboard.audit_key_file)")
    verify.set_defaults(func=cmd_central_audit)


def _where_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=DEFAULT_CONFIG, help="the centre's config (its database and audit key)")
    p.add_argument("--dsn", default=os.environ.get(DSN_ENV),
                   help=f"the centre's PostgreSQL instead of the config's (or ${DSN_ENV})")
