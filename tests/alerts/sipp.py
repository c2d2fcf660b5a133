"""SIPp as the alarm centre: a real SIP peer started on a free loopback port per test."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import eventually

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "sipp"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _taken(port: int, transport: str) -> bool:
    kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


@dataclass
class Sipp:
    """A running SIPp: its port and the file where it traces every message."""

    port: int
    messages: Path

    def uri(self) -> str:
        return f"sip:centrale@127.0.0.1:{self.port}"

    def trace(self) -> str:
        return self.messages.read_text(errors="replace") if self.messages.exists() else ""


@contextlib.asynccontextmanager
async def sipp(scenario: str, transport: str, tmp: Path) -> AsyncIterator[Sipp]:
    """Run SIPp with tests/data/sipp/<scenario>.xml as a UAS until the block ends."""
    binary = shutil.which("sipp")
    if binary is None:
        pytest.fail("SIPp is not installed (apt-get install sip-tester; .ci/run does this)")
    port = _free_port()
    trace = tmp / f"sipp-{scenario}-{transport}-messages.log"
    proc = await asyncio.create_subprocess_exec(
        binary, "-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", "127.0.0.1", "-p", str(port),
         "-t", "u1" if transport == "udp" else "t1", "-nostdin", "-trace_msg", "-message_file", str(trace),
         "-trace_err", "-error_file", str(tmp / f"sipp-{scenario}-errors.log"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await eventually(lambda: _taken(port, transport) or proc.returncode is not None)
        if proc.returncode is not None:
            err = await proc.stderr.read() if proc.stderr else b""
            pytest.fail(f"SIPp stopped: {err.decode(errors='replace')}")
        yield Sipp(port=port, messages=trace)
    finally:
        if proc.returncode is None:
            proc.terminate()
        try:
            async with asyncio.timeout(5):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
