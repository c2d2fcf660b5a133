"""Benchmark plumbing: a mosquitto on a free port, a device-side load generator, percentiles."""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mosquitto() -> Iterator[int]:
    """A loopback mosquitto configured like the shipped one (set_tcp_nodelay true)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n")
        binary = "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else "mosquitto"
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            yield port
        finally:
            proc.terminate()
            proc.wait(5)


def wait_port(port: int, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass
class Latency:
    samples_ms: list[float]

    def pct(self, p: float) -> float:
        s = sorted(self.samples_ms)
        return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return self.pct(99)


class DeviceSide:
    """Plays the bed sensor and watches the hall light's /set topic (paho, its own thread)."""

    def __init__(self, port: int) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{port}")
        self.client.on_message = self._on_message
        self._got = threading.Event()
        self._connected = threading.Event()
        self.client.on_connect = lambda *a: self._connected.set()
        self.client.connect("127.0.0.1", port)
        # No Nagle on our side either: we measure the system under test, not our own socket.
        self.client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.loop_start()
        if not self._connected.wait(10):
            raise RuntimeError("bench client could not connect")
        self.client.subscribe("zigbee2mqtt/hall_light/set", qos=1)
        time.sleep(0.2)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._got.set()

    def round_trip(self, occupancy_false: bytes, reset: bytes, timeout: float = 2.0) -> float | None:
        """Publish 'bed empty', return ms until the light command arrives (None on timeout)."""
        self.client.publish("zigbee2mqtt/bed_sensor", reset, qos=0)
        time.sleep(0.002)
        self._got.clear()
        t0 = time.perf_counter()
        self.client.publish("zigbee2mqtt/bed_sensor", occupancy_false, qos=0)
        if not self._got.wait(timeout):
            return None
        return (time.perf_counter() - t0) * 1000

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def measure_latency(port: int, n: int = 500, rate: float = 200.0) -> Latency:
    """n bed-empty events at `rate`/s; latency from publish to the hall light command."""
    dev = DeviceSide(port)
    try:
        off = json.dumps({"occupancy": False}).encode()
        on = json.dumps({"occupancy": True}).encode()
        for _ in range(20):  # warm-up
            dev.round_trip(off, on)
        samples = []
        period = 1.0 / rate
        for _ in range(n):
            start = time.perf_counter()
            ms = dev.round_trip(off, on)
            if ms is not None:
                samples.append(ms)
            rest = period - (time.perf_counter() - start)
            if rest > 0:
                time.sleep(rest)
        return Latency(samples)
    finally:
        dev.close()


def rss_mib(pid: int) -> float:
    """Resident memory of a process (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(path: Path, heading: str, body: str) -> None:
    """Replace (or add) one `## heading` section of a Markdown file, leaving the others alone."""
    text = path.read_text() if path.exists() else "# Performance\n\nMeasured with the scripts in `bench/`.\n"
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"## {heading}"), None)
    section = [f"## {heading}", "", *body.splitlines(), ""]
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = section
    path.write_text("\n".join(lines).rstrip("\n") + "\n")
