"""A scripted stand-in for Asterisk's side of FastAGI, used to inject faults.

It sends an environment block, then answers each command line through a responder
and records exactly the bytes the server sent, so tests can check what reached the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

Responder = Callable[[str], bytes | None]

BASE_ENV: dict[str, str] = {
    "agi_network": "yes",
    "agi_network_script": "ivr",
    "agi_request": "agi://127.0.0.1:4573/ivr",
    "agi_channel": "PJSIP/carrier-00000001",
    "agi_language": "en",
    "agi_type": "PJSIP",
    "agi_uniqueid": "1763900000.1",
    "agi_version": "22.10.1",
    "agi_callerid": "31201234567",
    "agi_calleridname": "Jos\u00e9",
    "agi_callingpres": "0",
    "agi_callingani2": "0",
    "agi_callington": "0",
    "agi_callingtns": "0",
    "agi_dnid": "8001",
    "agi_rdnis": "unknown",
    "agi_context": "inbound",
    "agi_extension": "8001",
    "agi_priority": "2",
    "agi_enhanced": "0.0",
    "agi_accountcode": "",
    "agi_threadid": "140000000000000",
}


def env_block(script: str = "ivr", args: tuple[str, ...] = (), **overrides: str) -> bytes:
    """An environment block as Asterisk writes it (LF line ends, a blank line at the end)."""
    values = dict(BASE_ENV, agi_network_script=script)
    values["agi_request"] = f"agi://127.0.0.1:4573/{script}"
    values.update(overrides)
    lines = [f"{key}: {value}" for key, value in values.items()]
    lines += [f"agi_arg_{n}: {value}" for n, value in enumerate(args, start=1)]
    return ("\n".join(lines) + "\n\n").encode()


def answer_ok(_line: str) -> bytes:
    """Answer any command with `200 result=0`."""
    return b"200 result=0\n"


class FakeAsterisk:
    """One scripted FastAGI connection to the server under test."""

    def __init__(self, port: int, responder: Responder = answer_ok) -> None:
        self.port = port
        self.responder = responder
        self.received = bytearray()  # every byte the server sent, in order
        self.closed_by_server = False

    @property
    def commands(self) -> list[str]:
        """Command lines received, without their line ends."""
        return self.received.decode().splitlines()

    async def run(self, env: bytes) -> FakeAsterisk:
        """Send `env`, answer commands until either side closes; return self."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(env)
            await writer.drain()
            while True:
                line = await reader.readline()
                self.received += line
                if not line.endswith(b"\n"):
                    self.closed_by_server = True
                    break
                reply = self.responder(line.decode().rstrip("\n"))
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        return self
