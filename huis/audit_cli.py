"""`huis audit verify` and `huis audit head`: check the audit chains, export where they stand.

`verify` recomputes both keyed chains (controller/audit.py) with the key next to the database
and names the first row that does not fit; exit 0 when both are intact, 1 when not, 2 when they
cannot be checked (no database, no key). With `--head FILE` (an earlier `huis audit head`), it
also proves that nothing up to that head was cut off or rewritten.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from controller import audit
from controller.config import resolve
from controller.errors import HuisError
from controller.store import Database
from huis.compose import load_home

EXIT_BROKEN = 1
EXIT_CANNOT = 2


def _db_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    cfg = load_home(args.config)
    return resolve(cfg, cfg.storage.path)


async def _verify(path: Path, key: bytes, exported: dict[str, Any]) -> tuple[list[str], bool]:
    lines: list[str] = []
    ok = True
    async with await Database.connect(path, component="audit-cli") as db:
        for spec in audit.SPECS:
            verdict = await audit.verify(db, spec, key)
            lines += verdict.lines()
            ok = ok and verdict.ok
            if spec.table in exported:
                problem = await audit.verify_head(db, spec, exported[spec.table])
                lines.append(f"  exported head (row {exported[spec.table].get('seq')}): "
                             + (problem or "still there, unchanged"))
                ok = ok and problem is None
    return lines, ok


async def _head(path: Path) -> dict[str, object]:
    async with await Database.connect(path, component="audit-cli") as db:
        return {"database": str(path), "chains": [await audit.head(db, spec) for spec in audit.SPECS]}


def cmd_verify(args: argparse.Namespace) -> int:
    """Check both audit chains; name the first bad row."""
    path = _db_path(args)
    if not path.exists():
        print(f"huis audit verify: there is no database at {path}.", file=sys.stderr)
        return EXIT_CANNOT
    try:
        key = audit.load_key(path, create=False)
        exported: dict[str, Any] = {}
        if args.head:
            saved = json.loads(Path(args.head).read_text(encoding="utf-8"))
            exported = {h["table"]: h for h in saved["chains"]}
        lines, ok = asyncio.run(_verify(path, key, exported))
    except (HuisError, OSError, ValueError, KeyError) as exc:
        print(f"huis audit verify: {exc}", file=sys.stderr)
        return EXIT_CANNOT
    print("\n".join(lines))
    print("The audit log is intact." if ok else "THE AUDIT LOG HAS BEEN TAMPERED WITH (see above).")
    return 0 if ok else EXIT_BROKEN


def cmd_head(args: argparse.Namespace) -> int:
    """Print where both chains stand, as JSON to keep off the box."""
    path = _db_path(args)
    if not path.exists():
        print(f"huis audit head: there is no database at {path}.", file=sys.stderr)
        return EXIT_CANNOT
    print(json.dumps(asyncio.run(_head(path)), indent=2))
    return 0


def register(sub: Any, default_config: str) -> None:
    """Add `huis audit verify|head` to the CLI's subcommands."""
    p = sub.add_parser("audit", help="check the tamper-evident audit logs, export their head")
    audit_sub = p.add_subparsers(dest="audit_command", required=True)
    for name, func, text in (("verify", cmd_verify, "recompute both audit chains; name the first bad row"),
                             ("head", cmd_head, "print the last row and hash of each chain (JSON)")):
        q = audit_sub.add_parser(name, help=text)
        q.add_argument("--config", default=default_config)
        q.add_argument("--db", default=None, help="the database file (default: the config's storage.path)")
        if name == "verify":
            q.add_argument("--head", default=None, help="a file from `huis audit head` to check against")
        q.set_defaults(func=func)
