"""config/central.yaml: where the centre's NATS cluster and PostgreSQL are, its teams and homes.

Loaded like the home's config (controller/yamlfile.py): every problem is reported at once with
file, line and key path. Secrets are never in the file itself: passwords, the PostgreSQL DSN
and the homes' command keys are files of their own (mode 0600), named here; a relative path is
relative to the config file's folder.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from central.ingest import NatsSettings
from central.mqtt import MqttSettings
from central.wire import HOME_ID
from controller.errors import ConfigError, HuisError, Problem
from controller.keyfile import load_key
from controller.yamlfile import Located, load_file, pydantic_problems


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tls(_Section):
    """TLS to the cluster (NATS client port and MQTT): the CA that signed the servers' certificates,
    and a client certificate when the cluster asks for one."""

    ca_file: str
    cert_file: str | None = None
    key_file: str | None = None


class Nats(_Section):
    servers: list[str] = Field(min_length=1)  # nats://host:4222 (tls://host:4222 with `tls`)
    mqtt: list[str] = Field(min_length=1)  # host:port of each node's MQTT listener (commands)
    user: str = "centre"
    password_file: str
    tls: Tls | None = None
    replicas: int = Field(default=3, ge=1, le=5)
    batch: int = Field(default=256, ge=1, le=10_000)

    @field_validator("mqtt")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        for a in v:
            host, _, port = a.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{a!r} is not host:port")
        return v


class Postgres(_Section):
    dsn_file: str  # one line: postgresql://user:password@host:5432/huis_central


class Dashboard(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8090, ge=1, le=65535)
    # The central dashboard's (central/app.py): its audit chain's key, cookies, proxies, time zone.
    audit_key_file: str = "../var/central/centre-audit.key"
    secure_cookies: bool | None = None  # default: Secure when served over TLS
    trusted_proxies: list[str] = Field(default_factory=list)
    timezone: str = "Europe/Amsterdam"


class Team(_Section):
    name: str


class Home(_Section):
    team: str
    key_file: str | None = None  # default: <keys_dir>/<id>.key


class CentralConfig(_Section):
    nats: Nats
    postgres: Postgres
    dashboard: Dashboard = Dashboard()
    keys_dir: str = "../var/central/homes"  # the homes' command keys and NATS passwords (add-home)
    teams: dict[str, Team] = Field(default_factory=dict)
    homes: dict[str, Home] = Field(default_factory=dict)
    source: str = Field(default="", exclude=True)  # the file it came from: paths are relative to it

    # -- paths and secrets ------------------------------------------------------------------------

    def path(self, relative: str) -> Path:
        p = Path(relative)
        return p if p.is_absolute() else (Path(self.source).parent / p).resolve()

    def key_file(self, home: str) -> Path:
        h = self.homes.get(home)
        return self.path(h.key_file) if h is not None and h.key_file else self.path(self.keys_dir) / f"{home}.key"

    def nats_password_file(self, home: str) -> Path:
        return self.path(self.keys_dir) / f"{home}.nats-password"

    def home_key(self, home: str) -> bytes:
        """The home's command key; HuisError when the home is not configured or has no key."""
        if home not in self.homes:
            raise HuisError(f"{home} is not a home in {self.source}.")
        return load_key(self.key_file(home), what=f"command key of {home}", create=False,
                        missing="make it with `huis central add-home`")

    def secret(self, relative: str, what: str) -> str:
        p = self.path(relative)
        try:
            text = p.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise HuisError(f"Cannot read the {what} from {p}: {exc.strerror}.") from exc
        if not text:
            raise HuisError(f"{p} (the {what}) is empty.")
        return text

    def tls_context(self) -> ssl.SSLContext | None:
        t = self.nats.tls
        if t is None:
            return None
        ctx = ssl.create_default_context(cafile=str(self.path(t.ca_file)))
        if t.cert_file:
            ctx.load_cert_chain(str(self.path(t.cert_file)), str(self.path(t.key_file)) if t.key_file else None)
        return ctx

    def nats_settings(self) -> NatsSettings:
        return NatsSettings(servers=tuple(self.nats.servers), user=self.nats.user,
                            password=self.secret(self.nats.password_file, "NATS password"),
                            tls=self.tls_context(), replicas=self.nats.replicas, batch=self.nats.batch)

    def mqtt_settings(self) -> MqttSettings:
        addresses = tuple((a.rpartition(":")[0], int(a.rpartition(":")[2])) for a in self.nats.mqtt)
        return MqttSettings(addresses=addresses, user=self.nats.user,
                            password=self.secret(self.nats.password_file, "NATS password"), tls=self.tls_context())

    def dsn(self) -> str:
        return self.secret(self.postgres.dsn_file, "PostgreSQL DSN")

    def teams_of_homes(self) -> dict[str, str | None]:
        return {h: home.team for h, home in self.homes.items()}


def load_central(path: str | Path) -> CentralConfig:
    """Read and check config/central.yaml; ConfigError lists every problem with its line."""
    doc = load_file(path)
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "the file must be a mapping (nats:, postgres:, homes: ...)")])
    try:
        cfg = CentralConfig.model_validate({**doc.data, "source": str(path)})
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(doc, exc)) from exc
    problems = _cross_checks(cfg, doc)
    if problems:
        raise ConfigError(problems)
    return cfg


def _cross_checks(cfg: CentralConfig, doc: Located) -> list[Problem]:
    problems = []
    for home_id, home in cfg.homes.items():
        if not HOME_ID.match(home_id):
            problems.append(doc.problem(("homes", home_id), f"'{home_id}' is not a home id",
                                        "letters, digits, '-' and '_': it is a NATS subject token"))
        if home.team not in cfg.teams:
            problems.append(doc.problem(("homes", home_id, "team"), f"'{home.team}' is not a team",
                                        f"teams: {', '.join(sorted(cfg.teams)) or 'none defined'}"))
    for server in cfg.nats.servers:
        if not server.startswith(("nats://", "tls://")):
            problems.append(doc.problem(("nats", "servers"), f"'{server}' is not a nats:// or tls:// URL"))
    return problems
