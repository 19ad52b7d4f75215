"""Queue service logic without Asterisk: inputs become engine transitions on a fake clock.

The AMI client here is real but never connected, so every action it is asked for fails
at once (``AmiNotConnected``): that is how a ring or a put-through that cannot reach
Asterisk looks to the service.
"""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from ccpbx.acd import NO_ANSWER, AgentMode, AgentProfile, AgentState, Membership, QueueConfig
from ccpbx.ami import AmiClient, AmiSettings
from ccpbx.ami.channels import ChannelView
from ccpbx.ami.protocol import AmiMessage
from ccpbx.errors import InvalidInput
from ccpbx.queues import QueueService, QueueSpec
from ccpbx.queues.features import endpoint_of, parse_skills
from ccpbx.queues.feed import Broadcaster
from ccpbx.queues.model import AgentRecord, Session, check_queue_name
from ccpbx.queues.pins import PinCheck, hash_pin
from ccpbx.queues.service import Pool


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def service(
    clock: Clock, channels: ChannelView | None = None, pool: Pool | None = None
) -> QueueService:
    ami = AmiClient(AmiSettings(host="127.0.0.1", username="x", secret="y", port=1))
    svc = QueueService(
        ami,
        channels if channels is not None else ChannelView(),
        clock=clock,
        interval_s=60.0,
        pool=pool,
    )
    svc.floor.set_spec(
        QueueSpec(QueueConfig("sales", wrapup_s=5.0, ring_timeout_s=10.0), {}, False)
    )
    return svc


def held(uniqueid: str, queue: str = "sales") -> AmiMessage:
    return AmiMessage(
        "event",
        "Newexten",
        {
            "Uniqueid": uniqueid,
            "Channel": f"Local/{queue}@ccpbx-queue-wait-{uniqueid};2",
            "Context": "ccpbx-queue-wait",
            "Exten": queue,
            "Application": "MusicOnHold",
        },
    )


def login(svc: QueueService, agent: str, mode: AgentMode, now: float) -> None:
    profile = AgentProfile(agent, agent, {}, mode, {"sales": Membership()})
    svc.floor.publish(svc.state.login(profile, now))
    svc.sessions[agent] = Session(agent, agent, mode)


async def settle(svc: QueueService) -> None:
    """Let spawned connect tasks fail, then feed their outcomes back in."""
    await svc.tasks.wait_all()
    while not svc.inbox.empty():
        kind, data = svc.inbox.get_nowait()
        svc.worker.handle(kind, data)
    svc.worker.tick()


async def test_a_ring_that_cannot_reach_asterisk_pauses_the_agent_and_requeues() -> None:
    """A ring-mode agent offered a call whose ring fails (AMI down) is paused "no answer"
    and the call waits again in its place; the event is published to subscribers."""
    clock = Clock()
    svc = service(clock)
    feed = svc.subscribe()
    login(svc, "11", AgentMode.RING, clock.now)
    svc.worker.handle("held", held("c1"))
    svc.worker.tick()
    assert svc.state.agents["11"].state is AgentState.RESERVED
    await settle(svc)
    agent = svc.state.agents["11"]
    assert agent.state is AgentState.PAUSED
    assert agent.pause_reason == NO_ANSWER
    assert [c.call_id for c in svc.state.waiting("sales")] == ["c1"]
    feed.close()
    kinds = [item["kind"] async for item in feed]
    assert kinds[:3] == ["agent_logged_in", "call_enqueued", "call_offered"]
    assert "ring_no_answer" in kinds


async def test_wrapup_ends_on_the_timer_and_the_next_caller_is_offered() -> None:
    """After a connected call ends the agent wraps up for the queue's wrap-up time; the
    waiting caller is offered only when the service's timer passes that time."""
    clock = Clock()
    svc = service(clock)
    login(svc, "11", AgentMode.PERSISTENT, clock.now)
    svc.worker.handle("held", held("c1"))
    svc.worker.tick()
    svc.worker.handle("connected", ("c1", "11", True, "PJSIP/11-1"))
    assert svc.state.agents["11"].state is AgentState.ON_CALL
    svc.worker.handle("held", held("c2"))
    clock.now += 30
    svc.worker.handle("hangup", AmiMessage("event", "Hangup", {"Uniqueid": "c1"}))
    assert svc.state.agents["11"].state is AgentState.WRAP_UP
    wake = svc.worker.tick()
    assert wake == pytest.approx(clock.now + 5.0)
    assert svc.state.agents["11"].state is AgentState.WRAP_UP
    clock.now += 5.0
    svc.worker.tick()
    assert svc.state.agents["11"].call_id == "c2"
    await svc.tasks.cancel_all()


async def test_waiting_caller_hanging_up_is_an_abandon_and_unknown_queue_is_refused() -> None:
    """A caller who hangs up while waiting leaves the queue as abandoned; a caller on
    hold for a queue the service does not know is not enqueued."""
    clock = Clock()
    svc = service(clock)
    svc.worker.handle("held", held("c1"))
    svc.worker.handle("held", held("c9", queue="nosuch"))
    clock.now += 12
    svc.worker.handle("hangup", AmiMessage("event", "Hangup", {"Uniqueid": "c1"}))
    counts = svc.stats.queue_counts("sales")
    assert (counts.offered, counts.abandoned) == (1, 1)
    assert svc.state.waiting_count("sales") == 0
    assert "c9" not in svc.state.calls
    await svc.tasks.cancel_all()


async def test_slow_subscriber_is_cut_off() -> None:
    """A subscriber more than its bound behind is closed and flagged, not buffered."""
    hub = Broadcaster(maxsize=3)
    slow = hub.subscribe()
    for n in range(5):
        hub.publish({"n": n})
    assert slow.overflowed
    assert len(hub) == 0
    assert [item["n"] async for item in slow] == [0, 1, 2]


def test_phone_and_skill_parsing() -> None:
    """Endpoints come from PJSIP channel names only; skills parse as name[:level]."""
    assert endpoint_of("PJSIP/1001-0000002a") == "1001"
    assert endpoint_of("Local/1001@x-0001;1") is None
    assert parse_skills("spanish billing:3 BAD x;y") == {"spanish": 1, "billing": 3}


def test_pins_are_hashed_with_argon2_and_checked() -> None:
    """PINs are stored as Argon2id hashes (salt inside); only the right digits match; an
    agent without a PIN matches nothing; a PIN is 4 to 10 digits."""
    digest = hash_pin("2468")
    assert digest.startswith("$argon2id$")
    assert hash_pin("2468") != digest  # salted
    record = AgentRecord("55", pin_hash=digest)
    assert record.check_pin("2468") == PinCheck(True)
    assert not record.check_pin("2469").ok
    assert not AgentRecord("56").check_pin("").ok
    with pytest.raises(InvalidInput):
        hash_pin("12")
    with pytest.raises(InvalidInput):
        check_queue_name("Sales;x")


def test_a_pin_stored_before_argon2_still_works_and_asks_for_a_rehash() -> None:
    """A salted SHA-256 row (written before Argon2) verifies, and a good login says to
    rehash it; a wrong PIN asks nothing."""
    salt = "00ff00ff00ff00ff"
    legacy = hashlib.sha256(f"{salt}:2468".encode()).hexdigest()
    record = AgentRecord("55", pin_salt=salt, pin_hash=legacy)
    assert record.check_pin("2468") == PinCheck(True, rehash=True)
    assert record.check_pin("2469") == PinCheck(False)


async def test_closed_intervals_and_state_changes_are_stored(database_url: str) -> None:
    """Every published event lands in acd_events (the agent rows form the agent state
    log) and a statistics interval is written once it has ended, by the writer task."""
    import asyncpg

    clock = Clock()
    clock.now = 960.0
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        svc = service(clock, pool=lambda: pool)
        await svc.start()  # the writer; the worker waits for an AMI link that never comes
        svc.worker.tick()  # first tick: nothing to flush yet
        svc.worker.handle("held", held("c1"))
        clock.now += 3
        svc.worker.handle("hangup", AmiMessage("event", "Hangup", {"Uniqueid": "c1"}))
        clock.now = 1_030.0  # the interval [960, 1020) has ended
        svc.worker.tick()
        await svc.stop()
        rows = await pool.fetch("SELECT kind, call_id FROM acd_events ORDER BY id")
        assert [(r["kind"], r["call_id"]) for r in rows] == [
            ("call_enqueued", "c1"),
            ("call_abandoned", "c1"),
        ]
        (interval,) = await pool.fetch("SELECT * FROM acd_queue_intervals")
        assert interval["queue"] == "sales"
        assert interval["interval_start"].timestamp() == 960.0
        assert '"abandoned": 0' in interval["counts"]
        assert '"short_abandoned": 1' in interval["counts"]
    finally:
        await pool.close()


async def test_reconcile_ends_calls_whose_channels_are_gone() -> None:
    """After an AMI reconnect, a waiting caller and a talking caller whose channels are
    no longer in Asterisk's channel list are ended (abandon; hang-up and wrap-up)."""
    clock = Clock()
    channels = ChannelView()
    svc = service(clock, channels)
    login(svc, "11", AgentMode.PERSISTENT, clock.now)
    svc.worker.handle("held", held("c1"))
    svc.worker.tick()
    svc.worker.handle("connected", ("c1", "11", True, "PJSIP/11-1"))
    svc.worker.handle("held", held("c2"))
    seen = AmiMessage("event", "Newchannel", {"Uniqueid": "c3", "Channel": "Local/x;2"})
    channels.apply(seen)
    svc.worker.handle("held", held("c3"))
    clock.now += 10
    svc.worker.handle("reconcile", None)
    assert set(svc.state.calls) == {"c3"}
    assert svc.state.agents["11"].state is AgentState.WRAP_UP
    counts = svc.stats.queue_counts("sales")
    assert (counts.answered, counts.handled, counts.abandoned) == (1, 1, 1)
    await svc.tasks.cancel_all()


def test_announcement_uses_the_queue_settings_and_live_figures() -> None:
    """A waiting caller of an announcing queue is told its position and the estimate
    from the queue's AHT and working agents, with the queue's interval; a queue that
    does not announce, or a caller not waiting, gets nothing."""
    clock = Clock()
    svc = service(clock)
    svc.ready.set()  # recovered
    assert svc.announcement("nobody") is None
    svc.floor.set_spec(
        QueueSpec(QueueConfig("sales", wrapup_s=0.0), {}, False, announce_every_s=30)
    )
    login(svc, "ann", AgentMode.RING, clock.now)
    svc.worker.enqueue("c1", "Local/c1", "sales", clock.now)
    svc.floor.publish(svc.state.reserve("c1", ["ann"], clock.now))
    svc.floor.publish(svc.state.answered("c1", "ann", clock.now))
    clock.now += 120
    svc.floor.publish(svc.state.hangup("c1", clock.now))  # AHT 120 s, one working agent
    svc.worker.enqueue("c2", "Local/c2", "sales", clock.now)
    svc.worker.enqueue("c3", "Local/c3", "sales", clock.now)
    svc.floor.publish(svc.state.pause("ann", "lunch", clock.now))
    found = svc.announcement("c3")
    assert found is not None
    every, steps = found
    assert every == 30
    assert [s.number if s.number is not None else s.file for s in steps] == [
        "queue-thereare",
        2,
        "queue-callswaiting",
        "queue-thankyou",
    ]  # the only agent is paused: no estimate
    svc.floor.publish(svc.state.unpause("ann", clock.now))
    found = svc.announcement("c3")
    assert found is not None
    every, steps = found
    assert [s.number if s.number is not None else s.file for s in steps][3:6] == [
        "queue-holdtime",
        4,
        "queue-minutes",
    ]  # 2 x 120 s / 1 agent
    svc.floor.set_spec(QueueSpec(QueueConfig("sales", wrapup_s=0.0), {}, False))
    assert svc.announcement("c3") == (0, [])
    svc.ready.clear()  # recovering: the caller is not known yet
    assert svc.announcement("c3") is None


def test_announcement_interval_is_bounded() -> None:
    """Announcing more often than every 5 s (or a negative interval) is refused."""
    config = QueueConfig("sales")
    for bad in (1.0, -5.0, float("nan")):
        with pytest.raises(ValueError):
            QueueSpec(config, announce_every_s=bad)
    assert QueueSpec(config, announce_every_s=5).announce_every_s == 5


async def test_status_before_start_and_while_recovering() -> None:
    """Not started: ``stopped`` and down; started but not recovered (no AMI link, so
    recovery waits for it): ``recovering`` and down."""
    svc = service(Clock())
    first = svc.status()
    assert (first.name, first.up, first.state) == ("acd", False, "stopped")
    assert first.detail["queues"] == 1
    await svc.start()
    try:
        await asyncio.sleep(0)
        waiting = svc.status()
        assert (waiting.up, waiting.state) == (False, "recovering")
    finally:
        await svc.stop()
    assert svc.status().state == "stopped"


async def test_overflow_to_callback_remembers_the_offer_until_taken_or_hung_up() -> None:
    """Past the max wait a callback-overflow caller leaves the ACD and is remembered for
    the callback script (queue, campaign); a hang-up before the script ran forgets it.
    A voicemail overflow leaves the ACD too; a voicemail target must be a mailbox."""
    from ccpbx.acd import OverflowKind, OverflowTarget

    clock = Clock()
    svc = service(clock)
    back = OverflowTarget(OverflowKind.CALLBACK, "winback")
    svc.floor.set_spec(QueueSpec(QueueConfig("care", max_wait_s=10, overflow=back), {}, False))
    mailbox = OverflowTarget(OverflowKind.VOICEMAIL, "support@default")
    svc.floor.set_spec(QueueSpec(QueueConfig("vm", max_wait_s=10, overflow=mailbox), {}, False))
    svc.worker.handle("held", held("c1", "care"))
    svc.worker.handle("held", held("c2", "care"))
    svc.worker.handle("held", held("c3", "vm"))
    clock.now += 10
    svc.worker.tick()
    assert svc.callback_offers == {"c1": ("care", "winback"), "c2": ("care", "winback")}
    assert not svc.state.calls
    assert not svc.legs
    svc.worker.handle("hangup", AmiMessage("event", "Hangup", {"Uniqueid": "c2"}))
    assert svc.callback_offers == {"c1": ("care", "winback")}
    counts = svc.stats.queue_counts("care")
    assert (counts.offered, counts.overflowed, counts.abandoned) == (2, 2, 0)
    assert svc.stats.queue_counts("vm").overflowed == 1
    await svc.tasks.wait_all()
    with pytest.raises(ValueError):
        QueueSpec(
            QueueConfig("vm", max_wait_s=10, overflow=OverflowTarget(OverflowKind.VOICEMAIL, "")),
        )
