"""The pure AMI framer/parser and action encoder: no event loop, no sockets."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccpbx.ami.errors import AmiInjectionError
from ccpbx.ami.protocol import AmiFramer, AmiMessage, encode_action, iter_header_pairs

STREAM = (
    b"Asterisk Call Manager/11.0.0\r\n"
    b"Response: Success\r\nActionID: a1\r\nMessage: Authentication accepted\r\n\r\n"
    b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
    b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/carrier-00000001\r\n"
    b"CallerIDName: Jos\xc3\xa9 \xc3\x81lvarez\r\nUniqueid: 1763900000.1\r\n"
    b"ChanVariable: CCPBX_CAMPAIGN=42\r\nChanVariable: CCPBX_LEAD=7\r\n\r\n"
    b"Response: Success\r\nActionID: a2\r\nMessage: Command output follows\r\n"
    b"Output: line one\r\nOutput: Name: two\r\n\r\n"
    b"Response: Follows\r\nPrivilege: Command\r\nActionID: a3\r\n"
    b"Channel              Location\n\nPJSIP/x   s@default:1\n--END COMMAND--\r\n\r\n"
    b"Event: Hangup\r\nUniqueid: 1763900000.1\r\nCause-txt: Normal Clearing\r\n\r\n"
)


def summary(messages: list[AmiMessage]) -> list[tuple[object, ...]]:
    return [(m.kind, m.name, m.action_id, tuple(m.fields()), m.output) for m in messages]


def feed_all(chunks: list[bytes], framer: AmiFramer | None = None) -> list[AmiMessage]:
    framer = framer or AmiFramer()
    out: list[AmiMessage] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


def test_whole_stream_parses_into_typed_messages() -> None:
    """Banner, responses, events, repeated headers and both command-output styles parse."""
    framer = AmiFramer()
    msgs = framer.feed(STREAM)
    assert [(m.kind, m.name) for m in msgs] == [
        ("response", "Success"),
        ("event", "FullyBooted"),
        ("event", "Newchannel"),
        ("response", "Success"),
        ("response", "Follows"),
        ("event", "Hangup"),
    ]
    assert framer.version == "11.0.0"
    assert framer.stats.garbage_lines == 0
    login, _, newchan, cmd, follows, hangup = msgs
    assert login.action_id == "a1"
    assert newchan["CallerIDName"] == "José Álvarez"
    assert newchan["ChanVariable"] == "CCPBX_CAMPAIGN=42"
    assert newchan.get_all("ChanVariable") == ["CCPBX_CAMPAIGN=42", "CCPBX_LEAD=7"]
    assert cmd.output == ("line one", "Name: two")
    assert follows.action_id == "a3"
    assert follows.output == ("Channel              Location", "", "PJSIP/x   s@default:1")
    assert hangup["Cause-txt"] == "Normal Clearing"


def test_split_at_every_byte_position_gives_the_same_messages() -> None:
    """Cutting the stream into two reads at any byte yields exactly the messages of one read."""
    expected = summary(AmiFramer().feed(STREAM))
    for cut in range(len(STREAM) + 1):
        got = summary(feed_all([STREAM[:cut], STREAM[cut:]]))
        assert got == expected, f"split at byte {cut}"


def test_one_byte_at_a_time_gives_the_same_messages() -> None:
    """Feeding single bytes (worst-case fragmentation) yields the same messages."""
    expected = summary(AmiFramer().feed(STREAM))
    assert summary(feed_all([STREAM[i : i + 1] for i in range(len(STREAM))])) == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_messages(cuts: list[int]) -> None:
    """Property: any set of read boundaries yields the messages of a single read."""
    points = [0, *sorted(cuts), len(STREAM)]
    chunks = [STREAM[a:b] for a, b in itertools.pairwise(points)]
    assert summary(feed_all(chunks)) == summary(AmiFramer().feed(STREAM))


def test_utf8_character_split_across_reads_survives() -> None:
    """A multi-byte UTF-8 character cut between two reads is decoded intact."""
    raw = "Event: Newchannel\r\nCallerIDName: Łukasz Wróblewski\r\n\r\n".encode()
    cut = raw.index("ó".encode()) + 1  # between the two bytes of "ó"
    msgs = feed_all([raw[:cut], raw[cut:]])
    assert msgs[0]["CallerIDName"] == "Łukasz Wróblewski"


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    """Bytes that are not UTF-8 become U+FFFD; the message is still delivered."""
    msgs = AmiFramer().feed(b"Event: X\r\nCallerIDName: caf\xe9\r\n\r\n")
    assert msgs[0]["CallerIDName"] == "caf\ufffd"


def test_lf_only_line_ends() -> None:
    """A stream using bare LF line ends parses like CRLF."""
    lf = STREAM.replace(b"\r\n", b"\n")
    assert summary(AmiFramer().feed(lf)) == summary(AmiFramer().feed(STREAM))


def test_cr_held_back_at_end_of_read() -> None:
    """A read ending between CR and LF of the blank line still ends the message."""
    framer = AmiFramer()
    assert framer.feed(b"Event: A\r\n\r") == []
    msgs = framer.feed(b"\nEvent: B\r\n\r\n")
    assert [m.name for m in msgs] == ["A", "B"]


def test_garbage_lines_are_skipped_and_counted() -> None:
    """Lines without a colon are dropped and counted; the message around them survives."""
    framer = AmiFramer()
    msgs = framer.feed(b"Event: A\r\nthis is noise\r\nKey: v\r\n\r\n%%%\r\n\r\nEvent: B\r\n\r\n")
    assert [m.name for m in msgs] == ["A", "B"]
    assert msgs[0]["Key"] == "v"
    assert framer.stats.garbage_lines == 2


def test_message_without_event_or_response_is_counted_not_delivered() -> None:
    """A block of headers that is neither an event nor a response is skipped and counted."""
    framer = AmiFramer()
    assert framer.feed(b"Foo: bar\r\n\r\nEvent: B\r\n\r\n")[0].name == "B"
    assert framer.stats.unknown_messages == 1


def test_oversized_message_is_dropped_and_framer_resyncs() -> None:
    """A 1 MiB+ header is dropped without unbounded buffering; the next message parses."""
    framer = AmiFramer(max_message_bytes=1 << 20)
    huge = b"Event: Huge\r\nBlob: " + b"x" * (1 << 20) + b"\r\n\r\n"
    stream = huge + b"Event: After\r\nKey: v\r\n\r\n"
    out: list[AmiMessage] = []
    peak = 0
    for i in range(0, len(stream), 65536):
        out.extend(framer.feed(stream[i : i + 65536]))
        peak = max(peak, framer.buffered)
    assert [m.name for m in out] == ["After"]
    assert out[0]["Key"] == "v"
    assert framer.stats.oversized_dropped == 1
    assert peak <= 1 << 20


def test_oversized_message_in_a_single_read_is_dropped() -> None:
    """A complete message larger than the cap arriving in one read is dropped too."""
    framer = AmiFramer(max_message_bytes=1024)
    msgs = framer.feed(b"Event: Big\r\nBlob: " + b"y" * 4096 + b"\r\n\r\nEvent: Small\r\n\r\n")
    assert [m.name for m in msgs] == ["Small"]
    assert framer.stats.oversized_dropped == 1


def test_resync_when_blank_line_straddles_reads_after_discard() -> None:
    """While discarding, a blank line split across two reads still ends the discarded message."""
    framer = AmiFramer(max_message_bytes=1024)
    assert framer.feed(b"Event: Big\r\nBlob: " + b"z" * 2000 + b"\r\n") == []
    msgs = framer.feed(b"\r\nEvent: Next\r\n\r\n")
    assert [m.name for m in msgs] == ["Next"]


def test_header_lookup_is_case_insensitive_after_exact() -> None:
    """msg["uniqueid"] finds "Uniqueid"; a missing header raises KeyError / get returns default."""
    msg = AmiFramer().feed(b"Event: X\r\nUniqueid: 1.2\r\n\r\n")[0]
    assert msg["uniqueid"] == "1.2"
    assert "UNIQUEID" in msg
    assert msg.get("Nope", "d") == "d"
    with pytest.raises(KeyError):
        msg["Nope"]


def test_header_without_space_after_colon() -> None:
    """ "Key:value" and an empty "Key:" are read as headers."""
    msg = AmiFramer().feed(b"Event: X\r\nA:1\r\nB:\r\n\r\n")[0]
    assert msg["A"] == "1"
    assert msg["B"] == ""


def test_encode_action_builds_crlf_message() -> None:
    """An action serialises to CRLF lines ending with a blank line, repeats kept."""
    pairs = list(
        iter_header_pairs({"Channel": "PJSIP/1", "Variable": ["A=1", "B=2"], "Async": True})
    )
    data = encode_action("Originate", "id-1", pairs)
    assert data == (
        b"Action: Originate\r\nActionID: id-1\r\nChannel: PJSIP/1\r\n"
        b"Variable: A=1\r\nVariable: B=2\r\nAsync: true\r\n\r\n"
    )


@pytest.mark.parametrize("bad", ["x\r\nAction: Hangup", "x\nAction: Hangup", "x\rY", "x\x00y"])
def test_encode_action_refuses_cr_lf_nul_in_values(bad: str) -> None:
    """A header value holding CR, LF or NUL raises AmiInjectionError (a ValueError)."""
    with pytest.raises(AmiInjectionError) as info:
        list(iter_header_pairs({"CallerID": bad}))
    assert isinstance(info.value, ValueError)
    with pytest.raises(AmiInjectionError):
        encode_action("Originate", "id", [("CallerID", bad)])


@pytest.mark.parametrize("bad", ["Caller\nID", "Caller\rID", "A\x00", "", "Has Space", "Key:"])
def test_encode_action_refuses_bad_header_names(bad: str) -> None:
    """A header name holding CR, LF, NUL, ':' or whitespace (or empty) is refused."""
    with pytest.raises(AmiInjectionError):
        encode_action("Originate", "id", [(bad, "v")])


def test_encode_action_refuses_action_name_injection_and_overrides() -> None:
    """The action name is checked, and callers cannot override Action/ActionID."""
    with pytest.raises(AmiInjectionError):
        encode_action("Ping\r\nAction: Hangup", "id")
    with pytest.raises(AmiInjectionError):
        encode_action("Ping", "id", [("ActionID", "other")])


def test_server_side_framer_types_actions() -> None:
    """With actions=True, "Action:" messages are typed (used by a server-side peer)."""
    msg = AmiFramer(actions=True).feed(b"Action: Ping\r\nActionID: 9\r\n\r\n")[0]
    assert (msg.kind, msg.name, msg.action_id) == ("action", "Ping", "9")
    assert AmiFramer().feed(b"Action: Ping\r\n\r\n") == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.binary(max_size=300).map(
            lambda b: b.replace(b"Z", b"\r\n").replace(b"Y", b": ").replace(b"X", b"Event")
        ),
        max_size=20,
    )
)
def test_arbitrary_bytes_never_raise_nor_overflow(chunks: list[bytes]) -> None:
    """Property: any byte soup is consumed without error and buffering stays under the cap."""
    framer = AmiFramer(max_message_bytes=256)
    for chunk in chunks:
        for msg in framer.feed(chunk):
            assert msg.kind in ("event", "response")
        assert framer.buffered <= 256
    tail = framer.feed(b"\r\n\r\nEvent: Last\r\n\r\n")
    assert tail[-1].name == "Last"


def test_message_after_blank_lines_ends_a_follows_body() -> None:
    """An event after extra blank lines is not swallowed into an unterminated Follows body
    (found by the byte-soup property: ``Response: Follows``, a lone LF, then an event)."""
    framer = AmiFramer(max_message_bytes=256)
    assert framer.feed(b"Response: Follows") == []
    assert framer.feed(b"\n") == []
    msgs = framer.feed(b"\r\n\r\nEvent: Last\r\n\r\n")
    assert [m.name for m in msgs] == ["Follows", "Last"]


def test_extra_blank_lines_between_messages_are_ignored() -> None:
    """Several blank lines between messages neither create messages nor hide a Follows body."""
    framer = AmiFramer()
    msgs = framer.feed(
        b"Event: A\r\n\r\n\r\n\r\n\r\n"
        b"Response: Follows\r\nActionID: 1\r\nout\n--END COMMAND--\r\n\r\n"
    )
    assert [m.name for m in msgs] == ["A", "Follows"]
    assert msgs[1].output == ("out",)
    assert framer.stats.garbage_lines == 0
