"""A closed mosquitto: the shipped config/mosquitto.conf with the home's generated accounts."""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from controller.broker_auth import Credentials
from huis.compose import broker_credentials, load_home
from tests.conftest import DEMO_CONFIG, Mosquitto, free_port
from tests.support import closed_mosquitto_conf


@dataclass
class ClosedBroker:
    """A real mosquitto run with the shipped configuration, and the accounts it knows."""

    mosquitto: Mosquitto
    credentials: Credentials
    home: Path  # a home.yaml whose database (and so its credentials folder) is in tmp_path

    @property
    def host(self) -> str:
        return self.mosquitto.host

    @property
    def port(self) -> int:
        return self.mosquitto.port

    def auth(self, username: str) -> dict[str, str]:
        """paho's `auth` argument for `username`."""
        return {"username": username, "password": self.credentials.password(username)}


def demo_home(tmp: Path, **changes: object) -> Path:
    """The shipped demo home with its database under tmp/var (credentials in tmp/var/mqtt)."""
    home = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    home["storage"] = {"path": "var/huis.db"}
    home["scenarios"] = [str(DEMO_CONFIG.parent.parent / "scenarios")]
    home["alerts"] = str(DEMO_CONFIG.parent / "alerts.yaml")
    home.update(changes)
    path = tmp / "home.yaml"
    path.write_text(yaml.safe_dump(home, allow_unicode=True), encoding="utf-8")
    return path


@contextlib.contextmanager
def broker_folder() -> Iterator[Path]:
    """A folder of the broker's own (its password and ACL files, its data), outside pytest's
    0700 tmp_path: mosquitto started as root reads them as its own user, as in docker."""
    folder = Path(tempfile.mkdtemp(prefix="huis-mosquitto-"))
    folder.chmod(0o711)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def closed_broker(tmp_path: Path) -> Iterator[ClosedBroker]:
    home = demo_home(tmp_path)
    with broker_folder() as folder:
        creds = broker_credentials(load_home(home), broker_folder=folder / "auth", out=io.StringIO())
        port = free_port()
        conf = closed_mosquitto_conf(tmp_path / "mosquitto.conf", port, folder / "auth", folder / "data")
        broker = Mosquitto(port=port, conf=conf)
        broker.start()
        try:
            yield ClosedBroker(mosquitto=broker, credentials=creds, home=home)
        finally:
            broker.stop()
