"""SCAIP (SS 91100 / CLC/TS 50134-9) to an alarm receiving centre: XML over SIP MESSAGE.

An escalation step names the centre like a caregiver (`alarmcentrale` in home.yaml and
alerts.yaml, with one channel `{type: scaip, uri: sip:..., cid: ...}`). Each notification
becomes one `mrq` (message request); the centre answers with an `mrs` (message response)
whose `snu` says what it did with it, either in a MESSAGE of its own (`response: message`) or
in the body of the 200 OK (`response: 200ok`), since centres differ. `snu` 0 is a delivery,
and (with `acknowledge: true`, the default) the centre's acknowledgement: it takes the alarm
over, so escalation stops with an audit entry naming the centre. Anything else is a failed
attempt, retried and fallen through like any channel (table in docs/interop.md).

Heartbeats (`mty` PI) go out every `heartbeat` on the service's clock while the service runs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from controller.alerts.model import KIND_ALERT, KIND_REPEAT, REACH_SYSTEM, Alert, ChannelTarget, Notification
from controller.alerts.sip import MAX_BODY, TRANSPORTS, SipMessage, SipPeer, SipUri, Transport
from controller.clock import Clock, RealClock
from controller.errors import DeliveryError

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/scaip+xml"
RESPONSE_MODES = ("message", "200ok")
# Device types (dty) by the words in a scenario's id; a target's `dty:` mapping overrides.
DTY_BY_WORD = (("medication", "0011"), ("pill", "0011"), ("dispenser", "0011"), ("night", "0012"),
               ("bed", "0012"), ("door", "0014"), ("wander", "0015"))
DTY_DEFAULT = "0000"
LOCAL_URI = "sip:huis@localhost"
# Status codes (stc): what happened. Centres differ; a target's `stc:` mapping overrides.
STC = {"alarm": "001", "reset": "002", "pill_not_taken": "011", "heartbeat": "000"}
PRI = {"urgent": "1", "warning": "3", "info": "5"}
SNU_TEXT = {0: "accepted", 1: "not understood", 2: "unknown caller", 3: "not supported",
            4: "refused", 5: "error at the centre", 6: "busy", 7: "rejected"}
_FIELD = re.compile(r"[\x20-\x7e\u00a0-\uffff]{0,200}")


@dataclass(frozen=True, slots=True, kw_only=True)
class CentreOptions:
    """One centre's settings, from a caregiver channel entry of type scaip."""

    uri: SipUri
    transport: Transport = "tcp"
    cid: str
    local_uri: str = LOCAL_URI
    root: str = "mrq"
    content_type: str = CONTENT_TYPE
    response: Literal["message", "200ok"] = "message"
    acknowledge: bool = True
    lco: str | None = None
    ca_file: str | None = None
    dty: Mapping[str, str] | None = None
    stc: Mapping[str, str] | None = None
    heartbeat: timedelta | None = None

    @classmethod
    def of(cls, options: Mapping[str, object]) -> CentreOptions:
        """Read and check a target's options; raises ValueError naming the bad one."""
        transport = str(options.get("transport", "tcp"))
        response = str(options.get("response", "message"))
        if transport not in TRANSPORTS:
            raise ValueError(f"transport {transport!r} is not one of {', '.join(TRANSPORTS)}")
        if response not in RESPONSE_MODES:
            raise ValueError(f"response {response!r} is not one of {', '.join(RESPONSE_MODES)}")
        if "cid" not in options or "uri" not in options:
            raise ValueError("a scaip channel needs 'uri' and 'cid'")
        hb = options.get("heartbeat")
        return cls(uri=SipUri.parse(str(options["uri"])), transport=transport,  # type: ignore[arg-type]
                   cid=str(options["cid"]), local_uri=str(options.get("local_uri", LOCAL_URI)),
                   root=str(options.get("root", "mrq")),
                   content_type=str(options.get("content_type", CONTENT_TYPE)),
                   response=response,  # type: ignore[arg-type]
                   acknowledge=bool(options.get("acknowledge", True)),
                   lco=str(options["lco"]) if "lco" in options else None,
                   ca_file=str(options["ca_file"]) if "ca_file" in options else None,
                   dty=_strings(options.get("dty")), stc=_strings(options.get("stc")),
                   heartbeat=hb if isinstance(hb, timedelta) else None)


def _strings(value: object) -> Mapping[str, str] | None:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, Mapping) else None


def device_type(scenario: str, overrides: Mapping[str, str] | None = None) -> str:
    """The SCAIP `dty` for an alert of `scenario`."""
    if overrides and scenario in overrides:
        return overrides[scenario]
    return next((code for word, code in DTY_BY_WORD if word in scenario), DTY_DEFAULT)


def status_code(n: Notification, scenario: str, overrides: Mapping[str, str] | None = None) -> str:
    """The SCAIP `stc`: alarm, pill not taken, or reset once it is over or someone is going."""
    table = {**STC, **(overrides or {})}
    if n.kind not in (KIND_ALERT, KIND_REPEAT):
        return table["reset"]
    if device_type(scenario) == "0011":
        return table["pill_not_taken"]
    return table["alarm"]


def mrq(o: CentreOptions, *, ref: str, fields: Mapping[str, str]) -> bytes:
    """The request document: `<mrq><ref/><cid/>...</mrq>` under the configured root."""
    root = ET.Element(o.root)
    for name, value in (("ref", ref), ("cid", o.cid), *fields.items()):
        ET.SubElement(root, name).text = _clean(value)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + bytes(ET.tostring(root, encoding="utf-8"))


def _clean(value: str) -> str:
    return "".join(ch for ch in value if _FIELD.fullmatch(ch))[:200]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mrs:
    """The centre's message response."""

    ref: str
    snu: int


def parse_mrs(body: bytes) -> Mrs:
    """Read an `mrs`; raises DeliveryError saying what is wrong with it."""
    if len(body) > MAX_BODY or b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise DeliveryError("the alarm centre's reply is too large or declares a DTD")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise DeliveryError(f"the alarm centre's reply is not XML: {exc}") from exc
    if root.tag != "mrs":
        raise DeliveryError(f"the alarm centre's reply is <{root.tag[:40]}>, not <mrs>")
    ref, snu = root.findtext("ref"), root.findtext("snu")
    if not ref or snu is None or not snu.strip().isdigit() or not 0 <= int(snu) <= 7:
        raise DeliveryError(f"the alarm centre's <mrs> lacks a ref or a snu from 0 to 7 (snu {snu!r})")
    return Mrs(ref=ref.strip(), snu=int(snu))


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """One heartbeat sent: when, to which centre, and how it went."""

    at: datetime
    centre: str
    ok: bool
    detail: str


Acknowledge = Callable[..., Awaitable[object]]
AlertLookup = Callable[[str], Awaitable[Alert | None]]


class ScaipChannel:
    """Sends alerts to alarm centres as SCAIP `mrq`s; see the module docstring."""

    type = "scaip"
    # Another system: snu 0 says the centre's software has it, not that an operator read it
    # (with `acknowledge: true` the centre's acceptance acknowledges the alert anyway).
    reach = REACH_SYSTEM

    def __init__(self, *, centres: Mapping[str, ChannelTarget] | None = None) -> None:
        self.centres = dict(centres or {})  # caregiver id -> target, for heartbeats
        self.clock: Clock = RealClock()
        self._acknowledge: Acknowledge | None = None
        self._alert: AlertLookup | None = None
        self.heartbeats: deque[Heartbeat] = deque(maxlen=100)
        self._seq = 0

    def attach(self, *, clock: Clock, acknowledge: Acknowledge, alert: AlertLookup) -> None:
        """Called by the alert service: its clock, its acknowledge, its alert lookup."""
        self.clock, self._acknowledge, self._alert = clock, acknowledge, alert

    def _ref(self) -> str:
        self._seq += 1
        return f"{self.clock.now():%Y%m%d%H%M%S}-{self._seq}"

    async def send(self, notification: Notification, target: ChannelTarget) -> str | None:
        try:
            o = CentreOptions.of(target.options)
        except ValueError as exc:
            raise DeliveryError(f"scaip channel misconfigured: {exc}") from exc
        alert = await self._alert(notification.alert_id) if self._alert else None
        scenario = alert.scenario if alert else ""
        fields = {"dty": device_type(scenario, o.dty), "stc": status_code(notification, scenario, o.stc),
                  "pri": PRI[notification.severity]}
        if o.lco:
            fields["lco"] = o.lco
        fields["stt"] = notification.title
        ref = self._ref()
        mrs = await self._exchange(o, mrq(o, ref=ref, fields=fields), ref)
        if mrs.snu != 0:
            raise DeliveryError(f"the alarm centre answered snu {mrs.snu} ({SNU_TEXT[mrs.snu]})")
        if o.acknowledge and notification.kind == KIND_ALERT and self._acknowledge is not None:
            await self._acknowledge(notification.alert_id, by=notification.recipient.id, channel=self.type)
        return f"snu 0 ref {ref}"

    async def _exchange(self, o: CentreOptions, body: bytes, ref: str) -> Mrs:
        replies: asyncio.Queue[SipMessage] = asyncio.Queue(maxsize=16)

        def incoming(msg: SipMessage) -> None:
            if not replies.full():
                replies.put_nowait(msg)

        async with SipPeer(o.uri, transport=o.transport, clock=self.clock, local_uri=o.local_uri,
                           ssl_context=self._ssl(o), on_request=incoming) as peer:
            final = await peer.message(body, o.content_type)
            if final.status // 100 != 2:
                raise DeliveryError(f"the alarm centre answered SIP {final.status} {final.reason}")
            if o.response == "200ok":
                return parse_mrs(final.body)
            while True:  # the caller's timeout ends a silent centre
                mrs = parse_mrs((await replies.get()).body)
                if mrs.ref == ref:
                    return mrs
                log.warning("alarm centre answered ref %s while we wait for %s", mrs.ref, ref)

    @staticmethod
    def _ssl(o: CentreOptions) -> ssl.SSLContext | None:
        if o.transport != "tls":
            return None
        try:
            return ssl.create_default_context(cafile=o.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(f"cannot load the alarm centre's CA file {o.ca_file}: {exc}") from exc

    async def heartbeat(self, centre: str, target: ChannelTarget) -> Heartbeat:
        """Send one `mty` PI to `centre`; a 2xx final response is a good heartbeat."""
        at = self.clock.now()
        try:
            o = CentreOptions.of(target.options)
            fields = {"mty": "PI", "dty": DTY_DEFAULT, "stc": (o.stc or STC)["heartbeat"]}
            async with asyncio.timeout(target.timeout.total_seconds()), \
                    SipPeer(o.uri, transport=o.transport, clock=self.clock, local_uri=o.local_uri,
                            ssl_context=self._ssl(o)) as peer:
                final = await peer.message(mrq(o, ref=self._ref(), fields=fields), o.content_type)
            ok, detail = final.status // 100 == 2, f"SIP {final.status} {final.reason}"
        except TimeoutError:
            ok, detail = False, f"no answer within {target.timeout.total_seconds():g}s"
        except (DeliveryError, ValueError) as exc:
            ok, detail = False, str(exc)
        if not ok:
            log.warning("heartbeat to alarm centre %s failed: %s", centre, detail)
        beat = Heartbeat(at=at, centre=centre, ok=ok, detail=detail)
        self.heartbeats.append(beat)
        return beat

    async def run(self) -> None:
        """Send each centre's heartbeats on schedule until cancelled."""
        due: dict[str, datetime] = {}
        for cid, t in self.centres.items():
            every = t.options.get("heartbeat")
            if isinstance(every, timedelta) and every > timedelta(0):
                due[cid] = self.clock.now() + every
        if not due:
            return
        while True:
            when = min(due.values())
            await self.clock.sleep_until(when)
            for cid in [c for c, at in due.items() if at <= when]:
                await self.heartbeat(cid, self.centres[cid])
                due[cid] = when + timedelta_of(self.centres[cid])


def timedelta_of(target: ChannelTarget) -> timedelta:
    every = target.options.get("heartbeat")
    return every if isinstance(every, timedelta) else timedelta(minutes=15)
