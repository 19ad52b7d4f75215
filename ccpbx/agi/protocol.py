"""FastAGI wire format, pure: bytes in, typed messages out; commands out as bytes.

Nothing here knows about asyncio. `AgiParser` frames raw bytes into lines before
decoding them, reads the environment block Asterisk sends first, then turns each
reply into an `AgiResult` or an `AgiHangupNotice` (the inline ``HANGUP`` line).
`build_command` quotes arguments and refuses anything that could smuggle a second
command onto the wire.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from urllib.parse import parse_qsl, unquote, urlsplit

from ccpbx.agi.errors import AgiInjectionError, AgiProtocolError

DEFAULT_MAX_HEADER_BYTES: Final = 32 * 1024
DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024
DEFAULT_MAX_REPLY_BYTES: Final = 256 * 1024
# Asterisk 22 reads a command line into an 8192-byte buffer: a line of 8192 bytes or
# more (newline included) is cut, and the rest runs as one more command (checked on
# 22.10: 8191 bytes ran as one command, 8192 as two). Stay well below that.
MAX_COMMAND_BYTES: Final = 8000

_ENV_LINE = re.compile(r"(agi_[A-Za-z0-9_]+):(?: ?)(.*)", re.DOTALL)
_RESULT_HEAD = re.compile(r"200 result=([-0-9*#A-Da-d]*)")  # digits: GET DATA
_INTEGER = re.compile(r"-?\d+")
_CODE_LINE = re.compile(r"(\d{3})([ -])(.*)", re.DOTALL)
_FORBIDDEN = ("\r", "\n", "\x00")

Arg = str | int | float


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """The `agi_*` block Asterisk sends when a FastAGI session starts."""

    variables: Mapping[str, str]
    script: str
    query: Mapping[str, str]
    args: tuple[str, ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        """Raw value of `key`, with or without its `agi_` prefix."""
        if not key.startswith("agi_"):
            key = "agi_" + key
        return self.variables.get(key, default)

    def _text(self, key: str) -> str:
        return self.variables.get(key, "")

    def _known(self, key: str) -> str | None:
        value = self.variables.get(key, "")
        return None if value in ("", "unknown") else value

    @property
    def channel(self) -> str:
        """Channel name, e.g. `PJSIP/carrier-00000001`."""
        return self._text("agi_channel")

    @property
    def uniqueid(self) -> str:
        """The channel's unique id."""
        return self._text("agi_uniqueid")

    @property
    def linkedid(self) -> str:
        """The call's linked id (shared by the channels of one call)."""
        return self._text("agi_linkedid")

    @property
    def callerid(self) -> str | None:
        """Caller number, None when Asterisk says `unknown`."""
        return self._known("agi_callerid")

    @property
    def calleridname(self) -> str | None:
        """Caller name, None when Asterisk says `unknown`."""
        return self._known("agi_calleridname")

    @property
    def dnid(self) -> str | None:
        """Dialed number, None when Asterisk says `unknown`."""
        return self._known("agi_dnid")

    @property
    def rdnis(self) -> str | None:
        """Redirecting number, None when Asterisk says `unknown`."""
        return self._known("agi_rdnis")

    @property
    def extension(self) -> str:
        """Dialplan extension that ran AGI()."""
        return self._text("agi_extension")

    @property
    def context(self) -> str:
        """Dialplan context that ran AGI()."""
        return self._text("agi_context")

    @property
    def priority(self) -> str:
        """Dialplan priority that ran AGI()."""
        return self._text("agi_priority")

    @property
    def language(self) -> str:
        """Channel language, `en` when absent."""
        return self.variables.get("agi_language") or "en"

    @property
    def accountcode(self) -> str:
        """Channel account code."""
        return self._text("agi_accountcode")

    @property
    def request(self) -> str:
        """The full AGI URL, e.g. `agi://127.0.0.1:4573/ivr?flow=main`."""
        return self._text("agi_request")


def _split_script(raw: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    path, _, query = raw.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    return unquote(path).strip("/"), tuple(pairs)


def environment_from_lines(lines: Iterable[str]) -> AgiEnvironment:
    """Build an `AgiEnvironment` from decoded header lines (without the final empty line)."""
    variables: dict[str, str] = {}
    for line in lines:
        match = _ENV_LINE.fullmatch(line)
        if match is None:
            raise AgiProtocolError(f"not an AGI environment line: {line[:80]!r}")
        variables[match.group(1)] = match.group(2)
    if "agi_network_script" in variables:
        script, pairs = _split_script(variables["agi_network_script"])
    else:
        url = urlsplit(variables.get("agi_request", ""))
        script, pairs = _split_script(f"{url.path}?{url.query}") if url.scheme else ("", ())
    args: list[str] = []
    while (value := variables.get(f"agi_arg_{len(args) + 1}")) is not None:
        args.append(value)
    return AgiEnvironment(
        variables=MappingProxyType(variables),
        script=script,
        query=MappingProxyType(dict(pairs)),
        args=tuple(args),
    )


@dataclass(frozen=True, slots=True)
class AgiResult:
    """One reply to a command.

    `code` 200 carries `raw_result` (the token after `result=`, kept as text because
    GET DATA answers digits such as `0123` or `12*3`, or nothing), `result` (that token
    as an integer, None if it is not one), optional parenthesised `data` and `extra`
    key=value pairs (e.g. `endpos`). Other codes carry `text`: the message, or for a
    multi-line 520 the usage lines joined by newlines.
    """

    code: int
    result: int | None = None
    raw_result: str = ""
    data: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def ok(self) -> bool:
        """True for a 200 reply."""
        return self.code == 200


@dataclass(frozen=True, slots=True)
class AgiHangupNotice:
    """The inline `HANGUP` line: the channel hung up; it may precede a command's reply."""


HANGUP_NOTICE: Final = AgiHangupNotice()
AgiMessage = AgiEnvironment | AgiResult | AgiHangupNotice


def parse_result_200(text: str) -> AgiResult | None:
    """Parse a `200 result=X [(data)] [key=value ...]` reply.

    Returns None while the parenthesised data is still open: Asterisk writes a value
    that holds a newline as is, so the reply then continues on the next line. The data
    runs to the last `)`, as Asterisk does not escape parentheses inside it.
    """
    head = _RESULT_HEAD.match(text)
    if head is None:
        raise AgiProtocolError(f"malformed 200 reply: {text[:80]!r}")
    rest = text[head.end() :]
    data: str | None = None
    if rest.startswith(" ("):
        close = rest.rfind(")")
        tail = rest[close + 1 :] if close >= 0 else ""
        if close < 0 or (tail and not tail.startswith(" ")):
            return None
        data, rest = rest[2:close], tail
    elif rest and not rest.startswith(" "):
        raise AgiProtocolError(f"malformed 200 reply: {text[:80]!r}")
    extra = dict(token.split("=", 1) for token in rest.split() if "=" in token)
    token = head.group(1)
    return AgiResult(
        code=200,
        result=int(token) if _INTEGER.fullmatch(token) else None,
        raw_result=token,
        data=data,
        extra=extra,
        text=text,
    )


class AgiParser:
    """Incremental parser for the Asterisk side of a FastAGI connection.

    Feed it bytes as they arrive; it returns the complete messages they finish:
    first one `AgiEnvironment`, then `AgiResult` and `AgiHangupNotice` in wire order.
    Raises `AgiProtocolError` on garbage or when a size cap is exceeded.
    """

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        self._max_header = max_header_bytes
        self._max_line = max_line_bytes
        self._max_reply = max_reply_bytes
        self._buffer = bytearray()
        self._scan_from = 0
        self._header_lines: list[str] | None = []
        self._header_bytes = 0
        self._pending: list[str] = []  # lines of an unfinished reply (520- or open data)
        self._pending_bytes = 0
        self._usage_code: int | None = None  # inside a multi-line reply such as 520-

    @property
    def header_complete(self) -> bool:
        """True once the environment block has been parsed."""
        return self._header_lines is None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message."""
        return len(self._buffer) + self._pending_bytes

    def feed(self, data: bytes) -> list[AgiMessage]:
        """Consume `data`; return the messages it completes, in order."""
        buffer = self._buffer
        buffer += data
        messages: list[AgiMessage] = []
        start = 0
        while (end := buffer.find(b"\n", max(start, self._scan_from))) >= 0:
            raw = bytes(buffer[start:end])
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            size, start = end + 1 - start, end + 1
            message = self._on_line(raw, size)
            if message is not None:
                messages.append(message)
        del buffer[:start]
        self._scan_from = len(buffer)
        if self._header_lines is not None:
            if self._header_bytes + len(buffer) > self._max_header:
                raise AgiProtocolError("AGI environment exceeds the size cap")
        elif len(buffer) > self._max_line:
            raise AgiProtocolError("AGI reply line exceeds the size cap")
        return messages

    def _on_line(self, raw: bytes, size: int) -> AgiMessage | None:
        line = raw.decode("utf-8", errors="replace")
        if self._header_lines is not None:
            self._header_bytes += size
            if self._header_bytes > self._max_header:
                raise AgiProtocolError("AGI environment exceeds the size cap")
            if line:
                self._header_lines.append(line)
                return None
            lines, self._header_lines = self._header_lines, None
            return environment_from_lines(lines)
        if size > self._max_line:
            raise AgiProtocolError("AGI reply line exceeds the size cap")
        if self._usage_code is not None:
            return self._continue_usage(self._usage_code, line, size)
        if self._pending:
            return self._continue_data(line, size)
        return self._start_reply(line, size)

    def _start_reply(self, line: str, size: int) -> AgiMessage | None:
        if line == "HANGUP":
            return HANGUP_NOTICE
        match = _CODE_LINE.fullmatch(line)
        if match is None:
            raise AgiProtocolError(f"unexpected line from Asterisk: {line[:80]!r}")
        code, sep, text = int(match.group(1)), match.group(2), match.group(3)
        if sep == "-":
            self._usage_code = code
            self._hold(text, size)
            return None
        if code != 200:
            return AgiResult(code=code, text=text)
        result = parse_result_200(line)
        if result is None:
            self._hold(line, size)
        return result

    def _continue_usage(self, code: int, line: str, size: int) -> AgiMessage | None:
        if line.startswith(f"{code} "):
            lines = self._release()
            return AgiResult(code=code, text="\n".join(lines))
        self._hold(line, size)
        return None

    def _continue_data(self, line: str, size: int) -> AgiMessage | None:
        result = parse_result_200("\n".join([*self._pending, line]))
        if result is None:
            self._hold(line, size)
        else:
            self._release()
        return result

    def _hold(self, line: str, size: int) -> None:
        self._pending.append(line)
        self._pending_bytes += size
        if self._pending_bytes > self._max_reply:
            raise AgiProtocolError("AGI reply exceeds the size cap")

    def _release(self) -> list[str]:
        lines, self._pending = self._pending, []
        self._pending_bytes = 0
        self._usage_code = None
        return lines


def quote_argument(value: Arg) -> str:
    """Quote one argument the way res_agi's parser reads it back verbatim."""
    text = str(value)
    if any(ch in text for ch in _FORBIDDEN):
        raise AgiInjectionError("AGI argument contains CR, LF or NUL")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_command(command: str, *args: Arg) -> bytes:
    """Encode `command` (bare words, e.g. `STREAM FILE`) and its quoted args as one line.

    Raises `AgiInjectionError` (a ValueError) before anything is sent if the command or
    an argument holds CR, LF or NUL (or a lone surrogate), or the line would exceed what
    Asterisk reads at once.
    """
    if not command or any(ch in command for ch in (*_FORBIDDEN, '"', "\\")):
        raise AgiInjectionError(f"invalid AGI command name: {command[:40]!r}")
    line = " ".join([command, *(quote_argument(arg) for arg in args)]) + "\n"
    try:
        encoded = line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AgiInjectionError("AGI command is not encodable as UTF-8") from exc
    if len(encoded) > MAX_COMMAND_BYTES:
        raise AgiInjectionError(
            f"AGI command is {len(encoded)} bytes; Asterisk splits lines over {MAX_COMMAND_BYTES}"
        )
    return encoded
