"""Escalation policies and caregivers' channels, from `config/alerts.yaml`.

Validated like the home configuration: every problem is reported at once as
`file:line: key.path: message (hint)`. Caregivers themselves (names, language) live in
`config/home.yaml`; this file says how and when to reach them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from controller.alerts.model import SEVERITIES, ChannelTarget, Recipient
from controller.durations import parse_duration
from controller.errors import ConfigError, Problem
from controller.events import Severity
from controller.yamlfile import Located, load_file, pydantic_problems, suggest

if TYPE_CHECKING:
    from controller.config import Caregiver

# Channel types the service knows, and the options each needs per caregiver.
CHANNEL_TYPES: dict[str, tuple[str, ...]] = {
    "ntfy": (),  # 'topic' is generated at first start when absent or 'generate' (topics.py)
    "apprise": (),  # 'url' or 'url_env'
    "homeassistant": ("service",),
    "mqtt": (),
    "page": (),
}
RETRY_KEYS = ("timeout", "retries", "backoff")

# Occurrences (docs/alerts.md): a repeated non-urgent raise re-notifies those already paged when
# the acknowledgement is older than this; an alert nobody resolves expires this long after its
# last activity (never an urgent one nobody acknowledged: that keeps escalating).
RENOTIFY_AFTER = timedelta(minutes=30)
EXPIRE_AFTER = timedelta(hours=8)


def _duration(value: object) -> timedelta:
    return parse_duration(value)


def _time_of_day(value: object) -> time:
    # Unquoted 22:00 is a base-60 integer in YAML 1.1 (22*60); read it back as the time meant.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return time(value // 60, value % 60)
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a time of day (try '22:00')")


Duration = Annotated[timedelta, BeforeValidator(_duration)]
TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Open(BaseModel):
    # Channel sections carry type-specific options (server, topic, url, ...).
    model_config = ConfigDict(extra="allow", frozen=True)


class ChannelSettingsModel(_Open):
    timeout: Duration | None = None
    retries: int | None = Field(None, ge=0, le=10)
    backoff: Duration | None = None


class CaregiverChannelModel(ChannelSettingsModel):
    type: str


class CaregiverModel(_Strict):
    channels: list[CaregiverChannelModel] = Field(default_factory=list)


class StepModel(_Strict):
    after: Duration
    notify: list[str] = Field(min_length=1)


class PolicyModel(_Strict):
    steps: list[StepModel] = Field(min_length=1)
    repeat_last_every: Duration | None = None
    auto_resolve_after: Duration | None = None
    renotify_after: Duration | None = None
    expire_after: Duration | None = None


class SeverityModel(_Strict):
    policy: str
    channels: list[str] = Field(min_length=1)
    quiet_hours: bool = False


class QuietHoursModel(_Strict):
    start: TimeOfDay
    end: TimeOfDay


class AlertsFileModel(_Strict):
    public_url: str | None = None
    ack_link_ttl: Duration = timedelta(hours=12)
    renotify_after: Duration = RENOTIFY_AFTER
    expire_after: Duration = EXPIRE_AFTER
    quiet_hours: QuietHoursModel | None = None
    channels: dict[str, ChannelSettingsModel] = Field(default_factory=dict)
    severities: dict[Severity, SeverityModel]
    policies: dict[str, PolicyModel]
    scenarios: dict[str, str] = Field(default_factory=dict)
    caregivers: dict[str, CaregiverModel] = Field(default_factory=dict)

    @field_validator("public_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v):
            raise ValueError(f"{v!r} is not an http(s) address (try 'https://huis.example.nl')")
        return v


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyStep:
    """Who is paged, how long after the alert was raised."""

    after: timedelta
    notify: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class EscalationPolicy:
    """Ordered steps; the last one repeats every `repeat_every` until someone acknowledges.

    `renotify_after` and `expire_after` are the occurrence rules (docs/alerts.md, "Occurrences").
    """

    name: str
    steps: tuple[PolicyStep, ...]
    repeat_every: timedelta | None = None
    auto_resolve_after: timedelta | None = None
    renotify_after: timedelta = RENOTIFY_AFTER
    expire_after: timedelta = EXPIRE_AFTER

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a policy needs at least one step")
        if self.repeat_every is not None and self.repeat_every <= timedelta(0):
            raise ValueError("repeat_every must be positive")
        if self.expire_after <= timedelta(0):
            raise ValueError("expire_after must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityRule:
    """Which policy and which channel types a severity uses; whether quiet hours hold it back."""

    policy: str
    channels: tuple[str, ...]
    quiet_hours: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertsConfig:
    """Everything `config/alerts.yaml` says, validated."""

    policies: Mapping[str, EscalationPolicy]
    severities: Mapping[str, SeverityRule]
    scenarios: Mapping[str, str] = field(default_factory=dict)  # scenario -> policy name
    quiet_hours: tuple[time, time] | None = None
    ack_link_ttl: timedelta = timedelta(hours=12)
    channel_settings: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    caregiver_channels: Mapping[str, tuple[ChannelTarget, ...]] = field(default_factory=dict)
    public_url: str | None = None  # where phones reach the hub; overrides the dashboard's address
    source: str = "<memory>"

    def policy_for(self, scenario: str, severity: str) -> EscalationPolicy:
        """The policy an alert follows: the scenario's own, else its severity's."""
        name = self.scenarios.get(scenario) or self.severities[severity].policy
        return self.policies[name]

    def recipients(self, caregivers: Mapping[str, Caregiver]) -> dict[str, Recipient]:
        """Recipients from home.yaml's caregivers (name, relation, language) plus our channels."""
        return {cid: Recipient(id=cid, name=cg.name, relation=cg.relation, language=cg.language,
                               channels=self.caregiver_channels.get(cid, ()))
                for cid, cg in caregivers.items()}


_TARGET_DEFAULTS: dict[str, tuple[timedelta, int, timedelta]] = {
    "ntfy": (timedelta(seconds=10), 2, timedelta(seconds=2)),
    "apprise": (timedelta(seconds=30), 1, timedelta(seconds=5)),
    "homeassistant": (timedelta(seconds=10), 2, timedelta(seconds=2)),
    "mqtt": (timedelta(seconds=5), 0, timedelta(seconds=1)),
    "page": (timedelta(seconds=5), 0, timedelta(seconds=1)),
}


def _fields() -> dict[tuple[str | int, ...], list[str]]:
    return {
        (): list(AlertsFileModel.model_fields),
        ("quiet_hours",): list(QuietHoursModel.model_fields),
        ("severities", "*"): list(SeverityModel.model_fields),
        ("policies", "*"): list(PolicyModel.model_fields),
        ("policies", "*", "steps", "*"): list(StepModel.model_fields),
        ("caregivers", "*"): list(CaregiverModel.model_fields),
    }


def _star(fields: dict[tuple[str | int, ...], list[str]], data: object) -> dict[tuple[str | int, ...], list[str]]:
    out = dict(fields)
    if isinstance(data, dict):
        for section in ("severities", "policies", "caregivers"):
            for key in data.get(section) or {}:
                for path, names in fields.items():
                    if path[:2] == (section, "*"):
                        out[(section, str(key), *path[2:])] = names
    return out


def parse_alerts(doc: Located, caregiver_ids: Iterable[str] | None = None) -> AlertsConfig:
    """Validate parsed YAML; raises ConfigError listing every problem.

    `caregiver_ids` are the caregivers of home.yaml; steps may only page those.
    """
    if not isinstance(doc.data, dict):
        raise ConfigError([doc.problem((), "the file should be a mapping of sections")])
    try:
        model = AlertsFileModel.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(doc, exc, fields=_star(_fields(), doc.data))) from exc
    known = set(caregiver_ids) if caregiver_ids is not None else set(model.caregivers)
    problems = _cross_check(model, doc, known)
    if problems:
        raise ConfigError(problems)
    return _build(model, doc.file)


def _cross_check(model: AlertsFileModel, doc: Located, caregivers: set[str]) -> list[Problem]:
    # The order of the checks is the order problems are reported in: the file's own order.
    return [*_check_severities(model, doc), *_check_policies(model, doc, caregivers),
            *_check_scenarios(model, doc), *_check_channel_sections(model, doc),
            *_check_caregivers(model, doc, caregivers)]


def _unknown_channel(doc: Located, path: tuple[str | int, ...], ctype: str) -> Problem:
    return doc.problem(path, f"unknown channel type '{ctype}'",
                       suggest(ctype, CHANNEL_TYPES) or f"known: {', '.join(CHANNEL_TYPES)}")


def _check_severities(model: AlertsFileModel, doc: Located) -> list[Problem]:
    problems = [doc.problem(("severities",), f"severity '{sev}' is not configured",
                            "every alert has a severity; give each a policy and channels")
                for sev in SEVERITIES if sev not in model.severities]
    for sev, rule in model.severities.items():
        path = ("severities", sev)
        if rule.policy not in model.policies:
            problems.append(doc.problem((*path, "policy"), f"unknown policy '{rule.policy}'",
                                        suggest(rule.policy, model.policies)))
        if rule.quiet_hours and sev == "urgent":
            problems.append(doc.problem((*path, "quiet_hours"), "quiet hours never apply to urgent alerts",
                                        "remove 'quiet_hours' here"))
        problems += [_unknown_channel(doc, (*path, "channels", i), ch)
                     for i, ch in enumerate(rule.channels) if ch not in CHANNEL_TYPES]
    if any(r.quiet_hours for r in model.severities.values()) and model.quiet_hours is None:
        problems.append(doc.problem(("quiet_hours",), "a severity respects quiet hours but none are set",
                                    "add quiet_hours: {start: '22:00', end: '07:00'}"))
    return problems


def _check_policies(model: AlertsFileModel, doc: Located, caregivers: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for name, policy in model.policies.items():
        last = timedelta(0)
        for i, step in enumerate(policy.steps):
            spath = ("policies", name, "steps", i)
            if step.after < last:
                problems.append(doc.problem((*spath, "after"), "steps must be in order of 'after'",
                                            "a later step cannot come sooner than the one before"))
            last = step.after
            problems += [doc.problem((*spath, "notify", j), f"unknown caregiver '{who}'",
                                     suggest(who, caregivers)
                                     or f"caregivers in home.yaml: {', '.join(sorted(caregivers))}")
                         for j, who in enumerate(step.notify) if who not in caregivers]
        if policy.repeat_last_every is not None and policy.repeat_last_every <= timedelta(0):
            problems.append(doc.problem(("policies", name, "repeat_last_every"), "must be longer than 0s"))
        if policy.expire_after is not None and policy.expire_after <= timedelta(0):
            problems.append(doc.problem(("policies", name, "expire_after"), "must be longer than 0s",
                                        "an alert nobody resolves must close some time; try '8h'"))
    if model.expire_after <= timedelta(0):
        problems.append(doc.problem(("expire_after",), "must be longer than 0s", "try '8h'"))
    return problems


def _check_scenarios(model: AlertsFileModel, doc: Located) -> list[Problem]:
    return [doc.problem(("scenarios", scenario), f"unknown policy '{pname}'", suggest(pname, model.policies))
            for scenario, pname in model.scenarios.items() if pname not in model.policies]


def _check_channel_sections(model: AlertsFileModel, doc: Located) -> list[Problem]:
    return [doc.problem(("channels", ctype), f"unknown channel type '{ctype}'", suggest(ctype, CHANNEL_TYPES))
            for ctype in model.channels if ctype not in CHANNEL_TYPES]


def _check_caregivers(model: AlertsFileModel, doc: Located, caregivers: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    for cid, cg in model.caregivers.items():
        if cid not in caregivers:
            problems.append(doc.problem(("caregivers", cid), f"'{cid}' is not a caregiver in home.yaml",
                                        suggest(cid, caregivers)))
        for i, cch in enumerate(cg.channels):
            problems += _check_caregiver_channel(doc, ("caregivers", cid, "channels", i), cch)
    return problems


def _check_caregiver_channel(doc: Located, cpath: tuple[str | int, ...],
                             cch: CaregiverChannelModel) -> list[Problem]:
    if cch.type not in CHANNEL_TYPES:
        return [_unknown_channel(doc, (*cpath, "type"), cch.type)]
    extra = cch.model_extra or {}
    problems = [doc.problem(cpath, f"a channel of type '{cch.type}' needs '{needed}'")
                for needed in CHANNEL_TYPES[cch.type] if needed not in extra]
    topic = extra.get("topic")
    if cch.type == "ntfy" and topic is not None and not (
            isinstance(topic, str) and re.fullmatch(r"[-_A-Za-z0-9]{1,64}", topic)):
        problems.append(doc.problem((*cpath, "topic"), f"{topic!r} is not an ntfy topic (letters, digits,"
                                    " '-' and '_', at most 64)",
                                    "leave 'topic' out to have an unguessable one generated"))
    if cch.type == "apprise" and "url" not in extra and "url_env" not in extra:
        problems.append(doc.problem(cpath, "an apprise channel needs 'url' or 'url_env'",
                                    "url_env names an environment variable holding the URL"))
    return problems


def _build(model: AlertsFileModel, source: str) -> AlertsConfig:
    policies = {
        name: EscalationPolicy(
            name=name,
            steps=tuple(PolicyStep(after=s.after, notify=tuple(s.notify)) for s in p.steps),
            repeat_every=p.repeat_last_every,
            auto_resolve_after=p.auto_resolve_after,
            renotify_after=p.renotify_after if p.renotify_after is not None else model.renotify_after,
            expire_after=p.expire_after or model.expire_after,
        )
        for name, p in model.policies.items()
    }
    severities: dict[str, SeverityRule] = {
        sev: SeverityRule(policy=r.policy, channels=tuple(r.channels), quiet_hours=r.quiet_hours)
        for sev, r in model.severities.items()
    }
    settings: dict[str, dict[str, object]] = {}
    for ctype, s in model.channels.items():
        settings[ctype] = {**(s.model_extra or {}),
                           **{k: getattr(s, k) for k in RETRY_KEYS if getattr(s, k) is not None}}
    caregiver_channels = {cid: tuple(_target(ch, model.channels.get(ch.type)) for ch in cg.channels)
                          for cid, cg in model.caregivers.items()}
    qh = (model.quiet_hours.start, model.quiet_hours.end) if model.quiet_hours else None
    return AlertsConfig(policies=policies, severities=severities, scenarios=dict(model.scenarios),
                        quiet_hours=qh, ack_link_ttl=model.ack_link_ttl, channel_settings=settings,
                        caregiver_channels=caregiver_channels, public_url=model.public_url, source=source)


def _target(ch: CaregiverChannelModel, section: ChannelSettingsModel | None) -> ChannelTarget:
    # The caregiver's own setting wins, then the channel section's, then the type's default.
    timeout, retries, backoff = _TARGET_DEFAULTS[ch.type]
    if section is not None:
        timeout = section.timeout or timeout
        retries = section.retries if section.retries is not None else retries
        backoff = section.backoff or backoff
    return ChannelTarget(type=ch.type, options=dict(ch.model_extra or {}), timeout=ch.timeout or timeout,
                         retries=ch.retries if ch.retries is not None else retries,
                         backoff=ch.backoff or backoff)


def load_alerts(path: str | Path, caregiver_ids: Iterable[str] | None = None) -> AlertsConfig:
    """Load and validate an alerts file."""
    return parse_alerts(load_file(path), caregiver_ids)
