"""A scenario checked against the home: devices, rooms, kinds, attributes, events, caregivers,
trigger ids, parameters and template names.

Shapes are pydantic's job (`model.py`); this catches what only the home configuration and the
device adapters know, such as a misspelt device or a colour temperature a lamp cannot do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import TypeAdapter, ValidationError

from controller.config import HomeConfig, device_topic
from controller.device_kind import Command, DeviceSpec
from controller.engine import model as m
from controller.engine.device_facts import Kinds, attributes_of, events_of, select_devices
from controller.engine.hints import declared, suggest
from controller.engine.scenario_set import ParameterInfo
from controller.engine.template_names import template_name_problem
from controller.engine.templates import Template, parse_template
from controller.errors import Problem
from controller.routine import ACTIVITY
from controller.yamlfile import Located, Path_

AnySelector = m.Selector | m.OptionalSelector


class HomeChecker:
    """Checks one validated scenario against the home configuration and its parameters.

    Without a configuration (`cfg` None) only parameters, trigger ids and templates are checked.
    """

    def __init__(self, doc: Located, cfg: HomeConfig | None, params: Mapping[str, ParameterInfo],
                 kinds: Kinds, encoded: dict[object, str | None] | None = None) -> None:
        self.doc = doc
        self.cfg = cfg
        self.params = params
        self.kinds = kinds
        self.problems: list[Problem] = []
        # Commands already encoded in this check -> the adapter's refusal (None: fine). Ten
        # thousand rules send the same few commands to the same lights.
        self._encoded: dict[object, str | None] = {} if encoded is None else encoded

    def add(self, path: Path_, message: str, hint: str | None = None) -> None:
        self.problems.append(self.doc.problem(path, message, hint))

    def scenario(self, s: m.Scenario, path: Path_) -> list[Problem]:
        ids: set[str] = set()
        for i, t in enumerate(s.triggers):
            tid = t.id or str(i)
            if tid in ids:
                self.add((*path, "triggers", i, "id"), f"trigger id '{tid}' is used twice")
            ids.add(tid)
            self.trigger(t, (*path, "triggers", i))
        for i, c in enumerate(s.conditions):
            self.condition(c, (*path, "conditions", i), ids)
        self.actions(s.actions, (*path, "actions"), ids)
        return self.problems

    # selectors and attributes

    def raw_selector(self, item: object, path: Path_) -> None:
        """Check the device names of an item that is otherwise invalid (best effort)."""
        if not isinstance(item, dict) or self.cfg is None:
            return
        fields = {k: item.get(k) for k in ("device", "kind", "room")}
        if not any(isinstance(v, str | list) for v in fields.values()):
            return
        try:
            sel = m.OptionalSelector.model_validate(fields)
        except ValidationError:
            return
        devs = self.devices(sel, path, optional=True)
        if isinstance(item.get("attribute"), str) and devs:
            self.attribute(devs, item["attribute"], (*path, "attribute"))

    def devices(self, sel: AnySelector, path: Path_, *,
                want: str | None = None, optional: bool = False) -> list[str]:
        """The devices a selector names; none (and a problem) when a name is wrong."""
        cfg = self.cfg
        if cfg is None:
            return []
        ok = self._device_ids_known(cfg, sel, path, want)
        ok = self._kind_known(sel, path) and ok
        ok = self._rooms_known(cfg, sel, path) and ok
        if not ok:
            return []
        kind = sel.kind if sel.kind is not None else want
        found = select_devices(cfg, sel.device, kind, sel.room)
        if not found and not (optional and sel.device is None and sel.kind is None and sel.room is None):
            what = f"{want} " if want else ""
            self.add(path, f"selects no {what}device", "check 'device', 'kind' and 'room'")
        return found

    def _device_ids_known(self, cfg: HomeConfig, sel: AnySelector, path: Path_, want: str | None) -> bool:
        ok = True
        listed = [sel.device] if isinstance(sel.device, str) else (sel.device or [])
        for dev_id in listed:
            if dev_id not in cfg.devices:
                ok = False
                where = (*path, "device") if isinstance(sel.device, str) else \
                    (*path, "device", listed.index(dev_id))
                self.add(where, f"unknown device '{dev_id}'",
                         suggest(dev_id, cfg.devices) or f"devices: {', '.join(cfg.devices)}")
            elif want is not None and cfg.devices[dev_id].kind != want:
                ok = False
                self.add((*path, "device"), f"'{dev_id}' is a {cfg.devices[dev_id].kind}, not a {want}")
        return ok

    def _kind_known(self, sel: AnySelector, path: Path_) -> bool:
        if sel.kind is None or sel.kind in self.kinds:
            return True
        self.add((*path, "kind"), f"unknown device kind '{sel.kind}'",
                 suggest(sel.kind, self.kinds) or f"kinds: {', '.join(sorted(self.kinds))}")
        return False

    def _rooms_known(self, cfg: HomeConfig, sel: AnySelector, path: Path_) -> bool:
        ok = True
        for room in [sel.room] if isinstance(sel.room, str) else (sel.room or []):
            if room not in cfg.rooms:
                ok = False
                self.add((*path, "room"), f"unknown room '{room}'",
                         suggest(room, cfg.rooms) or f"rooms: {', '.join(cfg.rooms)}")
        return ok

    def attribute(self, devices: list[str], attribute: str, path: Path_) -> None:
        if self.cfg is None:
            return
        for dev_id in devices:
            kind = self.cfg.devices[dev_id].kind
            known = attributes_of(self.kinds, kind)
            if known is not None and attribute not in known:
                self.add(path, f"a {kind} has no attribute '{attribute}'",
                         suggest(attribute, known) or f"{kind} attributes: {', '.join(known)}")
                return

    # triggers

    def trigger(self, t: m.Trigger, path: Path_) -> None:
        match t:
            case m.StateTrigger():
                self.attribute(self.devices(t, path), t.attribute, (*path, "attribute"))
            case m.EventTrigger():
                self._events(self.devices(t, path), t, path)
            case m.HubTrigger():
                self.devices(t, path, optional=True)
            case m.TimeTrigger() | m.SunTrigger():
                if t.weekdays is not None and not t.weekdays:
                    self.add((*path, "weekdays"), "no days given")

    def _events(self, devices: list[str], t: m.EventTrigger, path: Path_) -> None:
        if self.cfg is None:
            return
        names = [t.event] if isinstance(t.event, str) else (t.event or [])
        for dev_id in devices:
            kind = self.cfg.devices[dev_id].kind
            known = events_of(self.kinds, kind)
            if known is None:
                continue
            if not known:
                self.add(path, f"a {kind} sends no events", "use a 'state' trigger")
                return
            for name in names:
                if name not in known:
                    self.add((*path, "event"), f"a {kind} sends no event '{name}'",
                             suggest(name, known) or f"{kind} events: {', '.join(known)}")
                    return

    # conditions

    def condition(self, c: m.Condition, path: Path_, trigger_ids: set[str]) -> None:
        match c:
            case m.StateCondition():
                self.attribute(self.devices(c, path), c.attribute, (*path, "attribute"))
            case m.HeldCondition():
                self.attribute(self.devices(c, path), c.attribute, (*path, "attribute"))
            case m.AndCondition() | m.OrCondition() | m.NotCondition():
                for i, sub in enumerate(c.conditions):
                    self.condition(sub, (*path, "conditions", i), trigger_ids)
            case m.TriggerCondition():
                for tid in [c.id] if isinstance(c.id, str) else c.id:
                    if tid not in trigger_ids:
                        self.add((*path, "id"), f"no trigger with id '{tid}'",
                                 suggest(tid, trigger_ids) or f"trigger ids: {', '.join(sorted(trigger_ids))}")
            case m.ParameterCondition():
                if c.name not in self.params:
                    self.add((*path, "name"), f"unknown parameter '{c.name}'",
                             suggest(c.name, self.params) or declared(self.params))
            case m.AlertCondition():
                self._alert_condition_key(c, path)
            case m.QuietCondition():
                self._quiet_condition(path)

    def _quiet_condition(self, path: Path_) -> None:
        """`quiet` needs something that can show activity, or it could never hold."""
        if self.cfg is not None and not any(d.kind in ACTIVITY for d in self.cfg.devices.values()):
            self.add(path, "this home has no motion, bed or door sensor, so 'quiet' can never hold",
                     f"add a device of kind {', '.join(ACTIVITY)}")

    def _alert_condition_key(self, c: m.AlertCondition, path: Path_) -> None:
        tpl = self.template(c.key, (*path, "key"))
        # A condition has only its run to go on: the trigger, a wait's result, parameters.
        for names in tpl.names if tpl is not None else []:
            if names[0] not in ("trigger", "wait") and not (len(names) == 1 and names[0] in self.params):
                self.add((*path, "key"), f"'{{{'.'.join(names)}}}' cannot be used in an alert condition's key",
                         "use trigger.*, wait.* or a parameter")

    # actions

    def actions(self, actions: Sequence[m.Action], path: Path_, trigger_ids: set[str]) -> None:
        for i, a in enumerate(actions):
            self.action(a, (*path, i), trigger_ids)

    def action(self, a: m.Action, path: Path_, trigger_ids: set[str]) -> None:
        match a:
            case m.LightAction():
                self.command(self.devices(a, path, want="light"), a.values(), path)
            case m.CurtainAction():
                self.command(self.devices(a, path, want="curtain"), a.values(), path)
            case m.CommandAction():
                self.command(self.devices(a, path), a.values, path)
            case m.AnnounceAction():
                self.template(a.text, (*path, "text"))
                if a.speaker is not None and self.cfg is not None:
                    self.devices(m.Selector(device=a.speaker), path, want="speaker")
            case m.RaiseAlertAction():
                self._raise_alert(a, path)
            case m.ResolveAlertAction():
                self.template(a.reason, (*path, "reason"))
                if a.key is not None:
                    self.template(a.key, (*path, "key"))
            case m.MqttAction():
                self._mqtt(a, path)
            case m.WaitAction():
                for i, t in enumerate(a.triggers):
                    self.trigger(t, (*path, "triggers", i))
            case m.IfAction():
                for i, c in enumerate(a.conditions):
                    self.condition(c, (*path, "conditions", i), trigger_ids)
                self.actions(a.then, (*path, "then"), trigger_ids)
                self.actions(a.else_, (*path, "else"), trigger_ids)

    def _raise_alert(self, a: m.RaiseAlertAction, path: Path_) -> None:
        self.template(a.message, (*path, "message"))
        if a.message_en is not None:
            self.template(a.message_en, (*path, "message_en"))
        if a.key is not None:
            self.template(a.key, (*path, "key"))
        if self.cfg is None:
            return
        for i, who in enumerate(a.to):
            if who not in self.cfg.caregivers:
                self.add((*path, "to", i), f"unknown caregiver '{who}'",
                         suggest(who, self.cfg.caregivers) or f"caregivers: {', '.join(self.cfg.caregivers)}")

    def _mqtt(self, a: m.MqttAction, path: Path_) -> None:
        self.template(a.topic, (*path, "topic"))
        if isinstance(a.payload, str):
            self.template(a.payload, (*path, "payload"))
            return
        for k, v in a.payload.items():
            if isinstance(v, str):
                self.template(v, (*path, "payload", k))

    def command(self, devices: list[str], values: Mapping[str, object], path: Path_) -> None:
        """Let each device's adapter refuse an impossible command now, not at night."""
        if self.cfg is None:
            return
        for dev_id in devices:
            key = _command_key(dev_id, values)
            if key is not None and key in self._encoded:
                refusal = self._encoded[key]
            else:
                refusal = self._encode(dev_id, values)
                if key is not None:
                    self._encoded[key] = refusal
            if refusal is not None:
                self.add(path, f"{dev_id}: {refusal}")
                return

    def _encode(self, dev_id: str, values: Mapping[str, object]) -> str | None:
        """Why the device's adapter refuses the command (None: it does not)."""
        assert self.cfg is not None
        dev = self.cfg.devices[dev_id]
        adapter = self.kinds.get(dev.kind)
        if adapter is None:
            return None
        spec = DeviceSpec(id=dev_id, topic=device_topic(dev_id, dev), model=dev.model,
                          options=dict(dev.options))
        try:
            adapter.encode(spec, Command(device=dev_id, values=dict(values)))
        except ValueError as exc:
            return str(exc)
        except Exception:  # an adapter that cannot encode offline is checked at run time
            return None
        return None

    def template(self, text: str, path: Path_) -> Template | None:
        try:
            tpl = parse_template(text)
        except ValueError as exc:
            self.add(path, str(exc))
            return None
        for names in tpl.names:
            problem = template_name_problem(names, self.cfg, self.params, self.kinds)
            if problem is not None:
                self.add(path, *problem)
        return tpl


_TRIGGER: TypeAdapter[m.Trigger] = TypeAdapter(m.Trigger)
_CONDITION: TypeAdapter[m.Condition] = TypeAdapter(m.Condition)
_ACTION: TypeAdapter[m.Action] = TypeAdapter(m.Action)


def check_valid_parts(doc: Located, config: HomeConfig | None, params: Mapping[str, ParameterInfo],
                      raw: Mapping[str, object], path: Path_, kinds: Kinds) -> list[Problem]:
    """Reference checks on the triggers, conditions and actions of an invalid scenario that are
    valid on their own, so one mistake does not hide the others."""
    checker = HomeChecker(doc, config, params, kinds)
    triggers = _items(raw, "triggers")
    ids = {str(t.get("id") or i) for i, t in enumerate(triggers) if isinstance(t, dict)}
    for i, item in enumerate(triggers):
        try:
            checker.trigger(_TRIGGER.validate_python(item), (*path, "triggers", i))
        except ValidationError:
            checker.raw_selector(item, (*path, "triggers", i))
    for i, item in enumerate(_items(raw, "conditions")):
        try:
            condition = _CONDITION.validate_python(item)
        except ValidationError:
            checker.raw_selector(item, (*path, "conditions", i))
            continue
        checker.condition(condition, (*path, "conditions", i), ids)
    for i, item in enumerate(_items(raw, "actions")):
        try:
            action = _ACTION.validate_python(item)
        except ValidationError:
            checker.raw_selector(item, (*path, "actions", i))
            continue
        checker.action(action, (*path, "actions", i), ids)
    return checker.problems


def _items(raw: Mapping[str, object], section: str) -> list[object]:
    found = raw.get(section)
    return found if isinstance(found, list) else []


def _command_key(dev_id: str, values: Mapping[str, object]) -> tuple[object, ...] | None:
    """What an adapter's verdict on a command depends on; None when a value is a list or a
    mapping (not remembered). The type is part of it: `true` and `1` are different commands."""
    key = (dev_id, *((k, type(v), v) for k, v in sorted(values.items())))
    try:
        hash(key)
    except TypeError:
        return None
    return key
