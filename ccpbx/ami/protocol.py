"""Pure AMI wire protocol: bytes in, typed messages out; actions out as bytes.

No asyncio here. ``AmiFramer.feed`` frames on raw bytes *before* decoding, so a
UTF-8 character split across two TCP reads is never lost; each complete message
is decoded with ``errors="replace"``. CRLF and LF-only line ends are both
accepted (CRLF is folded to LF first, holding back a CR that ends a read).

A message that grows past ``max_message_bytes`` without ending is dropped and
the framer resynchronises at the next blank line, so memory stays bounded.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from ccpbx.ami.errors import AmiInjectionError

EVENT: Final = "event"
RESPONSE: Final = "response"
ACTION: Final = "action"
MessageKind = Literal["event", "response", "action"]

BANNER_PREFIX: Final = "Asterisk Call Manager/"
DEFAULT_MAX_MESSAGE_BYTES: Final = 1 << 20
_END_COMMAND: Final = b"--END COMMAND--"
_FOLLOWS: Final = b"Response: Follows"
_SUCCESS_RESPONSES: Final = frozenset({"Success", "Follows", "Goodbye"})
_split = str.split
_SEP: Final = itertools.repeat(": ")
_ONCE: Final = itertools.repeat(1)

HeaderValue = str | int | bool
HeaderInput = HeaderValue | Sequence[HeaderValue]


class AmiMessage:
    """One AMI event or response.

    ``msg["Key"]`` and ``msg.get("Key")`` return the first value of a header
    (exact-case lookup first, then case-insensitive); ``msg.get_all("Key")``
    returns every value in wire order. ``output`` holds command output lines
    (``Output:`` headers or the body of an old-style ``Response: Follows``).
    ``seq`` is the position of the message in the client's stream (0 if unset).
    """

    __slots__ = ("_extra", "_first", "action_id", "kind", "name", "output", "seq")

    def __init__(
        self,
        kind: MessageKind,
        name: str,
        headers: dict[str, str],
        extra: list[tuple[str, str]] | None = None,
        output: tuple[str, ...] = (),
    ) -> None:
        self.kind: MessageKind = kind
        self.name = name
        self._first = headers
        self._extra = extra
        self.action_id: str | None = headers.get("ActionID")
        self.output = output
        self.seq = 0

    def _lookup(self, key: str) -> str | None:
        value = self._first.get(key)
        if value is not None:
            return value
        folded = key.casefold()
        for k, v in self._first.items():
            if k.casefold() == folded:
                return v
        return None

    def __getitem__(self, key: str) -> str:
        value = self._first.get(key)
        if value is None:
            value = self._lookup(key)
            if value is None:
                raise KeyError(key)
        return value

    def get(self, key: str, default: str | None = None) -> str | None:
        value = self._first.get(key)
        if value is None:
            value = self._lookup(key)
            if value is None:
                return default
        return value

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._lookup(key) is not None

    def get_all(self, key: str) -> list[str]:
        """Every value of ``key`` in wire order (empty list if absent)."""
        folded = key.casefold()
        values = [v for k, v in self._first.items() if k.casefold() == folded]
        if self._extra:
            values.extend(v for k, v in self._extra if k.casefold() == folded)
        return values

    def fields(self) -> list[tuple[str, str]]:
        """All (name, value) pairs: first occurrences in wire order, then repeats in order."""
        pairs = list(self._first.items())
        if self._extra:
            pairs.extend(self._extra)
        return pairs

    @property
    def headers(self) -> dict[str, str]:
        """First value of each header, as a new plain dict."""
        return dict(self._first)

    @property
    def is_event(self) -> bool:
        return self.kind == EVENT

    @property
    def ok(self) -> bool:
        """True for events and for Success/Follows/Goodbye responses."""
        return self.kind == EVENT or self.name in _SUCCESS_RESPONSES

    def __repr__(self) -> str:
        return f"<AmiMessage {self.kind} {self.name!r} action_id={self.action_id!r}>"


@dataclass
class FramerStats:
    """Counters kept by a framer (for health reports)."""

    messages: int = 0
    garbage_lines: int = 0
    unknown_messages: int = 0
    oversized_dropped: int = 0


class AmiFramer:
    """Incremental AMI framer and parser: ``feed(bytes) -> list[AmiMessage]``."""

    def __init__(
        self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, *, actions: bool = False
    ) -> None:
        """``actions=True`` also types ``Action:`` messages (a server side, e.g. a test peer)."""
        if max_message_bytes < 64:
            raise ValueError("max_message_bytes must be at least 64")
        self.max_message_bytes = max_message_bytes
        self.accept_actions = actions
        self.stats = FramerStats()
        self.version: str | None = None
        self._buf = b""
        self._cr_held = False
        self._discarding = False
        self._discard_nl = False

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[AmiMessage]:
        """Add bytes read from the socket; return the messages they complete, in order."""
        if self._cr_held:
            data = b"\r" + data
            self._cr_held = False
        if data.endswith(b"\r"):
            data = data[:-1]
            self._cr_held = True
        data = data.replace(b"\r\n", b"\n")
        if self._discarding:
            data = self._skip_discarded(data)
            if not data:
                return []
        buf = self._buf
        if buf:
            start = len(buf) - 1
            data = buf + data
            if data.find(b"\n\n", start) < 0:
                self._hold(data)
                return []
        parts = data.split(b"\n\n")
        tail = parts.pop()
        out: list[AmiMessage] = []
        i = 0
        n = len(parts)
        cap = self.max_message_bytes
        while i < n:
            part = parts[i]
            i += 1
            if part[:1] == b"\n":  # extra blank lines between messages
                part = part.lstrip(b"\n")
                if not part:
                    continue
            if len(part) > cap:
                self.stats.oversized_dropped += 1
                continue
            if part.startswith(_FOLLOWS):
                if _END_COMMAND not in part:
                    # Old-style command output may hold blank lines: join up to the end marker.
                    j = i
                    while j < n and _END_COMMAND not in part and not _starts_message(parts[j]):
                        part = part + b"\n\n" + parts[j]
                        j += 1
                    if _END_COMMAND not in part and j == n and not _starts_message(tail):
                        tail = part + b"\n\n" + tail
                        break
                    i = j
                    if len(part) > cap:
                        self.stats.oversized_dropped += 1
                        continue
                msg = self._parse(part)
            else:
                # Fast path: every line is "Key: value" and no header repeats.
                lines = part.decode("utf-8", "replace").split("\n")
                try:
                    first = dict(map(_split, lines, _SEP, _ONCE))
                except ValueError:
                    msg = self._parse_lines(lines)
                else:
                    if len(first) == len(lines) and "Event" in first:
                        out.append(AmiMessage(EVENT, first["Event"], first))
                        continue
                    msg = self._parse_lines(lines)
            if msg is not None:
                out.append(msg)
        self.stats.messages += len(out)
        self._buf = b""
        if tail:
            self._hold(tail)
        return out

    def _hold(self, data: bytes) -> None:
        if len(data) > self.max_message_bytes:
            self.stats.oversized_dropped += 1
            self._buf = b""
            self._discarding = True
            self._discard_nl = data.endswith(b"\n")
        else:
            self._buf = data

    def _skip_discarded(self, data: bytes) -> bytes:
        """Drop bytes up to the next blank line; return what follows it (or b"")."""
        if self._discard_nl and data.startswith(b"\n"):
            self._discarding = False
            return data[1:]
        idx = data.find(b"\n\n")
        if idx < 0:
            if data:
                self._discard_nl = data.endswith(b"\n")
            return b""
        self._discarding = False
        return data[idx + 2 :]

    def _parse(self, frame: bytes) -> AmiMessage | None:
        text = frame.decode("utf-8", "replace")
        if frame.startswith(_FOLLOWS):
            return self._parse_follows(text)
        return self._parse_lines(text.split("\n"))

    def _parse_lines(self, lines: list[str]) -> AmiMessage | None:
        first = {}
        extra: list[tuple[str, str]] | None = None
        for line in lines:
            key, sep, value = line.partition(": ")
            if not sep:
                key, sep, value = line.partition(":")
                if not sep:
                    self._garbage(line)
                    continue
                value = value.lstrip()
            if key in first:
                if extra is None:
                    extra = []
                extra.append((key, value))
            else:
                first[key] = value
        return self._build(first, extra, ())

    def _parse_follows(self, text: str) -> AmiMessage | None:
        first: dict[str, str] = {}
        output: list[str] = []
        in_body = False
        for line in text.split("\n"):
            if in_body:
                if line.startswith(_END_COMMAND.decode()):
                    break
                output.append(line)
                continue
            key, sep, value = line.partition(": ")
            if sep and " " not in key and key:
                first.setdefault(key, value)
            elif line.startswith(_END_COMMAND.decode()):
                break
            else:
                in_body = True
                output.append(line)
        while output and not output[-1]:
            output.pop()
        return self._build(first, None, tuple(output))

    def _garbage(self, line: str) -> None:
        if not line or line.isspace():
            return
        if line.startswith(BANNER_PREFIX):
            self.version = line[len(BANNER_PREFIX) :].strip()
            return
        self.stats.garbage_lines += 1

    def _build(
        self, first: dict[str, str], extra: list[tuple[str, str]] | None, output: tuple[str, ...]
    ) -> AmiMessage | None:
        name = first.get("Event")
        if name is not None:
            kind: MessageKind = EVENT
        else:
            name = first.get("Response")
            if name is None and self.accept_actions and "Action" in first:
                return AmiMessage(ACTION, first["Action"], first, extra, ())
            if name is None:
                if first:
                    self.stats.unknown_messages += 1
                return None
            kind = RESPONSE
            if not output and extra is not None and "Output" in first:
                output = (first["Output"], *(v for k, v in extra if k == "Output"))
            elif not output and "Output" in first:
                output = (first["Output"],)
        return AmiMessage(kind, name, first, extra, output)


def _starts_message(part: bytes) -> bool:
    # Extra blank lines before a message leave leading newlines on its part.
    return part.lstrip(b"\n").startswith((b"Event: ", b"Response: "))


_FORBIDDEN_VALUE = re.compile(r"[\r\n\x00]")
_FORBIDDEN_NAME = re.compile(r"[\r\n\x00:\s]")


def check_header(name: str, value: str) -> None:
    """Refuse a header that could inject lines into the AMI stream (CR, LF, NUL)."""
    if not isinstance(name, str) or not name or _FORBIDDEN_NAME.search(name):
        raise AmiInjectionError(
            "AMI header name refused: empty, or holds CR, LF, NUL, ':' or whitespace",
            header=repr(name)[:80],
        )
    if _FORBIDDEN_VALUE.search(value):
        raise AmiInjectionError(
            f"AMI header {name!r} refused: its value holds CR, LF or NUL", header=name
        )


def _as_text(name: str, value: HeaderValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raise AmiInjectionError(
        f"AMI header {name!r} refused: value must be str, int or bool", header=name
    )


def iter_header_pairs(headers: Mapping[str, HeaderInput]) -> Iterator[tuple[str, str]]:
    """Flatten a header mapping (a list value becomes repeated headers), checking each."""
    for name, raw in headers.items():
        values: Iterable[HeaderValue]
        if isinstance(raw, str | int | bool):
            values = (raw,)
        elif isinstance(raw, Sequence):
            values = raw
        else:
            values = (raw,)
        for item in values:
            text = _as_text(name, item)
            check_header(name, text)
            yield name, text


def encode_action(name: str, action_id: str, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """Serialise an action; every name and value is checked before anything is built."""
    check_header("Action", name)
    check_header("ActionID", action_id)
    lines = [f"Action: {name}", f"ActionID: {action_id}"]
    for key, value in headers:
        check_header(key, value)
        if key.casefold() in ("action", "actionid"):
            raise AmiInjectionError(f"AMI header {key!r} is set by the client", header=key)
        lines.append(f"{key}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8")
