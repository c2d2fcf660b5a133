"""`huis central`: its config's errors name file and line, add-home makes the home's secrets,
init and run work against the real cluster and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from central.config import load_central
from central.servers import NatsCluster, Postgres
from central.service import run_centre
from central.store import Store
from controller.clock import RealClock
from controller.errors import ConfigError
from huis.cli import main
from tests.central.conftest import HOMES, alert_doc, home, stream_of, up
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(120)


def test_the_shipped_config_loads() -> None:
    cfg = load_central(ROOT / "config" / "central.yaml")
    assert cfg.homes["zwolle-0001"].team == "noord" and cfg.nats.replicas == 3
    assert cfg.key_file("zwolle-0001") == (ROOT / "var" / "central" / "homes" / "zwolle-0001.key")


def test_config_problems_name_file_line_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "central.yaml"
    bad.write_text("""nats:
  servers: [http://a:4222]
  mqtt: ["a:1883", "b"]
  password_file: p
  replica: 3
teams:
  noord: {name: Noord}
homes:
  zwolle-0001: {team: nord}
  "bad home": {team: noord}
""")
    with pytest.raises(ConfigError) as err:
        load_central(bad)
    # Every problem at once (the cross-checks of teams follow once the shape is right).
    assert [str(p) for p in err.value.problems] == [
        f"{bad}:3: nats.mqtt: 'b' is not host:port",
        f"{bad}:5: nats.replica: 'replica' is not a valid option",
        f"{bad}:1: postgres: required key missing",
    ]


def test_cross_checks_name_the_home_and_team(tmp_path: Path) -> None:
    bad = tmp_path / "central.yaml"
    bad.write_text("""nats: {servers: [http://a:4222], mqtt: ["a:1883"], password_file: p}
postgres: {dsn_file: d}
teams:
  noord: {name: Noord}
homes:
  zwolle-0001: {team: nord}
  "bad home": {team: noord}
""")
    with pytest.raises(ConfigError) as err:
        load_central(bad)
    got = [str(p) for p in err.value.problems]
    assert f"{bad}:6: homes.zwolle-0001.team: 'nord' is not a team (teams: noord)" in got
    assert any(p.startswith(f"{bad}:7: homes.bad home: 'bad home' is not a home id") for p in got)
    assert f"{bad}:1: nats.servers: 'http://a:4222' is not a nats:// or tls:// URL" in got


def test_add_home_makes_its_secrets_and_adds_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg_file = tmp_path / "config" / "central.yaml"
    cfg_file.parent.mkdir()
    shutil.copy(ROOT / "config" / "central.yaml", cfg_file)
    assert main(["central", "add-home", "zwolle-0042", "--team", "zuid", "--config", str(cfg_file)]) == 0
    out = capsys.readouterr().out
    cfg = load_central(cfg_file)
    assert cfg.homes["zwolle-0042"].team == "zuid"
    key, pw = cfg.key_file("zwolle-0042"), cfg.nats_password_file("zwolle-0042")
    assert key == tmp_path / "var" / "central" / "homes" / "zwolle-0042.key"
    assert stat.S_IMODE(key.stat().st_mode) == stat.S_IMODE(pw.stat().st_mode) == 0o600
    assert len(cfg.home_key("zwolle-0042")) == 32
    assert '"user": "home-zwolle-0042"' in out and '"homes.zwolle-0042.up.>"' in out
    # Again: the same secrets, not a second entry.
    password = pw.read_text()
    assert main(["central", "add-home", "zwolle-0042", "--team", "zuid", "--config", str(cfg_file)]) == 0
    assert pw.read_text() == password and cfg_file.read_text().count("zwolle-0042") == 1
    assert main(["central", "add-home", "zwolle-0042", "--team", "noord", "--config", str(cfg_file)]) == 2
    assert main(["central", "add-home", "zwolle-9", "--team", "oost", "--config", str(cfg_file)]) == 2


def centre_config(tmp_path: Path, cluster: NatsCluster, postgres: Postgres) -> Path:
    (tmp_path / "nats.pw").write_text(cluster.centre_password + "\n")
    (tmp_path / "pg.dsn").write_text(postgres.dsn + "\n")
    servers = ", ".join(cluster.nats_urls)
    mqtt = ", ".join(f'"{h}:{p}"' for h, p in cluster.mqtt_addresses)
    cfg = tmp_path / "central.yaml"
    cfg.write_text(f"""nats: {{servers: [{servers}], mqtt: [{mqtt}], password_file: nats.pw}}
postgres: {{dsn_file: pg.dsn}}
teams: {{noord: {{name: Noord}}}}
homes:
  {HOMES[0]}: {{team: noord}}
""")
    return cfg


async def test_init_then_run_stores_what_a_home_sends(tmp_path: Path, cluster: NatsCluster, postgres: Postgres,
                                                     store: Store) -> None:
    cfg_file = centre_config(tmp_path, cluster, postgres)
    assert await asyncio.to_thread(main, ["central", "init", "--config", str(cfg_file)]) == 0
    assert [h.team for h in await store.homes([HOMES[0]])] == ["noord"]
    # The stream exists before the centre runs: a home may publish now and nothing is lost.
    h = home(cluster, node=1)
    async with h.client() as c:
        await h.publish(c, up(h.id, "alert", action="raised", alert=alert_doc("a-1")))
    task = asyncio.create_task(run_centre(load_central(cfg_file), RealClock(), web=False))
    try:
        async def stored() -> int:
            return await store.count("events", h.id)
        async with asyncio.timeout(30):
            while await stored() < 1:  # noqa: ASYNC110 - polling a real database
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    [alert] = await store.open_alerts([h.id])
    assert (alert.id, alert.team) == ("a-1", "noord")


async def test_the_centre_killed_9_mid_stream_stores_everything_once(tmp_path: Path, cluster: NatsCluster,
                                                                     postgres: Postgres, store: Store) -> None:
    cfg_file = centre_config(tmp_path, cluster, postgres)
    assert await asyncio.to_thread(main, ["central", "init", "--config", str(cfg_file)]) == 0
    huis = str(Path(sys.executable).parent / "huis")
    argv = [huis, "central", "run", "--no-dashboard", "--config", str(cfg_file)]
    log = (tmp_path / "centre.log").open("ab")
    h = home(cluster, node=0)
    docs = stream_of(h.id, 300)

    async def stored() -> int:
        return await store.count("events", h.id)

    async def wait_for(n: int) -> None:
        async with asyncio.timeout(60):
            while await stored() < n:  # noqa: ASYNC110 - polling a real database
                await asyncio.sleep(0.02)

    first = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with h.client() as c:
            for doc in docs[:150]:
                await h.publish(c, doc)
            await wait_for(1)
            first.kill()  # SIGKILL: what it fetched and did not acknowledge comes again
            await first.wait()
            for doc in docs[150:]:
                await h.publish(c, doc)
        second = await asyncio.create_subprocess_exec(*argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            await wait_for(300)
        finally:
            second.send_signal(signal.SIGINT)
            await asyncio.wait_for(second.wait(), 20)
    finally:
        if first.returncode is None:
            first.kill()
            await first.wait()
        log.close()
    async with store.pool.connection() as conn:
        cur = await conn.execute("SELECT msg_id::text AS m FROM events WHERE home = %s", (h.id,))
        ids = [r["m"] for r in await cur.fetchall()]
    assert len(ids) == len(set(ids)) == 300 and set(ids) == {d["msg_id"] for d in docs}
