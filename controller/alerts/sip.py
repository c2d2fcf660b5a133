"""A small SIP MESSAGE user agent (RFC 3428) over UDP, TCP or TLS, for SCAIP.

Only what pager-mode instant messages need: send a MESSAGE and wait for its final response;
answer a MESSAGE the peer sends back on the same transport with 200 OK and hand its body on.
No dialogs, no authentication, no DNS SRV (RFC 3263): the peer is a host and port. Sizes are
bounded (headers 8 KiB, body 64 KiB) and every failure is a SipError, never a traceback.

UDP retransmits on the caller's clock (RFC 3261 timer A: T1 doubling, capped at T2); the
caller bounds the whole exchange with its own timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, cast

from controller.clock import Clock
from controller.errors import DeliveryError

Transport = Literal["udp", "tcp", "tls"]
TRANSPORTS: tuple[Transport, ...] = ("udp", "tcp", "tls")
MAX_HEADERS = 8 * 1024
MAX_BODY = 64 * 1024
T1, T2 = 0.5, 4.0
_URI = re.compile(r"sips?:(?:(?P<user>[^@;>\s]+)@)?(?P<host>\[[0-9a-fA-F:]+\]|[^:;>\s]+)(?::(?P<port>\d+))?")


class SipError(DeliveryError):
    """The SIP peer could not be reached, or said something we cannot read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SipUri:
    """`sip:user@host:port`, as far as we need it."""

    text: str
    user: str | None
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, *, default_port: int = 5060) -> SipUri:
        m = _URI.fullmatch(text.strip())
        if m is None:
            raise ValueError(f"{text!r} is not a SIP URI (try 'sip:centrale@arc.example.nl:5060')")
        port = int(m["port"]) if m["port"] else (5061 if text.startswith("sips:") else default_port)
        return cls(text=text.strip(), user=m["user"], host=m["host"].strip("[]"), port=port)


@dataclass(frozen=True, slots=True, kw_only=True)
class SipMessage:
    """One request or response: start line, headers in order, body."""

    start: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        want = _COMPACT.get(name.lower(), name.lower())
        for k, v in self.headers:
            if _COMPACT.get(k.lower(), k.lower()) == want:
                return v
        return None

    @property
    def is_response(self) -> bool:
        return self.start.startswith("SIP/2.0 ")

    @property
    def status(self) -> int:
        return int(self.start.split(" ", 2)[1]) if self.is_response else 0

    @property
    def reason(self) -> str:
        parts = self.start.split(" ", 2)
        return parts[2] if self.is_response and len(parts) > 2 else ""

    @property
    def method(self) -> str:
        return "" if self.is_response else self.start.split(" ", 1)[0]

    def render(self) -> bytes:
        lines = [self.start, *(f"{k}: {v}" for k, v in self.headers if k.lower() != "content-length"),
                 f"Content-Length: {len(self.body)}", "", ""]
        return "\r\n".join(lines).encode("utf-8") + self.body


# RFC 3261 section 7.3.3 compact forms.
_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "c": "content-type", "l": "content-length",
            "m": "contact"}


def parse_head(head: bytes) -> tuple[str, tuple[tuple[str, str], ...], int]:
    """Start line, headers and Content-Length of a message head (without the blank line)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipError("the SIP peer sent a head that is not UTF-8") from exc
    lines = text.split("\r\n")
    start = lines[0].strip()
    if not (start.startswith("SIP/2.0 ") and re.fullmatch(r"SIP/2\.0 [1-6]\d\d( .*)?", start)) and \
            not re.fullmatch(r"[A-Z]+ \S+ SIP/2\.0", start):
        raise SipError(f"the SIP peer sent something that is not SIP: {start[:80]!r}")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded continuation
            k, v = headers[-1]
            headers[-1] = (k, f"{v} {line.strip()}")
            continue
        if ":" not in line:
            raise SipError(f"the SIP peer sent a malformed header line: {line[:80]!r}")
        k, v = line.split(":", 1)
        headers.append((k.strip(), v.strip()))
    length = SipMessage(start=start, headers=tuple(headers)).header("content-length")
    try:
        size = int(length) if length is not None else -1
    except ValueError as exc:
        raise SipError(f"the SIP peer sent a bad Content-Length: {length!r}") from exc
    if size > MAX_BODY:
        raise SipError(f"the SIP peer sent a body of {size} bytes (at most {MAX_BODY})")
    return start, tuple(headers), size


def parse_datagram(data: bytes) -> SipMessage:
    """One whole message from a UDP datagram."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or len(head) > MAX_HEADERS:
        raise SipError("the SIP peer sent a datagram without a complete head")
    start, headers, size = parse_head(head)
    if size >= 0:
        body = body[:size]
    return SipMessage(start=start, headers=headers, body=body)


def response_to(request: SipMessage, status: int, reason: str) -> SipMessage:
    """A response copying the request's Via, From, To (with a tag), Call-ID and CSeq."""
    headers = [(k, v) for k, v in request.headers if k.lower() in ("via", "v")]
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = request.header(name) or ""
        if name == "To" and ";tag=" not in value:
            value += f";tag={secrets.token_hex(4)}"
        headers.append((name, value))
    return SipMessage(start=f"SIP/2.0 {status} {reason}", headers=tuple(headers))


@dataclass(slots=True)
class _Pending:
    future: asyncio.Future[SipMessage] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, on_message: Callable[[SipMessage], None], on_error: Callable[[SipError], None]) -> None:
        self.on_message = on_message
        self.on_error = on_error

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        try:
            self.on_message(parse_datagram(data))
        except SipError as exc:
            self.on_error(exc)

    def error_received(self, exc: Exception) -> None:
        self.on_error(SipError(f"the SIP peer is unreachable: {exc}"))


class SipPeer:
    """One transport to one SIP peer: send MESSAGEs, answer the MESSAGEs it sends back.

    `on_request` gets every MESSAGE the peer sends (after we answered 200 OK). Use as
    `async with SipPeer(...) as peer: response = await peer.message(body, content_type)`.
    """

    def __init__(self, uri: SipUri, *, transport: Transport, clock: Clock, local_uri: str,
                 ssl_context: ssl.SSLContext | None = None,
                 on_request: Callable[[SipMessage], None] | None = None) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown SIP transport {transport!r} (known: {', '.join(TRANSPORTS)})")
        self.uri = uri
        self.transport = transport
        self.clock = clock
        self.local_uri = local_uri
        self.ssl_context = ssl_context
        self.on_request = on_request
        self._pending: dict[str, _Pending] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.Task[None] | None = None
        self._failure: SipError | None = None
        self._cseq = 0

    async def __aenter__(self) -> SipPeer:
        where = f"{self.transport.upper()} {self.uri.host}:{self.uri.port}"
        loop = asyncio.get_running_loop()
        try:
            if self.transport == "udp":
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: _Udp(self._received, self._fail), remote_addr=(self.uri.host, self.uri.port))
                self._udp = udp
            else:
                ctx = (self.ssl_context or ssl.create_default_context()) if self.transport == "tls" else None
                reader, self._writer = await asyncio.open_connection(
                    self.uri.host, self.uri.port, ssl=ctx, limit=MAX_HEADERS + 4,
                    server_hostname=self.uri.host if ctx else None)
                # Owned by this peer and awaited in __aexit__: not fire-and-forget.
                self._reader = asyncio.create_task(self._read_stream(reader), name=f"sip-reader-{where}")
        except (OSError, ssl.SSLError) as exc:
            raise SipError(f"could not reach the SIP peer over {where}: {exc}") from exc
        return self

    async def __aexit__(self, et: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await self._writer.wait_closed()
        if self._udp is not None:
            self._udp.close()

    def _local(self) -> tuple[str, int]:
        t = self._udp if self._udp is not None else self._writer.transport if self._writer else None
        name = t.get_extra_info("sockname") if t is not None else None
        return (str(name[0]), int(name[1])) if name else ("127.0.0.1", 5060)

    async def message(self, body: bytes, content_type: str) -> SipMessage:
        """Send one MESSAGE and return its final response (any status); raises SipError."""
        if len(body) > MAX_BODY:
            raise SipError(f"a MESSAGE body of {len(body)} bytes is over the {MAX_BODY} limit")
        self._cseq += 1
        call_id = f"{secrets.token_hex(8)}@huis"
        host, port = self._local()
        request = SipMessage(start=f"MESSAGE {self.uri.text} SIP/2.0", headers=(
            ("Via", f"SIP/2.0/{self.transport.upper()} {host}:{port};branch=z9hG4bK{secrets.token_hex(8)};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<{self.local_uri}>;tag={secrets.token_hex(4)}"),
            ("To", f"<{self.uri.text}>"),
            ("Call-ID", call_id),
            ("CSeq", f"{self._cseq} MESSAGE"),
            ("Content-Type", content_type),
        ), body=body)
        pending = self._pending[call_id] = _Pending()
        try:
            self._send(request.render())
            if self._writer is not None:
                await self._drain()
            return await self._await_final(pending, request.render())
        finally:
            del self._pending[call_id]

    async def _await_final(self, pending: _Pending, wire: bytes) -> SipMessage:
        interval = T1
        while True:
            if self._failure is not None:
                raise self._failure
            if self._udp is None:
                return await pending.future
            # Timer A: retransmit over UDP until a final response; the caller's timeout ends it.
            sleeper = asyncio.ensure_future(self.clock.sleep(interval))
            try:
                both = cast(set[asyncio.Future[object]], {pending.future, sleeper})
                await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sleeper
            if pending.future.done():
                return pending.future.result()
            self._send(wire)
            interval = min(interval * 2, T2)

    def _send(self, data: bytes) -> None:
        if self._udp is not None:
            self._udp.sendto(data)
        elif self._writer is not None:
            self._writer.write(data)

    async def _drain(self) -> None:
        assert self._writer is not None
        try:
            await self._writer.drain()
        except (OSError, ssl.SSLError) as exc:
            raise SipError(f"the SIP connection to {self.uri.host}:{self.uri.port} broke: {exc}") from exc

    async def _read_stream(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                start, headers, size = parse_head(head[:-4])
                if size < 0:
                    raise SipError("the SIP peer sent a message without Content-Length over a stream")
                body = await reader.readexactly(size)
                self._received(SipMessage(start=start, headers=headers, body=body))
        except SipError as exc:
            self._fail(exc)
        except asyncio.LimitOverrunError:
            self._fail(SipError(f"the SIP peer sent a head over {MAX_HEADERS} bytes"))
        except asyncio.IncompleteReadError:
            self._fail(SipError("the SIP peer closed the connection"))
        except (OSError, ssl.SSLError) as exc:
            self._fail(SipError(f"the SIP connection broke: {exc}"))

    def _fail(self, error: SipError) -> None:
        # A stream out of step cannot be trusted again: every waiting request fails with it.
        self._failure = error
        for p in self._pending.values():
            if not p.future.done():
                p.future.set_exception(error)

    def _received(self, msg: SipMessage) -> None:
        if msg.is_response:
            pending = self._pending.get(msg.header("call-id") or "")
            if pending is not None and msg.status >= 200 and not pending.future.done():
                pending.future.set_result(msg)
            return
        if msg.method != "MESSAGE":
            self._send(response_to(msg, 405, "Method Not Allowed").render())
            return
        self._send(response_to(msg, 200, "OK").render())
        if self.on_request is not None:
            self.on_request(msg)
