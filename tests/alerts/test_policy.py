"""config/alerts.yaml: validation with file:line problems, and the escalation arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from controller.alerts.escalation import hold_for_quiet, quiet_until, step_due, step_recipients
from controller.alerts.policy import EscalationPolicy, PolicyStep, parse_alerts
from controller.config import HomeConfig
from controller.errors import ConfigError
from controller.yamlfile import load_text

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 1, 5, 22, 0, tzinfo=UTC)

BAD = """\
quiet_hours: {start: "22:00", end: "07:00"}
severities:
  urgent: {policy: urgnt, channels: [ntfy, sms], quiet_hours: true}
  warning: {policy: urgent, channels: [ntfy]}
policies:
  urgent:
    steps:
      - {after: 3m, notify: [piet]}
      - {after: 1m, notify: [ana]}
      - {after: 10 minuten, notify: [team]}
    repeat_last_every: 5m
caregivers:
  anna:
    channels:
      - {type: ntfy, topic: "mijn topic!"}
      - {type: telegram, url: x}
      - {type: apprise}
  jan:
    channels: []
"""


def test_every_problem_is_reported_with_file_and_line(demo_config: HomeConfig) -> None:
    with pytest.raises(ConfigError) as err:
        parse_alerts(load_text(BAD, "config/alerts.yaml"), demo_config.caregivers)
    # Schema errors come first (all of them); a bad duration is one.
    assert [str(p) for p in err.value.problems] == [
        "config/alerts.yaml:10: policies.urgent.steps[2].after: '10 minuten' is not a duration (try '10m')",
    ]
    fixed = BAD.replace("10 minuten", "10m")
    with pytest.raises(ConfigError) as err:
        parse_alerts(load_text(fixed, "config/alerts.yaml"), demo_config.caregivers)
    assert [str(p) for p in err.value.problems] == [
        "config/alerts.yaml:2: severities: severity 'info' is not configured "
        "(every alert has a severity; give each a policy and channels)",
        "config/alerts.yaml:3: severities.urgent.policy: unknown policy 'urgnt' (did you mean 'urgent'?)",
        "config/alerts.yaml:3: severities.urgent.quiet_hours: quiet hours never apply to urgent alerts "
        "(remove 'quiet_hours' here)",
        "config/alerts.yaml:3: severities.urgent.channels[1]: unknown channel type 'sms' "
        "(known: ntfy, apprise, homeassistant, mqtt, page)",
        "config/alerts.yaml:9: policies.urgent.steps[1].after: steps must be in order of 'after' "
        "(a later step cannot come sooner than the one before)",
        "config/alerts.yaml:9: policies.urgent.steps[1].notify[0]: unknown caregiver 'ana' (did you mean 'anna'?)",
        "config/alerts.yaml:15: caregivers.anna.channels[0].topic: 'mijn topic!' is not an ntfy topic"
        " (letters, digits, '-' and '_', at most 64) (leave 'topic' out to have an unguessable one generated)",
        "config/alerts.yaml:16: caregivers.anna.channels[1].type: unknown channel type 'telegram' "
        "(known: ntfy, apprise, homeassistant, mqtt, page)",
        "config/alerts.yaml:17: caregivers.anna.channels[2]: an apprise channel needs 'url' or 'url_env' "
        "(url_env names an environment variable holding the URL)",
        "config/alerts.yaml:18: caregivers.jan: 'jan' is not a caregiver in home.yaml",
    ]


def test_misspelt_keys_get_a_hint(demo_config: HomeConfig) -> None:
    text = "severities: {}\npolicies:\n  p:\n    steps: [{after: 0m, notify: [anna]}]\n    repeat_every: 5m\n"
    with pytest.raises(ConfigError) as err:
        parse_alerts(load_text(text, "a.yaml"), demo_config.caregivers)
    assert "a.yaml:5: policies.p.repeat_every: 'repeat_every' is not a valid option " \
           "(did you mean 'repeat_last_every'?)" in [str(p) for p in err.value.problems]


def test_the_shipped_file_is_valid_and_matches_the_issue(alerts_config: object) -> None:
    cfg = alerts_config
    urgent = cfg.policies["urgent"]  # type: ignore[attr-defined]
    assert [(s.after, s.notify) for s in urgent.steps] == [
        (timedelta(0), ("piet",)), (timedelta(minutes=3), ("anna", "buur")), (timedelta(minutes=6), ("team",))]
    assert urgent.repeat_every == timedelta(minutes=5)
    assert cfg.quiet_hours == (time(22), time(7))  # type: ignore[attr-defined]
    assert not cfg.severities["urgent"].quiet_hours  # type: ignore[attr-defined]


def test_unquoted_times_of_day_are_read_as_meant(demo_config: HomeConfig) -> None:
    text = ("quiet_hours: {start: 22:30, end: 07:00}\n"
            "severities:\n  urgent: {policy: p, channels: [page]}\n  warning: {policy: p, channels: [page]}\n"
            "  info: {policy: p, channels: [page], quiet_hours: true}\n"
            "policies:\n  p: {steps: [{after: 0m, notify: [anna]}]}\n")
    cfg = parse_alerts(load_text(text, "a.yaml"), demo_config.caregivers)
    assert cfg.quiet_hours == (time(22, 30), time(7, 0))


POLICY = EscalationPolicy(name="p", steps=(
    PolicyStep(after=timedelta(0), notify=("piet",)),
    PolicyStep(after=timedelta(minutes=3), notify=("anna", "buur")),
    PolicyStep(after=timedelta(minutes=6), notify=("team",)),
), repeat_every=timedelta(minutes=5))


def test_steps_then_repeats() -> None:
    due = [step_due(POLICY, T0, i) for i in range(6)]
    assert [(d - T0) / timedelta(minutes=1) for d in due if d] == [0, 3, 6, 11, 16, 21]
    assert [step_recipients(POLICY, i) for i in (0, 1, 2, 3, 9)] == [
        ("piet",), ("anna", "buur"), ("team",), ("team",), ("team",)]
    once = EscalationPolicy(name="once", steps=POLICY.steps[:1])
    assert step_due(once, T0, 1) is None


def test_quiet_hours_across_midnight_and_dst() -> None:
    quiet = (time(22), time(7))
    # 23:30 Amsterdam in winter is 22:30 UTC; quiet until 07:00 local = 06:00 UTC.
    assert quiet_until(datetime(2026, 1, 5, 22, 30, tzinfo=UTC), quiet, AMS) == datetime(2026, 1, 6, 6, 0, tzinfo=UTC)
    # 05:00 local, same night.
    assert quiet_until(datetime(2026, 1, 6, 4, 0, tzinfo=UTC), quiet, AMS) == datetime(2026, 1, 6, 6, 0, tzinfo=UTC)
    # 12:00 local: not quiet.
    assert quiet_until(datetime(2026, 1, 6, 11, 0, tzinfo=UTC), quiet, AMS) is None
    # The night summer time starts (29 March 2026): 07:00 CEST is 05:00 UTC.
    assert hold_for_quiet(datetime(2026, 3, 28, 23, 0, tzinfo=UTC), quiet, AMS) == datetime(
        2026, 3, 29, 5, 0, tzinfo=UTC)
    # A daytime window that does not wrap.
    assert quiet_until(datetime(2026, 1, 6, 12, 30, tzinfo=UTC), (time(13), time(15)), AMS) == datetime(
        2026, 1, 6, 14, 0, tzinfo=UTC)


OCCURRENCES = """\
renotify_after: 45m
severities:
  urgent: {policy: p, channels: [ntfy]}
  warning: {policy: q, channels: [ntfy]}
  info: {policy: q, channels: [ntfy]}
policies:
  p: {steps: [{after: 0m, notify: [piet]}], expire_after: 2h}
  q: {steps: [{after: 0m, notify: [piet]}], renotify_after: 10m, expire_after: 0s}
"""


def test_occurrence_rules_per_policy_or_for_the_whole_file(demo_config: HomeConfig) -> None:
    with pytest.raises(ConfigError) as err:
        parse_alerts(load_text(OCCURRENCES, "alerts.yaml"), demo_config.caregivers)
    assert [str(p) for p in err.value.problems] == [
        "alerts.yaml:8: policies.q.expire_after: must be longer than 0s "
        "(an alert nobody resolves must close some time; try '8h')"]
    cfg = parse_alerts(load_text(OCCURRENCES.replace("0s", "1h"), "alerts.yaml"), demo_config.caregivers)
    p, q = cfg.policies["p"], cfg.policies["q"]
    assert (p.renotify_after, p.expire_after) == (timedelta(minutes=45), timedelta(hours=2))
    assert (q.renotify_after, q.expire_after) == (timedelta(minutes=10), timedelta(hours=1))
    shipped = parse_alerts(load_text("severities: {urgent: {policy: p, channels: [ntfy]}, warning: {policy: p,"
                                     " channels: [ntfy]}, info: {policy: p, channels: [ntfy]}}\n"
                                     "policies: {p: {steps: [{after: 0m, notify: [piet]}]}}\n", "a.yaml"),
                           demo_config.caregivers)
    assert (shipped.policies["p"].renotify_after, shipped.policies["p"].expire_after) == (
        timedelta(minutes=30), timedelta(hours=8))
