"""SIPp pieces for what a real desk phone does inside a call it answered: answer the
PBX's re-INVITEs (connected-line updates, session refreshes), put the call on hold, and
transfer it with the phone's transfer key (a blind REFER).

:class:`ccpbx.sandbox.phones.SippPhone` puts them into its answering scenario when asked
to; each piece logs what happened (``REINVITE``, ``REFER 202``, ``NOTIFY SIP/2.0 200``,
``HOLD 200``) so that a test can read it back. The phone is the UAS of the call, so its
requests turn the INVITE's From and To around (kept by :data:`DIALOG_CAPTURE`).
"""

from __future__ import annotations

DIALOG_CAPTURE = (
    '<ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="dlg_from"/>'
    '<ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="dlg_to"/>'
    '<ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" check_it="true" '
    'assign_to="dlg_contact"/>'
)
"""Actions of the INVITE's ``recv`` that keep what the phone's own requests need."""

_OK_WITH_SDP = """
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}"""

_OK = """
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
"""

_IN_DIALOG = """
      {method} [$dlg_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$dlg_to];tag=[pid]ph[call_number]
      To: [$dlg_from]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      User-Agent: ccpbx-test-phone
{extra}      Content-Length: {length}
"""


def answer_reinvite(user: str, sdp: str, label: str, back_to: str) -> str:
    """The steps at ``label``: answer a re-INVITE with the phone's SDP, take the ACK,
    go on at ``back_to``."""
    return "\n".join(
        [
            f'  <label id="{label}"/>',
            '  <nop><action><log message="REINVITE [call_id]"/></action></nop>',
            f"  <send><![CDATA[{_OK_WITH_SDP.format(user=user, sdp=sdp)}]]></send>",
            '  <recv request="ACK" crlf="true"/>',
            f'  <nop next="{back_to}"/>',
        ]
    )


def blind_transfer(user: str, target: str, sdp: str, after_ms: int) -> str:
    """After the call is up ``after_ms`` (answering the PBX's re-INVITEs meanwhile),
    send ``REFER`` with ``Refer-To: <sip:target@PBX>``, answer the NOTIFYs that report
    the transfer's progress, and end the call on the PBX's BYE (or send BYE once the
    transfer is reported done)."""
    refer = _IN_DIALOG.format(
        method="REFER",
        cseq=1,
        user=user,
        extra=(
            f"      Refer-To: <sip:{target}@[local_ip]>\n"
            f"      Referred-By: <sip:{user}@[local_ip]:[local_port]>\n"
        ),
        length=0,
    )
    bye = _IN_DIALOG.format(method="BYE", cseq=2, user=user, extra="", length=0)
    ok = _OK.format(user=user)
    return "\n".join(
        [
            '  <label id="xfer_wait"/>',
            f'  <recv request="INVITE" timeout="{int(after_ms)}" ontimeout="xfer_refer"/>',
            f"  <send><![CDATA[{_OK_WITH_SDP.format(user=user, sdp=sdp)}]]></send>",
            '  <recv request="ACK" crlf="true"/>',
            '  <nop><action><log message="REINVITE [call_id]"/></action></nop>',
            '  <nop next="xfer_wait"/>',
            '  <label id="xfer_refer"/>',
            f'  <send retrans="500"><![CDATA[{refer}]]></send>',
            '  <recv response="100" optional="true"/>',
            '  <recv response="202"/>',
            '  <nop><action><log message="REFER 202 [call_id]"/></action></nop>',
            '  <label id="xfer_events"/>',
            '  <recv request="NOTIFY" optional="true" next="xfer_notify">'
            '<action><ereg regexp="SIP/2.0 [0-9]+" search_in="body" check_it="false" '
            'assign_to="xfer_frag"/><log message="NOTIFY [$xfer_frag]"/></action></recv>',
            '  <recv request="BYE" timeout="20000" ontimeout="xfer_bye"/>',
            f"  <send><![CDATA[{ok}]]></send>",
            '  <nop next="xfer_done"/>',
            '  <label id="xfer_notify"/>',
            f"  <send><![CDATA[{ok}]]></send>",
            '  <nop next="xfer_events"/>',
            '  <label id="xfer_bye"/>',
            f'  <send retrans="500"><![CDATA[{bye}]]></send>',
            '  <recv response="200"/>',
            '  <label id="xfer_done"/>',
            '  <nop><action><log message="TRANSFER DONE [call_id]"/></action></nop>',
        ]
    )


def hold_and_resume(user: str, sdp: str, after_ms: int, hold_ms: int) -> str:
    """After the call is up ``after_ms`` (answering the PBX's re-INVITEs meanwhile), put
    it on hold as a phone's hold key does (re-INVITE with ``a=sendonly``), stay on hold
    ``hold_ms``, take it off hold (``a=sendrecv``), then go on with the call."""
    held = _next_version(sdp, 1).replace("a=sendrecv", "a=sendonly")
    resumed = _next_version(sdp, 2)
    ok = _OK_WITH_SDP.format(user=user, sdp=sdp)
    steps = [
        '  <label id="hold_wait"/>',
        f'  <recv request="INVITE" timeout="{int(after_ms)}" ontimeout="hold_start"/>',
        f"  <send><![CDATA[{ok}]]></send>",
        '  <recv request="ACK" crlf="true"/>',
        '  <nop><action><log message="REINVITE [call_id]"/></action></nop>',
        '  <nop next="hold_wait"/>',
        '  <label id="hold_start"/>',
    ]
    for cseq, body, name in ((1, held, "HOLD"), (2, resumed, "RESUME")):
        invite = _IN_DIALOG.format(
            method="INVITE",
            cseq=cseq,
            user=user,
            extra="      Content-Type: application/sdp\n",
            length="[len]",
        )
        ack = _IN_DIALOG.format(method="ACK", cseq=cseq, user=user, extra="", length=0)
        steps += [
            f'  <send retrans="500"><![CDATA[{invite}\n{body}]]></send>',
            '  <recv response="100" optional="true"/>',
            '  <recv response="200"/>',
            f"  <send><![CDATA[{ack}]]></send>",
            f'  <nop><action><log message="{name} 200 [call_id]"/></action></nop>',
        ]
        if name == "HOLD":
            steps.append(f'  <pause milliseconds="{int(hold_ms)}"/>')
    return "\n".join(steps)


def _next_version(sdp: str, step: int) -> str:
    """``sdp`` with its o= session version raised by ``step`` (a changed offer)."""
    version = "2353687637"
    return sdp.replace(f" {version} ", f" {int(version) + step} ", 1)


def attended_transfer(
    user: str, password: str, target: str, pbx_port: int, sdp: str, after_ms: int
) -> str:
    """After the call is up ``after_ms``, call ``target`` in a second dialog (the consult
    call, with digest auth, as the phone's transfer key does), then complete the
    transfer: ``REFER`` in the first dialog with ``Refer-To: <sip:target?Replaces=...>``
    naming the consult dialog; answer the PBX's BYEs of both dialogs."""
    consult = f"""
      INVITE sip:{target}@127.0.0.1:{pbx_port} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@127.0.0.1>;tag=[pid]cons[call_number]
      To: <sip:{target}@127.0.0.1>
      Call-ID: [call_id]
      CSeq: {{cseq}} INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>{{auth}}
      Max-Forwards: 70
      User-Agent: ccpbx-test-phone
      Content-Type: application/sdp
      Content-Length: [len]

{sdp}"""
    consult_ack = f"""
      ACK sip:{target}@127.0.0.1:{pbx_port} SIP/2.0
      {{via}}
      From: <sip:{user}@127.0.0.1>;tag=[pid]cons[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {{cseq}} ACK
      Max-Forwards: 70
      Content-Length: 0
"""
    auth = f"\n      [authentication username={user} password={password}]"
    replaces = "[$cons_callid]%3Bto-tag%3D[$cons_totag]%3Bfrom-tag%3D[pid]cons[call_number]"
    refer = _IN_DIALOG.format(
        method="REFER",
        cseq=1,
        user=user,
        extra=(
            f"      Refer-To: <sip:{target}@127.0.0.1?Replaces={replaces}>\n"
            f"      Referred-By: <sip:{user}@[local_ip]:[local_port]>\n"
        ),
        length=0,
    )
    ok = _OK.format(user=user)
    new_via = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]"
    return "\n".join(
        [
            '  <label id="at_wait"/>',
            f'  <recv request="INVITE" timeout="{int(after_ms)}" ontimeout="at_consult"/>',
            f"  <send><![CDATA[{_OK_WITH_SDP.format(user=user, sdp=sdp)}]]></send>",
            '  <recv request="ACK" crlf="true"/>',
            '  <nop next="at_wait"/>',
            '  <label id="at_consult"/>',
            '  <send retrans="500" dialog="2"><![CDATA['
            + consult.format(cseq=1, auth="")
            + "]]></send>",
            '  <recv response="100" optional="true" dialog="2"/>',
            '  <recv response="401" auth="true" dialog="2"/>',
            '  <send dialog="2"><![CDATA['
            + consult_ack.format(via="[last_Via:]", cseq=1)
            + "]]></send>",
            '  <send retrans="500" dialog="2"><![CDATA['
            + consult.format(cseq=2, auth=auth)
            + "]]></send>",
            '  <recv response="100" optional="true" dialog="2"/>',
            '  <recv response="180" optional="true" dialog="2"/>',
            '  <recv response="183" optional="true" dialog="2"/>',
            '  <recv response="200" dialog="2"><action>'
            '<ereg regexp="tag=([^;>]*)" search_in="hdr" header="To:" check_it="true" '
            'assign_to="cons_to,cons_totag"/>'
            '<ereg regexp="[^ ]+" search_in="hdr" header="Call-ID:" check_it="true" '
            'assign_to="cons_callid"/></action></recv>',
            '  <send dialog="2"><![CDATA[' + consult_ack.format(via=new_via, cseq=2) + "]]></send>",
            '  <nop><action><log message="CONSULT 200 [$cons_to]"/></action></nop>',
            '  <pause milliseconds="500"/>',
            f'  <send retrans="500"><![CDATA[{refer}]]></send>',
            '  <recv response="100" optional="true"/>',
            '  <recv response="202"/>',
            '  <nop><action><log message="REFER 202 [call_id]"/></action></nop>',
            '  <recv request="BYE" dialog="2" optional="true" next="at_bye2"/>',
            '  <recv request="BYE" timeout="20000" ontimeout="at_done"/>',
            f"  <send><![CDATA[{ok}]]></send>",
            '  <recv request="BYE" dialog="2" timeout="5000" ontimeout="at_done"/>',
            f'  <send dialog="2"><![CDATA[{ok}]]></send>',
            '  <nop next="at_done"/>',
            '  <label id="at_bye2"/>',
            f'  <send dialog="2"><![CDATA[{ok}]]></send>',
            '  <recv request="BYE" timeout="5000" ontimeout="at_done"/>',
            f"  <send><![CDATA[{ok}]]></send>",
            '  <label id="at_done"/>',
            '  <nop><action><log message="TRANSFER DONE [call_id]"/></action></nop>',
        ]
    )
