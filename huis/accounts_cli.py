"""`huis accounts`: list, disable, enable, delete, reset a password, end sessions.

The same operations as the admin page, for an admin at the hub's console (or when no admin can
log in). Each change is written to the dashboard's audit log as done by "cli". A running hub
sees a change at its next request; its open live pages within `SESSION_CHECK` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from controller.clock import RealClock
from controller.config import resolve
from controller.store import Database
from dashboard.auth import Auth, AuthError, User
from huis.compose import load_home

EXIT_REFUSED = 2
CLI = User(id=0, username="cli", role="admin", display_name="command line")


async def _with_auth(args: argparse.Namespace, job: Callable[[Auth], Awaitable[str]]) -> str:
    cfg = load_home(args.config)
    async with await Database.connect(resolve(cfg, cfg.storage.path), component="accounts-cli") as db:
        auth = Auth(db, RealClock())
        await auth.ready()
        return await job(auth)


async def _list(auth: Auth) -> str:
    sessions = await auth.sessions()
    rows = [("USER", "ROLE", "STATE", "SESSIONS", "NAME")]
    rows += [(u.username, u.role, "disabled" if u.disabled else "active",
              str(sessions.get(u.username, 0)), u.name) for u in await auth.users()]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def read_password(username: str, *, from_stdin: bool, prompt: str = "New password for") -> str:
    """A password for `username`: one line of stdin (scripts), or asked twice without echo.
    AuthError when the two differ (`huis central user add` asks the same way)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"{prompt} {username}: ")
    if getpass.getpass("Again: ") != first:
        raise AuthError("account.mismatch")
    return first


def _job(args: argparse.Namespace) -> Callable[[Auth], Awaitable[str]]:
    name = getattr(args, "username", "")
    action = args.accounts_command

    async def job(auth: Auth) -> str:
        if action == "list":
            return await _list(auth)
        if action in ("disable", "enable"):
            await auth.set_disabled(name, action == "disable", by=CLI)
            return f"{name} is {action}d" + ("; their sessions have ended." if action == "disable" else ".")
        if action == "delete":
            await auth.delete_user(name, by=CLI)
            return f"{name} is deleted."
        if action == "password":
            await auth.reset_password(name, read_password(name, from_stdin=args.password_stdin), by=CLI)
            return f"{name}'s password is changed; their sessions have ended."
        n = await auth.revoke_sessions(name, by=CLI)
        return f"Ended {n} session(s) of {name}."

    return job


def cmd_accounts(args: argparse.Namespace) -> int:
    """Run one `huis accounts` subcommand."""
    try:
        print(asyncio.run(_with_auth(args, _job(args))))
    except AuthError as exc:
        print(f"huis accounts {args.accounts_command}: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return 0


def register(sub: Any, default_config: str) -> None:
    """Add `huis accounts ...` to the CLI's subcommands."""
    p = sub.add_parser("accounts", help="list, disable, enable, delete dashboard accounts; reset "
                                        "a password; end sessions")
    acc = p.add_subparsers(dest="accounts_command", required=True)
    for name, text in (("list", "every account, its state and open sessions"),
                       ("disable", "disable an account; its sessions end at once"),
                       ("enable", "enable a disabled account"),
                       ("delete", "delete an account (the audit log keeps what it did)"),
                       ("password", "set a new password (asked, or --password-stdin); sessions end"),
                       ("revoke", "end every session of an account (a lost phone)")):
        q = acc.add_parser(name, help=text)
        if name != "list":
            q.add_argument("username")
        if name == "password":
            q.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        q.add_argument("--config", default=default_config)
        q.set_defaults(func=cmd_accounts)
