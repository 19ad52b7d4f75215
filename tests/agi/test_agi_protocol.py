"""Pure tests of the FastAGI wire format: no event loop, no sockets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccpbx.agi.errors import AgiInjectionError, AgiProtocolError
from ccpbx.agi.protocol import (
    MAX_COMMAND_BYTES,
    AgiEnvironment,
    AgiHangupNotice,
    AgiParser,
    AgiResult,
    build_command,
    parse_result_200,
)

from .fake_asterisk import env_block


def parse_env(block: bytes) -> AgiEnvironment:
    parser = AgiParser()
    messages = parser.feed(block)
    assert len(messages) == 1
    env = messages[0]
    assert isinstance(env, AgiEnvironment)
    return env


def replies(data: bytes) -> list[object]:
    parser = AgiParser()
    parser.feed(env_block())
    return list(parser.feed(data))


def res_agi_parse_args(line: str) -> list[str]:
    """Model of Asterisk's res_agi parse_args(): how Asterisk splits a command line."""
    args: list[str] = []
    current: list[str] | None = None
    quoted = escaped = False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and current is None:
                current = []
                args.append("")
            continue
        if ch in " \t" and not quoted and not escaped:
            if current is not None:
                args[-1] = "".join(current)
            current = None
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if current is None:
            current = []
            args.append("")
        current.append(ch)
        escaped = False
    if current is not None:
        args[-1] = "".join(current)
    return args


def test_environment_keeps_every_key_and_types_the_common_ones() -> None:
    """The env block gives all agi_* keys verbatim and typed accessors for the usual ones."""
    env = parse_env(env_block("ivr?flow=main&lang=nl", args=("first", "", "third")))
    assert env.variables["agi_threadid"] == "140000000000000"
    assert env.variables["agi_accountcode"] == ""
    assert env.channel == "PJSIP/carrier-00000001"
    assert env.uniqueid == "1763900000.1"
    assert env.callerid == "31201234567"
    assert env.calleridname == "José"
    assert env.dnid == "8001"
    assert env.rdnis is None
    assert (env.extension, env.context, env.priority) == ("8001", "inbound", "2")
    assert env.language == "en"
    assert env.script == "ivr"
    assert dict(env.query) == {"flow": "main", "lang": "nl"}
    assert env.args == ("first", "", "third")
    assert env.get("arg_2") == ""
    assert env.get("agi_dnid") == "8001"


def test_environment_script_path_and_query_are_percent_decoded() -> None:
    """A nested script path and percent-encoded query values are decoded."""
    env = parse_env(env_block("/queue/entry?name=a%20b&empty=&x=1&x=2"))
    assert env.script == "queue/entry"
    assert dict(env.query) == {"name": "a b", "empty": "", "x": "2"}


def test_environment_falls_back_to_agi_request_url() -> None:
    """Without agi_network_script the script comes from agi_request's URL."""
    block = b"agi_request: agi://10.0.0.1:4573/sales?campaign=7\nagi_channel: Local/1@x-1;2\n\n"
    env = parse_env(block)
    assert env.script == "sales"
    assert env.query == {"campaign": "7"}
    assert env.callerid is None


def test_environment_split_across_reads_and_in_a_utf8_character() -> None:
    """Fed one byte at a time, CRLF ends and a split UTF-8 character still parse."""
    block = env_block().replace(b"\n", b"\r\n")
    parser = AgiParser()
    messages = [m for i in range(len(block)) for m in parser.feed(block[i : i + 1])]
    assert len(messages) == 1
    env = messages[0]
    assert isinstance(env, AgiEnvironment)
    assert env.calleridname == "José"
    assert env.channel == "PJSIP/carrier-00000001"


def test_environment_over_the_size_cap_is_refused_before_it_ends() -> None:
    """A header larger than max_header_bytes fails even if its blank line never comes."""
    parser = AgiParser(max_header_bytes=1024)
    parser.feed(b"agi_channel: x\n")
    with pytest.raises(AgiProtocolError):
        parser.feed(b"agi_callerid: " + b"9" * 2000)


def test_environment_refuses_lines_that_are_not_agi_keys() -> None:
    """A peer speaking another protocol (here HTTP) is rejected at its first line."""
    with pytest.raises(AgiProtocolError):
        AgiParser().feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


def test_replies_after_the_environment_in_the_same_read() -> None:
    """Bytes after the blank line are parsed as replies, in order."""
    messages = AgiParser().feed(env_block() + b"200 result=0\nHANGUP\n")
    assert [type(m) for m in messages] == [AgiEnvironment, AgiResult, AgiHangupNotice]


def test_result_200_plain_with_data_and_extra_pairs() -> None:
    """200 replies give the integer result, parenthesised data and key=value pairs."""
    plain, timeout, stream, var = replies(
        b"200 result=0\n200 result=1 (timeout)\n"
        b"200 result=0 endpos=3520\n200 result=1 (a (nested) value) x) endpos=7\n"
    )
    assert plain == AgiResult(code=200, result=0, raw_result="0", text="200 result=0")
    assert isinstance(timeout, AgiResult)
    assert (timeout.result, timeout.data) == (1, "timeout")
    assert isinstance(stream, AgiResult)
    assert (stream.data, dict(stream.extra)) == (None, {"endpos": "3520"})
    assert isinstance(var, AgiResult)
    assert var.data == "a (nested) value) x"
    assert var.extra == {"endpos": "7"}


def test_result_200_keeps_get_data_digits_as_text() -> None:
    """GET DATA's digits keep leading zeros and `*`; an empty result is allowed."""
    zero, star, empty = replies(b"200 result=0123\n200 result=12*3\n200 result= (timeout)\n")
    assert isinstance(zero, AgiResult)
    assert (zero.raw_result, zero.result) == ("0123", 123)
    assert isinstance(star, AgiResult)
    assert (star.raw_result, star.result) == ("12*3", None)
    assert isinstance(empty, AgiResult)
    assert (empty.raw_result, empty.result, empty.data) == ("", None, "timeout")


def test_result_200_whose_data_holds_a_newline_continues_on_next_line() -> None:
    """A variable value with a raw newline is one reply, not a desynchronised stream."""
    value, after = replies(b"200 result=1 (line one\nline two)\n200 result=0\n")
    assert isinstance(value, AgiResult)
    assert value.data == "line one\nline two"
    assert after == AgiResult(code=200, result=0, raw_result="0", text="200 result=0")


def test_error_codes_510_and_511() -> None:
    """510 and 511 replies carry their code and message."""
    invalid, dead = replies(
        b"510 Invalid or unknown command\n"
        b"511 Command Not Permitted on a dead channel or intercept routine\n"
    )
    assert invalid == AgiResult(code=510, text="Invalid or unknown command")
    assert isinstance(dead, AgiResult)
    assert dead.code == 511
    assert not dead.ok


def test_multi_line_520_usage_is_one_reply() -> None:
    """520- opens a usage block that ends at `520 End of proper usage.`."""
    usage, after = replies(
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b" Usage: STREAM FILE <filename> <escape digits> [sample offset]\n"
        b"200 looks like a reply but is usage text\n"
        b"520 End of proper usage.\n"
        b"200 result=0\n"
    )
    assert isinstance(usage, AgiResult)
    assert usage.code == 520
    assert usage.text.splitlines() == [
        "Invalid command syntax.  Proper usage follows:",
        " Usage: STREAM FILE <filename> <escape digits> [sample offset]",
        "200 looks like a reply but is usage text",
    ]
    assert isinstance(after, AgiResult)
    assert after.result == 0


def test_single_line_520() -> None:
    """A single-line 520 is a complete reply."""
    (usage,) = replies(b"520 Invalid command syntax.  Proper usage not available.\n")
    assert usage == AgiResult(code=520, text="Invalid command syntax.  Proper usage not available.")


def test_hangup_line_may_precede_a_reply() -> None:
    """The inline HANGUP line is its own message, kept in wire order before the reply."""
    notice, reply = replies(b"HANGUP\n200 result=-1 endpos=0\n")
    assert isinstance(notice, AgiHangupNotice)
    assert isinstance(reply, AgiResult)
    assert reply.result == -1


@pytest.mark.parametrize(
    "line", [b"hello\n", b"200 result=1x\n", b"200 ok\n", b"20 result=0\n", b"\n"]
)
def test_garbage_reply_lines_are_protocol_errors(line: bytes) -> None:
    """Anything that is not HANGUP or a coded reply is refused."""
    with pytest.raises(AgiProtocolError):
        replies(line)


def test_reply_line_over_the_cap_is_refused() -> None:
    """A reply line growing past max_line_bytes fails without waiting for its end."""
    parser = AgiParser(max_line_bytes=100)
    parser.feed(env_block())
    with pytest.raises(AgiProtocolError):
        parser.feed(b"200 result=1 (" + b"x" * 200)


def test_unclosed_data_is_capped() -> None:
    """Continuation lines of an unclosed value cannot grow without bound."""
    parser = AgiParser(max_reply_bytes=1000)
    parser.feed(env_block())
    with pytest.raises(AgiProtocolError):
        parser.feed(b"200 result=1 (open\n" + b"more\n" * 300)


def test_parse_result_200_reports_open_data() -> None:
    """An open parenthesis without its closing one means the reply continues."""
    assert parse_result_200("200 result=1 (abc") is None
    assert parse_result_200("200 result=1 (a)b") is None


def test_build_command_quotes_every_argument() -> None:
    """Arguments are double-quoted with backslash and quote escaped; empty ones kept."""
    line = build_command("STREAM FILE", 'say "hi"\\now', "", 5000)
    assert line == b'STREAM FILE "say \\"hi\\"\\\\now" "" "5000"\n'
    assert res_agi_parse_args(line.decode().rstrip("\n")) == [
        "STREAM",
        "FILE",
        'say "hi"\\now',
        "",
        "5000",
    ]


SENDABLE = st.characters(exclude_characters="\r\n\x00", exclude_categories=["Cs"])


@given(st.lists(st.text(alphabet=SENDABLE), max_size=5))
def test_quoted_arguments_reach_asterisk_verbatim(args: list[str]) -> None:
    """Any argument without CR/LF/NUL comes out of res_agi's parser exactly as given."""
    try:
        line = build_command("SET VARIABLE", *args)
    except AgiInjectionError:
        assert sum(len(a.encode()) for a in args) > MAX_COMMAND_BYTES // 2 - 40
        return
    assert res_agi_parse_args(line.decode().rstrip("\n")) == ["SET", "VARIABLE", *args]


@pytest.mark.parametrize("bad", ["a\nEXEC System x", "a\rb", "nul\x00", "\n", "lone\ud800"])
def test_arguments_with_cr_lf_nul_are_refused(bad: str) -> None:
    """CR, LF, NUL (or an unencodable surrogate) raise AgiInjectionError, a ValueError."""
    with pytest.raises(AgiInjectionError):
        build_command("SET VARIABLE", "NAME", bad)
    with pytest.raises(ValueError):
        build_command("SET VARIABLE", "NAME", bad)


@pytest.mark.parametrize("bad", ["", "ANSWER\nHANGUP", 'EXEC "x"', "VERBOSE\\"])
def test_bad_command_names_are_refused(bad: str) -> None:
    """The command words themselves cannot carry quotes, escapes or line breaks."""
    with pytest.raises(AgiInjectionError):
        build_command(bad)


def test_line_longer_than_asterisk_reads_at_once_is_refused() -> None:
    """Asterisk cuts lines at its 8 KiB buffer and runs the tail as a command: refuse."""
    build_command("SET VARIABLE", "X", "y" * 7900)
    padding = "y" * (8191 - len('SET VARIABLE "X" "'))
    with pytest.raises(AgiInjectionError):
        build_command("SET VARIABLE", "X", padding + "EXEC System id")
