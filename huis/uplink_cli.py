"""`huis uplink bridge-config`: the mosquitto bridge lines that link a home to its care centre.

For a home whose mosquitto is its own (a Pi, docker-compose): put the output in a file of its
own that mosquitto reads (`include_dir`, or appended to its config), readable by mosquitto only,
since it holds the home's password at the centre, and restart mosquitto (bridges are not
reloaded on SIGHUP). docs/broker.md, "The bridge to the care centre"; docs/central.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.broker import bridge_config
from controller.broker_auth import write_private
from huis.compose import load_home
from huis.uplink import bridge_settings


def cmd_bridge_config(args: argparse.Namespace) -> int:
    """Print (or write, 0600) the bridge lines for the home in --config."""
    cfg = load_home(args.config)
    try:
        text = bridge_config(bridge_settings(cfg))
    except (ValueError, OSError) as exc:
        print(f"huis uplink bridge-config: {exc}", file=sys.stderr)
        return 2
    if args.out:
        write_private(Path(args.out), text)
        print(f"Wrote the bridge to the centre for home {cfg.central.home_id if cfg.central else '?'} "
              f"to {args.out} (mode 0600; restart mosquitto to use it).", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def add_uplink_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `huis uplink ...`."""
    p = sub.add_parser("uplink", help="the link to a care centre (docs/central.md)")
    uplink_sub = p.add_subparsers(dest="uplink_command", required=True)
    b = uplink_sub.add_parser("bridge-config",
                              help="print the mosquitto bridge lines for this home's `central:` section")
    b.add_argument("--config", default="config/home.yaml")
    b.add_argument("--out", default=None, help="write them to this file (0600) instead of printing")
    b.set_defaults(func=cmd_bridge_config)



