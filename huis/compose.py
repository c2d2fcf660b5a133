"""The composition root: builds a running home from its configuration, the one place that does.

`huis run`, `huis demo`, `huis replay`, the test harnesses and the benchmarks all build their hub
and engine here, so every one of them gets the same device adapters (`devices.KINDS`, handed to
the kernel, which never imports them) and the same wiring. `serve_home` adds what lives outside
the kernel: the dashboard and, for the demo, the simulated devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from controller.alerts.channels.base import Channel
from controller.alerts.policy import AlertsConfig, load_alerts
from controller.alerts.service import AlertService
from controller.broker_auth import (
    HUB,
    Credentials,
    credentials_folder,
    ensure_credentials,
    home_client_id,
    plan_accounts,
    read_secret,
)
from controller.clock import Clock, RealClock
from controller.config import HomeConfig, Mqtt, link_settings, resolve
from controller.config import load_home as load_home_with
from controller.device_kind import DeviceKind
from controller.engine import AlertSink, Engine, ScenarioSet, load_scenarios
from controller.engine.loader import check_paths, config_scenario_paths
from controller.errors import Problem
from controller.events import Context, Event
from controller.history import History
from controller.hub import Hub, Service
from controller.idle import wait_idle
from controller.mqtt import Link, LinkSettings, MemoryLink, MqttLink
from controller.routine import Routine, RoutineKeeper
from controller.storage_guard import Notify, StorageGuard, StorageNotice
from controller.store import Database
from devices import KINDS
from huis.ha_discovery import STATE_FILE, HaDiscovery
from huis.instance import single_instance

if TYPE_CHECKING:  # imported where used: `huis run` reacts before the web stack is loaded
    from fastapi import FastAPI

    from huis.uplink import Uplink

log = logging.getLogger(__name__)

Kinds = Mapping[str, DeviceKind]


def load_home(path: str | Path, kinds: Kinds = KINDS) -> HomeConfig:
    """Load and validate a home configuration against the shipped device adapters."""
    return load_home_with(path, kinds)


def build_hub(cfg: HomeConfig, clock: Clock, link: Link | LinkSettings | None = None, *,
              kinds: Kinds = KINDS) -> Hub:
    """A hub for `cfg` (not yet running: call `hub.run()`).

    `link` is where its messages go: a Link as is (a MemoryLink in tests), LinkSettings for a
    real MQTT link to that broker, or None for an in-memory link that only records.
    """
    if not isinstance(link, LinkSettings):
        return Hub(cfg, clock, kinds, link if link is not None else MemoryLink())
    hub = Hub(cfg, clock, kinds)
    # Acknowledged to the broker only once `hub.settle()` says what a message caused is recorded.
    mqtt = MqttLink(link, clock, hub.handle_message, on_connection=hub.link_status, settle=hub.settle)
    mqtt.subscribe(*hub.subscriptions())
    hub.link = mqtt
    return hub


def hub_settings(cfg: HomeConfig, host: str, port: int) -> LinkSettings:
    """How the hub reaches the broker at host:port: the configured credentials, else the
    generated `huis-hub` account (docs/broker.md); a persistent session under a client id
    stable for this home, so the broker keeps its messages while the hub is away."""
    mqtt = cfg.mqtt.model_copy(update={"host": host, "port": port}) if cfg.mqtt else Mqtt(host=host, port=port)
    settings = link_settings(cfg, mqtt)
    if settings.username is None:
        secret = read_secret(credentials_folder(cfg), HUB)
        if secret is not None:
            settings = dataclasses.replace(settings, username=HUB, password=secret)
        else:
            log.warning("no MQTT credentials (mqtt.username, or `huis broker-credentials`): "
                        "connecting anonymously, which a closed broker refuses")
    client_id = mqtt.client_id if "client_id" in mqtt.model_fields_set else home_client_id(cfg)
    return dataclasses.replace(settings, client_id=client_id, persistent=True)


def broker_credentials(cfg: HomeConfig, *, folder: Path | None = None, broker_folder: Path | None = None,
                       kinds: Kinds = KINDS, out: TextIO | None = None) -> Credentials:
    """The home's broker accounts (controller/broker_auth.py), generating the passwords that do
    not exist yet; those are printed to `out` this once (they stay in 0600 files only)."""
    accounts = plan_accounts(Hub(cfg, RealClock(), kinds))
    creds = ensure_credentials(folder or credentials_folder(cfg), accounts, broker_folder)
    if creds.created:
        stream = out if out is not None else sys.stdout
        print(f"Generated MQTT accounts in {creds.folder} (mode 0600; shown this once, never commit them):",
              file=stream)
        for name in creds.created:
            print(f"  {name}: {creds.password(name)}", file=stream)
    return creds


def scenarios_for(cfg: HomeConfig, paths: Sequence[str | Path] | None = None,
                  overrides: Mapping[str, Mapping[str, object]] | None = None, *,
                  kinds: Kinds = KINDS) -> ScenarioSet:
    """The scenarios at `paths` (default: the folders the configuration names), checked against
    the home and its device kinds; raises ConfigError with every problem."""
    chosen = list(paths) if paths is not None else list(config_scenario_paths(cfg))
    return load_scenarios(chosen, cfg, kinds, overrides)


def check_files(paths: Sequence[str | Path], kinds: Kinds = KINDS) -> list[Problem]:
    """Every problem in configuration and scenario files checked together (`huis check`)."""
    return check_paths(list(paths), kinds)


@dataclass(frozen=True, slots=True, kw_only=True)
class Parts:
    """How to build one home's hub and engine: its configuration, device kinds and scenarios."""

    config: HomeConfig
    scenarios: ScenarioSet
    paths: tuple[Path, ...]  # where the scenarios came from, for reloads
    kinds: Kinds = field(default_factory=lambda: KINDS)

    @classmethod
    def load(cls, cfg: HomeConfig, paths: Sequence[str | Path] | None = None,
             overrides: Mapping[str, Mapping[str, object]] | None = None, *,
             kinds: Kinds = KINDS) -> Parts:
        """Parts for `cfg` with the scenarios at `paths` (default: the configured folders)."""
        chosen = tuple(Path(p) for p in paths) if paths is not None else tuple(config_scenario_paths(cfg))
        return cls(config=cfg, scenarios=scenarios_for(cfg, chosen, overrides, kinds=kinds), paths=chosen,
                   kinds=kinds)

    def hub(self, clock: Clock, link: Link | LinkSettings | None = None) -> Hub:
        """A hub for the home (see `build_hub`)."""
        return build_hub(self.config, clock, link, kinds=self.kinds)

    def engine(self, hub: Hub, db: Database, alerts: AlertSink) -> Engine:
        """The home's engine on `hub`, keeping its timers and traces in `db`."""
        return Engine(hub, db, alerts, self.scenarios, paths=list(self.paths))

    def history(self, hub: Hub, db: Database, clock: Clock) -> History:
        """The record of `hub`'s events in `db` (call `open()` before running it)."""
        return History(db, hub.bus, clock)

    def routine(self, db: Database, clock: Clock, use: Callable[[Routine], None]) -> RoutineKeeper:
        """The resident's routine learned from the history in `db`, recomputed at start and at the
        routine's nightly time on `clock`, each new one handed to `use` (an engine's
        `use_routine`); the fixed defaults until `routine.learn_days` days are known."""
        return RoutineKeeper(db, self.config, clock, use=use)


def alerts_config(cfg: HomeConfig) -> AlertsConfig:
    """The home's escalation policies (config/alerts.yaml), validated against its caregivers."""
    if cfg.alerts is None:
        raise ValueError("this home has no alerts file configured")
    return load_alerts(resolve(cfg, cfg.alerts), cfg.caregivers)


@dataclass(slots=True)
class Home:
    """The parts of a running home, for the CLI, the dashboard and tests."""

    hub: Hub
    db: Database  # the dashboard's handle; the other components have their own (one writer)
    history: History
    alerts: AlertService
    engine: Engine
    _owned: list[Database]
    routine: RoutineKeeper | None = None  # the resident's routine, recomputed nightly
    storage: StorageGuard | None = None  # tells and recovers when the disk refuses writes
    homeassistant: HaDiscovery | None = None  # Home Assistant MQTT discovery (or its withdrawal)
    uplink: Uplink | None = None  # the link to the care centre (`central:`, huis/uplink.py)
    simulated: object | None = None  # the demo's SimulatedHome (simulators/), when it runs

    async def run(self, *services: Service) -> None:
        """Run link, health, history, alerts, engine, routine, the storage guard and `services`
        until cancelled."""
        learning = (self.routine.run,) if self.routine is not None else ()
        guard = (self.storage.run,) if self.storage is not None else ()
        ha = (self.homeassistant.run,) if self.homeassistant is not None else ()
        up = (self.uplink.run,) if self.uplink is not None else ()
        await self.hub.run(self.history.run, self.alerts.run, self.engine.run, *learning, *guard, *ha,
                           *up, *services)

    async def close(self) -> None:
        await self.alerts.aclose()
        for db in reversed(self._owned):
            await db.close()


async def open_home(
    cfg: HomeConfig,
    clock: Clock,
    *,
    settings: LinkSettings | None = None,
    link: Link | None = None,
    db_path: str | Path | None = None,
    alert_channels: Mapping[str, Channel] | Iterable[Channel] | None = None,
    policies: AlertsConfig | None = None,
    parts: Parts | None = None,
) -> Home:
    """Build a home from `cfg`: the MQTT link from `settings` (or the given `link`), the
    database at `db_path` (default: the config's storage path), scenarios from the config
    (or the already loaded `parts`), escalation `policies` (default: the config's alerts file;
    the tour's sandbox pages only its demo caregivers).

    Raises ConfigError when the alerts file or a scenario is invalid.
    """
    path = db_path if db_path is not None else resolve(cfg, cfg.storage.path)
    # Validate everything before opening anything, so a bad file leaves nothing half-open.
    policies = policies if policies is not None else alerts_config(cfg)
    parts = dataclasses.replace(parts, config=cfg) if parts is not None else Parts.load(cfg)
    if link is None and settings is None:
        raise ValueError("open_home needs link settings or a link")
    hub = parts.hub(clock, link if link is not None else settings)
    # One writer for the file, shared by every component; each reads on its own connection
    # (see controller/store.py). The first handle is the dashboard's.
    dbs: list[Database] = [await Database.connect(path, component="dashboard")]
    try:
        for component in ("history", "alerts", "engine", "routine"):
            dbs.append(await dbs[0].for_component(component))
        history = parts.history(hub, dbs[1], clock)
        await history.open()
        alerts = AlertService.from_hub(hub, dbs[2], policies, base_url=cfg.dashboard.url(),
                                       channels=alert_channels, wall=RealClock())
        await alerts.open()
        engine = parts.engine(hub, dbs[3], alerts)
        # What "recorded" means before a device message is acknowledged to the broker: the
        # engine live (events from before are replayed to it), everything the message set off
        # run until it waits (an alert is stored when raised), history and timers committed.
        # Traces and latches are not waited for (docs/reliability.md, "What a kill may lose").
        hub.settle_steps[:] = [engine.ready.wait, wait_idle, history.flush, engine.flush_durable]
    except BaseException:
        for db in reversed(dbs):
            await db.close()
        raise
    log.info("home %r: %d devices, %d scenarios, database %s", cfg.home.name, len(hub.devices),
             len(parts.scenarios.scenarios), path)
    dbs[4].own_holding()  # the routine reads the history, which stays on the file
    routine = parts.routine(dbs[4], clock, engine.use_routine)
    return Home(hub=hub, db=dbs[0], history=history, alerts=alerts, engine=engine, _owned=dbs,
                routine=routine, storage=StorageGuard(dbs[0], clock, storage_notices(alerts)),
                homeassistant=ha_discovery(hub, engine, alerts, Path(path).parent),
                uplink=uplink_for(hub, engine, alerts, Path(path).parent))


def uplink_for(hub: Hub, engine: Engine, alerts: AlertService, folder: Path) -> Uplink | None:
    """The uplink to the care centre when the home has a `central:` section (huis/uplink.py)."""
    if hub.config.central is None:
        return None
    from huis.uplink import Uplink

    return Uplink(hub=hub, engine=engine, alerts=alerts, folder=folder)


def ha_discovery(hub: Hub, engine: Engine, alerts: AlertService, folder: Path) -> HaDiscovery | None:
    """Home Assistant discovery when the home asks for it, or to withdraw what an earlier run
    published (`ha-discovery.json` next to the database); None when there is neither."""
    if not hub.config.homeassistant.discovery and not (folder / STATE_FILE).exists():
        return None
    return HaDiscovery(hub=hub, engine=engine, alerts=alerts, folder=folder)


STORAGE_ALERT_KEY = "hub.storage"


def storage_notices(alerts: AlertService) -> Notify:
    """Storage faults as an alert for the technician, raised and resolved through `alerts` (a
    warning: it reaches people on every channel its policy has that still works)."""

    async def notify(notice: StorageNotice) -> None:
        ctx = Context(origin="hub", description=f"storage: {notice.what}")
        if notice.recovered is None:
            await alerts.raise_alert(key=STORAGE_ALERT_KEY, scenario="storage", severity="warning",
                                     message=notice.message_nl, context=ctx,
                                     data={"message_en": notice.message_en, "for": "technician",
                                           "error": notice.error})
        else:
            await alerts.resolve_alert(key=STORAGE_ALERT_KEY, reason=notice.message_nl, context=ctx)

    return notify


# -- serving a home: the dashboard and the simulators join the kernel here ------------------------


class RecentEvents:
    """The hub's last events, kept for the dashboard's live feed until a page first opens (the
    web stack is loaded only then): the tour's narrations and the caregiver's day start from
    them as they would have from a feed that ran all along."""

    def __init__(self, hub: Hub, size: int = 2000) -> None:
        self.events: deque[Event[object]] = deque(maxlen=size)
        self._unsubscribe = hub.bus.subscribe(self.events.append)

    def hand_to(self, on_event: Callable[[Event[object]], None]) -> None:
        """Give every kept event to `on_event`, oldest first, and stop keeping them; call it in
        the loop turn that subscribed `on_event` to the bus, so no event is missed or doubled."""
        self._unsubscribe()
        for event in self.events:
            on_event(event)
        self.events.clear()


def _dashboard_app(home: Home, *, services_for: bool) -> FastAPI:
    from dashboard.app import create_app

    simulated = home.simulated if services_for else None
    return create_app(home.hub, db=home.db, engine=home.engine, alerts=home.alerts, simulated_home=simulated,
                      history=home.history, routine=home.routine)


def _simulated(cfg: HomeConfig, clock: Clock, host: str, port: int, home: Home) -> list[Service]:
    """The demo's simulated devices and, where alerts.yaml points ntfy, its phones."""
    from simulators.home import SimulatedHome, run_simulators
    from simulators.ntfy_server import loopback_port
    from simulators.ntfy_server import serve as serve_ntfy

    simulated = home.simulated = SimulatedHome(cfg, clock)

    async def simulators() -> None:
        await run_simulators(cfg, clock, host, port, home=simulated)

    services: list[Service] = [simulators]
    # The demo's phones: a local ntfy stand-in where alerts.yaml points ntfy (never ntfy.sh).
    ntfy_port = loopback_port(home.alerts.config.channel_settings.get("ntfy", {}).get("server"))
    if ntfy_port is not None:
        async def phones() -> None:
            await serve_ntfy(ntfy_port)

        services.append(phones)
    return services


def pid_file_for(cfg: HomeConfig) -> Path:
    """Where a running hub records its pid: next to its database (var/huis.pid in the demo)."""
    return resolve(cfg, cfg.storage.path).parent / "huis.pid"


def write_pid_file(path: str | Path) -> Path:
    """Record this process's id so `huis reload` can find it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"{os.getpid()}\n", encoding="utf-8")
    return p


def install_reload_signal(engine: Engine) -> None:
    """SIGHUP -> `engine.request_reload()` (call inside the running event loop)."""
    asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, engine.request_reload)


def _import_dashboard() -> None:
    import dashboard.app  # noqa: F401  (the web stack: FastAPI, uvicorn, the routes)


async def serve_dashboard(home: Home, sock: socket.socket, recent: RecentEvents, *, services_for: bool) -> None:
    """Serve the dashboard on the listening `sock` from the first connection on, until cancelled.

    The web stack (FastAPI, uvicorn, the pages; ~25 MiB and a third of a second) is imported
    only when someone opens a page, on a thread; the app is built in one loop turn with the
    events kept meanwhile, and uvicorn accepts the waiting connection from the same socket.
    """
    from dashboard.server import first_connection, serve

    await home.engine.ready.wait()  # the first reaction never waits for a page
    await first_connection(sock)
    log.info("dashboard: first visitor; loading the web pages")
    await asyncio.to_thread(_import_dashboard)
    app = _dashboard_app(home, services_for=services_for)
    recent.hand_to(app.state.huis.feed.on_event)
    web = home.hub.config.dashboard
    await serve(app, web.host, web.port, trusted_proxies=web.trusted_proxies, sock=sock)


async def serve_home(cfg: HomeConfig, clock: Clock, host: str, port: int, *, simulate: bool = False,
                     parts: Parts | None = None, policies: AlertsConfig | None = None) -> None:
    """Run the home against the broker at host:port with its dashboard until cancelled; with
    `simulate`, the simulated devices too (`huis demo`). `parts` and `policies`: the scenarios
    and alerts already loaded and checked (`huis run` reads each file once)."""
    # One hub per database (huis/instance.py): refused before anything is opened or written.
    with single_instance(resolve(cfg, cfg.storage.path)):
        # The dashboard's port is taken before the hub starts (a port in use is refused at once);
        # what listens on it until the first page opens is this plain socket.
        from dashboard.server import listen

        with listen(cfg.dashboard.host, cfg.dashboard.port) as sock:
            await _serve_home(cfg, clock, host, port, sock, simulate=simulate, parts=parts, policies=policies)


async def _serve_home(cfg: HomeConfig, clock: Clock, host: str, port: int, sock: socket.socket, *,
                      simulate: bool, parts: Parts | None, policies: AlertsConfig | None) -> None:
    home = await open_home(cfg, clock, settings=hub_settings(cfg, host, port), parts=parts, policies=policies)
    recent = RecentEvents(home.hub)
    services: list[Service] = _simulated(cfg, clock, host, port, home) if simulate else []

    async def dashboard() -> None:
        await serve_dashboard(home, sock, recent, services_for=simulate)

    pid_file: Path | None = None
    try:
        pid_file = write_pid_file(pid_file_for(cfg))
    except OSError as exc:  # a read-only disk must not keep the hub from starting
        log.error("cannot record the hub's pid (%s): `huis reload` will not find this hub; "
                  "send it SIGHUP to reload", exc)
    install_reload_signal(home.engine)  # SIGHUP / `huis reload`
    try:
        await home.run(dashboard, *services)
    finally:
        if pid_file is not None:
            with contextlib.suppress(OSError):
                pid_file.unlink(missing_ok=True)
        await home.close()
