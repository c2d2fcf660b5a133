"""`huis demo` as a new user runs it: a real process, the embedded broker, simulators, the page."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port


def demo_config(tmp_path: Path) -> tuple[Path, int]:
    """The shipped demo home, moved to free ports and a database in tmp_path."""
    text = (ROOT / "config" / "home.yaml").read_text()
    broker, web = free_port(), free_port()
    text = text.replace("port: 1884", f"port: {broker}").replace("port: 8080", f"port: {web}")
    text = text.replace("path: ../var/huis.db", f"path: {tmp_path / 'huis.db'}")
    text += f"\nscenarios: [{ROOT / 'scenarios'}]\nalerts: {ROOT / 'config' / 'alerts.yaml'}\n"
    path = tmp_path / "home.yaml"
    path.write_text(text)
    return path, web


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    config, web = demo_config(tmp_path)
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "huis.cli", "demo", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield proc, web, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for_devices(proc: subprocess.Popen[bytes], web: int, log: Path) -> list[dict[str, object]]:
    """Poll the device API until every device reports a state (the limit only stops a hang)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            devices = get_json(f"http://127.0.0.1:{web}/api/devices")
        except OSError:
            time.sleep(0.1)
            continue
        assert isinstance(devices, list)
        if devices and all(d["last_seen"] for d in devices):
            return devices
        time.sleep(0.1)
    raise AssertionError("devices did not all report within 30 s:\n" + log.read_text())


def test_demo_serves_live_device_states_and_stops_cleanly_on_ctrl_c(
    demo: tuple[subprocess.Popen[bytes], int, Path],
) -> None:
    proc, web, log = demo
    devices = wait_for_devices(proc, web, log)
    by_id = {d["device"]: d for d in devices}
    assert by_id["bed_sensor"]["available"] is True
    # What a visitor reads: what the state means, never the raw attributes.
    assert by_id["bed_sensor"]["state"]["nl"] in ("in bed", "bed leeg")  # type: ignore[index]
    assert by_id["front_door"]["state"] == {"nl": "dicht", "en": "closed"}
    assert "attributes" not in by_id["front_door"]
    with urllib.request.urlopen(f"http://127.0.0.1:{web}/devices", timeout=2) as page:
        assert "Apparaten" in page.read().decode()

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 0
    output = log.read_text()
    assert "Traceback" not in output
    assert "huis demo: stopped." in output


def test_demo_stops_on_sigterm_too(demo: tuple[subprocess.Popen[bytes], int, Path]) -> None:
    proc, web, log = demo
    wait_for_devices(proc, web, log)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    assert "Traceback" not in log.read_text()


@pytest.mark.parametrize("which", ["dashboard", "broker"])
def test_a_port_in_use_is_a_clear_message_not_a_hang(tmp_path: Path, which: str) -> None:
    import re
    import socket

    config, web = demo_config(tmp_path)
    broker = int(re.search(r"embedded_broker:\n  host: 127.0.0.1\n  port: (\d+)", config.read_text())[1])  # type: ignore[index]
    taken = web if which == "dashboard" else broker
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        result = subprocess.run([sys.executable, "-m", "huis.cli", "demo", "--config", str(config)],
                                capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{taken}" in result.stderr
    assert "Traceback" not in result.stderr
