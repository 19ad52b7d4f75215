"""Helpers shared by the ACD integration tests (no tests here): queues, agents, callers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from ccpbx.acd import (
    AgentMode,
    Membership,
    OverflowTarget,
    QueueConfig,
    RelaxationStep,
    Strategy,
)
from ccpbx.ami import AmiClient
from ccpbx.daemon import Daemon
from ccpbx.queues import AgentRecord, QueueSpec, store
from ccpbx.sandbox.asterisk import AsteriskInstance, Phone
from ccpbx.sandbox.phones import SippPhone
from ccpbx.sandbox.sipp import Step, sdp_offer


async def add_queue(
    daemon: Daemon,
    name: str,
    *,
    strategy: Strategy = Strategy.LONGEST_IDLE,
    wrapup_s: float = 1.0,
    ring_timeout_s: float = 15.0,
    required: Mapping[str, int] | None = None,
    record: bool = False,
    max_wait_s: float | None = None,
    overflow: OverflowTarget | None = None,
    relaxation: Sequence[RelaxationStep] = (),
    announce_every_s: float = 0.0,
) -> QueueSpec:
    """Configure a queue in the running service (and its table)."""
    spec = QueueSpec(
        QueueConfig(
            name,
            strategy=strategy,
            wrapup_s=wrapup_s,
            ring_timeout_s=ring_timeout_s,
            max_wait_s=max_wait_s,
            overflow=overflow,
            relaxation=tuple(relaxation),
        ),
        dict(required or {}),
        record,
        announce_every_s=announce_every_s,
    )
    await daemon.acd.wait_ready(20)
    await daemon.acd.configure_queue(spec)
    return spec


async def add_agent(
    daemon: Daemon,
    agent: str,
    queues: Mapping[str, int] | list[str],
    *,
    skills: Mapping[str, int] | None = None,
    mode: AgentMode = AgentMode.PERSISTENT,
    pin: str | None = "1234",
) -> AgentRecord:
    """Store an agent profile; ``queues`` maps queue -> penalty (or lists queues)."""
    members = (
        {q: Membership(penalty=p) for q, p in queues.items()}
        if isinstance(queues, Mapping)
        else {q: Membership() for q in queues}
    )
    record = AgentRecord(agent, f"Agent {agent}", dict(skills or {}), members, mode)
    return await store.save_agent(daemon.database.pool, record, pin=pin)


async def waiting_caller(
    ami: AmiClient,
    queue: str,
    *,
    context: str = "ccpbx-queue-wait",
    application: str = "Wait",
    data: str = "600",
) -> str:
    """Originate a test caller (Local channel) that waits in ``queue``; return its call id
    (the uniqueid of the half that waits on music on hold). The other half runs
    ``application`` (``data``): silent by default, ``MusicOnHold`` for a caller who makes
    sound."""
    call_id = f"caller-{uuid.uuid4().hex[:10]}"
    await ami.action(
        "Originate",
        Channel=f"Local/{queue}@{context}",
        Application=application,
        Data=data,
        ChannelId=f"out-{call_id}",  # not a prefix of the other id: Asterisk matches prefixes
        OtherChannelId=call_id,
        Async="true",
        timeout=10,
    )
    return call_id


_PHONE_INVITE = """
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]ph[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:{user}@[local_ip]:[local_port]>{auth}
      Max-Forwards: 70
      User-Agent: ccpbx-test-phone
      Content-Type: application/sdp
      Content-Length: [len]

""" + sdp_offer("phone")

_PHONE_ACK = """
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      {via}
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      Contact: <sip:{user}@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
"""

_PHONE_OK = """
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
"""


def phone_dial_scenario(user: str, password: str, steps: Sequence[Step]) -> str:
    """An agent's desk phone places a call with digest auth, does ``steps`` (pauses and
    RFC 2833 key presses as audio, see ``Keypad``) and waits for the PBX to hang up."""
    body = []
    for step in steps:
        if step.kind == "pause":
            body.append(f'  <pause milliseconds="{int(step.value)}"/>')
        else:
            body.append(f'  <nop><action><exec play_pcap_audio="{step.value}"/></action></nop>')
    auth = f"\n      [authentication username={user} password={password}]"
    return "\n".join(
        [
            '<?xml version="1.0" encoding="ISO-8859-1" ?>',
            '<scenario name="ccpbx phone dials">',
            _send(_PHONE_INVITE.format(user=user, cseq=1, auth="")),
            '  <recv response="100" optional="true"/>',
            '  <recv response="401" auth="true"/>',
            "  <send><![CDATA["
            + _PHONE_ACK.format(via="[last_Via:]", cseq=1, user=user)
            + "]]></send>",
            _send(_PHONE_INVITE.format(user=user, cseq=2, auth=auth)),
            '  <recv response="100" optional="true"/>',
            '  <recv response="180" optional="true"/>',
            '  <recv response="183" optional="true"/>',
            '  <recv response="200" rtd="true"/>',
            "  <send><![CDATA["
            + _PHONE_ACK.format(
                via="Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
                cseq=2,
                user=user,
            )
            + "]]></send>",
            *body,
            '  <recv request="BYE" timeout="30000"/>',
            f"  <send><![CDATA[{_PHONE_OK}]]></send>",
            "</scenario>",
            "",
        ]
    )


def _send(message: str) -> str:
    return f'  <send retrans="500"><![CDATA[{message}]]></send>'


@contextmanager
def desk_phones(asterisk: AsteriskInstance, agents: Sequence[str]) -> Iterator[list[SippPhone]]:
    """Desk phones for ``agents`` (provisioned in the sandbox), registered, answering."""
    started: list[SippPhone] = []
    try:
        for n in agents:
            phone = SippPhone(asterisk, Phone(n, f"pw-{n}-secret", rewrite_contact=False))
            phone.start()
            started.append(phone)
        yield started
    finally:
        for phone in started:
            phone.stop()
