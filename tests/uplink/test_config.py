"""The `central:` section: validated with file and line like the rest, off when absent, and the
bridge lines `huis uplink bridge-config` prints from it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from controller.broker_auth import CENTRAL_BRIDGE, render_acl
from controller.config import parse_home
from controller.errors import ConfigError
from controller.yamlfile import load_text
from huis.compose import KINDS, broker_credentials, load_home
from tests.conftest import DEMO_CONFIG
from tests.uplink.rig import home_yaml

MINIMAL = """
rooms:
  bedroom: {name: Slaapkamer, area: [0, 0, 100, 100]}
devices:
  bed_sensor: {kind: bed, room: bedroom}
resident: {pseudonym: Mevrouw Jansen}
"""


def test_the_demo_home_keeps_the_centre_off() -> None:
    assert load_home(DEMO_CONFIG).central is None
    assert "central:" in DEMO_CONFIG.read_text(encoding="utf-8")  # the commented example


def test_a_central_section_with_defaults() -> None:
    cfg = parse_home(load_text(MINIMAL + """
central:
  home_id: zwolle-0042
  pseudonym: cliënt-0042
  addresses: ["centre1.zorg.example:8883", "centre2.zorg.example:8883"]
  password_file: central.password
""", "home.yaml"), KINDS)
    assert cfg.central is not None
    assert cfg.central.user() == "home-zwolle-0042" and cfg.central.share_details is False
    assert cfg.central.heartbeat.total_seconds() == 60


def test_central_mistakes_name_file_line_and_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_home(load_text(MINIMAL + """
central:
  home_id: zwolle.0042
  pseudonym: cliënt-0042
  addresses: ["centre1.zorg.example"]
  share_detail: true
""", "home.yaml"), KINDS)
    lines = [str(p) for p in info.value.problems]
    assert any(line.startswith("home.yaml:9: central.home_id:") for line in lines), lines
    assert any(line.startswith("home.yaml:11: central.addresses") and "host:port" in line for line in lines), lines
    assert any(line.startswith("home.yaml:12: central.share_detail: 'share_detail' is not a valid option")
               and "share_details" in line for line in lines), lines
    assert any("central.password_file: required key missing" in line for line in lines), lines


def write_home(tmp: Path) -> Path:
    return home_yaml(tmp, home_id="zwolle-0042", password="s3cret-for-the-centre",
                     addresses=["10.0.0.1:8883", "10.0.0.2:8883", "10.0.0.3:8883"],
                     tls={"ca_file": "centre-ca.crt"})


def test_bridge_config_prints_the_lines_of_the_wire_format(tmp_path: Path) -> None:
    home = write_home(tmp_path)
    out = tmp_path / "central.conf"
    done = subprocess.run([sys.executable, "-m", "huis.cli", "uplink", "bridge-config", "--config", str(home),
                           "--out", str(out)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    lines = out.read_text().splitlines()
    for wanted in ("address 10.0.0.1:8883 10.0.0.2:8883 10.0.0.3:8883", "cleansession false",
                   "remote_clientid huis-zwolle-0042", "try_private false", "bridge_protocol_version mqttv311",
                   "remote_username home-zwolle-0042", "remote_password s3cret-for-the-centre",
                   "topic # out 1 huis/uplink/ homes/zwolle-0042/up/",
                   "topic # in 1 huis/downlink/ homes/zwolle-0042/down/",
                   "notifications_local_only true", f"local_username {CENTRAL_BRIDGE}",
                   f"bridge_cafile {tmp_path / 'centre-ca.crt'}"):
        assert wanted in lines, wanted
    acl = render_acl(broker_credentials(load_home(home), folder=tmp_path / "mqtt", out=io.StringIO()).accounts)
    hub = acl.split("user huis-hub\n", 1)[1].split("\n\n", 1)[0]
    assert "topic write huis/uplink/#" in hub and "topic read huis/downlink/#" in hub
    bridge = acl.split(f"user {CENTRAL_BRIDGE}\n", 1)[1].split("\n\n", 1)[0]
    assert "topic read huis/uplink/#" in bridge and "topic write huis/downlink/#" in bridge
    others = [block for block in acl.split("\n\n") if "user huis-hub" not in block and CENTRAL_BRIDGE not in block]
    assert not any("huis/uplink" in b or "huis/downlink" in b for b in others)


def test_bridge_config_without_a_central_section_says_so(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "huis.cli", "uplink", "bridge-config", "--config", str(DEMO_CONFIG)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and "no `central:` section" in done.stderr


def test_a_home_linked_to_a_centre_on_the_embedded_broker_is_warned(tmp_path: Path) -> None:
    """`huis demo` without mqtt: runs the demo's own broker, which has no bridge: `huis
    check` says so in plain words (and `huis demo` logs the same line at start)."""
    from huis.check_cli import check
    from huis.uplink import embedded_broker_warning

    path = home_yaml(tmp_path, home_id="zwolle-0042", password="pw", addresses=["centre1.zorg.example:8883"])
    out, err = io.StringIO(), io.StringIO()
    assert check([path], out=out, err=err) == 0  # a warning, not a problem
    assert out.getvalue().startswith("OK:")
    assert "home.yaml: warning: this home is linked to a centre as zwolle-0042 (central:), but has no mqtt:" \
        in err.getvalue()
    assert "demo's own broker, which has no bridge: nothing reaches the centre" in err.getvalue()
    # With its own mosquitto (mqtt:) the same home is not warned; nor is a home without central:.
    with_mqtt = path.read_text(encoding="utf-8") + "mqtt: {host: 127.0.0.1, port: 1883}\n"
    path.write_text(with_mqtt, encoding="utf-8")
    assert load_home(path).mqtt is not None and load_home(path).central is not None
    assert embedded_broker_warning(load_home(path)) is None
    out, err = io.StringIO(), io.StringIO()
    assert check([path], out=out, err=err) == 0 and err.getvalue() == ""
    assert load_home(DEMO_CONFIG).mqtt is None and embedded_broker_warning(load_home(DEMO_CONFIG)) is None
