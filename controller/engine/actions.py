"""The run interpreter: one handler per action model of scenarios (controller/engine/model.py).

`step` runs an action that finishes at once (lights, announcements, MQTT, the house mode, `if`,
`cancel`); `step_waiting` one that has to wait (storing or resolving an alert, a delay, a wait).
Every handler records what it did, and why, in the run's trace; a failing action is traced and
the run goes on with the next.

    light -> _light          announce -> _announce        alert   -> _raise
    curtain -> _curtain      mqtt -> _mqtt                resolve -> _resolve
    command -> _command      set_mode -> _set_mode        delay   -> _delay
    if -> _if                set_presence -> _set_presence  wait  -> _wait
    cancel -> _cancel
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from controller.config import HomeConfig
from controller.durations import format_duration
from controller.engine import model as m
from controller.engine.alert_sink import AlertSink
from controller.engine.compiled import (
    Cond,
    Env,
    StateTriggerRT,
    TriggerRT,
    Vars,
    compile_condition,
    compile_trigger,
    evaluate,
)
from controller.engine.house import HouseState
from controller.engine.loader import select_devices
from controller.engine.placeholders import Placeholders
from controller.engine.runs import Frame, Run, ScenarioRuntime
from controller.engine.timers import LATE, ForTimers
from controller.engine.triggers import Spawn, TriggerIndex
from controller.events import Context
from controller.hub import Hub

log = logging.getLogger(__name__)

ANNOUNCE_TOPIC = "huis/announce"

Action = (m.LightAction | m.CurtainAction | m.AnnounceAction | m.RaiseAlertAction
          | m.ResolveAlertAction | m.SetModeAction | m.SetPresenceAction | m.DelayAction
          | m.WaitAction | m.IfAction | m.CancelAction | m.MqttAction | m.CommandAction)
Waiting = m.RaiseAlertAction | m.ResolveAlertAction | m.DelayAction | m.WaitAction
Instant = (m.LightAction | m.CurtainAction | m.AnnounceAction | m.SetModeAction
           | m.SetPresenceAction | m.IfAction | m.CancelAction | m.MqttAction | m.CommandAction)
_WAITING = (m.RaiseAlertAction, m.ResolveAlertAction, m.DelayAction, m.WaitAction)

WaitResult = tuple[TriggerRT, Vars, Context] | None


class RunControl(Protocol):
    """What actions may do to runs: find a scenario's, cancel one, store a waiting one."""

    scenarios: dict[str, ScenarioRuntime]

    def cancel_run(self, run: Run, reason: str) -> None: ...
    def persist(self, run: Run, kind: str, deadline: datetime | None) -> None: ...
    def unpersist(self, run: Run) -> None: ...


class Interpreter:
    """Runs one action of a run at a time."""

    def __init__(self, *, hub: Hub, alerts: AlertSink, house: HouseState, runs: RunControl,
                 placeholders: Placeholders, index: TriggerIndex, timers: ForTimers,
                 spawn: Spawn, env: Env, language: str) -> None:
        self._hub = hub
        self._cfg: HomeConfig = hub.config
        self._clock = hub.clock
        self._alerts = alerts
        self._house = house
        self._runs = runs
        self._placeholders = placeholders
        self._index = index
        self._timers = timers
        self._spawn = spawn
        self._env = env
        self._language = language
        # Compiled `if` conditions and resolved commands by action object (models are frozen
        # and live as long as the scenario set; `forget()` on reload, as ids may be reused).
        self._if_conditions: dict[int, list[Cond]] = {}
        self._commands: dict[int, tuple[list[str], dict[str, object], str]] = {}

    def forget(self) -> None:
        """Drop caches keyed by action ids (a new scenario set is going live)."""
        self._if_conditions.clear()
        self._commands.clear()

    @staticmethod
    def waits(action: Action) -> bool:
        """Whether `action` may have to wait (and the run must then be a task)."""
        return isinstance(action, _WAITING)

    # -- helpers --------------------------------------------------------------------------------

    def _ctx(self, run: Run, path: str, what: str) -> Context:
        return run.ctx.child(origin=f"scenario:{run.sc.id}", description=f"{path} {what}")

    def _record(self, run: Run, path: str, what: str, outcome: str, ok: bool,
                ctx: Context | None = None) -> None:
        run.trace.action(path, what, outcome, ok, self._clock.now(), ctx)

    def _render(self, run: Run, text: str, language: str | None = None) -> str:
        return self._placeholders.render(text, cache=run.sc.templates, run=run.vars,
                                         scenario=run.sc.id, language=language)

    # -- actions that finish at once ------------------------------------------------------------

    def step(self, run: Run, action: Action, path: str) -> None:
        """Run an action that does not wait."""
        if isinstance(action, m.IfAction):
            self._if(run, action, path)
            return
        run.advance()
        try:
            self._instant(run, action, path)
        except Exception as exc:
            log.exception("action %s of %s failed", path, run.sc.id)
            self._record(run, path, action.type, f"failed: {exc}", False)

    def _instant(self, run: Run, action: Action, path: str) -> None:
        match action:
            case m.LightAction():
                self._light(run, action, path)
            case m.CurtainAction():
                self._curtain(run, action, path)
            case m.CommandAction():
                self._command(run, action, path)
            case m.AnnounceAction():
                self._announce(run, action, path)
            case m.MqttAction():
                self._mqtt(run, action, path)
            case m.SetModeAction():
                self._set_mode(run, action, path)
            case m.SetPresenceAction():
                self._set_presence(run, action, path)
            case m.CancelAction():
                self._cancel(run, action, path)
            case _:  # pragma: no cover - waiting actions go through step_waiting
                raise TypeError(f"{action.type} is not an action that finishes at once")

    def _if(self, run: Run, action: m.IfAction, path: str) -> None:
        conds = self._if_conditions.get(id(action))
        if conds is None:
            conds = self._if_conditions[id(action)] = [compile_condition(c, self._cfg)
                                                       for c in action.conditions]
        results = evaluate(conds, self._env, run.vars)
        ok = all(r for _, r in results)
        desc = "if " + "; ".join(c.description for c, _ in results)
        self._record(run, path, desc, "then" if ok else "else", True)
        run.frames.append(Frame(branch="then" if ok else "else", index=0))

    def _light(self, run: Run, action: m.LightAction, path: str) -> None:
        self._send(run, action, path, lambda: (action.values(), action.kind or "light"))

    def _curtain(self, run: Run, action: m.CurtainAction, path: str) -> None:
        self._send(run, action, path, lambda: (action.values(), action.kind or "curtain"))

    def _command(self, run: Run, action: m.CommandAction, path: str) -> None:
        self._send(run, action, path, lambda: (dict(action.values), action.kind))

    def _send(self, run: Run, action: m.LightAction | m.CurtainAction | m.CommandAction,
              path: str, resolve: Callable[[], tuple[dict[str, object], str | None]]) -> None:
        """Send a command to every device the action selects (resolved once per action)."""
        cached = self._commands.get(id(action))
        if cached is None:
            values, kind = resolve()
            devices = select_devices(self._cfg, action.device, kind, action.room)
            cached = self._commands[id(action)] = (
                devices, values, f"{action.type} {', '.join(devices)} {_compact(values)}")
        devices, values, what = cached
        ctx = self._ctx(run, path, what)
        errors = self._command_each(devices, values, ctx)
        self._record(run, path, what, "; ".join(errors) or "sent", not errors, ctx)

    def _command_each(self, devices: list[str], values: dict[str, object],
                      ctx: Context) -> list[str]:
        errors = []
        for dev in devices:
            try:
                self._hub.command(dev, values, ctx)
            except (KeyError, ValueError) as exc:
                errors.append(f"{dev}: {exc}")
        return errors

    def _announce(self, run: Run, action: m.AnnounceAction, path: str) -> None:
        text = self._render(run, action.text)
        language = action.language or self._language
        what = f"announce {text!r}"
        ctx = self._ctx(run, path, what)
        if action.speaker is not None:
            speakers = [action.speaker]
        elif action.topic is not None:
            speakers = []
        else:
            speakers = [d for d, dev in self._cfg.devices.items() if dev.kind == "speaker"]
        if not speakers:
            topic = action.topic or ANNOUNCE_TOPIC
            self._hub.link.send(topic, json.dumps({"text": text, "language": language},
                                                  ensure_ascii=False).encode(), qos=1, retain=False)
            self._record(run, path, what, f"published on {topic}", True, ctx)
            return
        errors = self._command_each(speakers, {"say": text, "language": language}, ctx)
        self._record(run, path, what, "; ".join(errors) or f"said on {', '.join(speakers)}",
                     not errors, ctx)

    def _mqtt(self, run: Run, action: m.MqttAction, path: str) -> None:
        topic = self._render(run, action.topic)
        if isinstance(action.payload, str):
            payload = self._render(run, action.payload).encode()
        else:
            payload = json.dumps({k: self._render(run, v) if isinstance(v, str) else v
                                  for k, v in action.payload.items()}, ensure_ascii=False).encode()
        ctx = self._ctx(run, path, f"mqtt {topic}")
        self._hub.link.send(topic, payload, qos=action.qos, retain=action.retain)
        self._record(run, path, f"mqtt {topic}", f"published {len(payload)} bytes", True, ctx)

    def _set_mode(self, run: Run, action: m.SetModeAction, path: str) -> None:
        what = f"set mode {action.mode}"
        ctx = self._ctx(run, path, what)
        old = self._house.mode
        self._house.set_mode(action.mode, ctx)
        self._record(run, path, what, f"was {old}", True, ctx)

    def _set_presence(self, run: Run, action: m.SetPresenceAction, path: str) -> None:
        what = f"set presence {action.presence}"
        ctx = self._ctx(run, path, what)
        old = self._house.presence
        self._house.set_presence(action.presence, ctx)
        self._record(run, path, what, f"was {old}", True, ctx)

    def _cancel(self, run: Run, action: m.CancelAction, path: str) -> None:
        targets = [action.scenario] if isinstance(action.scenario, str) else action.scenario
        count = 0
        for sid in targets:
            other = self._runs.scenarios.get(sid)
            if other is None:
                continue
            count += len(other.queue)
            other.queue.clear()
            for r in list(other.active.values()):
                if r is not run:
                    count += 1
                    self._runs.cancel_run(r, f"cancelled by scenario {run.sc.id}")
        self._record(run, path, f"cancel {', '.join(targets)}", f"{count} run(s) cancelled", True)

    # -- actions that wait ----------------------------------------------------------------------

    async def step_waiting(self, run: Run, action: Action, path: str) -> bool:
        """Run an action that may wait; False when the run should stop here."""
        if isinstance(action, m.DelayAction):
            return await self._delay(run, action, path)
        if isinstance(action, m.WaitAction):
            return await self._wait(run, action, path)
        run.advance()
        try:
            if isinstance(action, m.RaiseAlertAction):
                await self._raise(run, action, path)
            elif isinstance(action, m.ResolveAlertAction):
                await self._resolve(run, action, path)
            else:  # pragma: no cover - the others finish at once and go through step
                raise TypeError(f"{action.type} is not an action that waits")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("action %s of %s failed", path, run.sc.id)
            self._record(run, path, action.type, f"failed: {exc}", False)
        return True

    async def _raise(self, run: Run, action: m.RaiseAlertAction, path: str) -> None:
        key = self._render(run, action.key) if action.key else run.sc.id
        message = self._render(run, action.message)
        what = f"alert {action.severity} {key}: {message}"
        ctx = self._ctx(run, path, what)
        # `origin` names this occurrence: the same run's same action raising again (resumed
        # after a restart) is the same alert, never a second page (docs/alerts.md, "Occurrences").
        data = {"audience": action.audience, "recipients": list(action.to),
                "language": self._language, "trigger": run.vars.get("trigger", {}),
                "origin": f"{run.id}/{path}"}
        if action.message_en is not None:  # English readers (caregivers, the tour) get this one
            data["message_en"] = self._render(run, action.message_en, "en")
        alert_id = await self._alerts.raise_alert(key=key, scenario=run.sc.id,
                                                  severity=action.severity, message=message,
                                                  context=ctx, data=data)
        self._record(run, path, what, f"raised {alert_id}", True, ctx)

    async def _resolve(self, run: Run, action: m.ResolveAlertAction, path: str) -> None:
        key = self._render(run, action.key) if action.key else run.sc.id
        reason = self._render(run, action.reason)
        what = f"resolve {key}: {reason}"
        ctx = self._ctx(run, path, what)
        found = await self._alerts.resolve_alert(key=key, reason=reason, context=ctx)
        self._record(run, path, what, "resolved" if found else "no active alert", True, ctx)

    async def _delay(self, run: Run, action: m.DelayAction, path: str) -> bool:
        deadline, resumed = run.resume_deadline_or(self._clock.now() + action.duration)
        assert deadline is not None
        if not resumed:
            self._runs.persist(run, "delay", deadline)
        await self._clock.sleep_until(deadline)
        late = self._clock.now() - deadline
        self._runs.unpersist(run)
        run.advance()
        outcome = f"until {deadline.isoformat()}"
        if late >= LATE:
            outcome += f" (late by {format_duration(late)}: the hub was down)"
        self._record(run, path, f"delay {format_duration(action.duration)}", outcome, True)
        return True

    async def _wait(self, run: Run, action: m.WaitAction, path: str) -> bool:
        now = self._clock.now()
        default = now + action.timeout if action.timeout is not None else None
        deadline, resumed = run.resume_deadline_or(default)
        if not resumed:
            self._runs.persist(run, "wait", deadline)
        trs = [compile_trigger(run.id, i, t, self._cfg, durable=False)
               for i, t in enumerate(action.triggers)]
        result = await self._wait_for(trs, deadline, resumed, now, run.id)
        self._runs.unpersist(run)
        run.advance()
        what = "wait for " + " or ".join(tr.description for tr in trs)
        if result is None:
            run.vars["wait"] = {"result": "timeout"}
            late = self._clock.now() - deadline if deadline else timedelta(0)
            note = f" (late by {format_duration(late)})" if late >= LATE else ""
            self._record(run, path, what, f"timed out{note}" +
                         ("; stopping" if action.on_timeout == "stop" else ""), True)
            return action.on_timeout == "continue"
        tr, tvars, ctx = result
        run.vars["wait"] = {"result": "trigger",
                            "trigger": {"id": tr.id, "description": tr.description, **tvars}}
        # The rest of the run was caused by what ended the wait as much as by the first trigger.
        run.trace.cause.append(f"wait ended by: {ctx.explain()}")
        self._record(run, path, what, f"triggered: {tr.description}" +
                     ("; stopping" if action.on_trigger == "stop" else ""), True)
        return action.on_trigger == "continue"

    async def _wait_for(self, trs: list[TriggerRT], deadline: datetime | None, resumed: bool,
                        now: datetime, run_id: str) -> WaitResult:
        """The first of `trs` to fire (None: `deadline` passed first)."""
        done: asyncio.Future[WaitResult] = asyncio.get_running_loop().create_future()

        def fired(tr: TriggerRT, tvars: Vars, ctx: Context) -> None:
            if not done.done():
                done.set_result((tr, tvars, ctx))

        for tr in trs:
            tr.fire = fired
        detach = self._index.attach(trs)
        if resumed:
            # What the wait was waiting for may have happened while the hub was down (and been
            # reported before the engine was listening): a value already matching counts.
            for tr in trs:
                if isinstance(tr, StateTriggerRT) and tr.test.has_target and tr.from_test is None:
                    self._timers.evaluate_at_start(tr, now)
        timeout = None
        if deadline is not None:
            timeout = self._spawn(self._expire(deadline, done), f"wait-timeout {run_id}")
        try:
            return await done
        finally:
            detach()
            if timeout is not None:
                timeout.cancel()

    async def _expire(self, deadline: datetime, done: asyncio.Future[WaitResult]) -> None:
        await self._clock.sleep_until(deadline)
        if not done.done():
            done.set_result(None)


def _compact(values: dict[str, object]) -> str:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False, default=str)
