"""A reload that meets a broken file is refused with a message and the running set stays (issue 14).

Before, `for: 99999999999999d` (OverflowError) or a binary `*.yaml` (UnicodeDecodeError) escaped
the reload loop, which caught only ConfigError, and the hub died. Here the real engine runs on a
real SQLite file, SIGHUP-style (`request_reload`), and still handles an SOS press afterwards.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import Engine, load_scenarios
from controller.store import Database
from controller.testing import MemoryAlertSink, MemoryLink
from devices import KINDS
from huis.compose import build_hub
from tests.engine.conftest import running

SOS = """
scenarios:
  - id: sos_pressed
    triggers: [{type: event, device: sos_button, event: emergency}]
    actions: [{type: alert, key: sos, severity: urgent, message: "Alarmknop"}]
"""

BROKEN: dict[str, bytes | None] = {
    "overflowing for": SOS.replace("emergency}]", "emergency, for: 99999999999999d}]").encode(),
    "infinite for": SOS.replace("emergency}]", "emergency, for: .inf}]").encode(),
    "binary file": b"\x00\x01\xff\xfe binary \x00",
    "Latin-1 file": SOS.replace("Alarmknop", "Alarmknop caf\xe9").encode("latin-1"),
    "recursive alias": b"xref: &x [1, *x]\n" + SOS.encode(),
    "mapping as a key": b"{a: 1}: b\n" + SOS.encode(),
    "folder where the file was": None,
}


@pytest.mark.parametrize("what", list(BROKEN))
async def test_a_broken_reload_keeps_the_running_set(what: str, demo_config: HomeConfig,
                                                     clock: VirtualClock, tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    sos = folder / "sos.yaml"
    sos.write_text(SOS, encoding="utf-8")
    hub, sink = build_hub(demo_config, clock, MemoryLink()), MemoryAlertSink()
    db = await Database.connect(tmp_path / "huis.db")
    try:
        engine = Engine(hub, db, sink, load_scenarios([folder], demo_config, KINDS), paths=[folder])
        async with running(engine):
            content = BROKEN[what]
            if content is None:
                sos.unlink()
                sos.mkdir()
            else:
                sos.write_bytes(content)
            engine.request_reload()
            await clock.wait_idle()
            assert engine.last_reload_problems, "the reload should have been refused"
            assert all(p.startswith(str(sos)) for p in engine.last_reload_problems), engine.last_reload_problems
            assert engine.scenario_set.ids() == ["sos_pressed"]
            # The hub lives on with the old set: the button still raises an alert.
            hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
            await clock.advance(seconds=1)
            assert [a.key for a in sink.raised] == ["sos"]
    finally:
        await db.close()
        shutil.rmtree(folder, ignore_errors=True)
