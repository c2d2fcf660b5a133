"""Helpers for tests that wait on real I/O (a broker, a subprocess, a browser, an HTTP server).

Work inside the process under a `VirtualClock` needs no polling: `await clock.wait_idle()`
returns once it is done (SQLite writes included; see `controller/idle.py`).
"""

from __future__ import annotations

import asyncio
import os
import pwd
from collections.abc import Callable
from pathlib import Path


async def eventually(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until `predicate()` is true; fail after `within` seconds.

    The limit only stops a hung test: it is not a speed claim (speed lives in bench/).
    """
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state changed by real sockets
            await asyncio.sleep(0.005)


SHIPPED_MOSQUITTO_CONF = Path(__file__).resolve().parent.parent / "config" / "mosquitto.conf"


def closed_mosquitto_conf(dest: Path, port: int, auth: Path, data: Path) -> Path:
    """The shipped config/mosquitto.conf moved to a loopback port and temp folders (its auth and
    data files); every other line, the auth lines first of all, as shipped."""
    text = SHIPPED_MOSQUITTO_CONF.read_text(encoding="utf-8")
    moved = (text.replace("listener 1883", f"listener {port} 127.0.0.1")
             .replace("/mosquitto/auth/", f"{auth}/").replace("/mosquitto/data/", f"{data}/"))
    assert moved.count(f"{auth}/") == 2 and f"{data}/" in moved and f"listener {port}" in moved, \
        "config/mosquitto.conf changed shape: adapt closed_mosquitto_conf"
    data.mkdir(parents=True, exist_ok=True)
    for folder in (auth, data):
        hand_to_mosquitto(folder)
    dest.write_text(moved, encoding="utf-8")
    return dest


def hand_to_mosquitto(folder: Path) -> None:
    """Started as root, mosquitto drops to its own user before reading its password and ACL
    files and writing its data: give it the folder (the docker image's entrypoint does the same
    with /mosquitto; on a Pi, `chown mosquitto`)."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam("mosquitto")
    except KeyError:
        return
    for path in (folder, *folder.iterdir()):
        os.chown(path, user.pw_uid, user.pw_gid)
