"""Helpers shared by the ACD integration tests (no tests here): queues, agents, callers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from ccpbx.acd import AgentMode, Membership, QueueConfig, Strategy
from ccpbx.ami import AmiClient
from ccpbx.daemon import Daemon
from ccpbx.queues import AgentRecord, QueueSpec, store


async def add_queue(
    daemon: Daemon,
    name: str,
    *,
    strategy: Strategy = Strategy.LONGEST_IDLE,
    wrapup_s: float = 1.0,
    ring_timeout_s: float = 15.0,
    required: Mapping[str, int] | None = None,
    record: bool = False,
) -> QueueSpec:
    """Configure a queue in the running service (and its table)."""
    spec = QueueSpec(
        QueueConfig(name, strategy=strategy, wrapup_s=wrapup_s, ring_timeout_s=ring_timeout_s),
        dict(required or {}),
        record,
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


async def waiting_caller(ami: AmiClient, queue: str, *, context: str = "ccpbx-queue-wait") -> str:
    """Originate a test caller (Local channel) that waits in ``queue``; return its call id
    (the uniqueid of the half that waits on music on hold)."""
    call_id = f"caller-{uuid.uuid4().hex[:10]}"
    await ami.action(
        "Originate",
        Channel=f"Local/{queue}@{context}",
        Application="Wait",
        Data="600",
        ChannelId=f"out-{call_id}",  # not a prefix of the other id: Asterisk matches prefixes
        OtherChannelId=call_id,
        Async="true",
        timeout=10,
    )
    return call_id
