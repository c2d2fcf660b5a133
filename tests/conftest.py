"""Shared fixtures: a virtual clock, a hub on an in-memory link, a real mosquitto on a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.hub import Hub
from controller.testing import MemoryLink
from huis.compose import build_hub, load_home

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "config" / "home.yaml"


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    if found is None:
        pytest.fail("mosquitto is not installed: run `bash .ci/run`, or `apt-get install mosquitto`")
    return found


@dataclass
class Mosquitto:
    """A real mosquitto process on loopback that a test can stop and start again."""

    port: int
    conf: Path
    proc: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"

    def start(self) -> None:
        log = self.conf.with_suffix(".log")
        with log.open("ab") as out:
            self.proc = subprocess.Popen([mosquitto_binary(), "-c", str(self.conf)],
                                         stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {log.read_text(errors='replace')}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """mosquitto on a free loopback port, configured like the one the project ships."""
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "set_tcp_nodelay true\n"
    )
    broker = Mosquitto(port=port, conf=conf)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock on a Monday at noon, Amsterdam winter time (UTC+1)."""
    return VirtualClock(datetime(2026, 1, 5, 11, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def demo_config() -> HomeConfig:
    """The demo home shipped in config/home.yaml."""
    return load_home(DEMO_CONFIG)


@pytest.fixture
async def hub(demo_config: HomeConfig, clock: VirtualClock) -> AsyncIterator[Hub]:
    """The demo home's hub on an in-memory link (see `hub.link.sent`)."""
    yield build_hub(demo_config, clock, MemoryLink())
