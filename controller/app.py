"""A whole running home: hub, database, history, alerts, rule engine.

`open_home` builds it from a configuration, `Home.run` supervises every part under one
TaskGroup, and `Home.close` releases the database. The CLI adds the dashboard (which lives
outside the kernel) as one more service.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.alerts.policy import AlertsConfig, load_alerts
from controller.alerts.service import AlertService
from controller.clock import Clock
from controller.config import HomeConfig, resolve
from controller.engine.engine import Engine
from controller.engine.loader import config_scenario_paths, load_scenarios
from controller.history import History
from controller.hub import Hub, Service
from controller.mqtt import Link, LinkSettings
from controller.runtime import build_hub
from controller.store import Database

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Home:
    """The parts of a running home, for the CLI, the dashboard and tests."""

    hub: Hub
    db: Database  # for the dashboard; the other components have their own connections
    history: History
    alerts: AlertService
    engine: Engine
    _owned: list[Database]

    async def run(self, *services: Service) -> None:
        """Run link, health, history, alerts, engine and `services` until cancelled."""
        await self.hub.run(self.history.run, self.alerts.run, self.engine.run, *services)

    async def close(self) -> None:
        await self.alerts.aclose()
        for db in self._owned:
            await db.close()


def alerts_config(cfg: HomeConfig) -> AlertsConfig:
    """The home's escalation policies (config/alerts.yaml), validated against its caregivers."""
    if cfg.alerts is None:
        raise ValueError("this home has no alerts file configured")
    return load_alerts(resolve(cfg, cfg.alerts), cfg.caregivers)


async def open_home(
    cfg: HomeConfig,
    clock: Clock,
    *,
    settings: LinkSettings | None = None,
    link: Link | None = None,
    db_path: str | Path | None = None,
    alert_channels: Any = None,
) -> Home:
    """Build a home from `cfg`: the MQTT link from `settings` (or the given `link`), the
    database at `db_path` (default: the config's storage path), scenarios from the config.

    Raises ConfigError when the alerts file or a scenario is invalid.
    """
    path = db_path if db_path is not None else resolve(cfg, cfg.storage.path)
    # Validate everything before opening anything, so a bad file leaves nothing half-open.
    policies = alerts_config(cfg)
    from devices import KINDS  # passed in by the composition root once there is one

    scenarios = load_scenarios(config_scenario_paths(cfg), cfg, KINDS)
    if link is not None:
        hub = Hub(cfg, clock, link)
    elif settings is not None:
        hub = build_hub(cfg, clock, settings)
    else:
        raise ValueError("open_home needs link settings or a link")
    # One connection per component: see controller/store.py.
    dbs: list[Database] = []
    try:
        for _ in range(4):
            dbs.append(await Database.connect(path))
        history = History(dbs[0], hub.bus, clock)
        await history.open()
        alerts = AlertService.from_hub(hub, dbs[1], policies, base_url=cfg.dashboard.url(),
                                       channels=alert_channels)
        await alerts.open()
        engine = Engine(hub, dbs[2], alerts, scenarios)
    except BaseException:
        for db in dbs:
            await db.close()
        raise
    log.info("home %r: %d devices, %d scenarios, database %s", cfg.home.name, len(hub.devices),
             len(scenarios.scenarios), path)
    return Home(hub=hub, db=dbs[3], history=history, alerts=alerts, engine=engine, _owned=dbs)
