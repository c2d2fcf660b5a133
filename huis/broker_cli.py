"""`huis broker-credentials`: the broker accounts of a home, for a mosquitto deployment.

Generates what is missing (and only that): one password per account in the credentials folder
(default `<storage folder>/mqtt/`, mode 0600, printed this once), and mosquitto's
`mosquitto.passwd` and `mosquitto.acl`, rewritten only when the devices or accounts changed.
`huis run` and the simulators read their passwords from the same folder. docs/broker.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from controller.broker_auth import ACL_FILE, PASSWD_FILE
from huis.compose import broker_credentials, load_home


def cmd_broker_credentials(args: argparse.Namespace) -> int:
    """Generate the missing broker accounts; print their passwords once."""
    cfg = load_home(args.config)
    folder = Path(args.folder) if args.folder else None
    broker_folder = Path(args.broker_folder) if args.broker_folder else None
    creds = broker_credentials(cfg, folder=folder, broker_folder=broker_folder)
    where = broker_folder or creds.folder
    if not creds.created:
        print(f"MQTT accounts already exist in {creds.folder}; nothing generated.")
    print(f"mosquitto: password_file {where / PASSWD_FILE}, acl_file {where / ACL_FILE} "
          "(config/mosquitto.conf; docs/broker.md).")
    return 0


def add_broker_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `huis broker-credentials`."""
    p = sub.add_parser("broker-credentials",
                       help="generate the MQTT broker's accounts and ACL (first start of a mosquitto home)")
    p.add_argument("--config", default="config/home.yaml")
    p.add_argument("--folder", default=None,
                   help="where the passwords go (default: mqtt/ next to the database)")
    p.add_argument("--broker-folder", default=None,
                   help="where mosquitto.passwd and mosquitto.acl go (default: the same folder)")
    p.set_defaults(func=cmd_broker_credentials)
