"""TLS with a self-signed CA, as docs/broker.md sets it up on a Pi: the shipped config's TLS
block switched on, certificates made here with openssl, a real mosquitto, the hub logged in."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.publish as publish
import pytest

from controller.broker_auth import SIMULATORS
from controller.clock import RealClock
from controller.mqtt import MqttLink
from huis.compose import broker_credentials, build_hub, hub_settings, load_home
from tests.conftest import Mosquitto, free_port
from tests.integration.conftest import broker_folder, demo_home
from tests.support import closed_mosquitto_conf, eventually, hand_to_mosquitto

pytestmark = pytest.mark.broker


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certificates(folder: Path) -> None:
    """A CA of our own, and the broker's certificate for 127.0.0.1 signed by it (docs/broker.md)."""
    folder.mkdir()
    ca_key, ca, key, csr, crt = (folder / n for n in ("ca.key", "ca.crt", "server.key", "server.csr", "server.crt"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=huis test CA",
            "-keyout", str(ca_key), "-out", str(ca))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    ext = folder / "san.ext"
    ext.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
            "-days", "2", "-extfile", str(ext), "-out", str(crt))


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Path, int, Path]]:
    """(home.yaml with mqtt over TLS, the TLS port, the CA certificate)."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed: run `bash .ci/run`")
    with broker_folder() as folder:
        certs = folder / "certs"
        make_certificates(certs)
        hand_to_mosquitto(certs)
        plain, tls = free_port(), free_port()
        home = demo_home(tmp_path, mqtt={"host": "127.0.0.1", "port": tls, "tls": {"ca_file": str(certs / "ca.crt")}})
        broker_credentials(load_home(home), broker_folder=folder / "auth", out=io.StringIO())
        conf = closed_mosquitto_conf(tmp_path / "mosquitto.conf", plain, folder / "auth", folder / "data")
        text = conf.read_text()
        assert "#listener 8883" in text, "the shipped config lost its TLS block"
        text = (text.replace("#listener 8883", f"listener {tls} 127.0.0.1").replace("#cafile", "cafile")
                .replace("#certfile", "certfile").replace("#keyfile", "keyfile")
                .replace("/mosquitto/certs/", f"{certs}/"))
        conf.write_text(text)
        broker = Mosquitto(port=tls, conf=conf)
        broker.start()
        try:
            yield home, tls, certs / "ca.crt"
        finally:
            broker.stop()


async def test_the_hub_works_over_tls_with_its_credentials(tls_broker: tuple[Path, int, Path]) -> None:
    home, port, ca = tls_broker
    cfg = load_home(home)
    settings = hub_settings(cfg, "127.0.0.1", port)
    assert settings.tls is not None and settings.username is not None
    hub = build_hub(cfg, RealClock(), settings)
    password = (home.parent / "var" / "mqtt" / f"{SIMULATORS}.password").read_text().strip()
    device = {"hostname": "127.0.0.1", "port": port, "auth": {"username": SIMULATORS, "password": password},
              "tls": {"ca_certs": str(ca)}}
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(hub.run())
        link = hub.link
        assert isinstance(link, MqttLink)
        await eventually(lambda: link.connected.is_set())
        await asyncio.to_thread(publish.single, "zigbee2mqtt/bed_sensor", json.dumps({"occupancy": True}),
                                qos=1, **device)  # type: ignore[arg-type]
        await eventually(lambda: hub.state.attribute("bed_sensor", "occupancy") is True)
        task.cancel()


def handshake(port: int, context: ssl.SSLContext) -> str:
    """A TLS handshake with the broker; the version agreed."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        return str(tls.version())


def test_only_a_client_that_trusts_the_ca_gets_through(tls_broker: tuple[Path, int, Path]) -> None:
    _, port, ca = tls_broker
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(port, ssl.create_default_context())  # the system's CAs do not know ours
    assert handshake(port, ssl.create_default_context(cafile=str(ca))).startswith("TLS")
